package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestClose closes an incident through the confirmation page: the button shows only when
// closing can succeed, the form needs its CSRF token and the confirmation, and the
// closing is audited with the comment; an incident still moving is refused, saying why.
func TestClose(t *testing.T) {
	f := newFixture(t)
	respTok, respName := f.token(t, auth.Responder)
	viewerTok, _ := f.token(t, auth.Viewer)
	r := f.browser(t)
	r.login(respTok)
	id := r.requestAction("ec2.isolate", prodAccount, webProd, "c2 traffic")
	f.waitFor(t, id, store.StateContained)
	ctx := engine.WithCaller(context.Background(), engine.Caller{Name: respName})
	waiting, _, err := f.eng.RequestAction(ctx, "ec2.terminate", action.Target{Kind: event.KindInstance, ID: buildBox, Account: devAccount, Region: "us-east-1"}, "miner", "")
	if err != nil {
		t.Fatal(err)
	}
	closePage := Prefix + "/incidents/" + id + "/close"

	tests := []struct {
		name, path string
		want       int
		has, lacks []string
	}{
		{"contained: the button", Prefix + "/incidents/" + id, http.StatusOK, []string{`id="close"`, "Close…"}, nil},
		{"contained: the confirmation", closePage, http.StatusOK, []string{`id="confirm-close"`, "Left in place", "ec2.isolate", "release the incident"}, []string{"cannot be closed yet"}},
		{"waiting: no button", Prefix + "/incidents/" + waiting.ID, http.StatusOK, nil, []string{`id="close"`}},
		{"waiting: the reason instead of a form", Prefix + "/incidents/" + waiting.ID + "/close", http.StatusOK,
			[]string{"cannot be closed yet", "awaiting approval of step 0 (ec2.terminate); approve or deny it"}, []string{`id="confirm-close"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := r.get(tt.path)
			if a.code != tt.want {
				t.Fatalf("GET %s: %d, want %d", tt.path, a.code, tt.want)
			}
			for _, s := range tt.has {
				if !strings.Contains(a.body, s) {
					t.Errorf("GET %s: no %q in the page", tt.path, s)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(a.body, s) {
					t.Errorf("GET %s: %q in the page", tt.path, s)
				}
			}
		})
	}

	v := f.browser(t)
	v.login(viewerTok)
	if a := v.get(closePage); a.code != http.StatusForbidden || !strings.Contains(a.body, "viewer") {
		t.Errorf("viewer GET close: %d, want 403 naming the role", a.code)
	}
	if a := r.do(http.MethodPost, closePage, url.Values{"confirm": {"close"}}); a.code != http.StatusForbidden {
		t.Errorf("close without a CSRF token: %d, want 403", a.code)
	}
	if a := r.post(closePage, closePage, url.Values{}); a.code != http.StatusSeeOther || a.header.Get("Location") != closePage {
		t.Errorf("close without confirming: %d %q, want back to the confirmation", a.code, a.header.Get("Location"))
	}
	if a := r.post(closePage, closePage, url.Values{"confirm": {"close"}, "comment": {strings.Repeat("x", maxComment+1)}}); a.code != http.StatusBadRequest {
		t.Errorf("close with a long comment: %d, want 400", a.code)
	}
	if inc, _ := f.eng.Get(context.Background(), id); inc.State != store.StateContained {
		t.Fatalf("after refused forms the incident is %s", inc.State)
	}

	a := r.post(closePage, closePage, url.Values{"confirm": {"close"}, "comment": {"owner rebuilt the host"}})
	if a.code != http.StatusSeeOther || a.header.Get("Location") != Prefix+"/incidents/"+id {
		t.Fatalf("close: %d %q %s", a.code, a.header.Get("Location"), a.body)
	}
	page := r.get(Prefix + "/incidents/" + id)
	if !strings.Contains(page.body, "is closed") || strings.Contains(page.body, `id="close"`) || strings.Contains(page.body, `id="release"`) {
		t.Errorf("after closing, the incident page does not say so, or still offers close or release")
	}
	if inc, _ := f.eng.Get(context.Background(), id); inc.State != store.StateClosed {
		t.Errorf("the incident is %s, want closed", inc.State)
	}
	if n := f.auditKinds(t, "incident.closed"); n != 1 {
		t.Errorf("%d incident.closed records, want 1", n)
	}
	var actor, data string
	err = f.store.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT actor, data FROM audit WHERE kind = ?`, "incident.closed").Scan(&actor, &data)
	})
	if err != nil || actor != respName || !strings.Contains(data, "owner rebuilt the host") {
		t.Errorf("incident.closed by %q with %s (%v); want by %s with the comment", actor, data, err, respName)
	}

	// The waiting incident: the form posted anyway changes nothing and says why.
	wp := Prefix + "/incidents/" + waiting.ID + "/close"
	a = r.post(Prefix+"/incidents/"+id+"/close", wp, url.Values{"confirm": {"close"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("close a waiting incident: %d %s", a.code, a.body)
	}
	if page := r.get(a.header.Get("Location")); !strings.Contains(page.body, "Nothing was changed") || !strings.Contains(page.body, "awaiting approval") {
		t.Errorf("closing a waiting incident: the page does not say nothing was changed and why")
	}
	if inc, _ := f.eng.Get(context.Background(), waiting.ID); inc.State != store.StateAwaitingApproval {
		t.Errorf("the waiting incident is %s", inc.State)
	}
}

// TestApprovalRows checks the queue's rows, which the page's script swaps in: a step that
// begins to wait appears, one decided goes, and a signed-out poll is told so rather than
// sent to sign in.
func TestApprovalRows(t *testing.T) {
	f := newFixture(t)
	respTok, _ := f.token(t, auth.Responder)
	apprTok, _ := f.token(t, auth.Approver)
	ap := f.browser(t)
	ap.login(apprTok)

	page := ap.get(Prefix + "/approvals")
	if !strings.Contains(page.body, `data-rows="/console/approvals/rows"`) || !strings.Contains(page.body, `data-target="approval-rows"`) ||
		!strings.Contains(page.body, `id="approval-rows"`) {
		t.Fatalf("the approvals page does not name its rows for the script:\n%s", page.body)
	}
	rows := func() answer {
		t.Helper()
		a := ap.get(Prefix + "/approvals/rows")
		if a.code != http.StatusOK || strings.Contains(a.body, "<html") {
			t.Fatalf("rows: %d, want the rows alone:\n%s", a.code, a.body)
		}
		return a
	}
	if a := rows(); !strings.Contains(a.body, `id="no-approvals"`) {
		t.Errorf("empty queue: %s", a.body)
	}

	r := f.browser(t)
	r.login(respTok)
	id := r.requestAction("ec2.terminate", devAccount, buildBox, "miner")
	f.waitFor(t, id, store.StateAwaitingApproval)

	a := rows()
	csrf := csrfField.FindStringSubmatch(a.body)
	if !strings.Contains(a.body, id) || !strings.Contains(a.body, "ec2.terminate") || csrf == nil {
		t.Fatalf("after a request, the rows lack the waiting step or its form:\n%s", a.body)
	}
	// The form in the refreshed rows works as the page's own.
	a = ap.do(http.MethodPost, Prefix+"/incidents/"+id+"/steps/0/decide", url.Values{"csrf": {csrf[1]}, "decision": {"approve"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("approve from the refreshed rows: %d %s", a.code, a.body)
	}
	f.waitFor(t, id, store.StateContained)
	if a := rows(); strings.Contains(a.body, id) || !strings.Contains(a.body, `id="no-approvals"`) {
		t.Errorf("after approving, the rows still show %s:\n%s", id, a.body)
	}

	out := f.browser(t)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+Prefix+"/approvals/rows", nil)
	req.Header.Set("X-Firebreak-Poll", "1")
	res, err := out.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed-out poll: %d, want 401", res.StatusCode)
	}
	if a := out.get(Prefix + "/approvals/rows"); a.code != http.StatusSeeOther || strings.Contains(a.header.Get("Location"), "next=") {
		t.Errorf("signed-out rows: %d %q, want a redirect to sign in that does not come back to the rows", a.code, a.header.Get("Location"))
	}
	if a := r.get(Prefix + "/approvals/rows"); a.code != http.StatusForbidden {
		t.Errorf("responder rows: %d, want 403", a.code)
	}
}

// TestPlaybookPages checks the playbook list and a playbook's page with its runbook, that
// what a playbook says is escaped, and the answers for a name that is not loaded, one
// that cannot be a name, and a server with no playbooks.
func TestPlaybookPages(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.token(t, auth.Viewer)
	b := f.browser(t)
	b.login(tok)
	set := f.c.opts.Playbooks()

	list := b.get(Prefix + "/playbooks")
	if list.code != http.StatusOK || !strings.Contains(list.body, `aria-current="page" data-key="p"`) {
		t.Fatalf("playbooks: %d, or the nav does not mark the page", list.code)
	}
	for _, p := range set.Playbooks {
		if !strings.Contains(list.body, `href="/console/playbooks/`+p.Name+`"`) {
			t.Errorf("the list does not link %s", p.Name)
		}
	}
	for _, s := range []string{"GuardDuty findings", "enforce", "(1 with approval)"} {
		if !strings.Contains(list.body, s) {
			t.Errorf("the list lacks %q", s)
		}
	}

	tests := []struct {
		name, path string
		want       int
		has        []string
	}{
		{"a playbook", "/playbooks/ec2-compromise-dev", http.StatusOK,
			[]string{"ec2.snapshot-volumes", "ec2.terminate", "needs approval", "destructive", `<pre class="runbook" id="runbook"># ec2-compromise-dev`, "## Undo"}},
		{"not loaded", "/playbooks/nothing-here", http.StatusNotFound, []string{"There is no playbook nothing-here loaded now"}},
		{"not a name", "/playbooks/Bad_Name", http.StatusNotFound, []string{"That is not a playbook name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := b.get(Prefix + tt.path)
			if a.code != tt.want {
				t.Fatalf("GET %s: %d, want %d", tt.path, a.code, tt.want)
			}
			for _, s := range tt.has {
				if !strings.Contains(a.body, s) {
					t.Errorf("GET %s: no %q in the page", tt.path, s)
				}
			}
		})
	}

	// What a playbook's author wrote is text, never markup, in the steps and the runbook.
	evil := &playbook.Playbook{Name: "evil", Description: `<script>alert("d")</script>`, Target: event.KindInstance,
		Mode: playbook.ModeDryRun, OnJSON: []byte(`{"source": ["<img src=x onerror=alert(1)>"]}`),
		Labels: map[string]string{engine.SensitivityLabel: "<b>restricted</b>"},
		Steps:  []*playbook.Step{{Action: "notify", With: map[string]any{"message": "</pre><script>alert(2)</script>"}}}}
	f.c.opts.Playbooks = func() *playbook.Set { return &playbook.Set{Playbooks: []*playbook.Playbook{evil}} }
	for _, path := range []string{"/playbooks", "/playbooks/evil"} {
		a := b.get(Prefix + path)
		if a.code != http.StatusOK || strings.Contains(a.body, "<script>alert") || strings.Contains(a.body, "<img src=x") || strings.Contains(a.body, "<b>restricted") {
			t.Errorf("GET %s: %d; a playbook's text reached the page as markup:\n%s", path, a.code, a.body)
		}
	}

	f.c.opts.Playbooks = func() *playbook.Set { return nil }
	if a := b.get(Prefix + "/playbooks"); a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "No playbooks are loaded") {
		t.Errorf("no playbooks: %d", a.code)
	}
}

// TestSensitivity checks that the console applies the API's rule: an incident labelled
// with a sensitivity is listed, shown and acted on only by those cleared for it, by their
// token's clearance or as administrators, and is answered 404 to the others, as an
// incident that does not exist is.
func TestSensitivity(t *testing.T) {
	f := newFixture(t)
	restricted, open := f.labelled(t)
	plain, _ := f.token(t, auth.Approver)
	cleared := f.clearedToken(t, auth.Approver, "Restricted")
	other := f.clearedToken(t, auth.Approver, "legal")
	admin, _ := f.token(t, auth.Admin)
	tests := []struct {
		name, token string
		sees        bool
	}{
		{"no clearance", plain, false},
		{"token cleared for the label", cleared, true},
		{"cleared for another label", other, false},
		{"admin", admin, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := f.browser(t)
			b.login(tt.token)
			f.checkSees(t, b, restricted, open, tt.sees)
		})
	}
}

// TestOIDCClearance signs in through the identity provider: a group granted a clearance
// sees the labelled incident, one without does not.
func TestOIDCClearance(t *testing.T) {
	f, _ := newOIDCFixture(t)
	restricted, open := f.labelled(t)
	for _, tt := range []struct {
		user string
		sees bool
	}{
		{"ben", false}, // approvers: no clearance
		{"cleo", true}, // approvers and insider-threat, cleared for restricted
	} {
		t.Run(tt.user, func(t *testing.T) {
			o := newOIDCClient(t)
			a := o.get(o.approve(o.authorize(f.srv.URL, Prefix+"/incidents"), tt.user))
			if a.code != http.StatusOK {
				t.Fatalf("sign in as %s: %d %s", tt.user, a.code, a.body)
			}
			f.checkSees(t, &browser{t: t, base: f.srv.URL, hc: o.hc}, restricted, open, tt.sees)
		})
	}
}

// labelled opens two incidents waiting for approval and labels the first restricted, as
// a playbook labelled so would have.
func (f *fixture) labelled(t *testing.T) (restricted, open string) {
	t.Helper()
	ctx := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-someone"})
	var ids []string
	for _, id := range []string{"i-sens0", "i-sens1"} {
		inc, _, err := f.eng.RequestAction(ctx, "ec2.terminate", action.Target{Kind: event.KindInstance, ID: id,
			Account: prodAccount, Region: "us-east-1"}, "sensitivity", "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	err := f.store.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE incidents SET sensitivity = ? WHERE id = ?`, "restricted", ids[0])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids[0], ids[1]
}

// checkSees checks every page that shows or acts on an incident, as the browser's user.
func (f *fixture) checkSees(t *testing.T, b *browser, restricted, open string, sees bool) {
	t.Helper()
	for _, path := range []string{"/incidents", "/incidents/rows", "/approvals", "/approvals/rows"} {
		a := b.get(Prefix + path)
		if a.code != http.StatusOK || !strings.Contains(a.body, open) {
			t.Fatalf("GET %s: %d, or the unlabelled incident is missing", path, a.code)
		}
		if strings.Contains(a.body, restricted) != sees {
			t.Errorf("GET %s shows the restricted incident: %v, want %v", path, !sees, sees)
		}
	}
	want := http.StatusNotFound
	if sees {
		want = http.StatusOK
	}
	for _, path := range []string{"/incidents/" + restricted, "/incidents/" + restricted + "/close", "/incidents/" + restricted + "/release"} {
		if a := b.get(Prefix + path); a.code != want {
			t.Errorf("GET %s: %d, want %d", path, a.code, want)
		} else if !sees && (!strings.Contains(a.body, "There is no incident "+restricted) || strings.Contains(a.body, "restricted</span>")) {
			t.Errorf("GET %s: the answer is not that of a missing incident", path)
		}
	}
	if !sees {
		a := b.post(Prefix+"/incidents", Prefix+"/incidents/"+restricted+"/steps/0/decide", url.Values{"decision": {"deny"}})
		if a.code != http.StatusNotFound {
			t.Errorf("deny a step of the restricted incident: %d, want 404", a.code)
		}
		if inc, _ := f.eng.Get(context.Background(), restricted); inc.State != store.StateAwaitingApproval {
			t.Errorf("the restricted incident is %s after a refused denial", inc.State)
		}
	}
}

// clearedToken issues an API token, valid for an hour, cleared for labels.
func (f *fixture) clearedToken(t *testing.T, role auth.Role, labels ...string) string {
	t.Helper()
	tok, _, err := auth.Issue(context.Background(), f.store, auth.IssueOptions{Role: role, Clearance: labels, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
