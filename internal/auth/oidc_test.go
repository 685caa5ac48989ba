package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/api"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

const (
	audience   = "firebreak-test"
	prodAcct   = "111122223333"
	devAcct    = "444455556666"
	sharedAcct = "777788889999"
)

// testIssuer is an OIDC provider on loopback: a discovery document and a key set holding
// one RSA key.
type testIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
	// keysDown makes the key set answer 500, as an identity provider in trouble would.
	keysDown atomic.Bool
}

func newIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{key: rsaKey(t), kid: "key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                iss.srv.URL,
			"jwks_uri":                              iss.srv.URL + "/keys",
			"authorization_endpoint":                iss.srv.URL + "/authorize",
			"token_endpoint":                        iss.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		if iss.keysDown.Load() {
			http.Error(w, "unavailable", http.StatusInternalServerError)
			return
		}
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &iss.key.PublicKey, KeyID: iss.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// claims are those of a valid token for ana, in groups; change them to make it invalid.
func (iss *testIssuer) claims(groups ...string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":            iss.srv.URL,
		"aud":            audience,
		"sub":            "00u1ana",
		"email":          "ana@example.com",
		"email_verified": true,
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"groups":         groups,
	}
}

// sign signs claims with the issuer's key.
func (iss *testIssuer) sign(t *testing.T, claims map[string]any) string {
	return signWith(t, iss.key, iss.kid, claims)
}

func signWith(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var testGrants = []auth.Grant{
	{Group: "sec-viewers", Role: auth.Viewer},
	{Group: "prod-responders", Role: auth.Responder, Accounts: []string{prodAcct}},
	{Group: "dev-responders", Role: auth.Responder, Accounts: []string{devAcct, sharedAcct}},
	{Group: "approvers", Role: auth.Approver, Accounts: []string{prodAcct}},
	{Group: "admins", Role: auth.Admin},
}

func newVerifier(t *testing.T, iss *testIssuer, o auth.OIDCOptions) *auth.OIDC {
	t.Helper()
	o.Issuer, o.Audience = iss.srv.URL, audience
	if o.Grants == nil {
		o.Grants = testGrants
	}
	v, err := auth.NewOIDC(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOIDCVerify checks that a valid token maps to its groups' role and accounts, and
// that each kind of invalid token is refused with a reason naming what is wrong.
func TestOIDCVerify(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, iss, auth.OIDCOptions{})
	otherKey := rsaKey(t)
	with := func(groups []string, change func(map[string]any)) map[string]any {
		c := iss.claims(groups...)
		if change != nil {
			change(c)
		}
		return c
	}

	valid := []struct {
		name     string
		token    string
		want     auth.Principal
		readable bool
	}{
		{name: "viewer of every account", token: iss.sign(t, with([]string{"sec-viewers"}, nil)),
			want: auth.Principal{Name: "ana@example.com", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "responder in the union of its grants' accounts",
			token: iss.sign(t, with([]string{"prod-responders", "dev-responders", "unknown-group"}, nil)),
			want:  auth.Principal{Name: "ana@example.com", Role: auth.Responder, Accounts: []string{prodAcct, devAcct, sharedAcct}, Kind: auth.KindOIDC}},
		{name: "highest role wins; a lower grant adds no accounts",
			token: iss.sign(t, with([]string{"sec-viewers", "approvers", "dev-responders"}, nil)),
			want:  auth.Principal{Name: "ana@example.com", Role: auth.Approver, Accounts: []string{prodAcct}, Kind: auth.KindOIDC}},
		{name: "admin of every account", token: iss.sign(t, with([]string{"admins", "prod-responders"}, nil)),
			want: auth.Principal{Name: "ana@example.com", Role: auth.Admin, Kind: auth.KindOIDC}},
		{name: "unverified email: named by sub",
			token: iss.sign(t, with([]string{"sec-viewers"}, func(c map[string]any) { c["email_verified"] = false })),
			want:  auth.Principal{Name: "00u1ana", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "no email: named by sub",
			token: iss.sign(t, with([]string{"sec-viewers"}, func(c map[string]any) { delete(c, "email") })),
			want:  auth.Principal{Name: "00u1ana", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "one group as a string", token: iss.sign(t, with(nil, func(c map[string]any) { c["groups"] = "sec-viewers" })),
			want: auth.Principal{Name: "ana@example.com", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "audience among several", token: iss.sign(t, with([]string{"sec-viewers"}, func(c map[string]any) { c["aud"] = []string{"other", audience} })),
			want: auth.Principal{Name: "ana@example.com", Role: auth.Viewer, Kind: auth.KindOIDC}},
		{name: "groups granted nothing: no role", token: iss.sign(t, with([]string{"engineering"}, nil)),
			want: auth.Principal{Name: "ana@example.com", Kind: auth.KindOIDC}},
		{name: "no groups claim: no role", token: iss.sign(t, with(nil, func(c map[string]any) { delete(c, "groups") })),
			want: auth.Principal{Name: "ana@example.com", Kind: auth.KindOIDC}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			slices.Sort(p.Accounts)
			slices.Sort(tt.want.Accounts)
			if p.Name != tt.want.Name || p.Role != tt.want.Role || p.Kind != tt.want.Kind || !slices.Equal(p.Accounts, tt.want.Accounts) {
				t.Errorf("principal %+v, want %+v", p, tt.want)
			}
			if tt.want.Role == "" && slices.ContainsFunc([]auth.Permission{auth.Read, auth.RequestAction, auth.Release, auth.Approve, auth.Administer}, p.RoleAllows) {
				t.Errorf("a principal granted nothing is allowed something: %+v", p)
			}
		})
	}

	invalid := []struct {
		name, token, reason string
	}{
		{"wrong audience", iss.sign(t, with([]string{"admins"}, func(c map[string]any) { c["aud"] = "another-client" })),
			"not issued to this server"},
		{"wrong issuer", iss.sign(t, with([]string{"admins"}, func(c map[string]any) { c["iss"] = "https://evil.example" })),
			"not issued by " + iss.srv.URL},
		{"expired", iss.sign(t, with([]string{"admins"}, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })),
			"expired at"},
		{"no expiry", iss.sign(t, with([]string{"admins"}, func(c map[string]any) { delete(c, "exp") })),
			"has no expiry"},
		{"signed by another key", signWith(t, otherKey, iss.kid, with([]string{"admins"}, nil)),
			"signature does not verify"},
		{"signature tampered", tamper(iss.sign(t, with([]string{"admins"}, nil))),
			"signature does not verify"},
		{"not a JWT", "not-a-jwt", "neither a Firebreak API token nor a signed JWT"},
		{"groups of the wrong type", iss.sign(t, with(nil, func(c map[string]any) { c["groups"] = 42 })),
			"groups claim is neither a string nor a list of strings"},
		{"nobody named", iss.sign(t, with([]string{"admins"}, func(c map[string]any) { delete(c, "email"); delete(c, "sub") })),
			"neither an email nor a sub claim"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("error %q does not wrap ErrUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}
}

// tamper changes the token's payload and keeps its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	// A changed character of the payload: still base64url, no longer what was signed.
	p := []byte(parts[1])
	if p[5] == 'A' {
		p[5] = 'B'
	} else {
		p[5] = 'A'
	}
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

// TestOIDCGroupsClaim checks that the groups are read from the configured claim, however
// it is named, and only from it.
func TestOIDCGroupsClaim(t *testing.T) {
	iss := newIssuer(t)
	const claim = "https://firebreak.example/groups"
	v := newVerifier(t, iss, auth.OIDCOptions{GroupsClaim: claim})
	c := iss.claims("admins") // in the default claim, which is not read
	c[claim] = []string{"sec-viewers"}
	p, err := v.Verify(context.Background(), iss.sign(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != auth.Viewer {
		t.Errorf("role %q, want viewer from %s", p.Role, claim)
	}
}

// TestOIDCKeysUnavailable checks that a token naming a key the issuer cannot be asked
// about is not called invalid: the caller should try again, not sign in again.
func TestOIDCKeysUnavailable(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, iss, auth.OIDCOptions{})
	iss.keysDown.Store(true)
	_, err := v.Verify(context.Background(), signWith(t, iss.key, "rotated-key", iss.claims("admins")))
	if err == nil || errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("error %v, want one that does not wrap ErrUnauthenticated", err)
	}
	if !strings.Contains(err.Error(), "could not be fetched") {
		t.Errorf("error %q does not say the keys could not be fetched", err)
	}
	// Once the issuer answers again, so does the verifier: at once, or within a moment,
	// since go-oidc hands a request that arrives as a failed fetch is ending that fetch's
	// result rather than starting another.
	iss.keysDown.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(context.Background(), iss.sign(t, iss.claims("admins")))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after the issuer recovered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNewOIDCOptions checks that incomplete or invalid options, and an issuer that cannot
// be reached, are refused with a reason naming the setting.
func TestNewOIDCOptions(t *testing.T) {
	iss := newIssuer(t)
	ok := auth.OIDCOptions{Issuer: iss.srv.URL, Audience: audience, Grants: testGrants}
	tests := []struct {
		name   string
		change func(*auth.OIDCOptions)
		reason string
	}{
		{"no issuer", func(o *auth.OIDCOptions) { o.Issuer = "" }, "oidc.issuer"},
		{"no audience", func(o *auth.OIDCOptions) { o.Audience = "" }, "oidc.audience"},
		{"no grants", func(o *auth.OIDCOptions) { o.Grants = nil }, "oidc.grants"},
		{"grant without group", func(o *auth.OIDCOptions) { o.Grants = []auth.Grant{{Role: auth.Viewer}} }, "names no group"},
		{"unknown role", func(o *auth.OIDCOptions) { o.Grants = []auth.Grant{{Group: "g", Role: "root"}} }, `unknown role "root"`},
		{"bad account", func(o *auth.OIDCOptions) {
			o.Grants = []auth.Grant{{Group: "g", Role: auth.Viewer, Accounts: []string{"prod"}}}
		}, "12-digit"},
		{"bad clearance", func(o *auth.OIDCOptions) {
			o.Grants = []auth.Grant{{Group: "g", Role: auth.Viewer, Clearance: []string{"legal,hr"}}}
		}, `clearance "legal,hr": holds a comma`},
		{"issuer unreachable", func(o *auth.OIDCOptions) { o.Issuer = "http://127.0.0.1:1" }, "discover issuer"},
		{"issuer mismatch", func(o *auth.OIDCOptions) { o.Issuer = iss.srv.URL + "/" }, "discover issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			_, err := auth.NewOIDC(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %v, want one saying %q", err, tt.reason)
			}
		})
	}
	if _, err := auth.NewOIDC(context.Background(), ok); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

// TestOIDCThroughAPI checks OIDC end to end: a bearer JWT through the Authenticator and
// the /v1 API's guard, answered 200 for a granted group, 403 for a group granted nothing
// or too little, and 401 for a token that is not valid.
func TestOIDCThroughAPI(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, iss, auth.OIDCOptions{})
	s := storetest.Open(t, store.SQLite)
	cat := catalog.Default()
	// The engine is never started: listing incidents reads the store alone.
	eng, err := engine.New(s, engine.Config{Decider: decide.New(&playbook.Set{}, decide.Options{}), Catalogue: cat, Env: &action.Env{}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Options{Engine: eng, Store: s, Auth: &auth.Authenticator{Store: s, OIDC: v}, Catalogue: cat})
	if err != nil {
		t.Fatal(err)
	}
	wrongAud := iss.claims("sec-viewers")
	wrongAud["aud"] = "another-client"
	tests := []struct {
		name, method, path, token string
		want                      int
		detail                    string
	}{
		{"viewer lists", http.MethodGet, "/v1/incidents", iss.sign(t, iss.claims("sec-viewers")), http.StatusOK, ""},
		{"wrong audience", http.MethodGet, "/v1/incidents", iss.sign(t, wrongAud), http.StatusUnauthorized, "not issued to this server"},
		{"granted nothing", http.MethodGet, "/v1/incidents", iss.sign(t, iss.claims("engineering")), http.StatusForbidden, "may not read"},
		{"viewer may not act", http.MethodPost, "/v1/actions", iss.sign(t, iss.claims("sec-viewers")), http.StatusForbidden, "may not request-action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}"))
			r.Header.Set("Authorization", "Bearer "+tt.token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.want)
			}
			if tt.detail != "" && !strings.Contains(w.Body.String(), tt.detail) {
				t.Errorf("answer %s does not say %q", w.Body, tt.detail)
			}
		})
	}
}
