// Package auth says who is calling the /v1 API and what they may do: it authenticates a
// bearer token (an API token from the store, or an OIDC access token through a verifier)
// into a Principal, and answers whether a principal's role and account scope allow an
// operation on an account.
//
// Roles are ordered, each allowing everything the ones before it do: a viewer reads, a
// responder also requests actions and releases incidents, an approver also approves and
// denies steps, and an admin also manages tokens and exceptions.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-sec/firebreak/internal/input"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// Role is what a principal may do, whatever the account.
type Role string

// The roles, least allowed first.
const (
	Viewer    Role = "viewer"
	Responder Role = "responder"
	Approver  Role = "approver"
	Admin     Role = "admin"
)

// Roles lists every role, least allowed first.
var Roles = []Role{Viewer, Responder, Approver, Admin}

// rank orders roles; an unknown role ranks below every known one and so allows nothing.
func (r Role) rank() int { return slices.Index(Roles, r) }

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if r.rank() < 0 {
		return "", fmt.Errorf("unknown role %q; use one of viewer, responder, approver, admin", s)
	}
	return r, nil
}

// Permission is an operation the API guards.
type Permission string

// The permissions, each with the least role that has it (see minRole).
const (
	// Read is reading incidents.
	Read Permission = "read"
	// RequestAction is asking for an action on a resource (POST /v1/actions).
	RequestAction Permission = "request-action"
	// Release is undoing an incident's containment.
	Release Permission = "release"
	// Approve is approving or denying a step that waits for a person.
	Approve Permission = "approve"
	// Administer is managing tokens and exceptions.
	Administer Permission = "administer"
)

var minRole = map[Permission]Role{
	Read:          Viewer,
	RequestAction: Responder,
	Release:       Responder,
	Approve:       Approver,
	Administer:    Admin,
}

// Kinds of principal.
const (
	KindToken = "token"
	KindOIDC  = "oidc"
)

// Principal is an authenticated caller.
type Principal struct {
	// Name identifies the caller in audit records and approvals: token:tok-... for an API
	// token, the subject for an OIDC token.
	Name string
	Role Role
	// Accounts are the accounts the caller may see and act in; empty means every account.
	Accounts []string
	// Kind is KindToken or KindOIDC.
	Kind string
	// Clearance are the sensitivity labels (normalised, see ParseClearance) of the
	// incidents the principal may see beside the unlabelled ones: a token's own, or those
	// its OIDC groups are granted. An administrator is cleared for every label whatever
	// this holds (see Cleared).
	Clearance []string
}

// Cleared reports whether the principal may see an incident labelled sensitivity.
// Everyone sees unlabelled incidents; an administrator sees every label, since they issue
// the tokens that carry clearances and can read the database anyway, so withholding a
// label from them would protect nothing; anyone else sees the labels of their clearance.
func (p Principal) Cleared(sensitivity string) bool {
	return sensitivity == "" || p.ClearedForAll() || slices.Contains(p.Clearance, sensitivity)
}

// ClearedForAll reports whether the principal is cleared for every sensitivity label,
// those of playbooks not yet written included (see Cleared).
func (p Principal) ClearedForAll() bool { return p.Role == Admin }

// InScope reports whether the principal may see and act in account.
func (p Principal) InScope(account string) bool {
	return len(p.Accounts) == 0 || slices.Contains(p.Accounts, account)
}

// RoleAllows reports whether the principal's role alone has perm.
func (p Principal) RoleAllows(perm Permission) bool {
	least, ok := minRole[perm]
	return ok && p.Role.rank() >= least.rank()
}

// Allowed reports whether p may do perm in account. An empty account asks about the role
// alone, for operations that concern no account in particular (listing, tokens).
func Allowed(p Principal, perm Permission, account string) bool {
	if !p.RoleAllows(perm) {
		return false
	}
	return account == "" || p.InScope(account)
}

// AllowedReaching reports whether p may do perm to something concerning account, where an
// empty account means it may reach every account (an exception for a resource named by its
// id alone): then only a principal scoped to every account may. Allowed, by contrast,
// takes an empty account as concerning none.
func AllowedReaching(p Principal, perm Permission, account string) bool {
	if !p.RoleAllows(perm) {
		return false
	}
	return len(p.Accounts) == 0 || (account != "" && p.InScope(account))
}

// ErrUnauthenticated is wrapped by every Authenticate error that means the request carries
// no valid credentials (answer 401); the message says which and what to do.
var ErrUnauthenticated = errors.New("unauthenticated")

// OIDCVerifier checks an OIDC access token and maps its claims to a principal. Errors that
// mean the token is not valid wrap ErrUnauthenticated.
type OIDCVerifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// TokenPrefix starts every API token, so that a token is recognisable in a leaked file or
// a secret scanner, and told apart from an OIDC token without a database look-up.
const TokenPrefix = "fbk_"

// tokenBytes is the entropy of an API token.
const tokenBytes = 32

// tokenLen is the length of an API token: the prefix and 32 bytes in unpadded base64url.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// Authenticator turns a request's bearer token into a principal.
type Authenticator struct {
	// Store holds the API tokens.
	Store *store.Store
	// OIDC verifies tokens that are not API tokens; nil refuses them.
	OIDC OIDCVerifier
	// Now is the clock expiry is judged by; time.Now when nil.
	Now func() time.Time
}

// Authenticate reads the Authorization: Bearer header. Missing, malformed, unknown and
// expired tokens give an error wrapping ErrUnauthenticated; any other error means the
// token could not be checked (the store did not answer).
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, fmt.Errorf("%w: the Authorization header is missing; send Authorization: Bearer TOKEN with a token from firebreak token create", ErrUnauthenticated)
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return Principal{}, fmt.Errorf("%w: the Authorization header is not Bearer TOKEN", ErrUnauthenticated)
	}
	tok = strings.TrimSpace(tok)
	if !strings.HasPrefix(tok, TokenPrefix) {
		if a.OIDC == nil {
			return Principal{}, fmt.Errorf("%w: the bearer token is not a Firebreak API token, and no OIDC issuer is configured", ErrUnauthenticated)
		}
		p, err := a.OIDC.Verify(r.Context(), tok)
		if err != nil {
			return Principal{}, err
		}
		p.Kind = KindOIDC
		return p, nil
	}
	if len(tok) != tokenLen {
		return Principal{}, fmt.Errorf("%w: the bearer token is not a token this server issued", ErrUnauthenticated)
	}
	var t *store.Token
	err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		t, err = a.Store.TokenByHash(r.Context(), tx, HashToken(tok))
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Principal{}, fmt.Errorf("%w: the bearer token is not a token this server issued", ErrUnauthenticated)
	case err != nil:
		return Principal{}, fmt.Errorf("check the bearer token: %w", err)
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	if !t.Expires.IsZero() && !now().Before(t.Expires) {
		return Principal{}, fmt.Errorf("%w: the bearer token %s expired at %s; create a new one with firebreak token create",
			ErrUnauthenticated, t.ID, t.Expires.UTC().Format(time.RFC3339))
	}
	role, err := ParseRole(t.Role)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: token %s: %v", ErrUnauthenticated, t.ID, err)
	}
	return Principal{Name: "token:" + t.ID, Role: role, Accounts: t.Accounts, Kind: KindToken, Clearance: t.Clearance}, nil
}

// HashToken is how a token is kept and looked up: hex SHA-256. A token has 256 bits of
// entropy, so an unsalted fast hash is enough; no dictionary holds it.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// IssueOptions describe a new API token.
type IssueOptions struct {
	Role Role
	// Accounts scope the token; empty means every account. Each is a 12-digit account id.
	Accounts []string
	// Clearance are the sensitivity labels the token may see beside unlabelled incidents;
	// they are normalised as ParseClearance does. Empty clears it for none.
	Clearance []string
	// TTL is how long the token works; zero means it does not expire.
	TTL time.Duration
	// By names who created it, for the audit record.
	By string
	// Now is the creation time; time.Now when zero.
	Now time.Time
}

// Issue creates an API token, stores its hash and audits the creation in one transaction,
// and returns the token, which exists nowhere else: show it once. The audit record names
// the token's id, role, scope and expiry, never the token.
func Issue(ctx context.Context, s *store.Store, o IssueOptions) (string, store.Token, error) {
	if o.Role.rank() < 0 {
		return "", store.Token{}, fmt.Errorf("unknown role %q; use one of viewer, responder, approver, admin", o.Role)
	}
	for _, a := range o.Accounts {
		if !input.Account(a) {
			return "", store.Token{}, fmt.Errorf("account %q is not a 12-digit AWS account id", a)
		}
	}
	clearance, err := ParseClearance(o.Clearance)
	if err != nil {
		return "", store.Token{}, err
	}
	if o.TTL < 0 {
		return "", store.Token{}, fmt.Errorf("expiry %s is in the past; give a positive duration", o.TTL)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", store.Token{}, fmt.Errorf("generate a token: %w", err)
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	hash := HashToken(tok)
	// The id is taken from the hash, not the token, so that it reveals nothing of it.
	t := store.Token{ID: "tok-" + hash[:12], Hash: hash, Role: string(o.Role), Accounts: slices.Clone(o.Accounts),
		Clearance: clearance, CreatedBy: o.By, Created: o.Now.UTC()}
	if t.Accounts == nil {
		t.Accounts = []string{}
	}
	if o.TTL > 0 {
		t.Expires = t.Created.Add(o.TTL)
	}
	data, err := json.Marshal(t)
	if err != nil {
		return "", store.Token{}, err
	}
	err = s.Write(ctx, func(tx *store.Tx) error {
		if err := s.CreateToken(ctx, tx, t); err != nil {
			return err
		}
		_, err := s.Audit(ctx, tx, store.AuditRecord{At: t.Created, Kind: "token.created", Actor: o.By, Subject: t.ID, Data: data})
		return err
	})
	if err != nil {
		return "", store.Token{}, err
	}
	return tok, t, nil
}
