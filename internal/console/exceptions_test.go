package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/store"
)

var exceptionID = regexp.MustCompile(`exc-[0-9a-f]{16}`)

// TestExceptionPages creates an exception through the form, sees it listed, has the
// isolation form refused on its instance, revokes it through the confirmation page, and
// then isolates the instance.
func TestExceptionPages(t *testing.T) {
	f := newFixture(t)
	adminTok, adminName := f.token(t, auth.Admin)
	b := f.browser(t)
	b.login(adminTok)

	if a := b.get(Prefix + "/exceptions"); a.code != http.StatusOK || !strings.Contains(a.body, "No exceptions in force") ||
		!strings.Contains(a.body, `id="new-exception"`) || !strings.Contains(a.body, `href="/console/exceptions?state=all"`) {
		t.Errorf("empty list: %d %s", a.code, a.body)
	}
	if a := b.get(Prefix + "/exceptions/new"); a.code != http.StatusOK || !strings.Contains(a.body, `<option value="ec2-compromise-prod"`) ||
		!strings.Contains(a.body, "Every playbook") || !strings.Contains(a.body, `<option value="168h" selected>`) {
		t.Errorf("form: %d %s", a.code, a.body)
	}

	a := b.post(Prefix+"/exceptions/new", Prefix+"/exceptions", url.Values{"resource": {webProd}, "playbook": {"*"},
		"lasts": {"72h"}, "reason": {"forensic image in progress"}})
	if a.code != http.StatusSeeOther || a.header.Get("Location") != Prefix+"/exceptions" {
		t.Fatalf("create: %d %q %s", a.code, a.header.Get("Location"), a.body)
	}
	a = b.get(Prefix + "/exceptions")
	id := exceptionID.FindString(a.body)
	if id == "" || !strings.Contains(a.body, "Exception "+id+" created") || !strings.Contains(a.body, webProd) ||
		!strings.Contains(a.body, "every playbook") || !strings.Contains(a.body, adminName) || !strings.Contains(a.body, `data-revoke="`+id+`"`) {
		t.Fatalf("list after creating: %s", a.body)
	}

	a = b.post(Prefix+"/isolate", Prefix+"/isolate", url.Values{"action": {"ec2.isolate"}, "account": {prodAccount},
		"region": {"us-east-1"}, "instance": {webProd}, "reason": {"c2 traffic"}})
	if a.code != http.StatusConflict || !strings.Contains(a.body, "exception "+id) {
		t.Errorf("isolate an excepted instance: %d, want 409 naming %s: %s", a.code, id, a.body)
	}

	// The confirmation page, then the form: without confirm it only goes back, and
	// without a reason nothing is revoked.
	if a := b.get(Prefix + "/exceptions/" + id + "/revoke"); a.code != http.StatusOK || !strings.Contains(a.body, "Revoke exception") ||
		!strings.Contains(a.body, "forensic image in progress") {
		t.Errorf("revoke page: %d %s", a.code, a.body)
	}
	from := Prefix + "/exceptions/" + id + "/revoke"
	if a := b.post(from, from, url.Values{"reason": {"done"}}); a.code != http.StatusSeeOther || a.header.Get("Location") != from {
		t.Errorf("revoke without confirm: %d %q", a.code, a.header.Get("Location"))
	}
	if a := b.post(from, from, url.Values{"confirm": {"revoke"}, "reason": {" "}}); a.code != http.StatusUnprocessableEntity ||
		!strings.Contains(a.body, "Nothing was revoked: Required") {
		t.Errorf("revoke without a reason: %d %s", a.code, a.body)
	}
	a = b.post(from, from, url.Values{"confirm": {"revoke"}, "reason": {"imaging finished"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", a.code, a.body)
	}
	if a := b.get(a.header.Get("Location")); !strings.Contains(a.body, "Exception "+id+" is revoked") || !strings.Contains(a.body, "No exceptions in force") {
		t.Errorf("list after revoking: %s", a.body)
	}
	if a := b.get(Prefix + "/exceptions?state=all"); !strings.Contains(a.body, id) || !strings.Contains(a.body, "imaging finished") ||
		strings.Contains(a.body, `data-revoke="`+id+`"`) {
		t.Errorf("all exceptions: want %s revoked, with the reason and no revoke button: %s", id, a.body)
	}
	if a := b.get(from); !strings.Contains(a.body, "nothing to revoke") {
		t.Errorf("revoke page of a revoked exception does not say so")
	}
	a = b.post(Prefix+"/isolate", Prefix+"/isolate", url.Values{"action": {"ec2.isolate"}, "account": {prodAccount},
		"region": {"us-east-1"}, "instance": {webProd}, "reason": {"c2 traffic"}})
	if a.code != http.StatusSeeOther {
		t.Errorf("isolate after revoking: %d %s", a.code, a.body)
	}
	if n := f.auditKinds(t, "exception.created"); n != 1 {
		t.Errorf("%d exception.created records, want 1", n)
	}
	if n := f.auditKinds(t, "exception.revoked"); n != 1 {
		t.Errorf("%d exception.revoked records, want 1", n)
	}
}

// TestExceptionForm checks that an invalid form is shown again with each field's problem
// and creates nothing.
func TestExceptionForm(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.token(t, auth.Admin)
	b := f.browser(t)
	b.login(tok)
	tests := []struct {
		name string
		form url.Values
		want []string
	}{
		{"neither resource nor account", url.Values{"playbook": {"*"}, "lasts": {"24h"}, "reason": {"r"}}, []string{"Give the resource"}},
		{"both", url.Values{"resource": {"i-1"}, "account": {prodAccount}, "playbook": {"*"}, "lasts": {"24h"}, "reason": {"r"}}, []string{"not both"}},
		{"bad account, no reason", url.Values{"account": {"12"}, "playbook": {"*"}, "lasts": {"24h"}}, []string{"Must be a 12-digit AWS account id.", "Required; say why"}},
		{"no playbook", url.Values{"resource": {"i-1"}, "lasts": {"24h"}, "reason": {"r"}}, []string{"Required; list the playbooks"}},
		{"unknown playbook", url.Values{"resource": {"i-1"}, "playbook": {"ec2-compromise-prd"}, "lasts": {"24h"}, "reason": {"r"}},
			[]string{"did you mean &#34;ec2-compromise-prod&#34;?"}},
		{"a lifetime not offered", url.Values{"resource": {"i-1"}, "playbook": {"*"}, "lasts": {"9000h"}, "reason": {"r"}}, []string{"Choose how long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := b.post(Prefix+"/exceptions/new", Prefix+"/exceptions", tt.form)
			if a.code != http.StatusUnprocessableEntity || !strings.Contains(a.body, "Nothing was created") {
				t.Fatalf("%d, want 422 with the form: %s", a.code, a.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(a.body, w) {
					t.Errorf("no %q in the form", w)
				}
			}
		})
	}
	if list, err := f.eng.ListExceptions(context.Background(), store.ExceptionFilter{}); err != nil || len(list) != 0 {
		t.Errorf("exceptions after invalid forms: %d, %v; want none", len(list), err)
	}
}

// TestExceptionAuthorisation checks that only administrators may create and revoke, that
// a scoped principal sees and manages only their accounts' exceptions, that a refused
// change is audited, and that a form without its CSRF token changes nothing.
func TestExceptionAuthorisation(t *testing.T) {
	f := newFixture(t)
	responderTok, _ := f.token(t, auth.Responder)
	scopedTok, _ := f.token(t, auth.Admin, devAccount)
	adminTok, _ := f.token(t, auth.Admin)
	ctx := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-setup"})
	prodX, err := f.eng.CreateException(ctx, engine.ExceptionRequest{Account: prodAccount, Playbooks: []string{"*"},
		Reason: "game day", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	r := f.browser(t)
	r.login(responderTok)
	if a := r.get(Prefix + "/exceptions"); a.code != http.StatusOK || !strings.Contains(a.body, prodX.ID) ||
		strings.Contains(a.body, `id="new-exception"`) || strings.Contains(a.body, `data-revoke=`) {
		t.Errorf("responder's list: %d; want the exception without the create or revoke buttons", a.code)
	}
	for _, path := range []string{"/exceptions/new", "/exceptions/" + prodX.ID + "/revoke"} {
		if a := r.get(Prefix + path); a.code != http.StatusForbidden || !strings.Contains(a.body, "responder") {
			t.Errorf("responder GET %s: %d, want 403 naming the role", path, a.code)
		}
	}

	s := f.browser(t)
	s.login(scopedTok)
	if a := s.get(Prefix + "/exceptions"); strings.Contains(a.body, prodX.ID) {
		t.Errorf("a principal scoped to another account sees %s", prodX.ID)
	}
	denied := f.auditKinds(t, "access.denied")
	if a := s.post(Prefix+"/exceptions/new", Prefix+"/exceptions", url.Values{"account": {prodAccount}, "playbook": {"*"},
		"lasts": {"24h"}, "reason": {"r"}}); a.code != http.StatusForbidden || !strings.Contains(a.body, "account "+prodAccount) {
		t.Errorf("scoped create in another account: %d %s", a.code, a.body)
	}
	if a := s.post(Prefix+"/exceptions", Prefix+"/exceptions/"+prodX.ID+"/revoke", url.Values{"confirm": {"revoke"}, "reason": {"r"}}); a.code != http.StatusForbidden {
		t.Errorf("scoped revoke in another account: %d", a.code)
	}
	if got := f.auditKinds(t, "access.denied"); got != denied+2 {
		t.Errorf("access.denied records: %d, want %d", got, denied+2)
	}

	admin := f.browser(t)
	admin.login(adminTok)
	form := url.Values{"resource": {webProd}, "playbook": {"*"}, "lasts": {"24h"}, "reason": {"r"}}
	for _, csrf := range []string{"", "forged"} {
		form.Set("csrf", csrf)
		if a := admin.do(http.MethodPost, Prefix+"/exceptions", form); a.code != http.StatusForbidden || !strings.Contains(a.body, "nothing was changed") {
			t.Errorf("create with CSRF %q: %d", csrf, a.code)
		}
	}
	if a := admin.do(http.MethodPost, Prefix+"/exceptions/"+prodX.ID+"/revoke", url.Values{"confirm": {"revoke"}, "reason": {"r"}, "csrf": {"forged"}}); a.code != http.StatusForbidden {
		t.Errorf("revoke with a forged CSRF token: %d", a.code)
	}
	list, err := f.eng.ListExceptions(context.Background(), store.ExceptionFilter{})
	if err != nil || len(list) != 1 || list[0].State(time.Now()) != store.ExceptionActive {
		t.Errorf("exceptions after refused forms: %+v, %v; want only %s, in force", list, err, prodX.ID)
	}
}
