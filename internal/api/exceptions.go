package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/input"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// ExceptionRequest is the body of POST /v1/exceptions: an approved deviation for one
// resource or a whole account, from the playbooks it names, until it expires.
type ExceptionRequest struct {
	// Resource is the resource's id or ARN; Account the account excepted as a whole.
	// Exactly one is given. A caller scoped to some accounts gives a resource by its ARN,
	// so that its account can be checked.
	Resource string `json:"resource,omitempty"`
	Account  string `json:"account,omitempty"`
	// Playbooks are the names of the playbooks it applies to; ["*"] is every playbook.
	Playbooks []string `json:"playbooks"`
	Reason    string   `json:"reason"`
	// Expires is when it ends: an RFC 3339 time, in the future and at most 90 days ahead.
	Expires string `json:"expires"`
	// ApprovedBy names who approved it; the caller when empty.
	ApprovedBy string `json:"approved_by,omitempty"`
}

// RevokeRequest is the body of POST /v1/exceptions/{id}/revoke.
type RevokeRequest struct {
	Reason string `json:"reason"`
}

// Exception is an exception as the API answers it: as stored, with its state (active,
// expired or revoked) at the time of the answer.
type Exception struct {
	store.Exception
	State string `json:"state"`
}

// ExceptionList is the body of GET /v1/exceptions, newest first.
type ExceptionList struct {
	Exceptions []Exception `json:"exceptions"`
}

var (
	exceptionFields = []string{"resource", "account", "playbooks", "reason", "expires", "approved_by"}
	revokeFields    = []string{"reason"}
)

// The states GET /v1/exceptions lists.
const (
	listActive = "active"
	listAll    = "all"
)

// DecodeExceptionRequest reads a POST /v1/exceptions body strictly, as DecodeActionRequest
// does an action request: one JSON object, only the fields named, each of its JSON type.
// It checks shape, not values; each fault is named by its field.
func DecodeExceptionRequest(body []byte) (ExceptionRequest, []InvalidParam) {
	var req ExceptionRequest
	m, bad := object(body, "body", exceptionFields)
	if m == nil {
		return req, bad
	}
	str(m, "resource", "resource", &req.Resource, &bad)
	str(m, "account", "account", &req.Account, &bad)
	strList(m, "playbooks", "playbooks", &req.Playbooks, &bad)
	str(m, "reason", "reason", &req.Reason, &bad)
	str(m, "expires", "expires", &req.Expires, &bad)
	str(m, "approved_by", "approved_by", &req.ApprovedBy, &bad)
	return req, bad
}

// DecodeRevokeRequest reads a POST /v1/exceptions/{id}/revoke body strictly.
func DecodeRevokeRequest(body []byte) (RevokeRequest, []InvalidParam) {
	var req RevokeRequest
	m, bad := object(body, "body", revokeFields)
	if m != nil {
		str(m, "reason", "reason", &req.Reason, &bad)
	}
	return req, bad
}

// strList decodes member key of m into dst when it is a JSON array of strings; null counts
// as absent.
func strList(m map[string]json.RawMessage, key, path string, dst *[]string, bad *[]InvalidParam) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return
	}
	raw = bytes.TrimSpace(raw)
	var list []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil || slices.Contains(list, "") {
		*bad = append(*bad, InvalidParam{path, "must be a list of names (strings)"})
		return
	}
	*dst = list
}

// exceptionValues turns a decoded request into the engine's, checking its values as the
// engine will (the playbooks loaded now, the clock); bad names each field at fault.
func (h *Handler) exceptionValues(req ExceptionRequest) (xr engine.ExceptionRequest, bad []InvalidParam) {
	xr = engine.ExceptionRequest{Resource: req.Resource, Account: req.Account, Playbooks: req.Playbooks,
		Reason: req.Reason, ApprovedBy: req.ApprovedBy}
	var badTime *InvalidParam
	if req.Expires != "" {
		t, err := time.Parse(time.RFC3339, req.Expires)
		if err != nil {
			badTime = &InvalidParam{"expires", fmt.Sprintf("%q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", input.Clip(req.Expires))}
		}
		xr.Expires = t
	}
	for _, p := range h.opts.Engine.CheckException(xr) {
		if badTime != nil && p.Field == "expires" {
			continue // said better below: the time could not be read at all
		}
		bad = append(bad, InvalidParam{p.Field, p.Reason})
	}
	if badTime != nil {
		bad = append(bad, *badTime)
	}
	return xr, bad
}

// notAllowed says why p may not touch an exception concerning account.
func notAllowed(p auth.Principal, account string) string {
	if account == "" {
		return fmt.Sprintf("%s is scoped to some accounts, and the exception names no account: give the resource as an ARN, "+
			"whose account is in your scope, or ask an administrator whose token covers every account", p.Name)
	}
	return fmt.Sprintf("%s may not see or manage exceptions in account %s", p.Name, account)
}

func (h *Handler) exceptionView(x *store.Exception) Exception {
	return Exception{Exception: *x, State: x.State(h.opts.Now())}
}

// createException serves POST /v1/exceptions: shape (400), values (422), the caller's
// scope (403), then the exception is stored and audited (201).
func (h *Handler) createException(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := h.readBody(w, r, c)
	if !ok {
		return
	}
	req, bad := DecodeExceptionRequest(body)
	if len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	xr, bad := h.exceptionValues(req)
	if len(bad) > 0 {
		h.invalid(w, c, http.StatusUnprocessableEntity, bad)
		return
	}
	if account := xr.InAccount(); !auth.AllowedReaching(c.principal, auth.Administer, account) {
		h.refuse(w, r, c, xr.Subject(), notAllowed(c.principal, account))
		return
	}
	x, err := h.opts.Engine.CreateException(c.ctx(r), xr)
	var inv *engine.InvalidExceptionError
	switch {
	case errors.As(err, &inv):
		// Valid a moment ago: the playbooks were reloaded, or the expiry passed, meanwhile.
		h.invalid(w, c, http.StatusUnprocessableEntity, fieldParams(inv))
		return
	case err != nil:
		h.log.Error("create an exception", "request_id", c.requestID, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the exception could not be recorded, and nothing was changed; send it again", nil)
		return
	}
	url := "/v1/exceptions/" + x.ID
	w.Header().Set("Location", url)
	writeJSON(w, http.StatusCreated, h.exceptionView(x))
}

func fieldParams(inv *engine.InvalidExceptionError) []InvalidParam {
	out := make([]InvalidParam, len(inv.Problems))
	for i, p := range inv.Problems {
		out[i] = InvalidParam{p.Field, p.Reason}
	}
	return out
}

// listExceptions serves GET /v1/exceptions?state=active|all&account=, newest first: those
// in force (the default), or every one, expired and revoked included. A caller scoped to
// some accounts is shown only those that concern them; asking for another account answers
// an empty list, as GET /v1/incidents does.
func (h *Handler) listExceptions(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var bad []InvalidParam
	for k := range q {
		if k != "state" && k != "account" {
			bad = append(bad, InvalidParam{k, "unknown query parameter; use state or account"})
		}
	}
	state, account := q.Get("state"), q.Get("account")
	if state == "" {
		state = listActive
	}
	if state != listActive && state != listAll {
		bad = append(bad, InvalidParam{"state", "must be active (in force now) or all (expired and revoked too)"})
	}
	if account != "" && !input.Account(account) {
		bad = append(bad, InvalidParam{"account", "must be a 12-digit AWS account id"})
	}
	if len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	out := ExceptionList{Exceptions: []Exception{}}
	if account != "" && !c.principal.InScope(account) {
		writeJSON(w, http.StatusOK, out)
		return
	}
	f := store.ExceptionFilter{Account: account}
	if state == listActive {
		f.Unrevoked, f.ExpiresAfter = true, h.opts.Now()
	}
	list, err := h.opts.Engine.ListExceptions(r.Context(), f)
	if err != nil {
		h.log.Error("list exceptions", "request_id", c.requestID, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the exceptions could not be read; try again shortly", nil)
		return
	}
	for _, x := range list {
		if auth.AllowedReaching(c.principal, auth.Read, x.InAccount()) {
			out.Exceptions = append(out.Exceptions, h.exceptionView(x))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// exception loads the exception the path names and checks that the caller may do the
// route's permission to it; ok is false when an answer has been written.
func (h *Handler) exception(w http.ResponseWriter, r *http.Request, c *call) (*store.Exception, bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > 64 || !plain(id) {
		h.invalid(w, c, http.StatusBadRequest, []InvalidParam{{"id", "is not an exception id (exc-...)"}})
		return nil, false
	}
	x, err := h.opts.Engine.Exception(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.problem(w, c, http.StatusNotFound, "no exception "+id+"; GET /v1/exceptions?state=all lists them", nil)
		return nil, false
	case err != nil:
		h.log.Error("read exception", "request_id", c.requestID, "exception", id, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the exception could not be read; try again shortly", nil)
		return nil, false
	}
	if !auth.AllowedReaching(c.principal, c.route.perm, x.InAccount()) {
		h.refuse(w, r, c, x.ID, notAllowed(c.principal, x.InAccount()))
		return nil, false
	}
	return x, true
}

// getException serves GET /v1/exceptions/{id}, in force or not.
func (h *Handler) getException(w http.ResponseWriter, r *http.Request, c *call) {
	if x, ok := h.exception(w, r, c); ok {
		writeJSON(w, http.StatusOK, h.exceptionView(x))
	}
}

// revokeException serves POST /v1/exceptions/{id}/revoke with {"reason": "..."}: the
// exception ends at once, here and, at their next reload, on the other replicas.
func (h *Handler) revokeException(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := h.readBody(w, r, c)
	if !ok {
		return
	}
	req, bad := DecodeRevokeRequest(body)
	if len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	x, ok := h.exception(w, r, c)
	if !ok {
		return
	}
	rev, err := h.opts.Engine.RevokeException(c.ctx(r), x.ID, req.Reason)
	var inv *engine.InvalidExceptionError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, h.exceptionView(rev))
	case errors.As(err, &inv):
		h.invalid(w, c, http.StatusUnprocessableEntity, fieldParams(inv))
	case errors.Is(err, engine.ErrConflict):
		h.problem(w, c, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, store.ErrNotFound):
		h.problem(w, c, http.StatusNotFound, "no exception "+x.ID, nil)
	default:
		h.log.Error("revoke exception", "request_id", c.requestID, "exception", x.ID, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the revocation could not be recorded; read the exception and try again", nil)
	}
}
