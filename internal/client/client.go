// Package client is a small typed client of Firebreak's /v1 REST API for responders: it
// asks for actions, reads incidents, approves or denies steps, releases and closes
// incidents, manages exceptions, and turns the API's RFC 9457 problem documents into
// *Error values.
//
// The request and answer bodies are the API's own types (package api and store), so that
// the client and the server cannot drift apart on a field name.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-sec/firebreak/internal/api"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// Client calls one Firebreak server with one bearer token. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// DefaultTimeout bounds each call when New is given no *http.Client: every call of the API
// answers at once (actions run after the answer), so a slow one is a server in trouble.
const DefaultTimeout = 30 * time.Second

// maxAnswerBytes is the largest answer read; an incident with its steps and evidence
// references is far smaller.
const maxAnswerBytes = 8 << 20

// New returns a client of the server at addr (http://host:port or https://host:port, with
// an optional path prefix) that authenticates with token. A nil httpClient uses one with
// DefaultTimeout. The address is checked here, so that a typo is reported before any call.
func New(addr, token string, httpClient *http.Client) (*Client, error) {
	u, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: u, token: token, hc: httpClient}, nil
}

// ParseAddr checks a server address: an http or https URL with a host and nothing after
// the path.
func ParseAddr(addr string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(addr))
	switch {
	case !strings.Contains(addr, "://"):
		// Checked first: url.Parse reads host:port as a scheme, or fails on it obscurely.
		return nil, fmt.Errorf("address %q must start with http:// or https://", addr)
	case err != nil:
		return nil, fmt.Errorf("address %q is not a URL: %w", addr, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("address %q must start with http:// or https://", addr)
	case u.Host == "":
		return nil, fmt.Errorf("address %q names no host", addr)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("address %q must be only scheme, host, port and path", addr)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Addr is the server address the client calls.
func (c *Client) Addr() string { return c.base.String() }

// Error is a call the API answered with an error status: its problem document when the
// answer carried one, else the status alone.
type Error struct {
	Status int
	Title  string
	Detail string
	// RequestID is the call's X-Request-Id, by which the audit records it.
	RequestID     string
	InvalidParams []api.InvalidParam
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, e.Title)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// ListOptions filter GET /v1/incidents; zero values do not filter.
type ListOptions struct {
	State, Account, Playbook string
	// Limit is the page size; 0 leaves it to the server.
	Limit int
	// Cursor is a previous page's NextCursor.
	Cursor string
}

// RequestAction asks for an action on a resource (POST /v1/actions). The answer names the
// incident that handles it, which may be one already under way for the same target.
func (c *Client) RequestAction(ctx context.Context, req api.ActionRequest) (*api.ActionAccepted, error) {
	var out api.ActionAccepted
	if err := c.do(ctx, http.MethodPost, "/v1/actions", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Isolate asks for ec2.isolate on an instance.
func (c *Client) Isolate(ctx context.Context, account, region, instance, reason, ticket string) (*api.ActionAccepted, error) {
	return c.RequestAction(ctx, api.ActionRequest{Action: "ec2.isolate", Reason: reason, Ticket: ticket,
		Target: api.TargetRequest{Account: account, Region: region, Kind: "instance", ID: instance}})
}

// ListIncidents reads one page of incidents, newest first (GET /v1/incidents).
func (c *Client) ListIncidents(ctx context.Context, o ListOptions) (*api.IncidentList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"state": o.State, "account": o.Account, "playbook": o.Playbook, "cursor": o.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var out api.IncidentList
	if err := c.do(ctx, http.MethodGet, "/v1/incidents", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetIncident reads one incident with its steps (GET /v1/incidents/{id}).
func (c *Client) GetIncident(ctx context.Context, id string) (*store.Incident, error) {
	var out store.Incident
	if err := c.do(ctx, http.MethodGet, "/v1/incidents/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Approve approves step (its index from 0) of an incident that waits for a person.
func (c *Client) Approve(ctx context.Context, id string, step int, comment string) (*api.IncidentChange, error) {
	return c.answer(ctx, id, step, "approve", comment)
}

// Deny denies step (its index from 0) of an incident that waits for a person.
func (c *Client) Deny(ctx context.Context, id string, step int, comment string) (*api.IncidentChange, error) {
	return c.answer(ctx, id, step, "deny", comment)
}

func (c *Client) answer(ctx context.Context, id string, step int, verb, comment string) (*api.IncidentChange, error) {
	path := fmt.Sprintf("/v1/incidents/%s/steps/%d/%s", url.PathEscape(id), step, verb)
	var out api.IncidentChange
	if err := c.do(ctx, http.MethodPost, path, nil, struct {
		Comment string `json:"comment,omitempty"`
	}{comment}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Release undoes an incident's containment (POST /v1/incidents/{id}/release). A release
// whose undo failed for some steps succeeds with a Warning naming them.
func (c *Client) Release(ctx context.Context, id string) (*api.IncidentChange, error) {
	var out api.IncidentChange
	if err := c.do(ctx, http.MethodPost, "/v1/incidents/"+url.PathEscape(id)+"/release", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Close ends an incident for good (POST /v1/incidents/{id}/close), its containment left
// as it is; comment, when given, is kept in the audit. An incident still moving is
// refused with a 409 *Error saying what to do first.
func (c *Client) Close(ctx context.Context, id, comment string) (*api.IncidentChange, error) {
	var out api.IncidentChange
	if err := c.do(ctx, http.MethodPost, "/v1/incidents/"+url.PathEscape(id)+"/close", nil, struct {
		Comment string `json:"comment,omitempty"`
	}{comment}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExceptionListOptions filter GET /v1/exceptions; zero values leave it to the server
// (exceptions in force, every account in the caller's scope).
type ExceptionListOptions struct {
	// State is "active" or "all" (expired and revoked too).
	State   string
	Account string
}

// ListExceptions reads the exceptions created at run time, newest first (GET /v1/exceptions).
func (c *Client) ListExceptions(ctx context.Context, o ExceptionListOptions) (*api.ExceptionList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"state": o.State, "account": o.Account} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out api.ExceptionList
	if err := c.do(ctx, http.MethodGet, "/v1/exceptions", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateException creates an exception (POST /v1/exceptions); the answer is the exception
// as stored, in force.
func (c *Client) CreateException(ctx context.Context, req api.ExceptionRequest) (*api.Exception, error) {
	var out api.Exception
	if err := c.do(ctx, http.MethodPost, "/v1/exceptions", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetException reads one exception, in force or not (GET /v1/exceptions/{id}).
func (c *Client) GetException(ctx context.Context, id string) (*api.Exception, error) {
	var out api.Exception
	if err := c.do(ctx, http.MethodGet, "/v1/exceptions/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeException ends an exception before it expires (POST /v1/exceptions/{id}/revoke).
func (c *Client) RevokeException(ctx context.Context, id, reason string) (*api.Exception, error) {
	var out api.Exception
	if err := c.do(ctx, http.MethodPost, "/v1/exceptions/"+url.PathEscape(id)+"/revoke", nil, api.RevokeRequest{Reason: reason}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one call and decodes a 2xx answer into out, or returns an *Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	// path is already escaped (ids go through url.PathEscape), so it is joined as text
	// and parsed, which keeps an escaped slash in an id from becoming a path separator.
	u, err := url.Parse(c.base.String() + path)
	if err != nil {
		return err
	}
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json, "+api.ProblemContentType)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return problemOf(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the API's JSON (is %s a Firebreak server?): %w", method, path, c.Addr(), err)
	}
	return nil
}

// problemOf reads an error answer. A body that is not a problem document (a proxy's HTML
// page, say) still yields the status, with a short excerpt of the body as its detail.
func problemOf(resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), RequestID: resp.Header.Get("X-Request-Id")}
	var p api.Problem
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if (mt == api.ProblemContentType || mt == "application/json") && json.Unmarshal(data, &p) == nil {
		if p.Title != "" {
			e.Title = p.Title
		}
		e.Detail, e.InvalidParams = p.Detail, p.InvalidParams
		if p.RequestID != "" {
			e.RequestID = p.RequestID
		}
		return e
	}
	excerpt := strings.TrimSpace(string(data))
	if len(excerpt) > 200 {
		excerpt = excerpt[:200] + "..."
	}
	e.Detail = excerpt
	return e
}

// AsError returns err's *Error, if it is or wraps one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
