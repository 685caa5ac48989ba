package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
)

// CookieName is the session cookie. It holds only a random session id: the principal,
// the credential and the CSRF token stay on the server.
const CookieName = "firebreak_session"

// Session lifetimes. A signed-in session ends after SessionTTL however busy, and after
// IdleTTL without a request, so that a console left open on a shared laptop does not stay
// signed in for long. A session that has not signed in yet only carries the login form's
// CSRF token and lives briefly.
const (
	SessionTTL   = 8 * time.Hour
	IdleTTL      = time.Hour
	anonymousTTL = 15 * time.Minute
	// maxSessions bounds the memory unauthenticated visitors can make the console hold.
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

// sessions is the server-side session table, keyed by the SHA-256 of the cookie's value,
// so that the table itself holds nothing a browser could present.
type sessions struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[string]*session{}}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// create stores a new session and returns its cookie value.
func (s *sessions) create(sess *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= maxSessions {
		s.pruneLocked(now)
	}
	if len(s.m) >= maxSessions {
		// Still full of live sessions: drop the unauthenticated ones, which cost their
		// owners only a reload of the login form.
		for k, v := range s.m {
			if !v.signedIn {
				delete(s.m, k)
			}
		}
	}
	id := randomString(32)
	sess.created, sess.seen = now, now
	if sess.csrf == "" {
		sess.csrf = randomString(32)
	}
	s.m[key(id)] = sess
	return id
}

func (s *sessions) pruneLocked(now time.Time) {
	for k, v := range s.m {
		if s.expiredLocked(v, now) {
			delete(s.m, k)
		}
	}
}

func (s *sessions) expiredLocked(v *session, now time.Time) bool {
	if !now.Before(v.expires) {
		return true
	}
	return v.signedIn && now.Sub(v.seen) >= IdleTTL
}

// get returns a copy of the live session the cookie names, and marks it seen.
func (s *sessions) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(id)
	v, ok := s.m[k]
	if !ok {
		return session{}, false
	}
	now := s.now()
	if s.expiredLocked(v, now) {
		delete(s.m, k)
		return session{}, false
	}
	v.seen = now
	return *v, true
}

// takeFlash returns and clears the session's one-shot message.
func (s *sessions) takeFlash(id string) (msg, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key(id)]; ok {
		msg, kind = v.flash, v.flashKind
		v.flash, v.flashKind = "", ""
	}
	return msg, kind
}

func (s *sessions) setFlash(id, msg, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key(id)]; ok {
		v.flash, v.flashKind = msg, kind
	}
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key(id))
}

// SignIn starts a signed-in session for p and sets its cookie, replacing any session the
// browser had (a new id on every sign-in, so that an id planted before it is worthless).
// It is how every login method ends: the API-token form here, and a browser login such
// as OIDC, which passes an empty credential because it has already vouched for p.
func (c *Console) SignIn(w http.ResponseWriter, r *http.Request, p auth.Principal, credential string) {
	if old, err := r.Cookie(CookieName); err == nil {
		c.sessions.delete(old.Value)
	}
	id := c.sessions.create(&session{principal: p, signedIn: true, credential: credential,
		expires: c.now().Add(SessionTTL)})
	c.setCookie(w, r, id, SessionTTL)
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
