package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine/enginetest"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestSessionsSharedAcrossReplicas serves the console from two replicas on one database, as
// serve does behind a load balancer with no session affinity: a browser signed in on one is
// signed in on the other, a form shown by one is accepted by the other, and signing out on
// either ends the session on both. The database holds neither the cookie nor the token.
func TestSessionsSharedAcrossReplicas(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			e := enginetest.Start(t, d)
			opts := Options{Auth: &auth.Authenticator{Store: e.Store}, Catalogue: e.Catalogue,
				Inventory: e.Inventory, Playbooks: func() *playbook.Set { return e.Playbooks }}
			first := serveConsole(t, e.Engine, e.Store, opts)
			a, b := first.srv.URL, serveConsole(t, e.Engine, e.Store, opts).srv.URL
			tok, _ := first.token(t, auth.Responder)

			br := first.browser(t)
			br.login(tok)
			br.base = b
			if got := br.get(Prefix + "/incidents"); got.code != http.StatusOK || !strings.Contains(got.body, "Sign out") {
				t.Fatalf("incidents on the other replica: %d, signed in: %v", got.code, strings.Contains(got.body, "Sign out"))
			}
			// A form from replica A, submitted to replica B: its CSRF token is the session's.
			br.base = a
			csrf := br.csrf(Prefix + "/isolate")
			br.base = b
			got := br.do(http.MethodPost, Prefix+"/logout", url.Values{"csrf": {csrf}})
			if got.code != http.StatusSeeOther || !strings.Contains(got.header.Get("Location"), "signedout") {
				t.Fatalf("sign out on the other replica with the first one's form: %d %s", got.code, got.header.Get("Location"))
			}
			br.base = a
			if got := br.get(Prefix + "/incidents"); got.code != http.StatusSeeOther || !strings.Contains(got.header.Get("Location"), "/login") {
				t.Errorf("incidents on the first replica after signing out on the other: %d %s", got.code, got.header.Get("Location"))
			}

			// What the table holds gives nothing to present or to use.
			br.login(tok)
			ctx := context.Background()
			var rows int
			err := e.Store.Read(ctx, func(tx *store.Tx) error {
				return tx.Query(ctx, `SELECT key, data FROM console_sessions`, func(r store.Row) error {
					var key, data string
					if err := r.Scan(&key, &data); err != nil {
						return err
					}
					rows++
					if strings.Contains(data, tok) || strings.Contains(data, tok[len(auth.TokenPrefix):]) {
						t.Errorf("session %s holds the API token in the clear", key)
					}
					for _, ck := range br.hc.Jar.Cookies(mustURL(t, a+Prefix+"/")) {
						if strings.Contains(key, ck.Value) || strings.Contains(data, ck.Value) {
							t.Errorf("session %s holds the cookie %s", key, ck.Name)
						}
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if rows == 0 {
				t.Error("no session rows in the database")
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
