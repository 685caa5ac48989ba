package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// exceptionRow is an exception as the list shows it.
type exceptionRow struct {
	*store.Exception
	State     string
	CanRevoke bool
}

// exceptionLasts are the lifetimes the form offers, longest last: a choice rather than a
// date, so that nobody types a time zone at 3 a.m., and none beyond the 90 days an
// exception may last.
var exceptionLasts = []struct {
	Value, Label string
	d            time.Duration
}{
	{"24h", "1 day", 24 * time.Hour},
	{"72h", "3 days", 72 * time.Hour},
	{"168h", "7 days", 7 * 24 * time.Hour},
	{"336h", "14 days", 14 * 24 * time.Hour},
	{"720h", "30 days", 30 * 24 * time.Hour},
	{"2160h", "90 days", engine.MaxExceptionLifetime},
}

// exceptionRequest is the creation form, as typed.
type exceptionRequest struct {
	Resource, Account, Reason, ApprovedBy, Lasts string
	Playbooks                                    []string
}

// exceptionFields maps the engine's field names to the form's.
var exceptionFields = map[string]string{"resource": "resource", "account": "account", "playbooks": "playbook",
	"reason": "reason", "approved_by": "approved_by", "expires": "lasts"}

func exceptionRefusal(p auth.Principal, account string) string {
	if account == "" {
		return "Your token is scoped to some accounts, and this exception names no account. Give the resource as an ARN, whose account is in your scope, or ask an administrator whose token covers every account."
	}
	return fmt.Sprintf("%s may not see or manage exceptions in account %s.", p.Name, account)
}

// exceptions lists the exceptions in force, or with ?state=all every one, that the
// principal may see.
func (c *Console) exceptions(w http.ResponseWriter, r *http.Request, v *call) {
	all := r.URL.Query().Get("state") == "all"
	f := store.ExceptionFilter{}
	if !all {
		f.Unrevoked, f.ExpiresAfter = true, c.now()
	}
	list, err := c.opts.Engine.ListExceptions(r.Context(), f)
	if err != nil {
		c.log.Error("console: list exceptions", "request_id", v.requestID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The exceptions could not be read just now. Reload the page in a moment.", "")
		return
	}
	var rows []exceptionRow
	for _, x := range list {
		if !auth.AllowedReaching(v.principal, auth.Read, x.InAccount()) {
			continue
		}
		state := x.State(c.now())
		rows = append(rows, exceptionRow{Exception: x, State: state,
			CanRevoke: state == store.ExceptionActive && auth.AllowedReaching(v.principal, auth.Administer, x.InAccount())})
	}
	c.render(w, r, v, http.StatusOK, "exceptions", "Exceptions", map[string]any{
		"Rows": rows, "All": all, "CanCreate": v.principal.RoleAllows(auth.Administer)})
}

func (c *Console) renderExceptionForm(w http.ResponseWriter, r *http.Request, v *call, status int, req exceptionRequest, problems map[string]string) {
	c.render(w, r, v, status, "exception-new", "New exception", map[string]any{
		"Req": req, "Problems": problems, "Playbooks": c.opts.Engine.PlaybookNames(), "Lasts": exceptionLasts,
		"Accounts": v.principal.Accounts})
}

// exceptionForm is the creation form: a resource or an account, the playbooks, why, and
// how long.
func (c *Console) exceptionForm(w http.ResponseWriter, r *http.Request, v *call) {
	c.renderExceptionForm(w, r, v, http.StatusOK, exceptionRequest{Playbooks: []string{"*"}, Lasts: "168h"}, nil)
}

// createException creates the exception the form describes, as POST /v1/exceptions does,
// and goes back to the list.
func (c *Console) createException(w http.ResponseWriter, r *http.Request, v *call) {
	f := r.PostForm
	req := exceptionRequest{Resource: strings.TrimSpace(f.Get("resource")), Account: strings.TrimSpace(f.Get("account")),
		Reason: strings.TrimSpace(f.Get("reason")), ApprovedBy: strings.TrimSpace(f.Get("approved_by")),
		Lasts: f.Get("lasts"), Playbooks: f["playbook"]}
	xr := engine.ExceptionRequest{Resource: req.Resource, Account: req.Account, Playbooks: req.Playbooks,
		Reason: req.Reason, ApprovedBy: req.ApprovedBy}
	problems := map[string]string{}
	for _, l := range exceptionLasts {
		if l.Value == req.Lasts {
			xr.Expires = c.now().Add(l.d)
		}
	}
	if xr.Expires.IsZero() {
		problems["lasts"] = "Choose how long the exception lasts."
	}
	addProblems(problems, c.opts.Engine.CheckException(xr))
	if len(problems) > 0 {
		c.renderExceptionForm(w, r, v, http.StatusUnprocessableEntity, req, problems)
		return
	}
	if account := xr.InAccount(); !auth.AllowedReaching(v.principal, auth.Administer, account) {
		c.refuse(w, r, v, xr.Subject(), exceptionRefusal(v.principal, account))
		return
	}
	x, err := c.opts.Engine.CreateException(v.ctx(r), xr)
	var inv *engine.InvalidExceptionError
	switch {
	case errors.As(err, &inv):
		addProblems(problems, inv.Problems)
		c.renderExceptionForm(w, r, v, http.StatusUnprocessableEntity, req, problems)
		return
	case err != nil:
		c.log.Error("console: create an exception", "request_id", v.requestID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The exception could not be recorded, and nothing was changed. Go back and submit it again.", Prefix+"/exceptions/new")
		return
	}
	what := "resource " + x.Resource
	if x.Account != "" {
		what = "account " + x.Account
	}
	c.redirect(w, r, v, Prefix+"/exceptions", fmt.Sprintf("Exception %s created: %s is left alone until %s.",
		x.ID, what, x.Expires.Format("2006-01-02 15:04:05Z")), "ok")
}

// addProblems puts the engine's reasons on the form's fields, the first for each field.
func addProblems(problems map[string]string, ps []engine.FieldProblem) {
	for _, p := range ps {
		field := exceptionFields[p.Field]
		if _, ok := problems[field]; !ok {
			problems[field] = sentence(p.Reason)
		}
	}
}

// sentence turns an API-style reason ("must be ...") into one the form shows.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// loadException reads the exception the path names and checks that the principal may do
// perm to it; ok is false when an answer has been written.
func (c *Console) loadException(w http.ResponseWriter, r *http.Request, v *call, perm auth.Permission) (*store.Exception, bool) {
	back := Prefix + "/exceptions"
	id := r.PathValue("id")
	if !idPattern.MatchString(id) {
		c.fail(w, r, v, http.StatusNotFound, "That is not an exception id.", back)
		return nil, false
	}
	x, err := c.opts.Engine.Exception(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, v, http.StatusNotFound, "There is no exception "+id+".", back)
		return nil, false
	case err != nil:
		c.log.Error("console: read exception", "request_id", v.requestID, "exception", id, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The exception could not be read just now. Reload the page in a moment.", back)
		return nil, false
	}
	if !auth.AllowedReaching(v.principal, perm, x.InAccount()) {
		c.refuse(w, r, v, x.ID, exceptionRefusal(v.principal, x.InAccount()))
		return nil, false
	}
	return x, true
}

func (c *Console) renderRevoke(w http.ResponseWriter, r *http.Request, v *call, status int, x *store.Exception, reason, problem string) {
	c.render(w, r, v, status, "exception-revoke", "Revoke "+x.ID, map[string]any{
		"Exception": x, "Active": x.State(c.now()) == store.ExceptionActive, "Reason": reason, "Problem": problem})
}

// revokeForm is the confirmation page: what revoking lets the playbooks do again, and why
// it is revoked, before anything is.
func (c *Console) revokeForm(w http.ResponseWriter, r *http.Request, v *call) {
	if x, ok := c.loadException(w, r, v, auth.Administer); ok {
		c.renderRevoke(w, r, v, http.StatusOK, x, "", "")
	}
}

// revokeException ends an exception, once confirmed on revokeForm.
func (c *Console) revokeException(w http.ResponseWriter, r *http.Request, v *call) {
	x, ok := c.loadException(w, r, v, auth.Administer)
	if !ok {
		return
	}
	back := Prefix + "/exceptions"
	if r.PostFormValue("confirm") != "revoke" {
		http.Redirect(w, r, back+"/"+x.ID+"/revoke", http.StatusSeeOther)
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	_, err := c.opts.Engine.RevokeException(v.ctx(r), x.ID, reason)
	var inv *engine.InvalidExceptionError
	switch {
	case err == nil:
		c.redirect(w, r, v, back, "Exception "+x.ID+" is revoked: the playbooks act on what it covered again.", "ok")
	case errors.As(err, &inv):
		c.renderRevoke(w, r, v, http.StatusUnprocessableEntity, x, reason, sentence(inv.Problems[0].Reason))
	case errors.Is(err, engine.ErrConflict):
		// Someone else got there first, or it expired meanwhile: show the list as it stands.
		c.redirect(w, r, v, back+"?state=all", "Nothing was changed: "+err.Error(), "bad")
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, v, http.StatusNotFound, "There is no exception "+x.ID+".", back)
	default:
		c.log.Error("console: revoke exception", "request_id", v.requestID, "exception", x.ID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The revocation could not be recorded. Open the exceptions to see where it stands, and try again.", back)
	}
}
