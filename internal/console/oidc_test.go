package console

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/firebreak-sec/firebreak/internal/auth"
)

const (
	testClientID     = "firebreak-console"
	testClientSecret = "console-secret"
)

// oidcUser is a person the test issuer knows.
type oidcUser struct {
	email  string
	groups []string
}

var oidcUsers = map[string]oidcUser{
	"ana":   {"ana@example.com", []string{"responders"}},
	"ben":   {"ben@example.com", []string{"approvers", "everyone"}},
	"guest": {"guest@example.com", []string{"everyone"}},
	"cleo":  {"cleo@example.com", []string{"approvers", "insider-threat"}},
}

var oidcGrants = []auth.Grant{
	{Group: "responders", Role: auth.Responder},
	{Group: "approvers", Role: auth.Approver},
	{Group: "insider-threat", Role: auth.Viewer, Clearance: []string{"restricted"}},
}

// testIssuer is an OIDC provider on loopback: discovery, keys, an authorization endpoint
// that signs in the user named by login_hint (or asks for a username in a form), and a
// token endpoint that checks the client's secret, the redirect URI and the PKCE verifier.
type testIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey

	mu    sync.Mutex
	codes map[string]issuedCode
	// wrongNonce makes the tokens carry a nonce other than the one asked for.
	wrongNonce bool
	// exchanges counts the codes exchanged, and refusals those refused.
	exchanges, refusals int
}

type issuedCode struct {
	user, clientID, redirect, challenge, nonce string
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &testIssuer{key: key, codes: map[string]issuedCode{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                iss.srv.URL,
			"jwks_uri":                              iss.srv.URL + "/keys",
			"authorization_endpoint":                iss.srv.URL + "/authorize",
			"token_endpoint":                        iss.srv.URL + "/token",
			"response_types_supported":              []string{"code"},
			"code_challenge_methods_supported":      []string{"S256"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", iss.authorize)
	mux.HandleFunc("POST /authorize", iss.authorize)
	mux.HandleFunc("POST /token", iss.token)
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var issuerForm = template.Must(template.New("authorize").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test issuer</title></head>
<body><h1>Test issuer</h1>
<form method="post" action="/authorize?{{.}}">
<label for="username">Username</label> <input id="username" name="username">
<button type="submit" id="approve">Sign in</button>
</form></body></html>`))

// authorize signs in the user login_hint names, or the one typed into its form, and
// sends the browser back with a code, as a provider does once the person has signed in.
func (iss *testIssuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user := q.Get("login_hint")
	if r.Method == http.MethodPost {
		user = r.PostFormValue("username")
	}
	if user == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = issuerForm.Execute(w, template.URL(r.URL.RawQuery))
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("response_type") != "code" || q.Get("client_id") != testClientID ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" ||
		!strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	if _, known := oidcUsers[user]; !known {
		back.Set("error", "access_denied")
		back.Set("error_description", "unknown user")
	} else {
		code := rand.Text()
		iss.mu.Lock()
		iss.codes[code] = issuedCode{user: user, clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"),
			challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
		iss.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token exchanges a code once, for the client it was issued to, with the redirect URI
// and the PKCE verifier of the authorization request.
func (iss *testIssuer) token(w http.ResponseWriter, r *http.Request) {
	refuse := func(why string) {
		iss.mu.Lock()
		iss.refusals++
		iss.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": why})
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	// oauth2 form-encodes the credentials in basic auth, as RFC 6749 asks.
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if id != testClientID || secret != testClientSecret {
		refuse("client authentication failed")
		return
	}
	iss.mu.Lock()
	c, ok := iss.codes[r.PostFormValue("code")]
	delete(iss.codes, r.PostFormValue("code"))
	iss.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case r.PostFormValue("grant_type") != "authorization_code":
		refuse("unsupported grant type")
		return
	case !ok:
		refuse("unknown or used code")
		return
	case c.clientID != id || c.redirect != r.PostFormValue("redirect_uri"):
		refuse("code issued to another client or redirect URI")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
		refuse("PKCE verifier does not match the challenge")
		return
	}
	u := oidcUsers[c.user]
	nonce := c.nonce
	iss.mu.Lock()
	if iss.wrongNonce {
		nonce = "another-" + nonce
	}
	iss.exchanges++
	iss.mu.Unlock()
	now := time.Now()
	idToken := iss.sign(map[string]any{"iss": iss.srv.URL, "aud": testClientID, "sub": "sub-" + c.user,
		"email": u.email, "email_verified": true, "groups": u.groups, "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	writeJSON(w, http.StatusOK, map[string]any{"access_token": rand.Text(), "token_type": "Bearer",
		"expires_in": 300, "id_token": idToken})
}

func (iss *testIssuer) sign(claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: iss.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	tok, _ := jws.CompactSerialize()
	return tok
}

// newOIDCFixture is newFixture's console with sign-in through a test issuer.
func newOIDCFixture(t *testing.T) (*fixture, *testIssuer) {
	t.Helper()
	f := newFixture(t)
	iss := newTestIssuer(t)
	login, err := NewOIDCLogin(context.Background(), OIDCLoginOptions{Issuer: iss.srv.URL, ClientID: testClientID,
		ClientSecret: testClientSecret, Grants: oidcGrants})
	if err != nil {
		t.Fatal(err)
	}
	opts := f.c.opts
	opts.OIDC = login
	return serveConsole(t, f.eng, f.store, opts), iss
}

// oidcClient is a browser without script: a cookie jar, redirects followed by hand.
type oidcClient struct {
	t  *testing.T
	hc *http.Client
}

func newOIDCClient(t *testing.T) *oidcClient {
	jar, _ := cookiejar.New(nil)
	return &oidcClient{t: t, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *oidcClient) get(u string) answer {
	b.t.Helper()
	res, err := b.hc.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(data)}
}

// authorize starts a sign-in at the console and returns the issuer's authorization URL
// it redirects to.
func (b *oidcClient) authorize(base, next string) *url.URL {
	b.t.Helper()
	a := b.get(base + Prefix + OIDCLoginPath + "?next=" + url.QueryEscape(next))
	if a.code != http.StatusFound {
		b.t.Fatalf("start: %d %s", a.code, a.body)
	}
	u, err := url.Parse(a.header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// approve signs user in at the issuer and returns the callback URL it sends back to.
func (b *oidcClient) approve(authz *url.URL, user string) string {
	b.t.Helper()
	q := authz.Query()
	q.Set("login_hint", user)
	authz.RawQuery = q.Encode()
	a := b.get(authz.String())
	if a.code != http.StatusFound {
		b.t.Fatalf("authorize: %d %s", a.code, a.body)
	}
	return a.header.Get("Location")
}

// TestOIDCLogin signs in through the issuer: the start sends a PKCE S256 challenge,
// state and nonce; the callback signs in with the principal the grants give and moves
// on to the page first asked for.
func TestOIDCLogin(t *testing.T) {
	f, iss := newOIDCFixture(t)
	base := f.srv.URL
	b := newOIDCClient(t)
	host := strings.TrimPrefix(iss.srv.URL, "http://")

	page := b.get(base + Prefix + "/login")
	if !strings.Contains(page.body, `id="sign-in-oidc"`) || !strings.Contains(page.body, "Sign in with "+host) {
		t.Fatalf("login page has no OIDC button:\n%s", page.body)
	}
	authz := b.authorize(base, Prefix+"/approvals")
	q := authz.Query()
	if authz.Host != host || q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" ||
		q.Get("redirect_uri") != base+Prefix+OIDCCallbackPath || q.Get("code_verifier") != "" {
		t.Fatalf("authorization request %s", authz)
	}
	callback := b.approve(authz, "ben")
	a := b.get(callback)
	if a.code != http.StatusOK || !strings.Contains(a.body, `content="0;url=/console/approvals"`) {
		t.Fatalf("callback: %d %s", a.code, a.body)
	}
	a = b.get(base + Prefix + "/approvals")
	if a.code != http.StatusOK || !strings.Contains(a.body, "ben@example.com") || !strings.Contains(a.body, ">approver<") {
		t.Fatalf("approvals after sign-in: %d %s", a.code, a.body)
	}
	// The code was used once; replaying the callback signs nobody in.
	other := newOIDCClient(t)
	if a := other.get(callback); a.code != http.StatusBadRequest || !strings.Contains(a.body, "not started in this browser") {
		t.Errorf("replayed callback in another browser: %d %s", a.code, a.body)
	}
	if iss.exchanges != 1 || iss.refusals != 0 {
		t.Errorf("exchanges %d, refusals %d; want 1, 0", iss.exchanges, iss.refusals)
	}
}

// TestOIDCLoginRefused checks each way a sign-in fails: it ends on the login page saying
// why, signed in as nobody.
func TestOIDCLoginRefused(t *testing.T) {
	f, iss := newOIDCFixture(t)
	base := f.srv.URL
	signedOut := func(t *testing.T, b *oidcClient) {
		t.Helper()
		if a := b.get(base + Prefix + "/incidents"); a.code != http.StatusSeeOther {
			t.Errorf("after a refused sign-in, /incidents answers %d, want a redirect to sign in", a.code)
		}
	}
	t.Run("state", func(t *testing.T) {
		b := newOIDCClient(t)
		cb, _ := url.Parse(b.approve(b.authorize(base, ""), "ana"))
		q := cb.Query()
		q.Set("state", "forged")
		cb.RawQuery = q.Encode()
		if a := b.get(cb.String()); a.code != http.StatusBadRequest || !strings.Contains(a.body, `id="login-error"`) {
			t.Errorf("forged state: %d %s", a.code, a.body)
		}
		signedOut(t, b)
	})
	t.Run("provider error", func(t *testing.T) {
		b := newOIDCClient(t)
		a := b.get(b.approve(b.authorize(base, ""), "mallory"))
		if a.code != http.StatusUnauthorized || !strings.Contains(a.body, "access_denied: unknown user") {
			t.Errorf("provider error: %d %s", a.code, a.body)
		}
		signedOut(t, b)
	})
	t.Run("no role", func(t *testing.T) {
		b := newOIDCClient(t)
		a := b.get(b.approve(b.authorize(base, ""), "guest"))
		if a.code != http.StatusForbidden || !strings.Contains(a.body, "guest@example.com") || !strings.Contains(a.body, "oidc.grants") {
			t.Errorf("no granted group: %d %s", a.code, a.body)
		}
		signedOut(t, b)
	})
	t.Run("nonce", func(t *testing.T) {
		iss.mu.Lock()
		iss.wrongNonce = true
		iss.mu.Unlock()
		defer func() { iss.mu.Lock(); iss.wrongNonce = false; iss.mu.Unlock() }()
		b := newOIDCClient(t)
		a := b.get(b.approve(b.authorize(base, ""), "ana"))
		if a.code != http.StatusUnauthorized || !strings.Contains(a.body, "nonce") {
			t.Errorf("wrong nonce: %d %s", a.code, a.body)
		}
		signedOut(t, b)
	})
	t.Run("code", func(t *testing.T) {
		b := newOIDCClient(t)
		cb, _ := url.Parse(b.approve(b.authorize(base, ""), "ana"))
		q := cb.Query()
		q.Set("code", "stolen")
		cb.RawQuery = q.Encode()
		if a := b.get(cb.String()); a.code != http.StatusBadGateway {
			t.Errorf("unknown code: %d %s", a.code, a.body)
		}
		signedOut(t, b)
	})
}

// TestOIDCLoginNotConfigured checks that a console without OIDC shows no button and
// answers its routes 404.
func TestOIDCLoginNotConfigured(t *testing.T) {
	f := newFixture(t)
	b := newOIDCClient(t)
	if a := b.get(f.srv.URL + Prefix + "/login"); strings.Contains(a.body, "sign-in-oidc") {
		t.Errorf("login page offers OIDC without it configured")
	}
	for _, p := range []string{OIDCLoginPath, OIDCCallbackPath} {
		if a := b.get(f.srv.URL + Prefix + p); a.code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, a.code)
		}
	}
}

// TestNewOIDCLogin checks that incomplete options and an unreachable issuer are refused.
func TestNewOIDCLogin(t *testing.T) {
	iss := newTestIssuer(t)
	ok := OIDCLoginOptions{Issuer: iss.srv.URL, ClientID: testClientID, Grants: oidcGrants}
	for name, change := range map[string]func(*OIDCLoginOptions){
		"no issuer":   func(o *OIDCLoginOptions) { o.Issuer = "" },
		"no client":   func(o *OIDCLoginOptions) { o.ClientID = "" },
		"no grants":   func(o *OIDCLoginOptions) { o.Grants = nil },
		"bad role":    func(o *OIDCLoginOptions) { o.Grants = []auth.Grant{{Group: "g", Role: "root"}} },
		"redirect":    func(o *OIDCLoginOptions) { o.RedirectURL = "/console/login/oidc/callback" },
		"unreachable": func(o *OIDCLoginOptions) { o.Issuer = "http://127.0.0.1:1" },
	} {
		o := ok
		change(&o)
		if _, err := NewOIDCLogin(context.Background(), o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	l, err := NewOIDCLogin(context.Background(), ok)
	if err != nil {
		t.Fatal(err)
	}
	if l.Provider() != strings.TrimPrefix(iss.srv.URL, "http://") {
		t.Errorf("Provider() = %q", l.Provider())
	}
}
