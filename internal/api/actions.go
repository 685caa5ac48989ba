package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/input"
)

// ActionRequest is the body of POST /v1/actions (CONTRACTS §5).
type ActionRequest struct {
	Action string        `json:"action"`
	Target TargetRequest `json:"target"`
	Reason string        `json:"reason"`
	Ticket string        `json:"ticket,omitempty"`
	// OverrideExceptions acts even when an exception covers the target. Only callers who
	// may manage exceptions (administrators) may set it; the audit names the exception.
	OverrideExceptions bool `json:"override_exceptions,omitempty"`
}

// TargetRequest names the resource an action is asked for on.
type TargetRequest struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Kind    string `json:"kind"`
	ID      string `json:"id"`
}

// ActionAccepted is the body of the 202 answer to POST /v1/actions.
type ActionAccepted struct {
	Incident string `json:"incident"`
	URL      string `json:"url"`
	// Existing is true when the same action on the same target was already being handled,
	// and Incident is that incident.
	Existing bool `json:"existing,omitempty"`
}

// Limits on the fields of an ActionRequest: generous for what they hold, small enough
// that nobody stores a document in the audit chain through them.
const (
	maxReason = 1000
	maxTicket = 128
	maxID     = 256
)

var (
	requestFields = []string{"action", "target", "reason", "ticket", "override_exceptions"}
	targetFields  = []string{"account", "region", "kind", "id"}
	// regionPattern is an AWS region name: us-east-1, eu-central-2, us-gov-west-1.
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
)

// inventoried are the kinds an inventory (the simulated organisation's, a live tag lookup)
// is expected to know every resource of. Other kinds (an IP address, an access key) are
// taken on the caller's word, since their absence from an inventory proves nothing.
var inventoried = []event.Kind{event.KindInstance, event.KindSecurityGroup, event.KindTrail,
	event.KindIAMUser, event.KindIAMRole, event.KindS3Bucket, event.KindAccount}

// DecodeActionRequest reads a POST /v1/actions body strictly: one JSON object, only the
// fields the contract names, each of the JSON type it names. It checks shape, not values
// (see validate); each fault is named by its path in the body.
func DecodeActionRequest(body []byte) (ActionRequest, []InvalidParam) {
	var req ActionRequest
	top, bad := object(body, "body", requestFields)
	if top == nil {
		return req, bad
	}
	str(top, "action", "action", &req.Action, &bad)
	str(top, "reason", "reason", &req.Reason, &bad)
	str(top, "ticket", "ticket", &req.Ticket, &bad)
	if raw, ok := top["override_exceptions"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &req.OverrideExceptions) != nil {
			bad = append(bad, InvalidParam{"override_exceptions", "must be true or false"})
		}
	}
	if raw, ok := top["target"]; ok && !isNull(raw) {
		if raw = bytes.TrimSpace(raw); len(raw) == 0 || raw[0] != '{' {
			bad = append(bad, InvalidParam{"target", "must be an object with account, region, kind and id"})
		} else {
			t, tbad := object(raw, "target", targetFields)
			bad = append(bad, tbad...)
			str(t, "account", "target.account", &req.Target.Account, &bad)
			str(t, "region", "target.region", &req.Target.Region, &bad)
			str(t, "kind", "target.kind", &req.Target.Kind, &bad)
			str(t, "id", "target.id", &req.Target.ID, &bad)
		}
	}
	return req, bad
}

// object decodes one JSON object into its members, naming any member not in allowed and
// any that appears twice: decoders differ on which of two copies wins, and a body that a
// proxy and Firebreak would read differently is refused. It returns nil when data is not
// one JSON object.
func object(data []byte, name string, allowed []string) (map[string]json.RawMessage, []InvalidParam) {
	notObject := func(err error) (map[string]json.RawMessage, []InvalidParam) {
		reason := "must be a JSON object"
		if err != nil {
			reason += ": " + jsonReason(err)
		}
		return nil, []InvalidParam{{name, reason}}
	}
	path := func(k string) string {
		if name == "body" {
			return k
		}
		return name + "." + k
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return notObject(err)
	}
	m := map[string]json.RawMessage{}
	var bad []InvalidParam
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return notObject(err)
		}
		key, _ := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return notObject(err)
		}
		switch _, dup := m[key]; {
		case !slices.Contains(allowed, key):
			bad = append(bad, InvalidParam{path(key), "unknown field; the fields are " + strings.Join(allowed, ", ")})
		case dup:
			bad = append(bad, InvalidParam{path(key), "appears more than once"})
		}
		m[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return notObject(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, []InvalidParam{{name, "must be a single JSON object, with nothing after it"}}
	}
	return m, bad
}

// str decodes member key of m into dst when it is a JSON string; null counts as absent.
func str(m map[string]json.RawMessage, key, path string, dst *string, bad *[]InvalidParam) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, dst) != nil {
		*bad = append(*bad, InvalidParam{path, "must be a string"})
	}
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonReason describes a syntax error without echoing the body back.
func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the body is empty or ends early"
	}
	return "it is not valid JSON"
}

// validate checks a decoded request's values against the catalogue: everything that needs
// no inventory, so that it can be answered before the caller's scope is checked.
func validate(req *ActionRequest, cat *action.Catalogue) []InvalidParam {
	var bad []InvalidParam
	add := func(name, reason string) { bad = append(bad, InvalidParam{name, reason}) }
	spec, known := cat.Lookup(req.Action)
	switch {
	case req.Action == "":
		add("action", "required; name an action such as ec2.isolate")
	case !known:
		add("action", fmt.Sprintf("no action is called %q", input.Clip(req.Action)))
	}
	switch k := event.Kind(req.Target.Kind); {
	case req.Target.Kind == "":
		add("target.kind", "required")
	case known && !spec.Accepts(k):
		add("target.kind", fmt.Sprintf("%s does not act on a %s; it acts on %s", spec.Name, input.Clip(req.Target.Kind), kinds(spec.Targets)))
	}
	if !input.Account(req.Target.Account) {
		add("target.account", "must be a 12-digit AWS account id")
	}
	if !regionPattern.MatchString(req.Target.Region) {
		add("target.region", "must be an AWS region name such as us-east-1")
	}
	switch id := req.Target.ID; {
	case id == "":
		add("target.id", "required; the resource's id as its AWS API takes it (i-0abc..., a user name)")
	case len(id) > maxID || !input.Printable(id) || strings.ContainsAny(id, " \t"):
		add("target.id", fmt.Sprintf("must be at most %d printable characters without spaces", maxID))
	}
	switch {
	case strings.TrimSpace(req.Reason) == "":
		add("reason", "required; say why, for the audit and the resource's owners")
	case len(req.Reason) > maxReason || !input.Printable(req.Reason):
		add("reason", fmt.Sprintf("must be at most %d printable characters", maxReason))
	}
	if len(req.Ticket) > maxTicket || !input.Printable(req.Ticket) {
		add("ticket", fmt.Sprintf("must be at most %d printable characters", maxTicket))
	}
	return bad
}

func kinds(ks []event.Kind) string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return strings.Join(out, ", ")
}

// readBody reads at most MaxBodyBytes; ok is false when an answer has been written.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, c *call) ([]byte, bool) {
	tooLarge := func() ([]byte, bool) {
		h.invalid(w, c, http.StatusRequestEntityTooLarge, []InvalidParam{{"body", fmt.Sprintf("must be at most %d bytes", MaxBodyBytes)}})
		return nil, false
	}
	if r.ContentLength > MaxBodyBytes {
		return tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case err != nil:
		h.problem(w, c, http.StatusBadRequest, "the body could not be read to its end; send it again", nil)
		return nil, false
	}
	return body, true
}

// postAction serves POST /v1/actions: shape (400), values (422), the caller's scope (403),
// the resource's existence (422), then the request is handed to the engine (202), which
// refuses a target an exception for every playbook covers (409).
func (h *Handler) postAction(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := h.readBody(w, r, c)
	if !ok {
		return
	}
	req, bad := DecodeActionRequest(body)
	if len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	if bad := validate(&req, h.opts.Catalogue); len(bad) > 0 {
		h.invalid(w, c, http.StatusUnprocessableEntity, bad)
		return
	}
	target := action.Target{Kind: event.Kind(req.Target.Kind), ID: req.Target.ID, Account: req.Target.Account, Region: req.Target.Region}
	// Scope comes before the inventory, so that nobody learns what exists in an account
	// they may not act in.
	if !auth.Allowed(c.principal, auth.RequestAction, target.Account) {
		h.refuse(w, r, c, target.String(), fmt.Sprintf("%s may not act in account %s", c.principal.Name, target.Account))
		return
	}
	if inv := h.opts.Inventory; inv != nil {
		if _, ok := inv.Account(target.Account); !ok {
			h.invalid(w, c, http.StatusUnprocessableEntity, []InvalidParam{{"target.account", "no such account in the organisation"}})
			return
		}
		if slices.Contains(inventoried, target.Kind) {
			tags, ok := inv.ResourceTags(target.Account, target.Region, target.Kind, target.ID)
			if !ok {
				h.invalid(w, c, http.StatusUnprocessableEntity, []InvalidParam{{"target.id",
					fmt.Sprintf("no %s %s in account %s, region %s", target.Kind, input.Clip(target.ID), target.Account, target.Region)}})
				return
			}
			target.Tags = tags
		}
	}
	var opts []engine.RequestOption
	if req.OverrideExceptions {
		if !auth.Allowed(c.principal, auth.Administer, target.Account) {
			h.refuse(w, r, c, target.String(), fmt.Sprintf("%s may not override exceptions; only an administrator may", c.principal.Name))
			return
		}
		opts = append(opts, engine.OverridingExceptions())
	}
	inc, existing, err := h.opts.Engine.RequestAction(c.ctx(r), req.Action, target, req.Reason, req.Ticket, opts...)
	switch {
	case errors.Is(err, engine.ErrInvalidRequest):
		h.problem(w, c, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	case errors.Is(err, engine.ErrExcepted):
		// The request is sound, but an approved deviation covers the target: it conflicts
		// with the exception's state, not with the request's form.
		h.problem(w, c, http.StatusConflict, err.Error(), nil)
		return
	case err != nil:
		h.log.Error("request an action", "request_id", c.requestID, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the request could not be recorded, and nothing was done; send it again", nil)
		return
	}
	url := "/v1/incidents/" + inc.ID
	w.Header().Set("Location", url)
	writeJSON(w, http.StatusAccepted, ActionAccepted{Incident: inc.ID, URL: url, Existing: existing})
}
