package console

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/input"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// OIDC browser sign-in: the authorization-code flow with PKCE. The console sends the
// browser to the identity provider with a fresh state, nonce and S256 code challenge;
// the provider sends it back to the callback with a code, which the console exchanges
// (with the verifier) for an ID token, checks (signature, issuer, audience, expiry,
// nonce), maps to a principal through the same grants as OIDC bearer tokens, and signs
// in with.

// Routes of the OIDC sign-in, under Prefix.
const (
	OIDCLoginPath    = "/login/oidc"
	OIDCCallbackPath = "/login/oidc/callback"
)

// oidcCookie carries the id of a sign-in in progress from the start to the callback.
// It is SameSite=Lax, unlike the session cookie: the callback is a navigation from the
// provider's site, on which a Strict cookie is not sent.
const oidcCookie = "firebreak_oidc"

// Limits on sign-ins in progress. A person has this long at the provider (entering a
// password, a second factor) before the callback is refused; and the table of sign-ins
// in progress, which anyone may add to, holds at most so many.
const (
	oidcPendingTTL = 10 * time.Minute
	maxOIDCPending = 10000
)

// defaultOIDCTimeout bounds one request to the provider (discovery, keys, token
// exchange); the default HTTP client has none, and a person waits on the exchange.
const defaultOIDCTimeout = 10 * time.Second

// OIDCLoginOptions configure NewOIDCLogin.
type OIDCLoginOptions struct {
	// Issuer is the provider's issuer URL; its discovery document names the endpoints.
	Issuer string
	// ClientID is the client registered for the console; ID tokens must be issued to it.
	ClientID string
	// ClientSecret authenticates the console at the token endpoint; empty for a public
	// client.
	ClientSecret string
	// RedirectURL is the callback registered with the provider. Empty: built from each
	// request's host, as https://HOST/console/login/oidc/callback (http for a browser on
	// this machine without TLS).
	RedirectURL string
	// GroupsClaim and Grants map a person's groups to a role, as auth.NewOIDC does.
	GroupsClaim string
	Grants      []auth.Grant
	// HTTPClient talks to the provider; nil is a client with a 10s timeout.
	HTTPClient *http.Client
	// Now is the clock ID tokens' expiry is judged by; time.Now when nil.
	Now func() time.Time
}

// OIDCLogin signs people in to the console through an OIDC identity provider; set
// Options.OIDC to one made by NewOIDCLogin. It is safe for concurrent use.
type OIDCLogin struct {
	oauth       oauth2.Config
	redirectURL string
	verifier    *oidc.IDTokenVerifier
	claims      *auth.ClaimMapper
	client      *http.Client
	host        string
	now         func() time.Time
}

// NewOIDCLogin reads the provider's discovery document and returns the sign-in. It fails
// when the options are incomplete or invalid, or the provider cannot be reached, so that
// a console whose sign-in button could never work does not start.
func NewOIDCLogin(ctx context.Context, o OIDCLoginOptions) (*OIDCLogin, error) {
	if o.Issuer == "" || o.ClientID == "" {
		return nil, errors.New("console: OIDC sign-in needs oidc.issuer and oidc.client_id")
	}
	iss, err := url.Parse(o.Issuer)
	if err != nil || iss.Host == "" {
		return nil, fmt.Errorf("console: oidc.issuer %q is not a URL", o.Issuer)
	}
	if o.RedirectURL != "" {
		if u, err := url.Parse(o.RedirectURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("console: oidc.redirect_url %q is not an absolute http(s) URL", o.RedirectURL)
		}
	}
	claims, err := auth.NewClaimMapper(o.GroupsClaim, o.Grants)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultOIDCTimeout}
	}
	ctx = oidc.ClientContext(ctx, client)
	provider, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: discover OIDC issuer %s: %w", o.Issuer, err)
	}
	// The verifier keeps the client for key fetches after this returns; go-oidc uses the
	// context only to carry it.
	v := provider.VerifierContext(context.WithoutCancel(ctx), &oidc.Config{ClientID: o.ClientID, Now: o.Now})
	l := &OIDCLogin{
		oauth: oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: provider.Endpoint(),
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		redirectURL: o.RedirectURL, verifier: v, claims: claims, client: client, host: iss.Host, now: o.Now,
	}
	return l, nil
}

// Provider is the provider's host, which the login page names on its button.
func (l *OIDCLogin) Provider() string { return l.host }

// redirectFor is the callback URL for a sign-in begun by r.
func (l *OIDCLogin) redirectFor(r *http.Request) string {
	if l.redirectURL != "" {
		return l.redirectURL
	}
	scheme := "https"
	if plainLoopback(r) {
		scheme = "http"
	}
	return scheme + "://" + r.Host + Prefix + OIDCCallbackPath
}

// pendingLogin is a sign-in between the start and the callback.
type pendingLogin struct {
	state, nonce, verifier string
	redirect, next         string
	expires                time.Time
}

// pendingData is a sign-in in progress as the database keeps it, sealed like a session's
// credential with a key only the browser's cookie gives.
type pendingData struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Redirect string `json:"redirect"`
	Next     string `json:"next"`
}

// putLogin stores a sign-in in progress and returns its cookie value. It fails with
// store.ErrConsoleFull when maxOIDCPending are in progress.
func (s *sessions) putLogin(ctx context.Context, pl *pendingLogin) (string, error) {
	id := randomString(32)
	plain, err := json.Marshal(pendingData{State: pl.state, Nonce: pl.nonce, Verifier: pl.verifier, Redirect: pl.redirect, Next: pl.next})
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(seal(id, string(plain)))
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.store.CreateConsoleSession(ctx, store.ConsoleSession{Key: key(id), Kind: store.ConsoleLoginKind, Data: data,
		Created: now, Seen: now, Expires: pl.expires}, now.Add(-IdleTTL), maxOIDCPending)
	return id, err
}

// takeLogin returns the sign-in in progress the cookie names and forgets it: each is used
// once, on whichever replica the callback reaches.
func (s *sessions) takeLogin(ctx context.Context, id string) (pendingLogin, bool, error) {
	cs, err := s.store.TakeConsoleSession(ctx, key(id))
	if errors.Is(err, store.ErrNotFound) {
		return pendingLogin{}, false, nil
	}
	if err != nil {
		return pendingLogin{}, false, err
	}
	if cs.Kind != store.ConsoleLoginKind || !s.now().Before(cs.Expires) {
		return pendingLogin{}, false, nil
	}
	var sealed []byte
	var d pendingData
	if err := json.Unmarshal(cs.Data, &sealed); err != nil {
		return pendingLogin{}, false, nil
	}
	plain, err := unseal(id, sealed)
	if err != nil || json.Unmarshal([]byte(plain), &d) != nil {
		return pendingLogin{}, false, nil
	}
	return pendingLogin{state: d.State, nonce: d.Nonce, verifier: d.Verifier, redirect: d.Redirect, next: d.Next, expires: cs.Expires}, true, nil
}

func setOIDCCookie(w http.ResponseWriter, r *http.Request, id string, ttl time.Duration) {
	ck := &http.Cookie{Name: oidcCookie, Value: id, Path: Prefix + OIDCLoginPath, HttpOnly: true,
		Secure: !plainLoopback(r), SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds())}
	if ttl <= 0 {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// oidcLabel is the provider's name for the login page's button; "" without OIDC.
func (c *Console) oidcLabel() string {
	if c.opts.OIDC == nil {
		return ""
	}
	return c.opts.OIDC.Provider()
}

// oidcStart sends the browser to the provider to sign in.
func (c *Console) oidcStart(w http.ResponseWriter, r *http.Request, v *call) {
	l := c.opts.OIDC
	if l == nil {
		c.fail(w, r, v, http.StatusNotFound, "Sign-in through an identity provider is not configured here; sign in with an API token.", Prefix+"/login")
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	if v.signedIn {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	pl := &pendingLogin{state: randomString(32), nonce: randomString(32), verifier: oauth2.GenerateVerifier(),
		redirect: l.redirectFor(r), next: next, expires: c.now().Add(oidcPendingTTL)}
	id, err := c.sessions.putLogin(r.Context(), pl)
	switch {
	case errors.Is(err, store.ErrConsoleFull):
		c.fail(w, r, v, http.StatusServiceUnavailable, "Too many sign-ins are in progress. Try again in a few minutes.", Prefix+"/login")
		return
	case err != nil:
		c.log.Error("console: keep an OIDC sign-in in progress", "request_id", v.requestID, "error", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The sign-in could not be started just now. Try again in a moment.", Prefix+"/login")
		return
	}
	setOIDCCookie(w, r, id, oidcPendingTTL)
	cfg := l.oauth
	cfg.RedirectURL = pl.redirect
	http.Redirect(w, r, cfg.AuthCodeURL(pl.state, oauth2.S256ChallengeOption(pl.verifier), oidc.Nonce(pl.nonce)), http.StatusFound)
}

// oidcCallback finishes a sign-in: it checks the state against the sign-in this browser
// began, exchanges the code, verifies the ID token and its nonce, and signs in.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request, v *call) {
	l := c.opts.OIDC
	if l == nil {
		c.fail(w, r, v, http.StatusNotFound, "Sign-in through an identity provider is not configured here; sign in with an API token.", Prefix+"/login")
		return
	}
	// The sign-in in progress is used once, whatever happens next.
	setOIDCCookie(w, r, "", 0)
	var pl pendingLogin
	ok := false
	if ck, err := r.Cookie(oidcCookie); err == nil {
		if pl, ok, err = c.sessions.takeLogin(r.Context(), ck.Value); err != nil {
			c.log.Error("console: read an OIDC sign-in in progress", "request_id", v.requestID, "error", err)
			c.fail(w, r, v, http.StatusServiceUnavailable, "The sign-in could not be finished just now. Sign in again in a moment.", Prefix+"/login")
			return
		}
	}
	again := func(status int, msg string) {
		c.render(w, r, v, status, "login", "Sign in", map[string]any{"Next": pl.next, "Error": msg, "OIDC": c.oidcLabel()})
	}
	q := r.URL.Query()
	if !ok || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(pl.state)) != 1 {
		pl.next = safeNext("")
		again(http.StatusBadRequest, "This sign-in was not started in this browser, or took longer than "+oidcPendingTTL.String()+
			". Sign in again.")
		return
	}
	if e := q.Get("error"); e != "" {
		// The provider's own words are shown only after the state proved the answer is to
		// this browser's sign-in, and only as text.
		msg := e
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		if len(msg) > 300 || !input.Printable(msg) {
			msg = e
		}
		again(http.StatusUnauthorized, "The identity provider did not sign you in ("+msg+"). Sign in again, or ask an administrator.")
		return
	}
	ctx := oidc.ClientContext(r.Context(), l.client)
	cfg := l.oauth
	cfg.RedirectURL = pl.redirect
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pl.verifier))
	if err != nil {
		c.log.Warn("console: OIDC code exchange", "request_id", v.requestID, "source", v.source, "error", err)
		again(http.StatusBadGateway, "The identity provider did not accept the sign-in's code. Sign in again; if it fails again, use an API token.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		again(http.StatusBadGateway, "The identity provider answered without an ID token. Ask an administrator to check the client's openid scope.")
		return
	}
	p, err := l.principal(ctx, raw, pl.nonce)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		c.log.Warn("console: OIDC ID token refused", "request_id", v.requestID, "source", v.source, "error", err)
		again(http.StatusUnauthorized, "The sign-in was refused: "+trimUnauthenticated(err))
		return
	case err != nil:
		c.log.Error("console: OIDC ID token check", "request_id", v.requestID, "error", err)
		again(http.StatusServiceUnavailable, "The sign-in could not be checked just now. Try again in a moment.")
		return
	case p.Role == "":
		c.log.Info("console: OIDC sign-in with no role", "principal", p.Name, "source", v.source, "request_id", v.requestID)
		again(http.StatusForbidden, "You are "+p.Name+", but none of your groups is granted a role in Firebreak. Ask an administrator to add one of them to oidc.grants.")
		return
	}
	if err := c.SignIn(w, r, p, ""); err != nil {
		c.log.Error("console: sign in", "request_id", v.requestID, "error", err)
		again(http.StatusServiceUnavailable, "You could not be signed in just now. Sign in again in a moment.")
		return
	}
	c.log.Info("console: signed in", "principal", p.Name, "role", p.Role, "via", "oidc", "source", v.source, "request_id", v.requestID)
	// The callback is a navigation from the provider's site, and a browser does not send
	// the new SameSite=Strict session cookie on a redirect that continues it; a page of
	// our own that moves on is a navigation from this site, which does.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = signedInPage.Execute(w, map[string]string{"Next": pl.next, "Prefix": Prefix})
}

// principal verifies an ID token (signature, issuer, audience, expiry) and its nonce,
// and maps its claims to a principal. Errors for a token that is not valid wrap
// auth.ErrUnauthenticated.
func (l *OIDCLogin) principal(ctx context.Context, raw, nonce string) (auth.Principal, error) {
	idt, err := l.verifier.Verify(ctx, raw)
	if err != nil {
		if ctx.Err() != nil {
			return auth.Principal{}, err
		}
		return auth.Principal{}, fmt.Errorf("%w: the ID token is not valid: %v", auth.ErrUnauthenticated, err)
	}
	// The nonce ties the token to this browser's sign-in: a token taken from another
	// sign-in (replayed, or injected with a stolen code) carries another.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return auth.Principal{}, fmt.Errorf("%w: the ID token was issued for another sign-in (nonce mismatch)", auth.ErrUnauthenticated)
	}
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return auth.Principal{}, fmt.Errorf("%w: the ID token's claims are unreadable: %v", auth.ErrUnauthenticated, err)
	}
	return l.claims.Principal(claims)
}

func trimUnauthenticated(err error) string {
	const p = "unauthenticated: "
	s := err.Error()
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// signedInPage moves the browser on after an OIDC sign-in; the meta refresh needs no
// script, which the Content-Security-Policy would refuse inline.
var signedInPage = template.Must(template.New("signed-in").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="0;url={{.Next}}">
<meta name="referrer" content="no-referrer">
<title>Signed in · Firebreak</title>
<link rel="stylesheet" href="{{.Prefix}}/static/console.css">
</head>
<body>
<main id="main"><p>Signed in. <a id="continue" href="{{.Next}}">Continue</a></p></main>
</body>
</html>
`))
