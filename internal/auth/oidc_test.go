package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/api"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/auth/oidctest"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

const (
	audience   = "firebreak-test"
	prodAcct   = "111122223333"
	devAcct    = "444455556666"
	sharedAcct = "777788889999"
)

// testIssuer is an OIDC provider on loopback with one RSA key.
type testIssuer = oidctest.Issuer

func newIssuer(t *testing.T) *testIssuer { return oidctest.NewIssuer(t) }

// claimsFor are the claims of a valid token from iss for ana, in groups; change them to
// make it invalid.
func claimsFor(iss *testIssuer, groups ...string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":            iss.URL(),
		"aud":            audience,
		"sub":            "00u1ana",
		"email":          "ana@example.com",
		"email_verified": true,
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"groups":         groups,
	}
}

var testGrants = []auth.Grant{
	{Group: "sec-viewers", Role: auth.Viewer},
	{Group: "prod-responders", Role: auth.Responder, Accounts: []string{prodAcct}},
	{Group: "dev-responders", Role: auth.Responder, Accounts: []string{devAcct, sharedAcct}},
	{Group: "approvers", Role: auth.Approver, Accounts: []string{prodAcct}},
	{Group: "admins", Role: auth.Admin},
}

func newVerifier(t *testing.T, iss *testIssuer, o auth.OIDCOptions) *auth.OIDC {
	t.Helper()
	o.Issuer, o.Audience = iss.URL(), audience
	if o.Grants == nil {
		o.Grants = testGrants
	}
	v, err := auth.NewOIDC(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOIDCVerify checks that a valid token maps to its groups' role and accounts, and
// that each kind of invalid token is refused with a reason naming what is wrong.
func TestOIDCVerify(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, iss, auth.OIDCOptions{})
	otherKey := oidctest.RSAKey(t)
	with := func(groups []string, change func(map[string]any)) map[string]any {
		c := claimsFor(iss, groups...)
		if change != nil {
			change(c)
		}
		return c
	}

	valid := []struct {
		name     string
		token    string
		want     auth.Principal
		readable bool
	}{
		{name: "viewer of every account", token: iss.Sign(t, with([]string{"sec-viewers"}, nil)),
			want: auth.Principal{Name: "ana@example.com", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "responder in the union of its grants' accounts",
			token: iss.Sign(t, with([]string{"prod-responders", "dev-responders", "unknown-group"}, nil)),
			want:  auth.Principal{Name: "ana@example.com", Role: auth.Responder, Accounts: []string{prodAcct, devAcct, sharedAcct}, Kind: auth.KindOIDC}},
		{name: "highest role wins; a lower grant adds no accounts",
			token: iss.Sign(t, with([]string{"sec-viewers", "approvers", "dev-responders"}, nil)),
			want:  auth.Principal{Name: "ana@example.com", Role: auth.Approver, Accounts: []string{prodAcct}, Kind: auth.KindOIDC}},
		{name: "admin of every account", token: iss.Sign(t, with([]string{"admins", "prod-responders"}, nil)),
			want: auth.Principal{Name: "ana@example.com", Role: auth.Admin, Kind: auth.KindOIDC}},
		{name: "unverified email: named by sub",
			token: iss.Sign(t, with([]string{"sec-viewers"}, func(c map[string]any) { c["email_verified"] = false })),
			want:  auth.Principal{Name: "00u1ana", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "no email: named by sub",
			token: iss.Sign(t, with([]string{"sec-viewers"}, func(c map[string]any) { delete(c, "email") })),
			want:  auth.Principal{Name: "00u1ana", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "one group as a string", token: iss.Sign(t, with(nil, func(c map[string]any) { c["groups"] = "sec-viewers" })),
			want: auth.Principal{Name: "ana@example.com", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "audience among several", token: iss.Sign(t, with([]string{"sec-viewers"}, func(c map[string]any) { c["aud"] = []string{"other", audience} })),
			want: auth.Principal{Name: "ana@example.com", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "groups granted nothing: no role", token: iss.Sign(t, with([]string{"engineering"}, nil)),
			want: auth.Principal{Name: "ana@example.com", Kind: auth.KindOIDC}},
		{name: "no groups claim: no role", token: iss.Sign(t, with(nil, func(c map[string]any) { delete(c, "groups") })),
			want: auth.Principal{Name: "ana@example.com", Kind: auth.KindOIDC}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			slices.Sort(p.Accounts)
			slices.Sort(tt.want.Accounts)
			if p.Name != tt.want.Name || p.Role != tt.want.Role || p.Kind != tt.want.Kind || !slices.Equal(p.Accounts, tt.want.Accounts) {
				t.Errorf("principal %+v, want %+v", p, tt.want)
			}
			if tt.want.Role == "" && slices.ContainsFunc([]auth.Permission{auth.Read, auth.RequestAction, auth.Release, auth.Approve, auth.Administer}, p.RoleAllows) {
				t.Errorf("a principal granted nothing is allowed something: %+v", p)
			}
		})
	}

	invalid := []struct {
		name, token, reason string
	}{
		{"wrong audience", iss.Sign(t, with([]string{"admins"}, func(c map[string]any) { c["aud"] = "another-client" })),
			"not issued to this server"},
		{"wrong issuer", iss.Sign(t, with([]string{"admins"}, func(c map[string]any) { c["iss"] = "https://evil.example" })),
			"not issued by " + iss.URL()},
		{"expired", iss.Sign(t, with([]string{"admins"}, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })),
			"expired at"},
		{"no expiry", iss.Sign(t, with([]string{"admins"}, func(c map[string]any) { delete(c, "exp") })),
			"has no expiry"},
		{"signed by another key", oidctest.SignWith(t, otherKey, iss.KID, with([]string{"admins"}, nil)),
			"signature does not verify"},
		{"signature tampered", tamper(iss.Sign(t, with([]string{"admins"}, nil))),
			"signature does not verify"},
		{"not a JWT", "not-a-jwt", "neither a Firebreak API token nor a signed JWT"},
		{"groups of the wrong type", iss.Sign(t, with(nil, func(c map[string]any) { c["groups"] = 42 })),
			"groups claim is neither a string nor a list of strings"},
		{"nobody named", iss.Sign(t, with([]string{"admins"}, func(c map[string]any) { delete(c, "email"); delete(c, "sub") })),
			"neither an email nor a sub claim"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("error %q does not wrap ErrUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}
}

// tamper changes the token's payload and keeps its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	// A changed character of the payload: still base64url, no longer what was signed.
	p := []byte(parts[1])
	if p[5] == 'A' {
		p[5] = 'B'
	} else {
		p[5] = 'A'
	}
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

// TestOIDCGroupsClaim checks that the groups are read from the configured claim, however
// it is named, and only from it.
func TestOIDCGroupsClaim(t *testing.T) {
	iss := newIssuer(t)
	const claim = "https://firebreak.example/groups"
	v := newVerifier(t, iss, auth.OIDCOptions{GroupsClaim: claim})
	c := claimsFor(iss, "admins") // in the default claim, which is not read
	c[claim] = []string{"sec-viewers"}
	p, err := v.Verify(context.Background(), iss.Sign(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != auth.Viewer {
		t.Errorf("role %q, want viewer from %s", p.Role, claim)
	}
}

// TestOIDCKeysUnavailable checks that a token naming a key the issuer cannot be asked
// about is not called invalid: the caller should try again, not sign in again.
func TestOIDCKeysUnavailable(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, iss, auth.OIDCOptions{})
	iss.KeysDown.Store(true)
	_, err := v.Verify(context.Background(), oidctest.SignWith(t, iss.Key, "rotated-key", claimsFor(iss, "admins")))
	if err == nil || errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("error %v, want one that does not wrap ErrUnauthenticated", err)
	}
	if !strings.Contains(err.Error(), "could not be fetched") {
		t.Errorf("error %q does not say the keys could not be fetched", err)
	}
	// Once the issuer answers again, so does the verifier: at once, or within a moment,
	// since go-oidc hands a request that arrives as a failed fetch is ending that fetch's
	// result rather than starting another.
	iss.KeysDown.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(context.Background(), iss.Sign(t, claimsFor(iss, "admins")))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after the issuer recovered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNewOIDCOptions checks that incomplete or invalid options, and an issuer that cannot
// be reached, are refused with a reason naming the setting.
func TestNewOIDCOptions(t *testing.T) {
	iss := newIssuer(t)
	ok := auth.OIDCOptions{Issuer: iss.URL(), Audience: audience, Grants: testGrants}
	tests := []struct {
		name   string
		change func(*auth.OIDCOptions)
		reason string
	}{
		{"no issuer", func(o *auth.OIDCOptions) { o.Issuer = "" }, "oidc.issuer"},
		{"no audience", func(o *auth.OIDCOptions) { o.Audience = "" }, "oidc.audience"},
		{"no grants", func(o *auth.OIDCOptions) { o.Grants = nil }, "oidc.grants"},
		{"grant without group", func(o *auth.OIDCOptions) { o.Grants = []auth.Grant{{Role: auth.Viewer}} }, "names no group"},
		{"unknown role", func(o *auth.OIDCOptions) { o.Grants = []auth.Grant{{Group: "g", Role: "root"}} }, `unknown role "root"`},
		{"bad account", func(o *auth.OIDCOptions) {
			o.Grants = []auth.Grant{{Group: "g", Role: auth.Viewer, Accounts: []string{"prod"}}}
		}, "12-digit"},
		{"bad clearance", func(o *auth.OIDCOptions) {
			o.Grants = []auth.Grant{{Group: "g", Role: auth.Viewer, Clearance: []string{"legal,hr"}}}
		}, `clearance "legal,hr": holds a comma`},
		{"issuer unreachable", func(o *auth.OIDCOptions) { o.Issuer = "http://127.0.0.1:1" }, "discover issuer"},
		{"issuer mismatch", func(o *auth.OIDCOptions) { o.Issuer = iss.URL() + "/" }, "discover issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			_, err := auth.NewOIDC(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %v, want one saying %q", err, tt.reason)
			}
		})
	}
	if _, err := auth.NewOIDC(context.Background(), ok); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

// TestOIDCThroughAPI checks OIDC end to end: a bearer JWT through the Authenticator and
// the /v1 API's guard, answered 200 for a granted group, 403 for a group granted nothing
// or too little, and 401 for a token that is not valid.
func TestOIDCThroughAPI(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, iss, auth.OIDCOptions{})
	s := storetest.Open(t, store.SQLite)
	cat := catalog.Default()
	// The engine is never started: listing incidents reads the store alone.
	eng, err := engine.New(s, engine.Config{Decider: decide.New(&playbook.Set{}, decide.Options{}), Catalogue: cat, Env: &action.Env{}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Options{Engine: eng, Store: s, Auth: &auth.Authenticator{Store: s, OIDC: v}, Catalogue: cat})
	if err != nil {
		t.Fatal(err)
	}
	wrongAud := claimsFor(iss, "sec-viewers")
	wrongAud["aud"] = "another-client"
	tests := []struct {
		name, method, path, token string
		want                      int
		detail                    string
	}{
		{"viewer lists", http.MethodGet, "/v1/incidents", iss.Sign(t, claimsFor(iss, "sec-viewers")), http.StatusOK, ""},
		{"wrong audience", http.MethodGet, "/v1/incidents", iss.Sign(t, wrongAud), http.StatusUnauthorized, "not issued to this server"},
		{"granted nothing", http.MethodGet, "/v1/incidents", iss.Sign(t, claimsFor(iss, "engineering")), http.StatusForbidden, "may not read"},
		{"viewer may not act", http.MethodPost, "/v1/actions", iss.Sign(t, claimsFor(iss, "sec-viewers")), http.StatusForbidden, "may not request-action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}"))
			r.Header.Set("Authorization", "Bearer "+tt.token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.want)
			}
			if tt.detail != "" && !strings.Contains(w.Body.String(), tt.detail) {
				t.Errorf("answer %s does not say %q", w.Body, tt.detail)
			}
		})
	}
}
