// Package console is Firebreak's web console for incident responders: server-rendered
// pages over the same engine, store and authorisation as the /v1 API. A responder signs
// in, watches incidents, reads an incident's timeline, approves or denies steps that wait
// for a person, releases and closes an incident, isolates an instance by hand, reads the
// playbooks with their runbooks, manages exceptions and checks the audit chain. An
// incident labelled with a sensitivity is hidden from those not cleared for it, as in the
// API.
//
// Every page is built on the server with html/template; the only script is the console's
// own, served from this package (no inline script, no third party), so that the
// Content-Security-Policy can be default-src 'self'. Sessions live on the server; the
// browser holds only a random id in an HttpOnly, SameSite=Strict cookie, and every form
// carries the session's CSRF token, checked on every POST.
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// Prefix is where the console is mounted: mux.Handle(Prefix+"/", console).
const Prefix = "/console"

// Authenticator turns a request's credentials into a principal; *auth.Authenticator is
// one. The console hands it the session's API token as a bearer token.
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Principal, error)
}

// Options configure New. Engine, Store, Auth and Catalogue are required.
type Options struct {
	Engine    *engine.Engine
	Store     *store.Store
	Auth      Authenticator
	Catalogue *action.Catalogue
	// Inventory, when set, is asked whether an instance named in the isolation form
	// exists; nil takes the responder's word for it, as the API does.
	Inventory decide.Inventory
	// OIDC, when set, adds sign-in through an OIDC identity provider beside the API-token
	// form. Nil: API tokens only.
	OIDC *OIDCLogin
	// Playbooks returns the playbooks loaded now, asked on every page so that a reload
	// shows at once, as the API's option of the same name. Nil, or a nil set: the
	// playbook pages say that none are loaded.
	Playbooks func() *playbook.Set
	// Logger receives failures the responder is not shown the details of. Nil: none.
	Logger *slog.Logger
	// Throttle, when set, refuses sign-in from an address that has presented too many
	// bad tokens, until its allowance refills; the API's is the same one. Nil: none.
	Throttle *auth.Throttle
	// Now is the clock of sessions and audit records; time.Now when nil.
	Now func() time.Time
}

// MaxFormBytes is the largest form read; the largest form is the isolation request.
const MaxFormBytes = 64 << 10

// ContentSecurityPolicy is sent with every answer: nothing but the console's own files,
// no framing, and forms that post only back to the console.
const ContentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the web console. It is safe for concurrent use.
type Console struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	pages    map[string]*template.Template
	sessions *sessions
	static   http.Handler
}

// route is one page or form target; the router is built from the table, and the tests
// walk it, so that no route escapes the session, CSRF and permission checks.
type route struct {
	method, pattern string
	// perm is what the principal's role must allow; "" marks the routes served before
	// signing in (the login form). The handler then checks the account of what it touches.
	perm auth.Permission
	// changes says the route changes something, so that a refusal is audited.
	changes bool
	serve   func(c *Console, w http.ResponseWriter, r *http.Request, v *call)
}

func routeTable() []route {
	return []route{
		{http.MethodGet, "/login", "", false, (*Console).loginForm},
		{http.MethodPost, "/login", "", false, (*Console).login},
		{http.MethodGet, OIDCLoginPath, "", false, (*Console).oidcStart},
		{http.MethodGet, OIDCCallbackPath, "", false, (*Console).oidcCallback},
		{http.MethodPost, "/logout", auth.Read, false, (*Console).logout},
		{http.MethodGet, "/{$}", auth.Read, false, (*Console).home},
		{http.MethodGet, "/incidents", auth.Read, false, (*Console).incidents},
		{http.MethodGet, "/incidents/rows", auth.Read, false, (*Console).incidentRows},
		{http.MethodGet, "/incidents/{id}", auth.Read, false, (*Console).incident},
		{http.MethodGet, "/approvals", auth.Approve, false, (*Console).approvals},
		{http.MethodGet, "/approvals/rows", auth.Approve, false, (*Console).approvalRows},
		{http.MethodPost, "/incidents/{id}/steps/{n}/decide", auth.Approve, true, (*Console).decide},
		{http.MethodGet, "/incidents/{id}/release", auth.Release, false, (*Console).releaseForm},
		{http.MethodPost, "/incidents/{id}/release", auth.Release, true, (*Console).release},
		{http.MethodGet, "/incidents/{id}/close", auth.Release, false, (*Console).closeForm},
		{http.MethodPost, "/incidents/{id}/close", auth.Release, true, (*Console).closeIncident},
		{http.MethodGet, "/playbooks", auth.Read, false, (*Console).playbooks},
		{http.MethodGet, "/playbooks/{name}", auth.Read, false, (*Console).playbook},
		{http.MethodGet, "/isolate", auth.RequestAction, false, (*Console).isolateForm},
		{http.MethodPost, "/isolate", auth.RequestAction, true, (*Console).isolate},
		{http.MethodGet, "/audit", auth.Read, false, (*Console).audit},
		{http.MethodGet, "/exceptions", auth.Read, false, (*Console).exceptions},
		{http.MethodGet, "/exceptions/new", auth.Administer, false, (*Console).exceptionForm},
		{http.MethodPost, "/exceptions", auth.Administer, true, (*Console).createException},
		{http.MethodGet, "/exceptions/{id}/revoke", auth.Administer, false, (*Console).revokeForm},
		{http.MethodPost, "/exceptions/{id}/revoke", auth.Administer, true, (*Console).revokeException},
	}
}

var pageNames = []string{"login", "incidents", "incident", "approvals", "release", "isolate", "audit", "error",
	"close", "playbooks", "playbook", "exceptions", "exception-new", "exception-revoke"}

// New builds the console.
func New(opts Options) (*Console, error) {
	if opts.Engine == nil || opts.Store == nil || opts.Auth == nil || opts.Catalogue == nil {
		return nil, errors.New("console: Engine, Store, Auth and Catalogue are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Console{opts: opts, log: opts.Logger, mux: http.NewServeMux(), pages: map[string]*template.Template{},
		sessions: newSessions(opts.Store, opts.Now)}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: page %s: %w", name, err)
		}
		c.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	c.static = http.StripPrefix(Prefix+"/static/", http.FileServerFS(static))
	for _, rt := range routeTable() {
		c.mux.Handle(rt.method+" "+Prefix+rt.pattern, c.guard(rt))
	}
	c.mux.Handle("GET "+Prefix+"/static/", c.static)
	return c, nil
}

func (c *Console) now() time.Time { return c.opts.Now() }

// ServeHTTP sets the security headers every answer carries and routes the request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if _, pattern := c.mux.Handler(r); pattern == "" {
		v := &call{requestID: newRequestID(), source: sourceOf(r)}
		c.fail(w, r, v, http.StatusNotFound, "There is no such page.", "")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// call is what a handler knows about the request beyond the request itself.
type call struct {
	principal auth.Principal
	signedIn  bool
	sessionID string
	csrf      string
	// flash says the session holds a message for the next page.
	flash     bool
	requestID string
	source    string
	route     route
}

// ctx names the caller for the engine's audit records, as the API's calls do.
func (v *call) ctx(r *http.Request) context.Context {
	return engine.WithCaller(r.Context(), engine.Caller{Name: v.principal.Name, Source: v.source, RequestID: v.requestID})
}

// guard finds the session, re-checks its credential, applies the route's permission and,
// for a POST, reads the form and checks its CSRF token before the route runs.
func (c *Console) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &call{requestID: newRequestID(), source: sourceOf(r), route: rt}
		w.Header().Set("X-Request-Id", v.requestID)
		// Pages show incidents as they stand; a cached copy would show a stale state.
		w.Header().Set("Cache-Control", "no-store")
		var sess session
		if ck, err := r.Cookie(CookieName); err == nil {
			s, ok, err := c.sessions.get(r.Context(), ck.Value)
			if err != nil {
				c.log.Error("console: read a session", "request_id", v.requestID, "error", err)
				c.fail(w, r, v, http.StatusServiceUnavailable, "Your session could not be read just now. Reload the page in a moment.", "")
				return
			}
			if ok {
				sess, v.sessionID, v.csrf, v.flash = s, ck.Value, s.csrf, s.flash != ""
			}
		}
		if sess.signedIn && sess.credential != "" {
			p, err := c.recheck(r, sess.credential)
			switch {
			case errors.Is(err, auth.ErrUnauthenticated):
				if err := c.sessions.delete(r.Context(), v.sessionID); err != nil {
					c.log.Error("console: end a session", "request_id", v.requestID, "error", err)
				}
				v.sessionID, sess = "", session{}
				c.toLogin(w, r, "token")
				return
			case err != nil:
				c.log.Error("console: re-check a session's token", "request_id", v.requestID, "error", err)
				c.fail(w, r, v, http.StatusServiceUnavailable, "Your sign-in could not be checked just now. Reload the page in a moment.", "")
				return
			}
			sess.principal = p
		}
		v.principal, v.signedIn = sess.principal, sess.signedIn
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
			if err := r.ParseForm(); err != nil {
				c.fail(w, r, v, http.StatusBadRequest, "The form could not be read. Go back, reload the page and submit it again.", "")
				return
			}
			if v.sessionID == "" || !validCSRF(sess, r.PostFormValue("csrf")) {
				if rt.perm != "" && !v.signedIn {
					c.toLogin(w, r, "ended")
					return
				}
				c.fail(w, r, v, http.StatusForbidden, "This form has expired or did not come from this console, so nothing was changed. Reload the page and submit it again.", "")
				return
			}
		}
		if rt.perm == "" {
			rt.serve(c, w, r, v)
			return
		}
		if !v.signedIn {
			c.toLogin(w, r, "")
			return
		}
		if !v.principal.RoleAllows(rt.perm) {
			c.refuse(w, r, v, "", fmt.Sprintf("Your role (%s) may not %s. Ask an administrator for a token with a role that may.", v.principal.Role, rt.perm))
			return
		}
		rt.serve(c, w, r, v)
	})
}

// recheck authenticates the session's API token again, as the API would a call with it.
func (c *Console) recheck(r *http.Request, credential string) (auth.Principal, error) {
	req := r.Clone(r.Context())
	req.Header = http.Header{}
	req.Header.Set("Authorization", "Bearer "+credential)
	return c.opts.Auth.Authenticate(req)
}

// loginNotes are the messages the login form shows, by the code in its msg parameter: a
// code rather than text, so that a link cannot make the console say what its author wants.
var loginNotes = map[string]string{
	"token":     "Your API token is no longer valid (expired or revoked). Sign in with a current one.",
	"ended":     "Your session had ended, so nothing was changed. Sign in and submit the form again.",
	"signedout": "You are signed out.",
}

// toLogin sends the browser to the login form, to come back to the page it asked for;
// msg is a key of loginNotes or empty.
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request, msg string) {
	q := url.Values{}
	// A list's rows are fetched by its page's script, never opened: coming back to them
	// after signing in would show a bare table.
	if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/rows") {
		q.Set("next", r.URL.RequestURI())
	}
	if msg != "" {
		q.Set("msg", msg)
	}
	target := Prefix + "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if r.Header.Get("X-Firebreak-Poll") != "" {
		// The page's refresh script asked: tell it, rather than answer with a login page
		// it would paste into a table.
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// refuse answers 403 with a page saying why and, for a route that would have changed
// something, records the refusal in the audit chain, as the API does.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, v *call, subject, detail string) {
	if v.route.changes {
		if subject == "" {
			subject = r.URL.Path
		}
		data, _ := json.Marshal(map[string]any{"method": r.Method, "path": r.URL.Path, "permission": v.route.perm,
			"role": v.principal.Role, "accounts": v.principal.Accounts, "reason": detail, "via": "console"})
		err := c.opts.Store.Write(r.Context(), func(tx *store.Tx) error {
			_, err := c.opts.Store.Audit(r.Context(), tx, store.AuditRecord{At: c.now(), Kind: "access.denied",
				Actor: v.principal.Name, Source: v.source, RequestID: v.requestID, Subject: subject, Data: data})
			return err
		})
		if err != nil {
			// The refusal stands either way; only its record is missing.
			c.log.Error("console: audit a refusal", "request_id", v.requestID, "error", err)
		}
	}
	c.fail(w, r, v, http.StatusForbidden, detail, "")
}

// fail renders the error page: what happened and where to go from here, never a dead end.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *call, status int, msg, back string) {
	if back == "" {
		back = Prefix + "/incidents"
	}
	c.render(w, r, v, status, "error", "Something needs attention", map[string]any{
		"Status": status, "StatusText": http.StatusText(status), "Message": msg, "Back": back, "RequestID": v.requestID})
}

// page is what the layout shows around every page's content.
type page struct {
	Title     string
	Nav       string
	Principal auth.Principal
	SignedIn  bool
	CSRF      string
	Flash     string
	FlashKind string
	RequestID string
	Prefix    string
	CanAct    bool
	CanApprov bool
	Data      any
}

// render writes a page; it is buffered so that a template failure becomes an error page
// rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, v *call, status int, name, title string, data any) {
	p := page{Title: title, Nav: name, Principal: v.principal, SignedIn: v.signedIn, CSRF: v.csrf,
		RequestID: v.requestID, Prefix: Prefix, Data: data,
		CanAct: v.principal.RoleAllows(auth.RequestAction), CanApprov: v.principal.RoleAllows(auth.Approve)}
	if v.flash && name != "error" {
		var err error
		if p.Flash, p.FlashKind, err = c.sessions.takeFlash(r.Context(), v.sessionID); err != nil {
			c.log.Warn("console: take a session's message", "request_id", v.requestID, "error", err)
		}
		v.flash = false
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: render", "page", name, "request_id", v.requestID, "error", err)
		http.Error(w, "The page could not be shown (request "+v.requestID+"). Reload it; if it fails again, use the CLI.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// redirect answers a form with a redirect to target and a message for the page there
// (post/redirect/get, so that a reload does not submit the form again).
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, v *call, target, msg, kind string) {
	if msg != "" && v.sessionID != "" {
		// The action has happened by now; a message lost is logged, not a failure.
		if err := c.sessions.setFlash(r.Context(), v.sessionID, msg, kind); err != nil {
			c.log.Warn("console: keep a message for the next page", "request_id", v.requestID, "error", err)
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sourceOf is the client's address; X-Forwarded-For is not trusted, as in the API.
func sourceOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

var stateClass = map[string]string{
	store.StateOpen: "info", store.StateAwaitingApproval: "warn", store.StateContaining: "info",
	store.StateContained: "ok", store.StateFailed: "bad", store.StateReleasing: "info",
	store.StateReleased: "muted", store.StateClosed: "muted",
	"done": "ok", "already-done": "ok", "skipped": "muted", "not-run": "muted",
	store.StepPending: "info", store.StepRunning: "info",
}

var funcs = template.FuncMap{
	"badge": func(state string) string {
		if c, ok := stateClass[state]; ok {
			return c
		}
		return "muted"
	},
	"human": func(s string) string { return strings.NewReplacer("_", " ", "-", " ").Replace(s) },
	// modeBadge marks how far a playbook acts on its own: enforce boldly, approve as
	// waiting for people, dry-run as changing nothing.
	"modeBadge": func(m playbook.Mode) string {
		switch m {
		case playbook.ModeDryRun:
			return "muted"
		case playbook.ModeApprove:
			return "warn"
		}
		return "info"
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// dict passes several values to a shared template (the approve/deny form).
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}
