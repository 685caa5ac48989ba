// Package api is Firebreak's /v1 REST API for responders (CONTRACTS §5): asking for an
// action on a resource (the self-service call), reading incidents, approving or denying a
// step that waits for a person, releasing and closing an incident, and managing the
// exceptions (approved deviations) the playbooks respect.
//
// Every route is declared once, in the table the router is built from, with the
// permission it needs; every call is authenticated (Authorization: Bearer TOKEN) before
// anything else, and every call that changes something, or is refused, is recorded in the
// audit chain with the caller's name, address and request id. A caller scoped to some
// accounts neither sees nor acts on incidents in others, and a caller not cleared for an
// incident's sensitivity label (auth.Principal.Cleared) is answered as if it did not exist.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// Authenticator turns a request's credentials into a principal; *auth.Authenticator is
// one. Errors wrapping auth.ErrUnauthenticated are answered 401, others 503.
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Principal, error)
}

// RateLimit bounds how fast one principal may call the API: Burst calls at once, refilled
// at PerSecond. A zero PerSecond is no limit.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Options configure New. Engine, Store, Auth and Catalogue are required.
type Options struct {
	Engine    *engine.Engine
	Store     *store.Store
	Auth      Authenticator
	Catalogue *action.Catalogue
	// Inventory, when set, is asked whether a requested target exists; nil takes the
	// caller's word for it.
	Inventory decide.Inventory
	// Playbooks returns the playbooks loaded now; it is asked on every call, so that a
	// reload shows at once. Nil, or a nil set, answers the playbook routes 503.
	Playbooks func() *playbook.Set
	// Decider returns the engine that decides events against the playbooks loaded now, for
	// POST /v1/replay. Nil, or a nil engine, answers replay 503.
	Decider func() *decide.Engine
	// Logger receives failures the caller is not told the details of. Nil: none.
	Logger    *slog.Logger
	RateLimit RateLimit
	// Throttle, when set, refuses with 429 the requests of an address that has presented
	// too many bad credentials, until its allowance refills. Nil: no throttling.
	Throttle *auth.Throttle
	// Now is the clock of audit records; time.Now when nil.
	Now func() time.Time
}

// MaxBodyBytes is the largest request body read; a request for an action is far smaller.
const MaxBodyBytes = 64 << 10

// Handler serves the /v1 API. It is safe for concurrent use.
type Handler struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []route
	limiter *limiter
}

// route is one endpoint: the router is built from the table of them, and the tests walk
// the same table, so that no route escapes the authorisation checks.
type route struct {
	method, pattern string
	// perm is what the caller's role must allow before the handler runs; the handler
	// then checks the account of what it touches.
	perm auth.Permission
	// changes says the route changes something, so that a refusal is audited.
	changes bool
	serve   func(h *Handler, w http.ResponseWriter, r *http.Request, c *call)
}

func routeTable() []route {
	return []route{
		{http.MethodPost, "/v1/actions", auth.RequestAction, true, (*Handler).postAction},
		{http.MethodGet, "/v1/incidents", auth.Read, false, (*Handler).listIncidents},
		{http.MethodGet, "/v1/incidents/{id}", auth.Read, false, (*Handler).getIncident},
		{http.MethodPost, "/v1/incidents/{id}/steps/{n}/approve", auth.Approve, true, (*Handler).approveStep},
		{http.MethodPost, "/v1/incidents/{id}/steps/{n}/deny", auth.Approve, true, (*Handler).denyStep},
		{http.MethodPost, "/v1/incidents/{id}/release", auth.Release, true, (*Handler).release},
		{http.MethodPost, "/v1/incidents/{id}/close", auth.Release, true, (*Handler).closeIncident},
		{http.MethodGet, "/v1/playbooks", auth.Read, false, (*Handler).listPlaybooks},
		{http.MethodGet, "/v1/playbooks/{name}", auth.Read, false, (*Handler).getPlaybook},
		{http.MethodGet, "/v1/playbooks/{name}/runbook", auth.Read, false, (*Handler).getRunbook},
		{http.MethodPost, "/v1/replay", auth.Read, false, (*Handler).replay},
		{http.MethodGet, "/v1/audit", auth.Administer, false, (*Handler).listAudit},
		{http.MethodGet, "/v1/audit/verify", auth.Administer, false, (*Handler).verifyAudit},
		{http.MethodGet, "/v1/incidents/{id}/evidence", auth.Read, false, (*Handler).getEvidence},
		{http.MethodGet, "/v1/exceptions", auth.Read, false, (*Handler).listExceptions},
		{http.MethodPost, "/v1/exceptions", auth.Administer, true, (*Handler).createException},
		{http.MethodGet, "/v1/exceptions/{id}", auth.Read, false, (*Handler).getException},
		{http.MethodPost, "/v1/exceptions/{id}/revoke", auth.Administer, true, (*Handler).revokeException},
	}
}

// New builds the handler.
func New(opts Options) (*Handler, error) {
	if opts.Engine == nil || opts.Store == nil || opts.Auth == nil || opts.Catalogue == nil {
		return nil, errors.New("api: Engine, Store, Auth and Catalogue are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{opts: opts, log: opts.Logger, mux: http.NewServeMux(), routes: routeTable()}
	if opts.RateLimit.PerSecond > 0 {
		h.limiter = newLimiter(opts.RateLimit, opts.Now)
	}
	for _, rt := range h.routes {
		h.mux.Handle(rt.method+" "+rt.pattern, h.guard(rt))
	}
	// The OpenAPI document is outside the table, whose every route is guarded: it is
	// public, so that a client can be generated before it holds a token.
	h.mux.HandleFunc("GET "+OpenAPIPath, serveOpenAPI)
	return h, nil
}

// ServeHTTP routes a request. A path or method no route serves is answered with a problem
// document too, so that clients parse one kind of error body.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern != "" {
		h.mux.ServeHTTP(w, r)
		return
	}
	c := &call{requestID: requestID(r)}
	w.Header().Set("X-Request-Id", c.requestID)
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := h.mux.Handler(other); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.problem(w, c, http.StatusMethodNotAllowed, r.URL.Path+" takes "+strings.Join(allow, " or "), nil)
		return
	}
	h.problem(w, c, http.StatusNotFound, "no route "+r.URL.Path+"; the API serves /v1/actions, /v1/incidents, /v1/exceptions, /v1/playbooks, /v1/replay and /v1/audit", nil)
}

// call is what the handler of a route knows about the request beyond the request itself.
type call struct {
	principal auth.Principal
	requestID string
	source    string
	route     route
}

// ctx returns the request's context naming the caller, so that the engine's audit
// records of the change say who asked for it, from where.
func (c *call) ctx(r *http.Request) context.Context {
	return engine.WithCaller(r.Context(), engine.Caller{Name: c.principal.Name, Source: c.source, RequestID: c.requestID})
}

// guard authenticates the caller, applies the rate limit and the route's permission, and
// then runs the route.
func (h *Handler) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{requestID: requestID(r), source: sourceOf(r), route: rt}
		w.Header().Set("X-Request-Id", c.requestID)
		// An address that has been presenting bad credentials waits before its next ones
		// are even checked.
		if wait := h.opts.Throttle.Wait(c.source); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			h.problem(w, c, http.StatusTooManyRequests, "too many failed authentications from "+c.source+"; check the token, and try again after Retry-After seconds", nil)
			return
		}
		p, err := h.opts.Auth.Authenticate(r)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			if r.Header.Get("Authorization") != "" {
				h.opts.Throttle.Fail(c.source)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
			h.problem(w, c, http.StatusUnauthorized, err.Error(), nil)
			return
		case err != nil:
			h.log.Error("authenticate", "request_id", c.requestID, "error", err)
			h.problem(w, c, http.StatusServiceUnavailable, "the credentials could not be checked; try again shortly", nil)
			return
		}
		c.principal = p
		if h.limiter != nil {
			if wait := h.limiter.take(p.Name); wait > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				h.problem(w, c, http.StatusTooManyRequests, "too many requests from "+p.Name+"; slow down and try again after Retry-After seconds", nil)
				return
			}
		}
		if !p.RoleAllows(rt.perm) {
			h.refuse(w, r, c, "", fmt.Sprintf("role %s may not %s; ask an administrator for a token with a role that may", p.Role, rt.perm))
			return
		}
		rt.serve(h, w, r, c)
	})
}

// refuse answers 403 and, for a route that would have changed something, records the
// refusal in the audit chain: an attempt to act beyond one's rights is itself worth
// knowing about. Nothing else is changed.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, c *call, subject, detail string) {
	if c.route.changes {
		if subject == "" {
			subject = r.URL.Path
		}
		data, _ := json.Marshal(map[string]any{"method": r.Method, "path": r.URL.Path, "permission": c.route.perm,
			"role": c.principal.Role, "accounts": c.principal.Accounts, "reason": detail})
		err := h.opts.Store.Write(r.Context(), func(tx *store.Tx) error {
			_, err := h.opts.Store.Audit(r.Context(), tx, store.AuditRecord{At: h.opts.Now(), Kind: "access.denied",
				Actor: c.principal.Name, Source: c.source, RequestID: c.requestID, Subject: subject, Data: data})
			return err
		})
		if err != nil {
			// The refusal stands either way; only its record is missing.
			h.log.Error("audit a refusal", "request_id", c.requestID, "error", err)
		}
	}
	h.problem(w, c, http.StatusForbidden, detail, nil)
}

// requestID keeps a caller's X-Request-Id when it is short and plain, so that a client can
// follow its request into the audit; otherwise it makes one up.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && plain(id) {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return false
		}
	}
	return true
}

// sourceOf is the client's address. X-Forwarded-For is not trusted: any client can send
// it, and the audit must not record an address the caller chose.
func sourceOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// limiter is a token bucket per principal.
type limiter struct {
	mu      sync.Mutex
	lim     RateLimit
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(lim RateLimit, now func() time.Time) *limiter {
	if lim.Burst <= 0 {
		lim.Burst = 1
	}
	return &limiter{lim: lim, now: now, buckets: map[string]*bucket{}}
}

// take spends one call of name's allowance, or says how long until one is available.
func (l *limiter) take(name string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[name]
	if b == nil {
		b = &bucket{tokens: float64(l.lim.Burst), last: now}
		l.buckets[name] = b
	}
	b.tokens = min(float64(l.lim.Burst), b.tokens+now.Sub(b.last).Seconds()*l.lim.PerSecond)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / l.lim.PerSecond * float64(time.Second))
}
