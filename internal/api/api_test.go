package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/engine/enginetest"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

const (
	worldFile    = "../../examples/world.yaml"
	playbooksDir = "../../playbooks"
	cryptoDev    = "../../examples/events/guardduty-cryptomining-dev.json"

	prodAccount = "111122223333"
	devAccount  = "444455556666"
	webProd     = "i-0a1b2c3d4e5f60001"
	buildBox    = "i-0b1c2d3e4f5a60002"
)

type fixture struct {
	h     *Handler
	eng   *engine.Engine
	store *store.Store
	org   *sim.Org
}

// newFixture serves the API over an engine acting on the example simulated organisation.
func newFixture(t *testing.T, d store.Dialect, rl RateLimit, now func() time.Time) *fixture {
	t.Helper()
	e := enginetest.Start(t, d)
	decider := decide.New(e.Playbooks, decide.Options{})
	h, err := New(Options{Engine: e.Engine, Store: e.Store, Auth: &auth.Authenticator{Store: e.Store}, Catalogue: e.Catalogue,
		Inventory: e.Inventory, RateLimit: rl, Now: now,
		Playbooks: func() *playbook.Set { return e.Playbooks }, Decider: func() *decide.Engine { return decider }})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{h: h, eng: e.Engine, store: e.Store, org: e.Org}
}

// token issues an API token; a negative ttl gives one that has already expired.
func (f *fixture) token(t *testing.T, role auth.Role, ttl time.Duration, accounts ...string) (tok, name string) {
	t.Helper()
	o := auth.IssueOptions{Role: role, Accounts: accounts, TTL: ttl, By: "test"}
	if ttl < 0 {
		o.Now, o.TTL = time.Now().Add(2*ttl), -ttl
	}
	tok, rec, err := auth.Issue(context.Background(), f.store, o)
	if err != nil {
		t.Fatal(err)
	}
	return tok, "token:" + rec.ID
}

// do sends a request as from 192.0.2.1 and returns the answer.
func (f *fixture) do(t *testing.T, method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:40000"
	if token != "" {
		r.Header.Set("Authorization", token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func bearer(tok string) string { return "Bearer " + tok }

func decodeAs[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %d %q: %v", w.Code, w.Body.String(), err)
	}
	return v
}

// audit returns the audit records of kind.
func (f *fixture) audit(t *testing.T, kind string) []store.AuditRecord {
	t.Helper()
	var buf bytes.Buffer
	if err := f.store.ExportAudit(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	var out []store.AuditRecord
	for line := range bytes.Lines(buf.Bytes()) {
		var r store.AuditRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func (f *fixture) incidents(t *testing.T) []*store.Incident {
	t.Helper()
	list, err := f.eng.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// waitFor polls GET /v1/incidents/{id} until the incident reaches state.
func (f *fixture) waitFor(t *testing.T, token, id, state string) *store.Incident {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w := f.do(t, http.MethodGet, "/v1/incidents/"+id, token, "")
		if w.Code != http.StatusOK {
			t.Fatalf("GET incident %s: %d %s", id, w.Code, w.Body)
		}
		inc := decodeAs[store.Incident](t, w)
		if inc.State == state {
			return &inc
		}
		if time.Now().After(deadline) {
			t.Fatalf("incident %s is %s after 30s, want %s; steps %+v", id, inc.State, state, inc.Steps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isolateBody(account, id string) string {
	return fmt.Sprintf(`{"action": "ec2.isolate", "target": {"account": %q, "region": "us-east-1", "kind": "instance", "id": %q},
		"reason": "suspected compromise", "ticket": "INC-42"}`, account, id)
}

// TestSeedSelfServiceIsolation is seed 001 end to end on the simulated organisation: a
// responder scoped to one account isolates an instance there, and the incident reaches
// contained with the caller in the audit; the same responder asking in another account is
// refused, changes nothing, and the refusal is audited.
func TestSeedSelfServiceIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s.Dialect(), RateLimit{}, nil)
		tok, name := f.token(t, auth.Responder, time.Hour, prodAccount)

		w := f.do(t, http.MethodPost, "/v1/actions", bearer(tok), isolateBody(prodAccount, webProd), "X-Request-Id", "seed-001")
		if w.Code != http.StatusAccepted {
			t.Fatalf("POST /v1/actions: %d %s", w.Code, w.Body)
		}
		got := decodeAs[ActionAccepted](t, w)
		if got.Incident == "" || got.URL != "/v1/incidents/"+got.Incident || w.Header().Get("Location") != got.URL {
			t.Errorf("answer %+v, Location %q", got, w.Header().Get("Location"))
		}
		inc := f.waitFor(t, bearer(tok), got.Incident, store.StateContained)
		if inc.RequestedBy != name || len(inc.Steps) != 1 || inc.Steps[0].Status != "done" {
			t.Errorf("incident %+v: want one done step requested by %s", inc, name)
		}
		for _, kind := range []string{"action.requested", "incident.opened"} {
			recs := f.audit(t, kind)
			if len(recs) != 1 || recs[0].Actor != name || recs[0].Source != "192.0.2.1" || recs[0].RequestID != "seed-001" {
				t.Errorf("%s records %+v, want one by %s from 192.0.2.1 with request id seed-001", kind, recs, name)
			}
		}

		// Asking again while it is handled returns the same incident.
		w = f.do(t, http.MethodPost, "/v1/actions", bearer(tok), isolateBody(prodAccount, webProd))
		if again := decodeAs[ActionAccepted](t, w); w.Code != http.StatusAccepted || again.Incident != got.Incident || !again.Existing {
			t.Errorf("second request: %d %+v, want 202 for %s, existing", w.Code, again, got.Incident)
		}

		before := groupsOf(t, f.org, buildBox)
		w = f.do(t, http.MethodPost, "/v1/actions", bearer(tok), isolateBody(devAccount, buildBox), "X-Request-Id", "seed-001-other")
		if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != ProblemContentType {
			t.Fatalf("other account: %d %s, want a 403 problem", w.Code, w.Body)
		}
		if n := len(f.incidents(t)); n != 1 {
			t.Errorf("%d incidents after the refusal, want 1", n)
		}
		if after := groupsOf(t, f.org, buildBox); !slices.Equal(before, after) {
			t.Errorf("the refused instance's groups changed from %v to %v", before, after)
		}
		denied := f.audit(t, "access.denied")
		if len(denied) != 1 || denied[0].Actor != name || denied[0].RequestID != "seed-001-other" || !strings.Contains(denied[0].Subject, buildBox) {
			t.Errorf("access.denied records %+v, want one by %s about %s", denied, name, buildBox)
		}
		if _, err := f.store.VerifyAudit(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func groupsOf(t *testing.T, org *sim.Org, id string) []string {
	t.Helper()
	for _, a := range org.World().Accounts {
		for _, r := range a.Regions {
			for _, in := range r.Instances {
				if in.ID == id {
					return slices.Clone(in.SecurityGroups)
				}
			}
		}
	}
	t.Fatalf("instance %s not in the world", id)
	return nil
}

// caller is one column of the authorisation matrix.
type caller struct {
	name string
	// header is the Authorization header sent; set up by the test.
	header string
	// role is the caller's role, empty for one who is not authenticated.
	role auth.Role
	// otherAccount is a caller scoped to an account the incidents are not in.
	otherAccount bool
	// requester is a caller who asked for the incident acted on.
	requester bool
}

// allowed is what each role may do, written out rather than derived from auth, so that a
// change in either is caught. Every route of the router must be listed.
var allowed = map[string][]auth.Role{
	"POST /v1/actions":                          {auth.Responder, auth.Approver, auth.Admin},
	"GET /v1/incidents":                         {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"GET /v1/incidents/{id}":                    {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"POST /v1/incidents/{id}/steps/{n}/approve": {auth.Approver, auth.Admin},
	"POST /v1/incidents/{id}/steps/{n}/deny":    {auth.Approver, auth.Admin},
	"POST /v1/incidents/{id}/release":           {auth.Responder, auth.Approver, auth.Admin},
	"POST /v1/incidents/{id}/close":             {auth.Responder, auth.Approver, auth.Admin},
	"GET /v1/playbooks":                         {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"GET /v1/playbooks/{name}":                  {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"GET /v1/playbooks/{name}/runbook":          {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"POST /v1/replay":                           {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"GET /v1/audit":                             {auth.Admin},
	"GET /v1/audit/verify":                      {auth.Admin},
	"GET /v1/incidents/{id}/evidence":           {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"GET /v1/exceptions":                        {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"POST /v1/exceptions":                       {auth.Admin},
	"GET /v1/exceptions/{id}":                   {auth.Viewer, auth.Responder, auth.Approver, auth.Admin},
	"POST /v1/exceptions/{id}/revoke":           {auth.Admin},
}

// anyAccount are the routes a caller scoped to other accounts than the incident's is
// served too: a list filled from their own accounts, and what concerns no account (the
// playbooks, a replay that acts on nothing and consults the inventory only in scope).
// Every other route answers them 403; the audit does for any scoped caller, since its
// chain spans every account.
var anyAccount = []string{"GET /v1/incidents", "GET /v1/playbooks", "GET /v1/playbooks/{name}",
	"GET /v1/playbooks/{name}/runbook", "POST /v1/replay", "GET /v1/exceptions"}

// replayEvent is an event in the account the matrix's incidents are in.
const replayEvent = "../../examples/events/guardduty-backdoor-c2-prod.json"

// TestAuthorisationMatrix calls every route the router is built from as every kind of
// caller, each on a fresh incident waiting for approval, and checks the answer: 401 without
// valid credentials, 403 when the role or account scope does not allow it or the caller
// requested the incident they would approve, success otherwise. A refused change is audited
// and changes nothing.
func TestAuthorisationMatrix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s.Dialect(), RateLimit{}, nil)
		expired, _ := f.token(t, auth.Admin, -time.Hour)
		callers := []*caller{
			{name: "no credentials"},
			{name: "not bearer", header: "Basic dXNlcjpwYXNz"},
			{name: "unknown token", header: bearer(auth.TokenPrefix + strings.Repeat("A", 43))},
			{name: "malformed token", header: bearer(auth.TokenPrefix + "short")},
			{name: "expired admin", header: bearer(expired)},
		}
		for _, r := range auth.Roles {
			tok, _ := f.token(t, r, time.Hour)
			callers = append(callers, &caller{name: string(r), header: bearer(tok), role: r})
		}
		for _, r := range auth.Roles {
			tok, _ := f.token(t, r, time.Hour, devAccount)
			callers = append(callers, &caller{name: string(r) + " of another account", header: bearer(tok), role: r, otherAccount: true})
		}
		selfTok, selfName := f.token(t, auth.Admin, time.Hour)
		callers = append(callers, &caller{name: "admin who requested", header: bearer(selfTok), role: auth.Admin, requester: true})

		replayBody, err := os.ReadFile(replayEvent)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		cells := 0
		for _, rt := range f.h.routes {
			key := rt.method + " " + rt.pattern
			roles, ok := allowed[key]
			if !ok {
				t.Errorf("route %s is not in the matrix's table of what each role may do", key)
				continue
			}
			seen[key] = true
			for i, c := range callers {
				t.Run(key+"/"+c.name, func(t *testing.T) {
					cells++
					// A fresh incident on a target of its own, waiting for approval, requested by
					// the requester caller.
					target := action.Target{Kind: event.KindInstance, ID: fmt.Sprintf("i-matrix%04d%04d", len(seen), i),
						Account: prodAccount, Region: "us-east-1"}
					ctx := engine.WithCaller(context.Background(), engine.Caller{Name: selfName})
					inc, _, err := f.eng.RequestAction(ctx, "ec2.terminate", target, "matrix", "")
					if err != nil {
						t.Fatal(err)
					}
					path := strings.NewReplacer("{id}", inc.ID, "{n}", "0", "{name}", "ec2-compromise-prod").Replace(rt.pattern)
					body := ""
					switch rt.pattern {
					case "/v1/actions":
						body = isolateBody(prodAccount, webProd)
					case "/v1/replay":
						body = string(replayBody)
					}
					if strings.HasPrefix(rt.pattern, "/v1/exceptions") {
						// An exception of its own in the incidents' account (see exceptionCell).
						path, body = f.exceptionCell(t, rt.method, rt.pattern, len(seen), i)
					}
					deniedBefore := len(f.audit(t, "access.denied"))

					want := http.StatusOK
					switch {
					case c.role == "":
						want = http.StatusUnauthorized
					case !slices.Contains(roles, c.role):
						want = http.StatusForbidden
					case c.otherAccount && !slices.Contains(anyAccount, key):
						want = http.StatusForbidden
					case c.requester && strings.HasSuffix(key, "/approve"), c.requester && strings.HasSuffix(key, "/deny"):
						want = http.StatusForbidden
					case rt.pattern == "/v1/actions":
						want = http.StatusAccepted
					case key == "POST /v1/exceptions":
						want = http.StatusCreated
					case rt.pattern == "/v1/incidents/{id}/close":
						// Allowed, but an incident waiting for approval is still moving.
						want = http.StatusConflict
					}

					w := f.do(t, rt.method, path, c.header, body)
					if w.Code != want {
						t.Fatalf("%s %s as %s: %d %s, want %d", rt.method, path, c.name, w.Code, w.Body, want)
					}
					if want >= 400 {
						if ct := w.Header().Get("Content-Type"); ct != ProblemContentType {
							t.Errorf("Content-Type %q, want %s", ct, ProblemContentType)
						}
						after, err := f.eng.Get(context.Background(), inc.ID)
						if err != nil {
							t.Fatal(err)
						}
						if after.State != store.StateAwaitingApproval {
							t.Errorf("refused, yet the incident is now %s", after.State)
						}
					}
					if want == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
					deniedAfter := len(f.audit(t, "access.denied"))
					if wantAudit := want == http.StatusForbidden && rt.changes; (deniedAfter > deniedBefore) != wantAudit {
						t.Errorf("access.denied records went from %d to %d; audited refusal wanted: %v", deniedBefore, deniedAfter, wantAudit)
					}
					if key == "GET /v1/incidents" && want == http.StatusOK {
						list := decodeAs[IncidentList](t, w)
						if c.otherAccount && len(list.Incidents) != 0 {
							t.Errorf("a caller of another account sees %d incidents", len(list.Incidents))
						}
						if !c.otherAccount && len(list.Incidents) == 0 {
							t.Error("no incidents listed")
						}
					}
				})
			}
		}
		for key := range allowed {
			if !seen[key] {
				t.Errorf("the matrix lists %s, which the router does not serve", key)
			}
		}
		t.Logf("authorisation matrix: %d routes x %d callers = %d cells", len(f.h.routes), len(callers), cells)
	})
}

// TestBadBodies checks that a malformed request is answered with a problem naming the field
// at fault, and that nothing is stored or audited.
func TestBadBodies(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	tok, _ := f.token(t, auth.Admin, time.Hour)
	auditBefore, err := f.store.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const target = `"target": {"account": "111122223333", "region": "us-east-1", "kind": "instance", "id": "i-0a1b2c3d4e5f60001"}`
	tests := []struct {
		name      string
		path      string
		body      string
		wantCode  int
		wantParam string
	}{
		{"empty", "/v1/actions", ``, 400, "body"},
		{"not JSON", "/v1/actions", `{"action": `, 400, "body"},
		{"an array", "/v1/actions", `[]`, 400, "body"},
		{"two objects", "/v1/actions", `{} {}`, 400, "body"},
		{"unknown field", "/v1/actions", `{"action": "ec2.isolate", ` + target + `, "reason": "r", "force": true}`, 400, "force"},
		{"unknown target field", "/v1/actions", `{"action": "ec2.isolate", "target": {"account": "111122223333", "region": "us-east-1", "kind": "instance", "id": "i-0a1b2c3d4e5f60001", "arn": "x"}, "reason": "r"}`, 400, "target.arn"},
		{"duplicate field", "/v1/actions", `{"action": "ec2.isolate", "action": "ec2.terminate", ` + target + `, "reason": "r"}`, 400, "action"},
		{"not an object inside", "/v1/actions", `{"action": "ec2.isolate", "target": {"account": }, "reason": "r"}`, 400, "body"},
		{"action a number", "/v1/actions", `{"action": 7, ` + target + `, "reason": "r"}`, 400, "action"},
		{"target a string", "/v1/actions", `{"action": "ec2.isolate", "target": "i-0abc", "reason": "r"}`, 400, "target"},
		{"account a number", "/v1/actions", `{"action": "ec2.isolate", "target": {"account": 111122223333, "region": "us-east-1", "kind": "instance", "id": "i-1"}, "reason": "r"}`, 400, "target.account"},
		{"reason a list", "/v1/actions", `{"action": "ec2.isolate", ` + target + `, "reason": ["r"]}`, 400, "reason"},
		{"oversize", "/v1/actions", `{"action": "ec2.isolate", ` + target + `, "reason": "` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "body"},
		{"no action", "/v1/actions", `{` + target + `, "reason": "r"}`, 422, "action"},
		{"unknown action", "/v1/actions", `{"action": "ec2.vaporise", ` + target + `, "reason": "r"}`, 422, "action"},
		{"kind not accepted", "/v1/actions", `{"action": "iam.deactivate-user", ` + target + `, "reason": "r"}`, 422, "target.kind"},
		{"short account", "/v1/actions", `{"action": "ec2.isolate", "target": {"account": "1111", "region": "us-east-1", "kind": "instance", "id": "i-1"}, "reason": "r"}`, 422, "target.account"},
		{"bad region", "/v1/actions", `{"action": "ec2.isolate", "target": {"account": "111122223333", "region": "mars", "kind": "instance", "id": "i-1"}, "reason": "r"}`, 422, "target.region"},
		{"id with a newline", "/v1/actions", `{"action": "ec2.isolate", "target": {"account": "111122223333", "region": "us-east-1", "kind": "instance", "id": "i-1\n"}, "reason": "r"}`, 422, "target.id"},
		{"no reason", "/v1/actions", `{"action": "ec2.isolate", ` + target + `}`, 422, "reason"},
		{"blank reason", "/v1/actions", `{"action": "ec2.isolate", ` + target + `, "reason": "  "}`, 422, "reason"},
		{"unknown account", "/v1/actions", `{"action": "ec2.isolate", "target": {"account": "999999999999", "region": "us-east-1", "kind": "instance", "id": "i-1"}, "reason": "r"}`, 422, "target.account"},
		{"no such instance", "/v1/actions", `{"action": "ec2.isolate", "target": {"account": "111122223333", "region": "us-east-1", "kind": "instance", "id": "i-nothere"}, "reason": "r"}`, 422, "target.id"},
		{"approve: comment a number", "/v1/incidents/inc-1/steps/0/approve", `{"comment": 1}`, 400, "comment"},
		{"approve: unknown field", "/v1/incidents/inc-1/steps/0/approve", `{"comment": "ok", "as": "admin"}`, 400, "as"},
		{"approve: bad step", "/v1/incidents/inc-1/steps/first/approve", `{}`, 400, "n"},
		{"approve: bad incident id", "/v1/incidents/inc%201/steps/0/approve", `{}`, 400, "id"},
		{"release: a body", "/v1/incidents/inc-1/release", `{"now": true}`, 400, "now"},
		{"close: unknown field", "/v1/incidents/inc-1/close", `{"comment": "done", "force": true}`, 400, "force"},
		{"close: comment a number", "/v1/incidents/inc-1/close", `{"comment": 1}`, 400, "comment"},
		{"close: comment too long", "/v1/incidents/inc-1/close", `{"comment": "` + strings.Repeat("x", MaxComment+1) + `"}`, 400, "comment"},
		{"close: not an object", "/v1/incidents/inc-1/close", `"done"`, 400, "body"},
		{"close: bad incident id", "/v1/incidents/inc%201/close", ``, 400, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, http.MethodPost, tt.path, bearer(tok), tt.body)
			if w.Code != tt.wantCode {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.wantCode)
			}
			p := decodeAs[Problem](t, w)
			if p.Status != tt.wantCode || p.RequestID == "" || len(p.InvalidParams) == 0 || p.InvalidParams[0].Name != tt.wantParam {
				t.Errorf("problem %+v, want status %d naming %s", p, tt.wantCode, tt.wantParam)
			}
		})
	}
	if n := len(f.incidents(t)); n != 0 {
		t.Errorf("%d incidents after bad requests, want none", n)
	}
	if after, _ := f.store.VerifyAudit(context.Background()); after.Records != auditBefore.Records {
		t.Errorf("audit records went from %d to %d", auditBefore.Records, after.Records)
	}
}

// TestListIncidents checks filters, scoping and cursor pagination.
func TestListIncidents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s.Dialect(), RateLimit{}, nil)
		ctx := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-someone"})
		var ids []string
		for i := range 5 {
			inc, _, err := f.eng.RequestAction(ctx, "ec2.terminate", action.Target{Kind: event.KindInstance,
				ID: fmt.Sprintf("i-list%d", i), Account: prodAccount, Region: "us-east-1"}, "list", "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, inc.ID)
		}
		data, err := os.ReadFile(cryptoDev)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := event.FromJSON(data)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.eng.Accept(context.Background(), evs, "http"); err != nil {
			t.Fatal(err)
		}
		all, _ := f.token(t, auth.Viewer, time.Hour)
		prod, _ := f.token(t, auth.Viewer, time.Hour, prodAccount)
		dev, _ := f.token(t, auth.Viewer, time.Hour, devAccount)

		page := func(token, query string) IncidentList {
			t.Helper()
			w := f.do(t, http.MethodGet, "/v1/incidents"+query, bearer(token), "")
			if w.Code != http.StatusOK {
				t.Fatalf("GET /v1/incidents%s: %d %s", query, w.Code, w.Body)
			}
			return decodeAs[IncidentList](t, w)
		}
		count := func(token, query string) int { return len(page(token, query).Incidents) }

		tests := []struct {
			name, token, query string
			want               int
		}{
			{"everything", all, "", 6},
			{"one account", all, "?account=" + devAccount, 1},
			{"a state and a playbook", all, "?state=awaiting-approval&playbook=" + engine.SelfService, 5},
			{"a playbook", all, "?playbook=" + engine.SelfService, 5},
			{"scoped to prod", prod, "", 5},
			{"scoped to dev", dev, "", 1},
			{"scoped, asking for another account", dev, "?account=" + prodAccount, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := count(tt.token, tt.query); got != tt.want {
					t.Errorf("%d incidents, want %d", got, tt.want)
				}
			})
		}

		var got []string
		cursor := ""
		for range 10 {
			// The detector's incident may pass through awaiting-approval too: the playbook
			// filter keeps the page set still while it is walked.
			q := "?state=awaiting-approval&playbook=" + engine.SelfService + "&limit=2"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			p := page(all, q)
			for _, inc := range p.Incidents {
				got = append(got, inc.ID)
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		slices.Sort(got)
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("paged through %v, want each of %v once", got, ids)
		}

		for _, q := range []string{"?state=burning", "?account=12", "?limit=0", "?limit=500", "?cursor=zzz", "?sort=id"} {
			if w := f.do(t, http.MethodGet, "/v1/incidents"+q, bearer(all), ""); w.Code != http.StatusBadRequest {
				t.Errorf("GET /v1/incidents%s: %d, want 400", q, w.Code)
			}
		}
		if w := f.do(t, http.MethodGet, "/v1/incidents/inc-nothere", bearer(all), ""); w.Code != http.StatusNotFound {
			t.Errorf("unknown incident: %d, want 404", w.Code)
		}
	})
}

// TestApproveAndRelease follows an incident through the API: a responder requests a
// destructive action, an approver approves it, and it is released.
func TestApproveAndRelease(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	responder, _ := f.token(t, auth.Responder, time.Hour)
	approver, approverName := f.token(t, auth.Approver, time.Hour)
	w := f.do(t, http.MethodPost, "/v1/actions", bearer(responder),
		`{"action": "ec2.terminate", "target": {"account": "111122223333", "region": "us-east-1", "kind": "instance", "id": "`+webProd+`"}, "reason": "ransomware"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("request: %d %s", w.Code, w.Body)
	}
	id := decodeAs[ActionAccepted](t, w).Incident
	f.waitFor(t, bearer(responder), id, store.StateAwaitingApproval)
	if w := f.do(t, http.MethodPost, "/v1/incidents/"+id+"/steps/1/approve", bearer(approver), `{}`); w.Code != http.StatusConflict {
		t.Errorf("approve a step that does not wait: %d %s, want 409", w.Code, w.Body)
	}
	w = f.do(t, http.MethodPost, "/v1/incidents/"+id+"/steps/0/approve", bearer(approver), `{"comment": "confirmed with the owner"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("approve: %d %s", w.Code, w.Body)
	}
	if ch := decodeAs[IncidentChange](t, w); ch.Incident == nil || ch.Incident.Steps[0].Approver != approverName {
		t.Errorf("approve answered %+v, want the step approved by %s", ch, approverName)
	}
	f.waitFor(t, bearer(responder), id, store.StateContained)
	w = f.do(t, http.MethodPost, "/v1/incidents/"+id+"/release", bearer(responder), ``)
	if w.Code != http.StatusOK {
		t.Fatalf("release: %d %s", w.Code, w.Body)
	}
	if ch := decodeAs[IncidentChange](t, w); ch.Incident == nil || ch.Incident.State != store.StateReleased {
		t.Errorf("release answered %+v, want released", ch)
	}
	if w := f.do(t, http.MethodPost, "/v1/incidents/"+id+"/release", bearer(responder), ``); w.Code != http.StatusConflict {
		t.Errorf("release twice: %d, want 409", w.Code)
	}
}

// TestClose closes incidents through the API: one at rest is closed with the caller and
// comment in the audit; one still moving is answered 409 saying what to do; an unknown
// one 404.
func TestClose(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	responder, name := f.token(t, auth.Responder, time.Hour)
	w := f.do(t, http.MethodPost, "/v1/actions", bearer(responder), isolateBody(prodAccount, webProd))
	if w.Code != http.StatusAccepted {
		t.Fatalf("request: %d %s", w.Code, w.Body)
	}
	contained := decodeAs[ActionAccepted](t, w).Incident
	f.waitFor(t, bearer(responder), contained, store.StateContained)
	w = f.do(t, http.MethodPost, "/v1/actions", bearer(responder),
		`{"action": "ec2.terminate", "target": {"account": "444455556666", "region": "us-east-1", "kind": "instance", "id": "`+buildBox+`"}, "reason": "miner"}`)
	waiting := decodeAs[ActionAccepted](t, w).Incident
	f.waitFor(t, bearer(responder), waiting, store.StateAwaitingApproval)

	tests := []struct {
		name, id, body string
		want           int
		detail         string
	}{
		{"contained, with a comment", contained, `{"comment": "owner rebuilt the host"}`, http.StatusOK, ""},
		{"closed already", contained, ``, http.StatusConflict, "it is already closed"},
		{"waiting for approval", waiting, `{}`, http.StatusConflict, "it is awaiting approval of step 0 (ec2.terminate); approve or deny it, or release the incident, first"},
		{"unknown", "inc-nothere", ``, http.StatusNotFound, "no incident inc-nothere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, http.MethodPost, "/v1/incidents/"+tt.id+"/close", bearer(responder), tt.body, "X-Request-Id", "close-"+tt.id)
			if w.Code != tt.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.want)
			}
			if tt.want != http.StatusOK {
				if p := decodeAs[Problem](t, w); !strings.Contains(p.Detail, tt.detail) {
					t.Errorf("problem %+v, want a detail saying %q", p, tt.detail)
				}
				return
			}
			if ch := decodeAs[IncidentChange](t, w); ch.Incident == nil || ch.Incident.State != store.StateClosed {
				t.Errorf("answered %+v, want the incident closed", ch)
			}
		})
	}
	recs := f.audit(t, "incident.closed")
	if len(recs) != 1 || recs[0].Actor != name || recs[0].Source != "192.0.2.1" || recs[0].RequestID != "close-"+contained ||
		!strings.Contains(string(recs[0].Data), "owner rebuilt the host") {
		t.Errorf("incident.closed records %+v, want one by %s with the comment", recs, name)
	}
}

// TestRateLimit checks that a caller past its allowance is answered 429 with Retry-After,
// and that another caller is not held back by it.
func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, store.SQLite, RateLimit{PerSecond: 0.5, Burst: 2}, func() time.Time { return now })
	a, _ := f.token(t, auth.Viewer, 0)
	b, _ := f.token(t, auth.Viewer, 0)
	for i, want := range []int{200, 200, 429} {
		if w := f.do(t, http.MethodGet, "/v1/incidents", bearer(a), ""); w.Code != want {
			t.Errorf("call %d: %d, want %d", i, w.Code, want)
		} else if want == 429 && w.Header().Get("Retry-After") != "2" {
			t.Errorf("Retry-After %q, want 2", w.Header().Get("Retry-After"))
		}
	}
	if w := f.do(t, http.MethodGet, "/v1/incidents", bearer(b), ""); w.Code != http.StatusOK {
		t.Errorf("another caller: %d, want 200", w.Code)
	}
	now = now.Add(2 * time.Second)
	if w := f.do(t, http.MethodGet, "/v1/incidents", bearer(a), ""); w.Code != http.StatusOK {
		t.Errorf("after waiting: %d, want 200", w.Code)
	}
}

// TestThrottleBadCredentials checks that an address presenting bad tokens is refused with
// 429 once it has spent its allowance, good token or not, while other addresses and
// requests without credentials are not held up.
func TestThrottleBadCredentials(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f := newFixture(t, store.SQLite, RateLimit{}, clock)
	good, _ := f.token(t, auth.Viewer, 0)
	h, err := New(Options{Engine: f.eng, Store: f.store, Auth: &auth.Authenticator{Store: f.store}, Catalogue: catalog.Default(),
		Throttle: auth.NewThrottle(3, 10*time.Second, clock)})
	if err != nil {
		t.Fatal(err)
	}
	call := func(addr, token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/v1/incidents", nil)
		r.RemoteAddr = addr + ":40000"
		if token != "" {
			r.Header.Set("Authorization", token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 5 {
		if w := call("192.0.2.9", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("no credentials, call %d: %d, want 401 and no throttling", i, w.Code)
		}
	}
	for i, want := range []int{401, 401, 401, 429} {
		if w := call("192.0.2.7", bearer("fbk_guess")); w.Code != want {
			t.Errorf("bad token %d: %d, want %d", i, w.Code, want)
		}
	}
	w := call("192.0.2.7", bearer(good))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "10" ||
		!strings.Contains(decodeAs[Problem](t, w).Detail, "too many failed authentications from 192.0.2.7") {
		t.Errorf("good token from the throttled address: %d %q %s, want 429 with Retry-After 10", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := call("192.0.2.8", bearer(good)); w.Code != http.StatusOK {
		t.Errorf("good token from another address: %d, want 200", w.Code)
	}
	now = now.Add(10 * time.Second)
	if w := call("192.0.2.7", bearer(good)); w.Code != http.StatusOK {
		t.Errorf("good token after the allowance refilled: %d, want 200", w.Code)
	}
}

// TestUnknownRoutes checks that paths and methods no route serves are answered with problem
// documents.
func TestUnknownRoutes(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodGet, "/v1/nothing", http.StatusNotFound, ""},
		{http.MethodGet, "/v1/actions", http.StatusMethodNotAllowed, "POST"},
		{http.MethodDelete, "/v1/incidents/inc-1", http.StatusMethodNotAllowed, "GET"},
		{http.MethodGet, "/v1/incidents/inc-1/release", http.StatusMethodNotAllowed, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := f.do(t, tt.method, tt.path, "", "")
			if w.Code != tt.want || w.Header().Get("Content-Type") != ProblemContentType || w.Header().Get("Allow") != tt.allow {
				t.Errorf("%d %q Allow %q, want a %d problem, Allow %q", w.Code, w.Header().Get("Content-Type"), w.Header().Get("Allow"), tt.want, tt.allow)
			}
		})
	}
}
