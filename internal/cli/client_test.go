package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/api"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/client"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/input"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// Tokens the fake API knows, by role.
const (
	viewerToken    = "fbk_viewer"
	responderToken = "fbk_responder"
	approverToken  = "fbk_approver"
)

// fakeAPI implements the /v1 routes over a few incidents kept in memory, answering errors
// with problem documents as the real API does, so that the commands can be checked
// against every kind of answer without an engine.
type fakeAPI struct {
	mu        sync.Mutex
	incidents []*store.Incident // newest first
	next      int
	// lastAuth is the Authorization header of the latest call.
	lastAuth string
}

var fakeTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newFakeAPI() *fakeAPI {
	return &fakeAPI{next: 3, incidents: []*store.Incident{
		{ID: "inc-2", Playbook: "iam-user-compromise", State: store.StateAwaitingApproval, RequestedBy: "intake:guardduty",
			Target:  action.Target{Kind: event.KindIAMUser, ID: "bob", Account: "444455556666", Region: "us-east-1"},
			Created: fakeTime.Add(time.Hour), Updated: fakeTime.Add(time.Hour),
			Steps: []store.Step{
				{Index: 0, Action: "notify", Status: "done"},
				{Index: 1, Action: "iam.deactivate-user", Status: store.StepPending, Approval: store.ApprovalRequired,
					ApprovalReason: "the user is tagged critical"},
			}},
		{ID: "inc-1", Playbook: "ec2-compromise-prod", State: store.StateContained, RequestedBy: "token:tok-aaaa",
			Target:  action.Target{Kind: event.KindInstance, ID: "i-0a1b2c3d4e5f60001", Account: "111122223333", Region: "us-east-1"},
			Created: fakeTime, Updated: fakeTime.Add(time.Minute),
			Steps: []store.Step{{Index: 0, Action: "ec2.isolate", Status: "done", Reversible: true}}},
	}}
}

func (f *fakeAPI) problem(w http.ResponseWriter, status int, detail string, params ...api.InvalidParam) {
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Problem{Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: detail, RequestID: "req-1", InvalidParams: params})
}

func (f *fakeAPI) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) find(id string) *store.Incident {
	for _, in := range f.incidents {
		if in.ID == id {
			return in
		}
	}
	return nil
}

// authorised answers 401 or 403 unless the caller's role is at least min.
func (f *fakeAPI) authorised(w http.ResponseWriter, r *http.Request, min auth.Role, perm string) bool {
	f.lastAuth = r.Header.Get("Authorization")
	roles := map[string]auth.Role{viewerToken: auth.Viewer, responderToken: auth.Responder, approverToken: auth.Approver}
	role, ok := roles[strings.TrimPrefix(f.lastAuth, "Bearer ")]
	if !ok {
		f.problem(w, http.StatusUnauthorized, "auth: the bearer token is not a token this server issued")
		return false
	}
	if slices.Index(auth.Roles, role) < slices.Index(auth.Roles, min) {
		f.problem(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s; ask an administrator for a token with a role that may", role, perm))
		return false
	}
	return true
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/actions", f.postAction)
	mux.HandleFunc("GET /v1/incidents", f.list)
	mux.HandleFunc("GET /v1/incidents/{id}", f.get)
	mux.HandleFunc("POST /v1/incidents/{id}/steps/{n}/{verb}", f.answer)
	mux.HandleFunc("POST /v1/incidents/{id}/release", f.release)
	mux.HandleFunc("POST /v1/incidents/{id}/close", f.close)
	mux.ServeHTTP(w, r)
}

func (f *fakeAPI) postAction(w http.ResponseWriter, r *http.Request) {
	if !f.authorised(w, r, auth.Responder, "request-action") {
		return
	}
	var req api.ActionRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.problem(w, http.StatusBadRequest, "body: must be a JSON object", api.InvalidParam{Name: "body", Reason: "must be a JSON object"})
		return
	}
	var bad []api.InvalidParam
	if !input.Account(req.Target.Account) {
		bad = append(bad, api.InvalidParam{Name: "target.account", Reason: "must be a 12-digit AWS account id"})
	}
	if !strings.HasPrefix(req.Target.ID, "i-") && req.Target.Kind == "instance" {
		bad = append(bad, api.InvalidParam{Name: "target.id", Reason: "no instance " + req.Target.ID})
	}
	if len(bad) > 0 {
		f.problem(w, http.StatusUnprocessableEntity, bad[0].Name+": "+bad[0].Reason, bad...)
		return
	}
	if req.Target.Account == "999999999999" {
		f.problem(w, http.StatusForbidden, "token:tok-resp may not act in account 999999999999")
		return
	}
	for _, in := range f.incidents {
		if in.Target.ID == req.Target.ID && in.State != store.StateReleased {
			f.json(w, http.StatusAccepted, api.ActionAccepted{Incident: in.ID, URL: "/v1/incidents/" + in.ID, Existing: true})
			return
		}
	}
	id := "inc-" + strconv.Itoa(f.next)
	f.next++
	f.incidents = append([]*store.Incident{{ID: id, Playbook: "self-service", State: store.StateContained, RequestedBy: "token:tok-resp",
		Target:  action.Target{Kind: event.Kind(req.Target.Kind), ID: req.Target.ID, Account: req.Target.Account, Region: req.Target.Region},
		Created: fakeTime.Add(2 * time.Hour), Updated: fakeTime.Add(2 * time.Hour),
		Steps: []store.Step{{Index: 0, Action: req.Action, Status: "done", Reversible: true}}}}, f.incidents...)
	f.json(w, http.StatusAccepted, api.ActionAccepted{Incident: id, URL: "/v1/incidents/" + id})
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	if !f.authorised(w, r, auth.Viewer, "read") {
		return
	}
	q := r.URL.Query()
	if s := q.Get("state"); s != "" && !slices.Contains([]string{store.StateContained, store.StateAwaitingApproval, store.StateReleased}, s) {
		f.problem(w, http.StatusBadRequest, "state: must be one of ...", api.InvalidParam{Name: "state", Reason: "must be one of open, contained"})
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	start, _ := strconv.Atoi(q.Get("cursor"))
	out := api.IncidentList{Incidents: []api.IncidentSummary{}}
	var matched []*store.Incident
	for _, in := range f.incidents {
		if (q.Get("state") == "" || in.State == q.Get("state")) && (q.Get("account") == "" || in.Target.Account == q.Get("account")) &&
			(q.Get("playbook") == "" || in.Playbook == q.Get("playbook")) {
			matched = append(matched, in)
		}
	}
	matched = matched[min(start, len(matched)):]
	if limit > 0 && len(matched) > limit {
		matched = matched[:limit]
		out.NextCursor = strconv.Itoa(start + limit)
	}
	for _, in := range matched {
		out.Incidents = append(out.Incidents, api.IncidentSummary{ID: in.ID, Playbook: in.Playbook, State: in.State,
			Target: in.Target, RequestedBy: in.RequestedBy, Created: in.Created, Updated: in.Updated})
	}
	f.json(w, http.StatusOK, out)
}

func (f *fakeAPI) get(w http.ResponseWriter, r *http.Request) {
	if !f.authorised(w, r, auth.Viewer, "read") {
		return
	}
	if r.PathValue("id") == "inc-proxy" {
		// A proxy in front of the server answers with a page of its own.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
		return
	}
	in := f.find(r.PathValue("id"))
	if in == nil {
		f.problem(w, http.StatusNotFound, "no incident "+r.PathValue("id"))
		return
	}
	f.json(w, http.StatusOK, in)
}

func (f *fakeAPI) answer(w http.ResponseWriter, r *http.Request) {
	verb := r.PathValue("verb")
	if !f.authorised(w, r, auth.Approver, verb) {
		return
	}
	var body struct{ Comment string }
	if r.ContentLength > 0 {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	in := f.find(r.PathValue("id"))
	if in == nil {
		f.problem(w, http.StatusNotFound, "no incident "+r.PathValue("id"))
		return
	}
	n, _ := strconv.Atoi(r.PathValue("n"))
	if n >= len(in.Steps) || in.Steps[n].Approval != store.ApprovalRequired {
		f.problem(w, http.StatusConflict, fmt.Sprintf("step %d of %s does not wait for approval", n, in.ID))
		return
	}
	st := &in.Steps[n]
	st.Approver, st.ApprovalComment = "token:tok-appr", body.Comment
	if verb == "approve" {
		st.Approval, st.Status, in.State = store.ApprovalApproved, "done", store.StateContained
	} else {
		st.Approval, st.Status, in.State = store.ApprovalDenied, "skipped", store.StateClosed
	}
	f.json(w, http.StatusOK, api.IncidentChange{Incident: in})
}

func (f *fakeAPI) release(w http.ResponseWriter, r *http.Request) {
	if !f.authorised(w, r, auth.Responder, "release") {
		return
	}
	in := f.find(r.PathValue("id"))
	if in == nil {
		f.problem(w, http.StatusNotFound, "no incident "+r.PathValue("id"))
		return
	}
	in.State = store.StateReleased
	ch := api.IncidentChange{Incident: in}
	if in.Target.ID == "i-stuck" {
		ch.Warning = "release of step 0 (ec2.isolate) failed: the instance's interface is gone; restore it by hand"
	}
	f.json(w, http.StatusOK, ch)
}

func (f *fakeAPI) close(w http.ResponseWriter, r *http.Request) {
	if !f.authorised(w, r, auth.Responder, "release") {
		return
	}
	in := f.find(r.PathValue("id"))
	if in == nil {
		f.problem(w, http.StatusNotFound, "no incident "+r.PathValue("id"))
		return
	}
	if in.State == store.StateAwaitingApproval {
		f.problem(w, http.StatusConflict, "close incident "+in.ID+": it is awaiting approval of step 1 (iam.deactivate-user); approve or deny it, or release the incident, first")
		return
	}
	in.State = store.StateClosed
	f.json(w, http.StatusOK, api.IncidentChange{Incident: in})
}

// apiEnv points the commands at addr with token (none when empty), and gives them a
// configuration directory of their own.
func apiEnv(t *testing.T, addr, token string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv(addrEnv, addr)
	if token == "" {
		withoutEnv(t, tokenEnv)
	} else {
		t.Setenv(tokenEnv, token)
	}
	return dir
}

const (
	wantList = `ID     STATE              PLAYBOOK             TARGET                                                  REQUESTED BY      UPDATED
inc-2  awaiting-approval  iam-user-compromise  iam-user bob in 444455556666/us-east-1                  intake:guardduty  2026-03-01T13:00:00Z
inc-1  contained          ec2-compromise-prod  instance i-0a1b2c3d4e5f60001 in 111122223333/us-east-1  token:tok-aaaa    2026-03-01T12:01:00Z
`
	wantShow = `Incident:      inc-2
State:         awaiting-approval
Playbook:      iam-user-compromise
Target:        iam-user bob in 444455556666/us-east-1
Requested by:  intake:guardduty
Created:       2026-03-01T13:00:00Z
Updated:       2026-03-01T13:00:00Z

STEP  ACTION               STATUS   APPROVAL  NOTE
0     notify               done     -         -
1     iam.deactivate-user  pending  required  the user is tagged critical

Step 1 waits for approval: firebreak approve inc-2 1, or firebreak deny inc-2 1
`
)

// TestAPICommands runs each command against the fake API and checks its output and exit
// status: tables, JSON, refusals with their reasons, and usage errors.
func TestAPICommands(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		args     []string
		wantCode int
		// wantOut is the whole of stdout when exact, else a substring of it.
		wantOut string
		exact   bool
		wantErr []string // substrings of stderr
	}{
		{name: "list as a table", token: viewerToken, args: []string{"incidents"}, wantOut: wantList, exact: true},
		{name: "list subcommand", token: viewerToken, args: []string{"incidents", "list", "--account", "111122223333"}, wantOut: "inc-1  contained"},
		{name: "list filtered to nothing", token: viewerToken, args: []string{"incidents", "--playbook", "none"}, wantOut: "No incidents.\n", exact: true},
		{name: "list a page says how to get the next", token: viewerToken, args: []string{"incidents", "--limit", "1"},
			wantOut: "inc-2", wantErr: []string{"More incidents: add --cursor 1"}},
		{name: "list the next page", token: viewerToken, args: []string{"incidents", "--limit", "1", "--cursor", "1"}, wantOut: "inc-1"},
		{name: "list as json", token: viewerToken, args: []string{"incidents", "-o", "json", "--state", "contained"},
			wantOut: `"incidents": [` + "\n" + `    {` + "\n" + `      "id": "inc-1"`},
		{name: "list with a bad state", token: viewerToken, args: []string{"incidents", "--state", "nope"}, wantCode: ExitRejected,
			wantErr: []string{"(400 Bad Request)", "  state: must be one of open, contained", "request id req-1"}},
		{name: "list with a bad output", token: viewerToken, args: []string{"incidents", "--output", "yaml"}, wantCode: ExitUsage, wantErr: []string{`--output "yaml"`}},
		{name: "incidents takes no argument", token: viewerToken, args: []string{"incidents", "inc-1"}, wantCode: ExitUsage, wantErr: []string{"unknown command"}},
		{name: "show", token: viewerToken, args: []string{"incidents", "show", "inc-2"}, wantOut: wantShow, exact: true},
		{name: "show as json", token: viewerToken, args: []string{"incidents", "show", "inc-1", "--output", "json"}, wantOut: `"playbook": "ec2-compromise-prod"`},
		{name: "show unknown", token: viewerToken, args: []string{"incidents", "show", "inc-9"}, wantCode: ExitRejected, wantErr: []string{"no incident inc-9 (404 Not Found)"}},
		{name: "show through a broken proxy", token: viewerToken, args: []string{"incidents", "show", "inc-proxy"}, wantCode: ExitRejected,
			wantErr: []string{"502 Bad Gateway</body></html> (502 Bad Gateway)"}},
		{name: "bad token says to log in", token: "fbk_nope", args: []string{"incidents"}, wantCode: ExitRejected,
			wantErr: []string{"not a token this server issued (401 Unauthorized)", "Run firebreak login"}},
		{name: "approve", token: approverToken, args: []string{"approve", "inc-2", "1", "--comment", "checked"},
			wantOut: "Approved step 1 of inc-2; the incident is contained\n", exact: true},
		{name: "deny as json", token: approverToken, args: []string{"deny", "inc-2", "1", "-o", "json"}, wantOut: `"approval": "denied"`},
		{name: "approve a step that does not wait", token: approverToken, args: []string{"approve", "inc-1", "0"}, wantCode: ExitRejected,
			wantErr: []string{"step 0 of inc-1 does not wait for approval (409 Conflict)"}},
		{name: "approve as a viewer says which role is missing", token: viewerToken, args: []string{"approve", "inc-2", "1"}, wantCode: ExitRejected,
			wantErr: []string{"role viewer may not approve", "(403 Forbidden)", "ask an administrator"}},
		{name: "approve a bad step number", token: approverToken, args: []string{"approve", "inc-2", "one"}, wantCode: ExitUsage, wantErr: []string{`STEP "one"`}},
		{name: "approve without a step", token: approverToken, args: []string{"approve", "inc-2"}, wantCode: ExitUsage, wantErr: []string{"accepts 2 arg(s)"}},
		{name: "release", token: responderToken, args: []string{"release", "inc-1"}, wantOut: "Released inc-1; the incident is released\n", exact: true},
		{name: "close", token: responderToken, args: []string{"close", "inc-1", "--comment", "owner rebuilt it"},
			wantOut: "Closed inc-1; the incident is closed\n", exact: true},
		{name: "close as json", token: responderToken, args: []string{"close", "inc-1", "-o", "json"}, wantOut: `"state": "closed"`},
		{name: "close one still moving says what to do", token: responderToken, args: []string{"close", "inc-2"}, wantCode: ExitRejected,
			wantErr: []string{"it is awaiting approval of step 1 (iam.deactivate-user); approve or deny it, or release the incident, first (409 Conflict)"}},
		{name: "close as a viewer", token: viewerToken, args: []string{"close", "inc-1"}, wantCode: ExitRejected,
			wantErr: []string{"role viewer may not release", "(403 Forbidden)"}},
		{name: "close without an id", token: responderToken, args: []string{"close"}, wantCode: ExitUsage, wantErr: []string{"accepts 1 arg(s)"}},
		{name: "isolate", token: responderToken,
			args:    []string{"isolate", "--account", "111122223333", "--region", "us-east-1", "--instance", "i-0b1c2d3e4f5a60002", "--reason", "mining", "--ticket", "INC-1"},
			wantOut: "Requested ec2.isolate on instance i-0b1c2d3e4f5a60002: incident inc-3\nFollow it with: firebreak incidents show inc-3\n", exact: true},
		{name: "isolate one already under way", token: responderToken,
			args:    []string{"isolate", "--account", "111122223333", "--region", "us-east-1", "--instance", "i-0a1b2c3d4e5f60001", "--reason", "mining"},
			wantOut: "Already under way in incident inc-1"},
		{name: "isolate as json", token: responderToken,
			args:    []string{"isolate", "--account", "111122223333", "--region", "us-east-1", "--instance", "i-0b1c2d3e4f5a60002", "--reason", "mining", "-o", "json"},
			wantOut: `"incident": "inc-3"`},
		{name: "isolate with bad values lists each field", token: responderToken,
			args: []string{"isolate", "--account", "1234", "--region", "us-east-1", "--instance", "web", "--reason", "mining"}, wantCode: ExitRejected,
			wantErr: []string{"(422 Unprocessable Entity)", "  target.account: must be a 12-digit AWS account id\n", "  target.id: no instance web\n"}},
		{name: "isolate in another account says which", token: responderToken,
			args: []string{"isolate", "--account", "999999999999", "--region", "us-east-1", "--instance", "i-1", "--reason", "mining"}, wantCode: ExitRejected,
			wantErr: []string{"may not act in account 999999999999 (403 Forbidden)"}},
		{name: "isolate without the required flags", token: responderToken, args: []string{"isolate", "--account", "111122223333"}, wantCode: ExitUsage,
			wantErr: []string{"--region, --instance, --reason required"}},
		{name: "deactivate a user in the default region", token: responderToken,
			args: []string{"deactivate-user", "--account", "444455556666", "--user", "carol", "--reason", "leaked key"}, wantOut: "Requested iam.deactivate-user on iam-user carol: incident inc-3"},
		{name: "no token", args: []string{"incidents"}, wantCode: ExitUsage, wantErr: []string{"no token: set FIREBREAK_TOKEN, or run firebreak login"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(newFakeAPI())
			defer srv.Close()
			apiEnv(t, srv.URL, tt.token)
			code, out, errs := invoke(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errs)
			}
			if tt.exact && out != tt.wantOut || !tt.exact && !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout:\n%s\nwant (exact %v):\n%s", out, tt.exact, tt.wantOut)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errs)
				}
			}
		})
	}
}

// TestReleaseWarning checks that a release whose undo failed for a step prints the failure
// and exits 1, after saying it was released.
func TestReleaseWarning(t *testing.T) {
	f := newFakeAPI()
	srv := httptest.NewServer(f)
	defer srv.Close()
	apiEnv(t, srv.URL, responderToken)
	if code, _, errs := invoke(t, "", "isolate", "--account", "111122223333", "--region", "us-east-1", "--instance", "i-stuck", "--reason", "x"); code != ExitOK {
		t.Fatalf("isolate: exit %d: %s", code, errs)
	}
	code, out, errs := invoke(t, "", "release", "inc-3")
	if code != ExitRejected || !strings.Contains(out, "Released inc-3") || !strings.Contains(errs, "restore it by hand") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, the release and the failed undo", code, out, errs)
	}
}

// TestAddressErrors checks that a bad or unreachable address is reported without a call
// that could leak the token.
func TestAddressErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name, addr string
		wantCode   int
		wantErr    string
	}{
		{"not http", "ftp://example.com", ExitUsage, "must start with http:// or https://"},
		{"no host", "http://", ExitUsage, "names no host"},
		{"with a query", "http://example.com?x=1", ExitUsage, "only scheme, host, port and path"},
		{"nobody there", closed.URL, ExitRejected, "is the server at " + closed.URL + " running?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apiEnv(t, tt.addr, viewerToken)
			code, _, errs := invoke(t, "", "incidents")
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestLogin checks that login saves a token the server accepts, owner-only, that later
// commands use it for that server alone, and that a refused token is not saved.
func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  string
		wantErr  string
		saved    bool
	}{
		{name: "token flag", args: []string{"--token", viewerToken}, wantOut: "Logged in to ", saved: true},
		{name: "token on stdin", stdin: "  " + viewerToken + "\nignored\n", wantOut: "Logged in to ", saved: true},
		{name: "refused token", args: []string{"--token", "fbk_nope"}, wantCode: ExitRejected, wantErr: "refused the token; nothing was saved"},
		{name: "no token", stdin: "\n", wantCode: ExitUsage, wantErr: "no token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI()
			srv := httptest.NewServer(f)
			defer srv.Close()
			dir := apiEnv(t, srv.URL, "")
			code, out, errs := invoke(t, tt.stdin, append([]string{"login"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errs, tt.wantCode, tt.wantOut, tt.wantErr)
			}
			path := filepath.Join(dir, "firebreak", "credentials")
			fi, err := os.Stat(path)
			if !tt.saved {
				if err == nil {
					t.Errorf("%s was written", path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
			}
			// The saved token and address are used when the environment names neither.
			t.Setenv(addrEnv, "")
			if code, out, errs := invoke(t, "", "incidents"); code != ExitOK || !strings.Contains(out, "inc-1") || f.lastAuth != "Bearer "+viewerToken {
				t.Errorf("with the saved token: exit %d, stdout %q, stderr %q, Authorization %q", code, out, errs, f.lastAuth)
			}
			// Another server is not sent the token saved for this one.
			t.Setenv(addrEnv, "http://192.0.2.10:8080")
			if code, _, errs := invoke(t, "", "incidents"); code != ExitUsage || !strings.Contains(errs, "is for "+srv.URL) {
				t.Errorf("with another address: exit %d, stderr %q; want a usage error naming the saved address", code, errs)
			}
		})
	}
}

// TestLoginNamesTheToken checks that login of a Firebreak API token names the caller as
// the API records it.
func TestLoginNamesTheToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"incidents": []}`)
	}))
	defer srv.Close()
	apiEnv(t, srv.URL, "")
	tok := auth.TokenPrefix + strings.Repeat("A", 43)
	code, out, errs := invoke(t, tok+"\n", "login")
	want := "as token:tok-" + auth.HashToken(tok)[:12] + ";"
	if code != ExitOK || !strings.Contains(out, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errs, want)
	}
}

// TestPrintProblem checks how problem documents are shown to a person.
func TestPrintProblem(t *testing.T) {
	tests := []struct {
		name string
		err  client.Error
		want string
	}{
		{name: "detail and fields",
			err: client.Error{Status: 422, Title: "Unprocessable Entity", Detail: "target.region: must be an AWS region name", RequestID: "r1",
				InvalidParams: []api.InvalidParam{{Name: "target.region", Reason: "must be an AWS region name"}, {Name: "reason", Reason: "required"}}},
			want: "firebreak: target.region: must be an AWS region name (422 Unprocessable Entity)\n  target.region: must be an AWS region name\n  reason: required\nrequest id r1\n"},
		{name: "title alone", err: client.Error{Status: 503, Title: "Service Unavailable"},
			want: "firebreak: Service Unavailable (503 Service Unavailable)\n"},
		{name: "unauthenticated", err: client.Error{Status: 401, Title: "Unauthorized", Detail: "auth: the token has expired"},
			want: "firebreak: auth: the token has expired (401 Unauthorized)\nRun firebreak login with a valid token (from firebreak token create), or set FIREBREAK_TOKEN.\n"},
		{name: "forbidden", err: client.Error{Status: 403, Title: "Forbidden", Detail: "token:tok-1 may not act in account 111122223333"},
			want: "firebreak: token:tok-1 may not act in account 111122223333 (403 Forbidden)\nYour token's role or accounts do not allow this; ask an administrator for a token that does.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			printProblem(&buf, &tt.err)
			if buf.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", buf.String(), tt.want)
			}
		})
	}
}

// TestAPICommandsAgainstTheServer runs isolate, incidents show and release against the
// real API handler over an engine acting on the example simulated organisation.
func TestAPICommandsAgainstTheServer(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	w, err := world.Load(worldFile)
	if err != nil {
		t.Fatal(err)
	}
	org := sim.New(w, sim.Options{})
	cat := catalog.Default()
	set, err := playbook.LoadDir(playbooks, cat)
	if err != nil {
		t.Fatal(err)
	}
	env := &action.Env{Cloud: org, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1,
		Poll: 5 * time.Millisecond, Retry: action.Retry{Attempts: 1}}
	eng, err := engine.New(st, engine.Config{Decider: decide.New(set, decide.Options{}), Catalogue: cat, Env: env,
		PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	h, err := api.New(api.Options{Engine: eng, Store: st, Auth: &auth.Authenticator{Store: st}, Catalogue: cat})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	tok, _, err := auth.Issue(context.Background(), st, auth.IssueOptions{Role: auth.Responder, Accounts: []string{"111122223333"}, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	apiEnv(t, srv.URL, tok)

	code, out, errs := invoke(t, "", "isolate", "--account", "111122223333", "--region", "us-east-1",
		"--instance", "i-0a1b2c3d4e5f60001", "--reason", "suspected compromise", "--ticket", "INC-42", "-o", "json")
	if code != ExitOK {
		t.Fatalf("isolate: exit %d: %s", code, errs)
	}
	var acc api.ActionAccepted
	if err := json.Unmarshal([]byte(out), &acc); err != nil || acc.Incident == "" {
		t.Fatalf("isolate printed %q: %v", out, err)
	}
	waitState := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, out, errs := invoke(t, "", "incidents", "show", acc.Incident)
			if code != ExitOK {
				t.Fatalf("show: exit %d: %s", code, errs)
			}
			if strings.Contains(out, "State:         "+want+"\n") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("incident is not %s after 30s:\n%s", want, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitState(store.StateContained)

	if code, out, errs := invoke(t, "", "incidents", "--account", "111122223333"); code != ExitOK || !strings.Contains(out, acc.Incident) {
		t.Errorf("list: exit %d, stdout %q, stderr %q; want the incident", code, out, errs)
	}
	code, out, errs = invoke(t, "", "release", acc.Incident)
	if code != ExitOK || !strings.Contains(out, "Released "+acc.Incident) {
		t.Fatalf("release: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	waitState(store.StateReleased)
	code, out, errs = invoke(t, "", "close", acc.Incident, "--comment", "owner rebuilt the host")
	if code != ExitOK || !strings.Contains(out, "Closed "+acc.Incident+"; the incident is closed") {
		t.Fatalf("close: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, _, errs = invoke(t, "", "close", acc.Incident)
	if code != ExitRejected || !strings.Contains(errs, "it is already closed") || !strings.Contains(errs, "(409 Conflict)") {
		t.Errorf("close twice: exit %d, stderr %q; want the 409's detail", code, errs)
	}

	// The same token in another account is refused with the API's reason.
	code, _, errs = invoke(t, "", "isolate", "--account", "444455556666", "--region", "us-east-1",
		"--instance", "i-0b1c2d3e4f5a60002", "--reason", "suspected compromise")
	if code != ExitRejected || !strings.Contains(errs, "may not act in account 444455556666 (403 Forbidden)") {
		t.Errorf("other account: exit %d, stderr %q; want the 403's detail", code, errs)
	}
}
