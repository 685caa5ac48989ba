package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/engine/enginetest"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
)

const (
	prodAccount = "111122223333"
	devAccount  = "444455556666"
	webProd     = "i-0a1b2c3d4e5f60001"
	buildBox    = "i-0b1c2d3e4f5a60002"
)

type fixture struct {
	c     *Console
	eng   *engine.Engine
	store *store.Store
	srv   *httptest.Server
}

// newFixture serves the console, mounted as serve mounts it, over an engine acting on the
// example simulated organisation, on a loopback HTTP server.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := enginetest.Start(t, store.SQLite)
	return serveConsole(t, e.Engine, e.Store, Options{Auth: &auth.Authenticator{Store: e.Store}, Catalogue: e.Catalogue,
		Inventory: e.Inventory, Playbooks: func() *playbook.Set { return e.Playbooks }})
}

// serveConsole builds a console on eng and st with the rest of opts, and serves it, mounted
// as serve mounts it, on a loopback HTTP server of its own.
func serveConsole(t *testing.T, eng *engine.Engine, st *store.Store, opts Options) *fixture {
	t.Helper()
	opts.Engine, opts.Store = eng, st
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{c: c, eng: eng, store: st, srv: srv}
}

func (f *fixture) token(t *testing.T, role auth.Role, accounts ...string) (tok, name string) {
	t.Helper()
	tok, rec, err := auth.Issue(context.Background(), f.store, auth.IssueOptions{Role: role, Accounts: accounts, TTL: time.Hour, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return tok, "token:" + rec.ID
}

// browser is an HTTP client with a cookie jar that does not follow redirects, so that
// each answer can be checked.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: f.srv.URL, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(data)}
}

func (b *browser) get(path string) answer { return b.do(http.MethodGet, path, nil) }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from the form on the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	a := b.get(path)
	m := csrfField.FindStringSubmatch(a.body)
	if m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF field in %s", path, a.code, a.body)
	}
	return m[1]
}

// post submits a form from the page at from, with its CSRF token.
func (b *browser) post(from, path string, form url.Values) answer {
	b.t.Helper()
	form.Set("csrf", b.csrf(from))
	return b.do(http.MethodPost, path, form)
}

// requestAction submits the self-service form for action on instance in account and
// returns the incident it opened, failing unless the form was accepted.
func (b *browser) requestAction(action, account, instance, reason string) string {
	b.t.Helper()
	a := b.post(Prefix+"/isolate", Prefix+"/isolate", url.Values{"action": {action}, "account": {account},
		"region": {"us-east-1"}, "instance": {instance}, "reason": {reason}})
	if a.code != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), Prefix+"/incidents/") {
		b.t.Fatalf("request %s of %s: %d %q %s", action, instance, a.code, a.header.Get("Location"), a.body)
	}
	return strings.TrimPrefix(a.header.Get("Location"), Prefix+"/incidents/")
}

func (b *browser) login(tok string) {
	b.t.Helper()
	a := b.post(Prefix+"/login", Prefix+"/login", url.Values{"token": {tok}})
	if a.code != http.StatusSeeOther || a.header.Get("Location") != Prefix+"/incidents" {
		b.t.Fatalf("login: %d %s %s", a.code, a.header.Get("Location"), a.body)
	}
}

func (f *fixture) waitFor(t *testing.T, id, state string) *store.Incident {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		inc, err := f.eng.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if inc.State == state {
			return inc
		}
		if time.Now().After(deadline) {
			t.Fatalf("incident %s is %s after 30s, want %s", id, inc.State, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) auditKinds(t *testing.T, kind string) int {
	t.Helper()
	n := 0
	err := f.store.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit WHERE kind = ?`, kind).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLoginSessionAndLogout(t *testing.T) {
	f := newFixture(t)
	tok, name := f.token(t, auth.Responder)
	b := f.browser(t)

	if a := b.get(Prefix + "/incidents"); a.code != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), Prefix+"/login?next=") {
		t.Fatalf("signed out, GET incidents: %d %q, want a redirect to login", a.code, a.header.Get("Location"))
	}
	a := b.get(Prefix + "/login")
	ck := a.header.Get("Set-Cookie")
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || strings.Contains(ck, "Secure") {
		t.Errorf("login form cookie %q: want HttpOnly, SameSite=Strict, not Secure on loopback http", ck)
	}

	// A wrong token is refused with the reason, and never echoed.
	bad := auth.TokenPrefix + strings.Repeat("A", 43)
	if a := b.post(Prefix+"/login", Prefix+"/login", url.Values{"token": {bad}}); a.code != http.StatusUnauthorized ||
		!strings.Contains(a.body, "not accepted") || strings.Contains(a.body, bad) {
		t.Errorf("wrong token: %d %s", a.code, a.body)
	}
	// No CSRF token: refused, and not signed in.
	if a := b.do(http.MethodPost, Prefix+"/login", url.Values{"token": {tok}}); a.code != http.StatusForbidden {
		t.Errorf("login without CSRF: %d, want 403", a.code)
	}
	if a := b.get(Prefix + "/incidents"); a.code != http.StatusSeeOther {
		t.Errorf("after a login without CSRF, GET incidents: %d, want a redirect", a.code)
	}

	before := b.get(Prefix + "/login").header.Get("Set-Cookie")
	b.login(tok)
	a = b.get(Prefix + "/incidents")
	if a.code != http.StatusOK || !strings.Contains(a.body, name) || strings.Contains(a.body, tok) {
		t.Fatalf("signed in, GET incidents: %d; want the name and never the token", a.code)
	}

	// A session id from before the sign-in is not the session after it.
	u, _ := url.Parse(f.srv.URL + Prefix + "/")
	var sid string
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == CookieName {
			sid = c.Value
		}
	}
	if sid == "" || strings.Contains(before, sid) {
		t.Errorf("the session id was not replaced at sign-in")
	}

	// Logging out needs the CSRF token too.
	if a := b.do(http.MethodPost, Prefix+"/logout", url.Values{}); a.code != http.StatusForbidden {
		t.Errorf("logout without CSRF: %d, want 403", a.code)
	}
	if a := b.post(Prefix+"/incidents", Prefix+"/logout", url.Values{}); a.code != http.StatusSeeOther {
		t.Fatalf("logout: %d", a.code)
	}
	if a := b.get(Prefix + "/incidents"); a.code != http.StatusSeeOther {
		t.Errorf("after logout, GET incidents: %d, want a redirect to login", a.code)
	}
}

// TestRevokedTokenEndsSession checks that the session re-checks its token: deleting the
// token signs the browser out at its next request.
func TestRevokedTokenEndsSession(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.token(t, auth.Viewer)
	b := f.browser(t)
	b.login(tok)
	err := f.store.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), `DELETE FROM api_tokens WHERE hash = ?`, auth.HashToken(tok))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a := b.get(Prefix + "/incidents")
	if a.code != http.StatusSeeOther || !strings.Contains(a.header.Get("Location"), "msg=token") {
		t.Errorf("revoked token: %d %q, want a redirect to login saying why", a.code, a.header.Get("Location"))
	}
}

func TestSecureCookieOffLoopback(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest(http.MethodGet, Prefix+"/login", nil)
	r.RemoteAddr = "192.0.2.1:40000"
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	if ck := w.Header().Get("Set-Cookie"); !strings.Contains(ck, "Secure") || !strings.Contains(ck, "HttpOnly") {
		t.Errorf("cookie for a remote client %q: want Secure and HttpOnly", ck)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.token(t, auth.Admin)
	b := f.browser(t)
	b.login(tok)
	for _, path := range []string{"/login", "/incidents", "/nope", "/static/console.js", "/incidents/inc-none", "/audit"} {
		a := b.get(Prefix + path)
		if got := a.header.Get("Content-Security-Policy"); !strings.HasPrefix(got, "default-src 'self'") {
			t.Errorf("%s: CSP %q", path, got)
		}
		if got := a.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, got)
		}
		if got := a.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, got)
		}
		if strings.Contains(a.body, "<script>") || strings.Contains(a.body, " onclick=") {
			t.Errorf("%s: inline script in the page", path)
		}
	}
	if a := b.get(Prefix + "/static/console.js"); a.code != http.StatusOK || !strings.Contains(a.header.Get("Content-Type"), "javascript") {
		t.Errorf("console.js: %d %s", a.code, a.header.Get("Content-Type"))
	}
}

// TestPagesRender signs in as an admin and opens every page, with an incident waiting for
// approval and one contained.
func TestPagesRender(t *testing.T) {
	f := newFixture(t)
	admin, _ := f.token(t, auth.Admin)
	_, responder := f.token(t, auth.Responder)
	ctx := engine.WithCaller(context.Background(), engine.Caller{Name: responder})
	waiting, _, err := f.eng.RequestAction(ctx, "ec2.terminate", action.Target{Kind: event.KindInstance, ID: buildBox, Account: devAccount, Region: "us-east-1"}, "ransomware", "INC-7")
	if err != nil {
		t.Fatal(err)
	}
	b := f.browser(t)
	b.login(admin)
	a := b.post(Prefix+"/isolate", Prefix+"/isolate", url.Values{"action": {"ec2.isolate"}, "account": {prodAccount},
		"region": {"us-east-1"}, "instance": {webProd}, "reason": {"c2 traffic"}, "ticket": {"INC-8"}})
	if a.code != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), Prefix+"/incidents/") {
		t.Fatalf("isolate: %d %q %s", a.code, a.header.Get("Location"), a.body)
	}
	isolated := strings.TrimPrefix(a.header.Get("Location"), Prefix+"/incidents/")
	f.waitFor(t, isolated, store.StateContained)

	for path, want := range map[string][]string{
		"/incidents":                          {waiting.ID, isolated, "awaiting approval", "contained"},
		"/incidents?state=contained":          {isolated},
		"/incidents/rows":                     {waiting.ID, isolated},
		"/incidents/" + isolated:              {"ec2.isolate", "Timeline", "Release…", "Close…"},
		"/incidents/" + isolated + "/close":   {"Close incident", "Left in place", "ec2.isolate", "Cancel"},
		"/approvals/rows":                     {waiting.ID, "ec2.terminate", `name="csrf"`},
		"/playbooks":                          {"ec2-compromise-prod", "GuardDuty findings", "Playbooks"},
		"/playbooks/ec2-compromise-prod":      {"ec2.isolate", "Runbook", "## Undo"},
		"/incidents/" + waiting.ID:            {"ec2.terminate", "Approve", "Deny"},
		"/approvals":                          {waiting.ID, "ec2.terminate"},
		"/incidents/" + isolated + "/release": {"Release incident", "ec2.isolate", "Cancel"},
		"/isolate":                            {"Instance id", "ec2.terminate (needs approval)"},
		"/audit":                              {"Intact"},
		"/":                                   nil,
	} {
		a := b.get(Prefix + path)
		if path == "/" {
			if a.code != http.StatusSeeOther {
				t.Errorf("GET /: %d, want a redirect to the list", a.code)
			}
			continue
		}
		if a.code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, a.code, a.body)
			continue
		}
		for _, s := range want {
			if !strings.Contains(a.body, s) {
				t.Errorf("GET %s: no %q in the page", path, s)
			}
		}
		if strings.Contains(a.body, admin) {
			t.Errorf("GET %s: the page shows the token", path)
		}
	}
	if a := b.get(Prefix + "/incidents?state=bogus"); a.code != http.StatusOK || !strings.Contains(a.body, "State must be one of") {
		t.Errorf("bad filter: %d, want the list with a note", a.code)
	}
	if a := b.post(Prefix+"/isolate", Prefix+"/isolate", url.Values{"action": {"ec2.isolate"}, "account": {"12"},
		"region": {"us-east-1"}, "instance": {""}, "reason": {""}}); a.code != http.StatusUnprocessableEntity ||
		!strings.Contains(a.body, "12-digit") || !strings.Contains(a.body, "Say why") {
		t.Errorf("invalid isolate form: %d %s", a.code, a.body)
	}
	if a := b.post(Prefix+"/isolate", Prefix+"/isolate", url.Values{"action": {"ec2.isolate"}, "account": {prodAccount},
		"region": {"us-east-1"}, "instance": {"i-nothere"}, "reason": {"x"}}); a.code != http.StatusUnprocessableEntity ||
		!strings.Contains(a.body, "There is no instance") {
		t.Errorf("unknown instance: %d", a.code)
	}
}

func TestCSRFRejected(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.token(t, auth.Admin)
	b := f.browser(t)
	b.login(tok)
	form := url.Values{"action": {"ec2.isolate"}, "account": {prodAccount}, "region": {"us-east-1"},
		"instance": {webProd}, "reason": {"r"}}
	for _, csrf := range []string{"", "forged"} {
		form.Set("csrf", csrf)
		if a := b.do(http.MethodPost, Prefix+"/isolate", form); a.code != http.StatusForbidden || !strings.Contains(a.body, "nothing was changed") {
			t.Errorf("isolate with CSRF %q: %d %s", csrf, a.code, a.body)
		}
	}
	// Another session's token is no good either.
	other := f.browser(t)
	other.login(tok)
	form.Set("csrf", other.csrf(Prefix+"/isolate"))
	if a := b.do(http.MethodPost, Prefix+"/isolate", form); a.code != http.StatusForbidden {
		t.Errorf("isolate with another session's CSRF token: %d", a.code)
	}
	list, err := f.eng.List(context.Background(), store.Filter{})
	if err != nil || len(list) != 0 {
		t.Errorf("incidents after forged forms: %d, %v; want none", len(list), err)
	}
}

func TestAuthorisation(t *testing.T) {
	f := newFixture(t)
	viewerTok, _ := f.token(t, auth.Viewer)
	scopedTok, scoped := f.token(t, auth.Responder, prodAccount)
	approverTok, approver := f.token(t, auth.Approver)
	ctx := engine.WithCaller(context.Background(), engine.Caller{Name: approver})
	devInc, _, err := f.eng.RequestAction(ctx, "ec2.terminate", action.Target{Kind: event.KindInstance, ID: buildBox, Account: devAccount, Region: "us-east-1"}, "ransomware", "")
	if err != nil {
		t.Fatal(err)
	}

	viewer := f.browser(t)
	viewer.login(viewerTok)
	for _, path := range []string{"/isolate", "/approvals", "/incidents/" + devInc.ID + "/release"} {
		if a := viewer.get(Prefix + path); a.code != http.StatusForbidden || !strings.Contains(a.body, "viewer") {
			t.Errorf("viewer GET %s: %d, want 403 naming the role", path, a.code)
		}
	}
	if a := viewer.get(Prefix + "/incidents/" + devInc.ID); a.code != http.StatusOK || strings.Contains(a.body, `value="approve"`) {
		t.Errorf("viewer GET incident: %d; want it shown without the approve form", a.code)
	}

	s := f.browser(t)
	s.login(scopedTok)
	if a := s.get(Prefix + "/incidents"); a.code != http.StatusOK || strings.Contains(a.body, devInc.ID) {
		t.Errorf("scoped list shows an incident in another account")
	}
	if a := s.get(Prefix + "/incidents?account=" + devAccount); strings.Contains(a.body, devInc.ID) {
		t.Errorf("scoped list filtered to another account shows its incident")
	}
	if a := s.get(Prefix + "/incidents/" + devInc.ID); a.code != http.StatusForbidden {
		t.Errorf("scoped GET of an incident in another account: %d, want 403", a.code)
	}
	if a := s.get(Prefix + "/audit"); a.code != http.StatusForbidden {
		t.Errorf("scoped GET audit: %d, want 403", a.code)
	}
	denied := f.auditKinds(t, "access.denied")
	a := s.post(Prefix+"/isolate", Prefix+"/isolate", url.Values{"action": {"ec2.isolate"}, "account": {devAccount},
		"region": {"us-east-1"}, "instance": {buildBox}, "reason": {"r"}})
	if a.code != http.StatusForbidden || !strings.Contains(a.body, scoped+" may not act in account "+devAccount) {
		t.Errorf("scoped isolate in another account: %d %s", a.code, a.body)
	}
	if got := f.auditKinds(t, "access.denied"); got != denied+1 {
		t.Errorf("access.denied records: %d, want %d", got, denied+1)
	}

	// The approver requested devInc: the console refuses, says why, and audits it.
	ap := f.browser(t)
	ap.login(approverTok)
	if a := ap.get(Prefix + "/approvals"); !strings.Contains(a.body, "You requested this incident") {
		t.Errorf("own request in the queue: no notice")
	}
	a = ap.post(Prefix+"/approvals", Prefix+"/incidents/"+devInc.ID+"/steps/0/decide", url.Values{"decision": {"approve"}})
	if a.code != http.StatusForbidden || !strings.Contains(a.body, "someone else must") {
		t.Errorf("self-approval: %d %s", a.code, a.body)
	}
	if inc, _ := f.eng.Get(context.Background(), devInc.ID); inc.Steps[0].Approval != store.ApprovalRequired {
		t.Errorf("self-approval changed the step: %+v", inc.Steps[0])
	}
	if got := f.auditKinds(t, "access.denied"); got != denied+2 {
		t.Errorf("access.denied records after self-approval: %d, want %d", got, denied+2)
	}
}

// TestApproveAndRelease decides a waiting step and releases an incident through the forms.
func TestApproveAndRelease(t *testing.T) {
	f := newFixture(t)
	respTok, _ := f.token(t, auth.Responder)
	apprTok, apprName := f.token(t, auth.Approver)
	r := f.browser(t)
	r.login(respTok)
	id := r.requestAction("ec2.terminate", devAccount, buildBox, "miner")
	f.waitFor(t, id, store.StateAwaitingApproval)
	if a := r.get(Prefix + "/approvals"); a.code != http.StatusForbidden {
		t.Errorf("responder GET approvals: %d, want 403", a.code)
	}

	ap := f.browser(t)
	ap.login(apprTok)
	a := ap.post(Prefix+"/approvals", Prefix+"/incidents/"+id+"/steps/0/decide", url.Values{"decision": {"approve"}, "comment": {"owner agrees"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", a.code, a.body)
	}
	if a := ap.get(a.header.Get("Location")); !strings.Contains(a.body, "Approved step 0") {
		t.Errorf("after approving, the incident page does not say so")
	}
	inc := f.waitFor(t, id, store.StateContained)
	if inc.Steps[0].Approver != apprName || inc.Steps[0].ApprovalComment != "owner agrees" {
		t.Errorf("step 0 approved by %q with %q", inc.Steps[0].Approver, inc.Steps[0].ApprovalComment)
	}
	// Deciding again is a conflict, shown on the incident, not an error page.
	a = ap.post(Prefix+"/incidents/"+id, Prefix+"/incidents/"+id+"/steps/0/decide", url.Values{"decision": {"deny"}})
	if a.code != http.StatusSeeOther {
		t.Errorf("second decision: %d, want a redirect to the incident", a.code)
	}
	if a := ap.get(Prefix + "/incidents/" + id); !strings.Contains(a.body, "Nothing was changed") {
		t.Errorf("second decision: the incident page does not say nothing was changed")
	}

	// Release: the confirmation page, then the form; without confirm it only goes back.
	if a := r.post(Prefix+"/incidents/"+id+"/release", Prefix+"/incidents/"+id+"/release", url.Values{}); a.code != http.StatusSeeOther ||
		!strings.HasSuffix(a.header.Get("Location"), "/release") {
		t.Errorf("release without confirm: %d %q", a.code, a.header.Get("Location"))
	}
	a = r.post(Prefix+"/incidents/"+id+"/release", Prefix+"/incidents/"+id+"/release", url.Values{"confirm": {"release"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("release: %d %s", a.code, a.body)
	}
	f.waitFor(t, id, store.StateReleased)
	if a := r.get(Prefix + "/incidents/" + id + "/release"); !strings.Contains(a.body, "nothing to release") {
		t.Errorf("release page of a released incident does not say so")
	}
}

// TestRoutesGuarded walks the route table: signed out, every page but the login form
// sends the browser to sign in, and every form is refused without a session.
func TestRoutesGuarded(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, rt := range routeTable() {
		if rt.perm == "" {
			continue
		}
		path := Prefix + strings.NewReplacer("{$}", "", "{id}", "inc-1", "{n}", "0", "{name}", "ec2-compromise-prod").Replace(rt.pattern)
		var a answer
		if rt.method == http.MethodGet {
			a = b.get(path)
		} else {
			a = b.do(rt.method, path, url.Values{"csrf": {"x"}})
		}
		if a.code != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), Prefix+"/login") {
			t.Errorf("signed out %s %s: %d %q, want a redirect to login", rt.method, path, a.code, a.header.Get("Location"))
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		Prefix + "/incidents/inc-1": Prefix + "/incidents/inc-1",
		"https://evil.example/":     Prefix + "/incidents",
		"//evil.example/":           Prefix + "/incidents",
		Prefix + "/\\evil":          Prefix + "/incidents",
		Prefix + "/login":           Prefix + "/incidents",
		"":                          Prefix + "/incidents",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSignInThrottled checks that an address whose tokens keep being refused is told to
// wait, and is not let in meanwhile even with a good token.
func TestSignInThrottled(t *testing.T) {
	f := newFixture(t)
	f.c.opts.Throttle = auth.NewThrottle(2, time.Minute, nil)
	good, _ := f.token(t, auth.Viewer)
	b := f.browser(t)
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		a := b.post(Prefix+"/login", Prefix+"/login", url.Values{"token": {"fbk_guess" + strconv.Itoa(i)}})
		if a.code != want {
			t.Errorf("bad token %d: %d, want %d", i, a.code, want)
		}
	}
	a := b.post(Prefix+"/login", Prefix+"/login", url.Values{"token": {good}})
	if a.code != http.StatusTooManyRequests || !strings.Contains(a.body, "Too many tokens were refused from this address") {
		t.Errorf("good token while throttled: %d, want 429 saying why", a.code)
	}
}
