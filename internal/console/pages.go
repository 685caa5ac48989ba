package console

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/input"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// Limits on form fields, as the API's on the same fields.
const (
	maxReason  = 1000
	maxTicket  = 128
	maxID      = 256
	maxComment = 1000
	// listLimit is how many incidents the list shows; the CLI and API page further.
	listLimit = 100
)

var (
	states        = []string{store.StateOpen, store.StateAwaitingApproval, store.StateContaining, store.StateContained, store.StateFailed, store.StateReleasing, store.StateReleased, store.StateClosed}
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// loginForm shows the sign-in form, starting an unauthenticated session to carry its CSRF
// token, so that nobody can sign a browser in with a token of their choosing.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request, v *call) {
	next := safeNext(r.URL.Query().Get("next"))
	if v.signedIn {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if v.sessionID == "" {
		sess := &session{expires: c.now().Add(anonymousTTL)}
		id, err := c.sessions.create(r.Context(), sess)
		if err != nil {
			c.log.Error("console: start a session for the login form", "request_id", v.requestID, "error", err)
			c.fail(w, r, v, http.StatusServiceUnavailable, "The sign-in form could not be prepared just now. Reload the page in a moment.", "")
			return
		}
		v.sessionID, v.csrf = id, sess.csrf
		c.setCookie(w, r, v.sessionID, anonymousTTL)
	}
	c.render(w, r, v, http.StatusOK, "login", "Sign in", map[string]any{
		"Next": next, "Note": loginNotes[r.URL.Query().Get("msg")], "OIDC": c.oidcLabel()})
}

// safeNext keeps a post-login destination only when it is a console page, so that the
// login form cannot be used to send someone elsewhere.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") ||
		strings.HasPrefix(next, Prefix+"/login") {
		return Prefix + "/incidents"
	}
	return next
}

// login checks an API token as the API would, and signs the browser in with it.
func (c *Console) login(w http.ResponseWriter, r *http.Request, v *call) {
	tok := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	again := func(status int, msg string) {
		c.render(w, r, v, status, "login", "Sign in", map[string]any{"Next": next, "Error": msg, "OIDC": c.oidcLabel()})
	}
	if tok == "" {
		again(http.StatusUnprocessableEntity, "Paste an API token (it starts with "+auth.TokenPrefix+"). Create one with firebreak token create.")
		return
	}
	if wait := c.opts.Throttle.Wait(v.source); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		again(http.StatusTooManyRequests, fmt.Sprintf("Too many tokens were refused from this address. Check the token and try again in %d seconds.", int(math.Ceil(wait.Seconds()))))
		return
	}
	p, err := c.recheck(r, tok)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		c.opts.Throttle.Fail(v.source)
		// The message says why (unknown, expired) without echoing the token.
		again(http.StatusUnauthorized, "That token was not accepted: "+strings.TrimPrefix(err.Error(), "unauthenticated: "))
		return
	case err != nil:
		c.log.Error("console: check a token at sign-in", "request_id", v.requestID, "error", err)
		again(http.StatusServiceUnavailable, "The token could not be checked just now. Try again in a moment.")
		return
	}
	if err := c.SignIn(w, r, p, tok); err != nil {
		c.log.Error("console: sign in", "request_id", v.requestID, "error", err)
		again(http.StatusServiceUnavailable, "You could not be signed in just now. Try again in a moment.")
		return
	}
	c.log.Info("console: signed in", "principal", p.Name, "role", p.Role, "source", v.source, "request_id", v.requestID)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, v *call) {
	if err := c.sessions.delete(r.Context(), v.sessionID); err != nil {
		c.log.Error("console: sign out", "request_id", v.requestID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "You could not be signed out just now. Try again in a moment.", "")
		return
	}
	c.setCookie(w, r, "", 0)
	http.Redirect(w, r, Prefix+"/login?msg=signedout", http.StatusSeeOther)
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, v *call) {
	http.Redirect(w, r, Prefix+"/incidents", http.StatusSeeOther)
}

// listFilter is the incidents page's filter, from its query.
type listFilter struct {
	State, Account, Playbook string
	Problems                 []string
}

func (f listFilter) Query() string {
	q := url.Values{}
	for k, val := range map[string]string{"state": f.State, "account": f.Account, "playbook": f.Playbook} {
		if val != "" {
			q.Set(k, val)
		}
	}
	return q.Encode()
}

func readFilter(r *http.Request) listFilter {
	q := r.URL.Query()
	f := listFilter{State: q.Get("state"), Account: strings.TrimSpace(q.Get("account")), Playbook: strings.TrimSpace(q.Get("playbook"))}
	if f.State != "" && !slices.Contains(states, f.State) {
		f.Problems = append(f.Problems, "State must be one of "+strings.Join(states, ", ")+"; showing every state.")
		f.State = ""
	}
	if f.Account != "" && !input.Account(f.Account) {
		f.Problems = append(f.Problems, "Account must be a 12-digit AWS account id; showing every account.")
		f.Account = ""
	}
	if len(f.Playbook) > 128 || !input.Printable(f.Playbook) {
		f.Problems = append(f.Problems, "Playbook must be at most 128 printable characters; showing every playbook.")
		f.Playbook = ""
	}
	return f
}

// list reads the incidents the principal may see, newest first. A scoped principal's list
// is filled from their accounts alone, and asking for another account shows an empty
// list, as the API does, rather than a refusal that would confirm the account is watched.
// Incidents labelled with a sensitivity the principal is not cleared for are left out in
// the query, so that the list is filled from what they may see.
func (c *Console) list(r *http.Request, p auth.Principal, f listFilter) ([]*store.Incident, error) {
	sf := store.Filter{State: f.State, Playbook: f.Playbook, Account: f.Account, Limit: listLimit,
		ByClearance: !p.ClearedForAll(), Clearance: p.Clearance}
	if len(p.Accounts) == 0 {
		return c.opts.Engine.List(r.Context(), sf)
	}
	accounts := p.Accounts
	if f.Account != "" {
		if !p.InScope(f.Account) {
			return nil, nil
		}
		accounts = []string{f.Account}
	}
	var out []*store.Incident
	for _, a := range accounts {
		sf.Account = a
		list, err := c.opts.Engine.List(r.Context(), sf)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	slices.SortFunc(out, func(a, b *store.Incident) int {
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(a.ID, b.ID))
	})
	if len(out) > listLimit {
		out = out[:listLimit]
	}
	return out, nil
}

func (c *Console) incidentsData(w http.ResponseWriter, r *http.Request, v *call) (map[string]any, bool) {
	f := readFilter(r)
	list, err := c.list(r, v.principal, f)
	if err != nil {
		c.log.Error("console: list incidents", "request_id", v.requestID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The incidents could not be read just now. Reload the page in a moment.", "")
		return nil, false
	}
	return map[string]any{"Incidents": list, "Filter": f, "States": states, "Limit": listLimit,
		"Refreshed": c.now()}, true
}

// incidents is the list: filters, state badges, and rows the page's script refreshes.
func (c *Console) incidents(w http.ResponseWriter, r *http.Request, v *call) {
	data, ok := c.incidentsData(w, r, v)
	if !ok {
		return
	}
	c.render(w, r, v, http.StatusOK, "incidents", "Incidents", data)
}

// incidentRows is the list's table body alone, which the page's script fetches every few
// seconds and swaps in, so that the list stays current without reloading the page (and
// losing the responder's place).
func (c *Console) incidentRows(w http.ResponseWriter, r *http.Request, v *call) {
	data, ok := c.incidentsData(w, r, v)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.pages["incidents"].ExecuteTemplate(w, "rows", map[string]any{"Prefix": Prefix, "Data": data}); err != nil {
		c.log.Error("console: render rows", "request_id", v.requestID, "error", err)
	}
}

// load reads the incident the path names and checks that the principal may do perm in its
// account; ok is false when an answer has been written.
func (c *Console) load(w http.ResponseWriter, r *http.Request, v *call, perm auth.Permission) (*store.Incident, bool) {
	id := r.PathValue("id")
	if !idPattern.MatchString(id) {
		c.fail(w, r, v, http.StatusNotFound, "That is not an incident id.", "")
		return nil, false
	}
	inc, err := c.opts.Engine.Get(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, v, http.StatusNotFound, "There is no incident "+id+".", "")
		return nil, false
	case err != nil:
		c.log.Error("console: read incident", "request_id", v.requestID, "incident", id, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The incident could not be read just now. Reload the page in a moment.", "")
		return nil, false
	}
	if !v.principal.Cleared(inc.Sensitivity) {
		// The same answer as for an incident that does not exist, as the API gives: a
		// refusal would confirm that a labelled incident is there.
		c.fail(w, r, v, http.StatusNotFound, "There is no incident "+id+".", "")
		return nil, false
	}
	if !auth.Allowed(v.principal, perm, inc.Target.Account) {
		c.refuse(w, r, v, inc.ID, fmt.Sprintf("%s may not see or act on incidents in account %s.", v.principal.Name, inc.Target.Account))
		return nil, false
	}
	return inc, true
}

// stepView is a step as the incident and approvals pages show it.
type stepView struct {
	store.Step
	Waiting bool
	// OwnRequest says the principal requested the incident, so may not decide the step.
	OwnRequest bool
}

func stepViews(inc *store.Incident, p auth.Principal) []stepView {
	out := make([]stepView, len(inc.Steps))
	for i, st := range inc.Steps {
		out[i] = stepView{Step: st,
			Waiting:    inc.State == store.StateAwaitingApproval && st.Status == store.StepPending && st.Approval == store.ApprovalRequired,
			OwnRequest: p.Name == inc.RequestedBy}
	}
	return out
}

func releasable(inc *store.Incident) bool {
	return inc.State != store.StateReleased && inc.State != store.StateClosed && inc.State != store.StateReleasing
}

// incident is one incident's timeline.
func (c *Console) incident(w http.ResponseWriter, r *http.Request, v *call) {
	inc, ok := c.load(w, r, v, auth.Read)
	if !ok {
		return
	}
	c.render(w, r, v, http.StatusOK, "incident", "Incident "+inc.ID, map[string]any{
		"Incident": inc, "Steps": stepViews(inc, v.principal),
		"CanApprove": auth.Allowed(v.principal, auth.Approve, inc.Target.Account),
		"CanRelease": auth.Allowed(v.principal, auth.Release, inc.Target.Account) && releasable(inc),
		"CanClose":   auth.Allowed(v.principal, auth.Release, inc.Target.Account) && engine.CheckClose(inc) == nil,
		"Live":       inc.State == store.StateOpen || inc.State == store.StateContaining || inc.State == store.StateReleasing})
}

// approvalItem is an incident with a step waiting for the principal's decision.
type approvalItem struct {
	Incident *store.Incident
	Steps    []stepView
}

// approvals is the queue of steps waiting for a person, in the principal's accounts, with
// rows the page's script refreshes.
func (c *Console) approvals(w http.ResponseWriter, r *http.Request, v *call) {
	data, ok := c.approvalsData(w, r, v)
	if !ok {
		return
	}
	c.render(w, r, v, http.StatusOK, "approvals", "Approvals", data)
}

// approvalRows is the queue alone, which the page's script fetches every few seconds and
// swaps in, as incidentRows does for the list: a step that begins to wait appears, and
// one decided, by anyone, goes.
func (c *Console) approvalRows(w http.ResponseWriter, r *http.Request, v *call) {
	data, ok := c.approvalsData(w, r, v)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The rows hold the decide forms, which need the page's prefix and CSRF token.
	p := page{Prefix: Prefix, CSRF: v.csrf, Principal: v.principal, SignedIn: v.signedIn, Data: data}
	if err := c.pages["approvals"].ExecuteTemplate(w, "rows", p); err != nil {
		c.log.Error("console: render approval rows", "request_id", v.requestID, "error", err)
	}
}

// approvalsData reads the queue; ok is false when an answer has been written.
func (c *Console) approvalsData(w http.ResponseWriter, r *http.Request, v *call) (map[string]any, bool) {
	list, err := c.list(r, v.principal, listFilter{State: store.StateAwaitingApproval})
	if err != nil {
		c.log.Error("console: list approvals", "request_id", v.requestID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The approval queue could not be read just now. Reload the page in a moment.", "")
		return nil, false
	}
	var items []approvalItem
	for _, summary := range list {
		inc, err := c.opts.Engine.Get(r.Context(), summary.ID)
		if err != nil {
			// Decided or changed since it was listed, or unreadable: the rest of the queue
			// is still worth showing.
			c.log.Warn("console: read a waiting incident", "request_id", v.requestID, "incident", summary.ID, "error", err)
			continue
		}
		item := approvalItem{Incident: inc}
		for _, sv := range stepViews(inc, v.principal) {
			if sv.Waiting {
				item.Steps = append(item.Steps, sv)
			}
		}
		if len(item.Steps) > 0 {
			items = append(items, item)
		}
	}
	return map[string]any{"Items": items, "Refreshed": c.now()}, true
}

// decide approves or denies a waiting step, with an optional comment.
func (c *Console) decide(w http.ResponseWriter, r *http.Request, v *call) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n > 10000 {
		c.fail(w, r, v, http.StatusNotFound, "That is not a step of an incident.", "")
		return
	}
	decision := r.PostFormValue("decision")
	if decision != "approve" && decision != "deny" {
		c.fail(w, r, v, http.StatusBadRequest, "Choose Approve or Deny.", Prefix+"/approvals")
		return
	}
	comment := strings.TrimSpace(r.PostFormValue("comment"))
	if len(comment) > maxComment || !input.Printable(comment) {
		c.fail(w, r, v, http.StatusBadRequest, fmt.Sprintf("The comment must be at most %d printable characters. Go back and shorten it.", maxComment), Prefix+"/approvals")
		return
	}
	inc, ok := c.load(w, r, v, auth.Approve)
	if !ok {
		return
	}
	back := Prefix + "/incidents/" + inc.ID
	if v.principal.Name == inc.RequestedBy {
		// The engine refuses it too; refusing here as well records the attempt and says so
		// plainly.
		c.refuse(w, r, v, inc.ID, fmt.Sprintf("You requested incident %s, so you cannot approve or deny its steps: someone else must. Ask another approver to open the approval queue.", inc.ID))
		return
	}
	if decision == "approve" {
		err = c.opts.Engine.Approve(v.ctx(r), inc.ID, n, v.principal.Name, comment)
	} else {
		err = c.opts.Engine.Deny(v.ctx(r), inc.ID, n, v.principal.Name, comment)
	}
	if c.changeFailed(w, r, v, inc.ID, err) {
		return
	}
	verb := "Approved"
	if decision == "deny" {
		verb = "Denied"
	}
	c.redirect(w, r, v, back, fmt.Sprintf("%s step %d of incident %s.", verb, n, inc.ID), "ok")
}

// changeFailed answers an engine error, if any, and says whether it did.
func (c *Console) changeFailed(w http.ResponseWriter, r *http.Request, v *call, id string, err error) bool {
	back := Prefix + "/incidents/" + id
	switch {
	case err == nil:
		return false
	case errors.Is(err, engine.ErrForbidden):
		c.refuse(w, r, v, id, err.Error())
	case errors.Is(err, engine.ErrConflict):
		// Someone else got there first, or the incident moved on: show it as it stands.
		c.redirect(w, r, v, back, "Nothing was changed: "+err.Error(), "bad")
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, v, http.StatusNotFound, "There is no incident "+id+".", "")
	default:
		c.log.Error("console: change incident", "request_id", v.requestID, "incident", id, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The change could not be recorded. Open the incident to see where it stands, and try again.", back)
	}
	return true
}

// releaseForm is the confirmation page: what releasing will undo, before anything is.
func (c *Console) releaseForm(w http.ResponseWriter, r *http.Request, v *call) {
	inc, ok := c.load(w, r, v, auth.Release)
	if !ok {
		return
	}
	var undo, skip []store.Step
	for _, st := range inc.Steps {
		switch {
		case st.Reversible && (st.Status == "done" || st.Status == "already-done"):
			undo = append(undo, st)
		case st.Status == store.StepPending:
			skip = append(skip, st)
		}
	}
	slices.Reverse(undo) // undone last first
	c.render(w, r, v, http.StatusOK, "release", "Release "+inc.ID, map[string]any{
		"Incident": inc, "Undo": undo, "Skip": skip, "Releasable": releasable(inc)})
}

// release undoes an incident's containment, once confirmed on releaseForm.
func (c *Console) release(w http.ResponseWriter, r *http.Request, v *call) {
	inc, ok := c.load(w, r, v, auth.Release)
	if !ok {
		return
	}
	back := Prefix + "/incidents/" + inc.ID
	if r.PostFormValue("confirm") != "release" {
		http.Redirect(w, r, back+"/release", http.StatusSeeOther)
		return
	}
	rel, err := c.opts.Engine.Release(v.ctx(r), inc.ID, v.principal.Name)
	if rel != nil && err != nil {
		c.redirect(w, r, v, back, "Released, but some steps must be put back by hand: "+err.Error(), "warn")
		return
	}
	if c.changeFailed(w, r, v, inc.ID, err) {
		return
	}
	c.redirect(w, r, v, back, "Incident "+inc.ID+" is released: its containment has been undone.", "ok")
}

// isolateRequest is the self-service form, as typed.
type isolateRequest struct {
	Action, Account, Region, Instance, Reason, Ticket string
}

// actionChoice is an action the isolation form offers.
type actionChoice struct {
	Name, Summary string
	Destructive   bool
}

// instanceActions are the catalogue's actions on an instance, isolation first.
func (c *Console) instanceActions() []actionChoice {
	var out []actionChoice
	for _, name := range c.opts.Catalogue.Names() {
		spec, ok := c.opts.Catalogue.Lookup(name)
		if !ok || !spec.Accepts(event.KindInstance) {
			continue
		}
		out = append(out, actionChoice{Name: name, Summary: spec.Summary, Destructive: spec.Destructive})
	}
	slices.SortStableFunc(out, func(a, b actionChoice) int {
		return cmp.Or(-cmp.Compare(boolInt(a.Name == "ec2.isolate"), boolInt(b.Name == "ec2.isolate")), strings.Compare(a.Name, b.Name))
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *Console) renderIsolate(w http.ResponseWriter, r *http.Request, v *call, status int, req isolateRequest, problems map[string]string) {
	c.render(w, r, v, status, "isolate", "Isolate an instance", map[string]any{
		"Req": req, "Problems": problems, "Actions": c.instanceActions(), "Accounts": v.principal.Accounts})
}

// isolateForm is the self-service form: one action on one instance, with a reason.
func (c *Console) isolateForm(w http.ResponseWriter, r *http.Request, v *call) {
	req := isolateRequest{Action: "ec2.isolate", Region: "us-east-1"}
	if len(v.principal.Accounts) == 1 {
		req.Account = v.principal.Accounts[0]
	}
	c.renderIsolate(w, r, v, http.StatusOK, req, nil)
}

// isolate asks the engine for the action, as POST /v1/actions does, and shows the
// incident it opened (or the one already handling the same request).
func (c *Console) isolate(w http.ResponseWriter, r *http.Request, v *call) {
	f := r.PostForm
	req := isolateRequest{Action: strings.TrimSpace(f.Get("action")), Account: strings.TrimSpace(f.Get("account")),
		Region: strings.TrimSpace(f.Get("region")), Instance: strings.TrimSpace(f.Get("instance")),
		Reason: strings.TrimSpace(f.Get("reason")), Ticket: strings.TrimSpace(f.Get("ticket"))}
	problems := map[string]string{}
	spec, known := c.opts.Catalogue.Lookup(req.Action)
	if !known || !spec.Accepts(event.KindInstance) {
		problems["action"] = "Choose one of the listed actions."
	}
	if !input.Account(req.Account) {
		problems["account"] = "Enter the 12-digit AWS account id, such as 111122223333."
	}
	if !regionPattern.MatchString(req.Region) {
		problems["region"] = "Enter an AWS region name, such as us-east-1."
	}
	switch {
	case req.Instance == "":
		problems["instance"] = "Enter the instance id, such as i-0abc123."
	case len(req.Instance) > maxID || !input.Printable(req.Instance) || strings.ContainsAny(req.Instance, " \t"):
		problems["instance"] = fmt.Sprintf("An instance id is at most %d characters without spaces.", maxID)
	}
	switch {
	case req.Reason == "":
		problems["reason"] = "Say why, for the audit and the instance's owners."
	case len(req.Reason) > maxReason || !input.Printable(req.Reason):
		problems["reason"] = fmt.Sprintf("At most %d characters, on one line.", maxReason)
	}
	if len(req.Ticket) > maxTicket || !input.Printable(req.Ticket) {
		problems["ticket"] = fmt.Sprintf("At most %d characters.", maxTicket)
	}
	if len(problems) > 0 {
		c.renderIsolate(w, r, v, http.StatusUnprocessableEntity, req, problems)
		return
	}
	target := action.Target{Kind: event.KindInstance, ID: req.Instance, Account: req.Account, Region: req.Region}
	// Scope comes before the inventory, so that nobody learns what exists in an account
	// they may not act in.
	if !auth.Allowed(v.principal, auth.RequestAction, req.Account) {
		c.refuse(w, r, v, target.String(), fmt.Sprintf("%s may not act in account %s. Your token covers %s.", v.principal.Name, req.Account, strings.Join(v.principal.Accounts, ", ")))
		return
	}
	if inv := c.opts.Inventory; inv != nil {
		if _, ok := inv.Account(req.Account); !ok {
			problems["account"] = "There is no such account in the organisation."
		} else if tags, ok := inv.ResourceTags(req.Account, req.Region, event.KindInstance, req.Instance); !ok {
			problems["instance"] = fmt.Sprintf("There is no instance %s in account %s, region %s.", req.Instance, req.Account, req.Region)
		} else {
			target.Tags = tags
		}
		if len(problems) > 0 {
			c.renderIsolate(w, r, v, http.StatusUnprocessableEntity, req, problems)
			return
		}
	}
	inc, existing, err := c.opts.Engine.RequestAction(v.ctx(r), req.Action, target, req.Reason, req.Ticket)
	switch {
	case errors.Is(err, engine.ErrInvalidRequest):
		problems["action"] = err.Error()
		c.renderIsolate(w, r, v, http.StatusUnprocessableEntity, req, problems)
		return
	case errors.Is(err, engine.ErrExcepted):
		// An approved deviation covers the instance: the form was right, the moment is not.
		problems["instance"] = err.Error()
		c.renderIsolate(w, r, v, http.StatusConflict, req, problems)
		return
	case err != nil:
		c.log.Error("console: request an action", "request_id", v.requestID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The request could not be recorded, and nothing was done. Go back and submit it again.", Prefix+"/isolate")
		return
	}
	msg := fmt.Sprintf("Incident %s opened: %s on %s.", inc.ID, req.Action, req.Instance)
	if existing {
		msg = fmt.Sprintf("The same request is already being handled by incident %s; nothing new was started.", inc.ID)
	}
	if known && spec.Destructive {
		msg += " " + req.Action + " is destructive, so it waits for another person's approval."
	}
	c.redirect(w, r, v, Prefix+"/incidents/"+inc.ID, msg, "ok")
}

// audit verifies the audit chain and shows its summary. The chain covers every account,
// and its size says how busy they are, so only a principal who sees every account may
// check it here.
func (c *Console) audit(w http.ResponseWriter, r *http.Request, v *call) {
	if len(v.principal.Accounts) > 0 {
		c.refuse(w, r, v, "", "The audit chain covers every account, and your token is scoped to some. Ask someone with an unscoped token, or run firebreak audit verify.")
		return
	}
	sum, err := c.opts.Store.VerifyAudit(r.Context())
	var chain *store.ChainError
	data := map[string]any{"Summary": sum, "Intact": err == nil}
	switch {
	case err == nil:
	case errors.As(err, &chain):
		data["Broken"] = chain
	default:
		c.log.Error("console: verify the audit chain", "request_id", v.requestID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The audit chain could not be read just now. Reload the page in a moment.", "")
		return
	}
	c.render(w, r, v, http.StatusOK, "audit", "Audit chain", data)
}
