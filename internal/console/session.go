package console

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// CookieName is the session cookie. It holds only a random session id: the principal,
// the credential and the CSRF token stay on the server, in the database.
const CookieName = "firebreak_session"

// Session lifetimes. A signed-in session ends after SessionTTL however busy, and after
// IdleTTL without a request, so that a console left open on a shared laptop does not stay
// signed in for long. A session that has not signed in yet only carries the login form's
// CSRF token and lives briefly.
const (
	SessionTTL   = 8 * time.Hour
	IdleTTL      = time.Hour
	anonymousTTL = 15 * time.Minute
	// maxSessions bounds the rows visitors can make the console keep.
	maxSessions = 10000
)

// session is one browser's state on the server.
type session struct {
	// principal is who signed in; its zero value means nobody has yet.
	principal auth.Principal
	signedIn  bool
	// credential is the API token the session signed in with, re-checked on every request
	// so that a revoked or expired token ends the session at once. Empty for a login method
	// that vouches for the principal itself (an OIDC browser login).
	credential string
	csrf       string
	created    time.Time
	seen       time.Time
	expires    time.Time
	// flash is a one-shot message for the next page, after a redirect.
	flash     string
	flashKind string
}

// sessionData is a session as the database keeps it. The credential is sealed with a key
// derived from the cookie's value, which the database never holds: reading the table
// gives neither a cookie to present nor a token to use.
type sessionData struct {
	Principal  auth.Principal `json:"principal"`
	Credential []byte         `json:"credential,omitempty"`
	CSRF       string         `json:"csrf"`
	Flash      string         `json:"flash,omitempty"`
	FlashKind  string         `json:"flash_kind,omitempty"`
}

// sessions is the session table, kept in the store so that every replica serving the
// console knows every session. Rows are keyed by the SHA-256 of the cookie's value.
type sessions struct {
	store *store.Store
	now   func() time.Time
}

func newSessions(s *store.Store, now func() time.Time) *sessions {
	return &sessions{store: s, now: now}
}

// touchEvery is how stale a session's last-seen time may get before a request records it
// again: idle expiry is judged in hours, and a write on every page and poll would only
// queue behind the engine's writes.
const touchEvery = time.Minute

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// sealer is the AEAD a session's credential is sealed with: AES-256-GCM under a key only
// the cookie's value gives.
func sealer(id string) cipher.AEAD {
	k := sha256.Sum256([]byte("firebreak console credential\x00" + id))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

func seal(id, credential string) []byte {
	if credential == "" {
		return nil
	}
	aead := sealer(id)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(credential), []byte(key(id)))
}

func unseal(id string, sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	aead := sealer(id)
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed credential is too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(key(id)))
	if err != nil {
		return "", fmt.Errorf("open the sealed credential: %w", err)
	}
	return string(plain), nil
}

// create stores a new session and returns its cookie value. It fails with
// store.ErrConsoleFull when maxSessions live sessions leave no room.
func (s *sessions) create(ctx context.Context, sess *session) (string, error) {
	now := s.now()
	id := randomString(32)
	if sess.csrf == "" {
		sess.csrf = randomString(32)
	}
	data, err := json.Marshal(sessionData{Principal: sess.principal, Credential: seal(id, sess.credential), CSRF: sess.csrf})
	if err != nil {
		return "", err
	}
	err = s.store.CreateConsoleSession(ctx, store.ConsoleSession{Key: key(id), Kind: store.ConsoleSessionKind,
		SignedIn: sess.signedIn, Data: data, Created: now, Seen: now, Expires: sess.expires}, now.Add(-IdleTTL), maxSessions)
	if err != nil {
		return "", err
	}
	sess.created, sess.seen = now, now
	return id, nil
}

func expired(cs *store.ConsoleSession, now time.Time) bool {
	if !now.Before(cs.Expires) {
		return true
	}
	return cs.SignedIn && now.Sub(cs.Seen) >= IdleTTL
}

// get returns the live session the cookie names, and marks it seen. A session that cannot
// be read back (its row is corrupt, or the cookie does not open its credential) is ended.
// An error means the store did not answer.
func (s *sessions) get(ctx context.Context, id string) (session, bool, error) {
	if id == "" {
		return session{}, false, nil
	}
	k := key(id)
	cs, err := s.store.GetConsoleSession(ctx, k)
	if errors.Is(err, store.ErrNotFound) || err == nil && cs.Kind != store.ConsoleSessionKind {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, err
	}
	now := s.now()
	if expired(cs, now) {
		return session{}, false, s.store.DeleteConsoleSession(ctx, k)
	}
	var d sessionData
	err = json.Unmarshal(cs.Data, &d)
	var cred string
	if err == nil {
		cred, err = unseal(id, d.Credential)
	}
	if err != nil {
		return session{}, false, s.store.DeleteConsoleSession(ctx, k)
	}
	if now.Sub(cs.Seen) >= touchEvery {
		if err := s.store.TouchConsoleSession(ctx, k, now); err != nil {
			return session{}, false, err
		}
		cs.Seen = now
	}
	return session{principal: d.Principal, signedIn: cs.SignedIn, credential: cred, csrf: d.CSRF,
		created: cs.Created, seen: cs.Seen, expires: cs.Expires, flash: d.Flash, flashKind: d.FlashKind}, true, nil
}

// update changes the session's stored data with fn; a session gone meanwhile is left gone.
func (s *sessions) update(ctx context.Context, id string, fn func(*sessionData)) error {
	err := s.store.UpdateConsoleSession(ctx, key(id), func(data []byte) ([]byte, error) {
		var d sessionData
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, err
		}
		fn(&d)
		return json.Marshal(d)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// takeFlash returns and clears the session's one-shot message.
func (s *sessions) takeFlash(ctx context.Context, id string) (msg, kind string, err error) {
	err = s.update(ctx, id, func(d *sessionData) {
		msg, kind = d.Flash, d.FlashKind
		d.Flash, d.FlashKind = "", ""
	})
	return msg, kind, err
}

func (s *sessions) setFlash(ctx context.Context, id, msg, kind string) error {
	return s.update(ctx, id, func(d *sessionData) { d.Flash, d.FlashKind = msg, kind })
}

func (s *sessions) delete(ctx context.Context, id string) error {
	return s.store.DeleteConsoleSession(ctx, key(id))
}

// SignIn starts a signed-in session for p and sets its cookie, replacing any session the
// browser had (a new id on every sign-in, so that an id planted before it is worthless).
// It is how every login method ends: the API-token form here, and a browser login such
// as OIDC, which passes an empty credential because it has already vouched for p.
// It fails, setting no cookie, when the session cannot be stored.
func (c *Console) SignIn(w http.ResponseWriter, r *http.Request, p auth.Principal, credential string) error {
	if old, err := r.Cookie(CookieName); err == nil {
		if err := c.sessions.delete(r.Context(), old.Value); err != nil {
			return fmt.Errorf("end the previous session: %w", err)
		}
	}
	id, err := c.sessions.create(r.Context(), &session{principal: p, signedIn: true, credential: credential,
		expires: c.now().Add(SessionTTL)})
	if err != nil {
		return fmt.Errorf("start a session: %w", err)
	}
	c.setCookie(w, r, id, SessionTTL)
	return nil
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, id string, ttl time.Duration) {
	ck := &http.Cookie{Name: CookieName, Value: id, Path: Prefix + "/", HttpOnly: true,
		Secure: !plainLoopback(r), SameSite: http.SameSiteStrictMode, MaxAge: int(ttl.Seconds())}
	if ttl <= 0 {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// plainLoopback reports whether r came over plain HTTP from this machine, the one case a
// Secure cookie would never be sent back (a developer's http://127.0.0.1). Anywhere else
// the console is expected behind TLS, and a cookie that could leak over HTTP is refused.
func plainLoopback(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validCSRF compares a submitted CSRF token with the session's in constant time.
func validCSRF(sess session, got string) bool {
	return sess.csrf != "" && subtle.ConstantTimeCompare([]byte(sess.csrf), []byte(got)) == 1
}
