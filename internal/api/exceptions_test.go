package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// exceptionBody is a POST /v1/exceptions body for every playbook.
func exceptionBody(field, value string, expires time.Time) string {
	return fmt.Sprintf(`{%q: %q, "playbooks": ["*"], "reason": "forensic image in progress", "expires": %q}`,
		field, value, expires.UTC().Format(time.RFC3339))
}

// exceptionCell sets up a cell of the authorisation matrix for an exception route: an
// exception of its own, for an instance given by ARN in the account the matrix's incidents
// are in, so that scoped callers of another account are refused it, and no cell's
// exception covers another cell's target.
func (f *fixture) exceptionCell(t *testing.T, method, pattern string, route, caller int) (path, body string) {
	t.Helper()
	arn := fmt.Sprintf("arn:aws:ec2:us-east-1:%s:instance/i-excmatrix%04d%04d", prodAccount, route, caller)
	expires := time.Now().Add(24 * time.Hour)
	switch {
	case pattern == "/v1/exceptions" && method == http.MethodPost:
		return pattern, exceptionBody("resource", arn, expires)
	case pattern == "/v1/exceptions":
		return pattern, ""
	}
	ctx := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-matrix"})
	x, err := f.eng.CreateException(ctx, engine.ExceptionRequest{Resource: arn, Playbooks: []string{"*"}, Reason: "matrix", Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(pattern, "/revoke") {
		body = `{"reason": "matrix"}`
	}
	return strings.Replace(pattern, "{id}", x.ID, 1), body
}

func (f *fixture) exceptionIDs(t *testing.T, token, query string) []string {
	t.Helper()
	w := f.do(t, http.MethodGet, "/v1/exceptions"+query, token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /v1/exceptions%s: %d %s", query, w.Code, w.Body)
	}
	var ids []string
	for _, x := range decodeAs[ExceptionList](t, w).Exceptions {
		ids = append(ids, x.ID+":"+x.State)
	}
	return ids
}

// TestExceptionLifecycle creates an exception on an instance through the API, reads and
// lists it, checks that a request for an action on the instance is refused while it is in
// force and goes ahead once it is revoked, and that both changes are audited.
func TestExceptionLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s.Dialect(), RateLimit{}, nil)
		admin, adminName := f.token(t, auth.Admin, time.Hour)
		responder, _ := f.token(t, auth.Responder, time.Hour)

		w := f.do(t, http.MethodPost, "/v1/exceptions", bearer(admin), exceptionBody("resource", webProd, time.Now().Add(72*time.Hour)),
			"X-Request-Id", "exc-create")
		if w.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
		x := decodeAs[Exception](t, w)
		if !strings.HasPrefix(x.ID, "exc-") || w.Header().Get("Location") != "/v1/exceptions/"+x.ID || x.State != store.ExceptionActive ||
			x.CreatedBy != adminName || x.ApprovedBy != adminName || x.Resource != webProd {
			t.Errorf("created %+v, Location %q", x, w.Header().Get("Location"))
		}
		if w := f.do(t, http.MethodGet, "/v1/exceptions/"+x.ID, bearer(responder), ""); w.Code != http.StatusOK || decodeAs[Exception](t, w).ID != x.ID {
			t.Errorf("GET the exception: %d %s", w.Code, w.Body)
		}
		if ids := f.exceptionIDs(t, bearer(responder), ""); len(ids) != 1 || ids[0] != x.ID+":active" {
			t.Errorf("listed %v, want %s active", ids, x.ID)
		}

		w = f.do(t, http.MethodPost, "/v1/actions", bearer(responder), isolateBody(prodAccount, webProd))
		if w.Code != http.StatusConflict || !strings.Contains(decodeAs[Problem](t, w).Detail, "exception "+x.ID) {
			t.Fatalf("isolate an excepted instance: %d %s, want 409 naming %s", w.Code, w.Body, x.ID)
		}
		if n := len(f.incidents(t)); n != 0 {
			t.Errorf("%d incidents after the refusal, want none", n)
		}
		if recs := f.audit(t, "action.excepted"); len(recs) != 1 {
			t.Errorf("action.excepted records %+v, want one", recs)
		}
		// Overriding the exception is for administrators only; theirs goes ahead, named.
		override := strings.Replace(isolateBody(prodAccount, webProd), `"reason"`, `"override_exceptions": true, "reason"`, 1)
		if w := f.do(t, http.MethodPost, "/v1/actions", bearer(responder), override); w.Code != http.StatusForbidden {
			t.Errorf("a responder overriding the exception: %d %s, want 403", w.Code, w.Body)
		}
		if w := f.do(t, http.MethodPost, "/v1/actions", bearer(admin), strings.Replace(override, `"override_exceptions": true`, `"override_exceptions": "yes"`, 1)); w.Code != http.StatusBadRequest {
			t.Errorf("override_exceptions not a boolean: %d %s, want 400", w.Code, w.Body)
		}
		if n := len(f.incidents(t)); n != 0 {
			t.Errorf("%d incidents after the refused overrides, want none", n)
		}
		w = f.do(t, http.MethodPost, "/v1/actions", bearer(admin), override)
		if w.Code != http.StatusAccepted {
			t.Fatalf("an administrator overriding the exception: %d %s, want 202", w.Code, w.Body)
		}
		overridden := decodeAs[ActionAccepted](t, w).Incident
		if recs := f.audit(t, "action.requested"); len(recs) != 1 || recs[0].Actor != adminName || !strings.Contains(string(recs[0].Data), `"overrode":"excepted by exception `+x.ID) {
			t.Errorf("action.requested records %+v, want the administrator's naming %s", recs, x.ID)
		}

		w = f.do(t, http.MethodPost, "/v1/exceptions/"+x.ID+"/revoke", bearer(admin), `{"reason": "imaging finished"}`, "X-Request-Id", "exc-revoke")
		if w.Code != http.StatusOK {
			t.Fatalf("revoke: %d %s", w.Code, w.Body)
		}
		if got := decodeAs[Exception](t, w); got.State != store.ExceptionRevoked || got.RevokedBy != adminName || got.RevokeReason != "imaging finished" {
			t.Errorf("revoked %+v", got)
		}
		if w := f.do(t, http.MethodPost, "/v1/exceptions/"+x.ID+"/revoke", bearer(admin), `{"reason": "again"}`); w.Code != http.StatusConflict {
			t.Errorf("revoke twice: %d %s, want 409", w.Code, w.Body)
		}
		if ids := f.exceptionIDs(t, bearer(responder), ""); len(ids) != 0 {
			t.Errorf("listed %v after revoking, want none in force", ids)
		}
		if ids := f.exceptionIDs(t, bearer(responder), "?state=all"); len(ids) != 1 || ids[0] != x.ID+":revoked" {
			t.Errorf("listed all %v, want %s revoked", ids, x.ID)
		}
		// Revoked, the exception no longer stops anyone: the request joins the incident the
		// override opened.
		w = f.do(t, http.MethodPost, "/v1/actions", bearer(responder), isolateBody(prodAccount, webProd))
		if w.Code != http.StatusAccepted || decodeAs[ActionAccepted](t, w).Incident != overridden {
			t.Errorf("isolate after revoking: %d %s, want 202 with %s", w.Code, w.Body, overridden)
		}

		for kind, id := range map[string]string{"exception.created": "exc-create", "exception.revoked": "exc-revoke"} {
			recs := f.audit(t, kind)
			if len(recs) != 1 || recs[0].Actor != adminName || recs[0].Subject != x.ID || recs[0].RequestID != id || recs[0].Source != "192.0.2.1" {
				t.Errorf("%s records %+v, want one by %s about %s", kind, recs, adminName, x.ID)
			}
		}
		if w := f.do(t, http.MethodGet, "/v1/exceptions/exc-nothere", bearer(responder), ""); w.Code != http.StatusNotFound {
			t.Errorf("unknown exception: %d, want 404", w.Code)
		}
		if _, err := f.store.VerifyAudit(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// TestExceptionBadBodies checks that a malformed or invalid request is answered with a
// problem naming the field at fault, and that nothing is stored, revoked or audited.
func TestExceptionBadBodies(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	tok, _ := f.token(t, auth.Admin, time.Hour)
	ctx := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-setup"})
	existing, err := f.eng.CreateException(ctx, engine.ExceptionRequest{Account: devAccount, Playbooks: []string{"*"},
		Reason: "load test", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	auditBefore, err := f.store.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	revoke := "/v1/exceptions/" + existing.ID + "/revoke"
	tests := []struct {
		name      string
		path      string
		body      string
		wantCode  int
		wantParam string
		// wantReason, when set, is part of the first named field's reason.
		wantReason string
	}{
		{"empty", "/v1/exceptions", ``, 400, "body", ""},
		{"an array", "/v1/exceptions", `[]`, 400, "body", ""},
		{"resource a number", "/v1/exceptions", `{"resource": 7, "playbooks": ["*"], "reason": "r", "expires": "` + soon + `"}`, 400, "resource", "string"},
		{"playbooks a string", "/v1/exceptions", `{"resource": "i-1", "playbooks": "*", "reason": "r", "expires": "` + soon + `"}`, 400, "playbooks", "list"},
		{"playbooks of numbers", "/v1/exceptions", `{"resource": "i-1", "playbooks": [1], "reason": "r", "expires": "` + soon + `"}`, 400, "playbooks", "list"},
		{"expires a number", "/v1/exceptions", `{"resource": "i-1", "playbooks": ["*"], "reason": "r", "expires": 1767225600}`, 400, "expires", "string"},
		{"unknown field", "/v1/exceptions", `{"resource": "i-1", "playbooks": ["*"], "reason": "r", "expires": "` + soon + `", "force": true}`, 400, "force", "unknown field"},
		{"duplicate field", "/v1/exceptions", `{"resource": "i-1", "resource": "i-2", "playbooks": ["*"], "reason": "r", "expires": "` + soon + `"}`, 400, "resource", "more than once"},
		{"oversize", "/v1/exceptions", `{"resource": "i-1", "playbooks": ["*"], "reason": "` + strings.Repeat("x", MaxBodyBytes) + `", "expires": "` + soon + `"}`, 413, "body", ""},
		{"neither resource nor account", "/v1/exceptions", `{"playbooks": ["*"], "reason": "r", "expires": "` + soon + `"}`, 422, "resource", "give the resource"},
		{"both resource and account", "/v1/exceptions", `{"resource": "i-1", "account": "111122223333", "playbooks": ["*"], "reason": "r", "expires": "` + soon + `"}`, 422, "account", "not both"},
		{"bad account", "/v1/exceptions", exceptionBody("account", "1111", time.Now().Add(time.Hour)), 422, "account", "12-digit"},
		{"no playbooks", "/v1/exceptions", `{"resource": "i-1", "playbooks": [], "reason": "r", "expires": "` + soon + `"}`, 422, "playbooks", "required"},
		{"unknown playbook", "/v1/exceptions", `{"resource": "i-1", "playbooks": ["ec2-compromise-prd"], "reason": "r", "expires": "` + soon + `"}`, 422, "playbooks",
			`did you mean "ec2-compromise-prod"?`},
		{"no reason", "/v1/exceptions", `{"resource": "i-1", "playbooks": ["*"], "expires": "` + soon + `"}`, 422, "reason", "required"},
		{"no expiry", "/v1/exceptions", `{"resource": "i-1", "playbooks": ["*"], "reason": "r"}`, 422, "expires", "required"},
		{"past expiry", "/v1/exceptions", exceptionBody("resource", "i-1", time.Now().Add(-time.Hour)), 422, "expires", "in the future"},
		{"more than 90 days", "/v1/exceptions", exceptionBody("resource", "i-1", time.Now().Add(91*24*time.Hour)), 422, "expires", "at most 90 days"},
		{"not a time", "/v1/exceptions", `{"resource": "i-1", "playbooks": ["*"], "reason": "r", "expires": "next tuesday"}`, 422, "expires", "RFC 3339"},
		{"revoke: unknown field", revoke, `{"reason": "r", "force": true}`, 400, "force", "unknown field"},
		{"revoke: reason a number", revoke, `{"reason": 1}`, 400, "reason", "string"},
		{"revoke: no body", revoke, ``, 400, "body", ""},
		{"revoke: blank reason", revoke, `{"reason": " "}`, 422, "reason", "required"},
		{"revoke: bad id", "/v1/exceptions/exc%201/revoke", `{"reason": "r"}`, 400, "id", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, http.MethodPost, tt.path, bearer(tok), tt.body)
			if w.Code != tt.wantCode {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.wantCode)
			}
			p := decodeAs[Problem](t, w)
			if p.Status != tt.wantCode || len(p.InvalidParams) == 0 || p.InvalidParams[0].Name != tt.wantParam ||
				!strings.Contains(p.InvalidParams[0].Reason, tt.wantReason) {
				t.Errorf("problem %+v, want status %d naming %s: %q", p, tt.wantCode, tt.wantParam, tt.wantReason)
			}
		})
	}
	list, err := f.eng.ListExceptions(context.Background(), store.ExceptionFilter{})
	if err != nil || len(list) != 1 || list[0].State(time.Now()) != store.ExceptionActive {
		t.Errorf("exceptions after bad requests: %+v, %v; want only the one in force before", list, err)
	}
	if after, _ := f.store.VerifyAudit(context.Background()); after.Records != auditBefore.Records {
		t.Errorf("audit records went from %d to %d", auditBefore.Records, after.Records)
	}
}

// TestExceptionScope checks that a caller scoped to some accounts creates, sees and
// revokes only the exceptions that concern them, and that a refused change is audited and
// changes nothing.
func TestExceptionScope(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	prodAdmin, _ := f.token(t, auth.Admin, time.Hour, prodAccount)
	devAdmin, _ := f.token(t, auth.Admin, time.Hour, devAccount)
	devViewer, _ := f.token(t, auth.Viewer, time.Hour, devAccount)
	viewer, _ := f.token(t, auth.Viewer, time.Hour)
	soon := time.Now().Add(time.Hour)
	arn := "arn:aws:ec2:us-east-1:" + prodAccount + ":instance/" + webProd

	w := f.do(t, http.MethodPost, "/v1/exceptions", bearer(prodAdmin), exceptionBody("resource", arn, soon))
	if w.Code != http.StatusCreated {
		t.Fatalf("scoped admin, an ARN in scope: %d %s", w.Code, w.Body)
	}
	prodX := decodeAs[Exception](t, w)
	ctx := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-unscoped"})
	bare, err := f.eng.CreateException(ctx, engine.ExceptionRequest{Resource: "i-0bare", Playbooks: []string{"*"}, Reason: "r", Expires: soon})
	if err != nil {
		t.Fatal(err)
	}

	denied := len(f.audit(t, "access.denied"))
	for _, tc := range []struct{ name, body string }{
		{"a bare resource id", exceptionBody("resource", "i-0other", soon)},
		{"another account", exceptionBody("account", devAccount, soon)},
		{"an ARN in another account", exceptionBody("resource", "arn:aws:iam::"+devAccount+":user/alice", soon)},
	} {
		if w := f.do(t, http.MethodPost, "/v1/exceptions", bearer(prodAdmin), tc.body); w.Code != http.StatusForbidden {
			t.Errorf("scoped admin, %s: %d %s, want 403", tc.name, w.Code, w.Body)
		}
	}
	if w := f.do(t, http.MethodPost, "/v1/exceptions/"+prodX.ID+"/revoke", bearer(devAdmin), `{"reason": "r"}`); w.Code != http.StatusForbidden {
		t.Errorf("revoke another account's: %d, want 403", w.Code)
	}
	if got := len(f.audit(t, "access.denied")); got != denied+4 {
		t.Errorf("access.denied records went from %d to %d, want 4 more", denied, got)
	}
	if x, _ := f.eng.Exception(context.Background(), prodX.ID); x.State(time.Now()) != store.ExceptionActive {
		t.Errorf("a refused revoke changed the exception: %+v", x)
	}

	for _, tc := range []struct {
		name, token, query string
		want               int
	}{
		{"unscoped sees every one", viewer, "", 2},
		{"scoped to prod sees its ARN", prodAdmin, "", 1},
		{"scoped to dev sees none", devViewer, "", 0},
		{"scoped, asking for another account", devViewer, "?account=" + prodAccount, 0},
		{"by account, the ARN's included", viewer, "?account=" + prodAccount, 1},
	} {
		if got := f.exceptionIDs(t, bearer(tc.token), tc.query); len(got) != tc.want {
			t.Errorf("%s: listed %v, want %d", tc.name, got, tc.want)
		}
	}
	if w := f.do(t, http.MethodGet, "/v1/exceptions/"+prodX.ID, bearer(devViewer), ""); w.Code != http.StatusForbidden {
		t.Errorf("scoped GET of another account's: %d, want 403", w.Code)
	}
	if w := f.do(t, http.MethodGet, "/v1/exceptions/"+bare.ID, bearer(prodAdmin), ""); w.Code != http.StatusForbidden ||
		!strings.Contains(decodeAs[Problem](t, w).Detail, "give the resource as an ARN") {
		t.Errorf("scoped GET of one tied to no account: %d %s, want 403 saying why", w.Code, w.Body)
	}
	for _, q := range []string{"?state=burning", "?account=12", "?sort=id"} {
		if w := f.do(t, http.MethodGet, "/v1/exceptions"+q, bearer(viewer), ""); w.Code != http.StatusBadRequest {
			t.Errorf("GET /v1/exceptions%s: %d, want 400", q, w.Code)
		}
	}
}
