package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// DefaultGroupsClaim is the claim a token's groups are read from when OIDCOptions names
// none.
const DefaultGroupsClaim = "groups"

// defaultOIDCTimeout bounds one request to the issuer (discovery, keys). The default HTTP
// client has no timeout, and a key fetch happens while a caller waits for an answer.
const defaultOIDCTimeout = 10 * time.Second

// Grant gives the members of an identity-provider group a role, in some accounts.
type Grant struct {
	// Group is the group's name as the token's groups claim carries it.
	Group string
	Role  Role
	// Accounts scope the grant; empty means every account. Each is a 12-digit account id.
	Accounts []string
	// Clearance are the sensitivity labels the group's members may see beside unlabelled
	// incidents (see ClaimMapper.Principal for how grants combine).
	Clearance []string
}

// OIDCOptions configure NewOIDC.
type OIDCOptions struct {
	// Issuer is the identity provider's issuer URL; its discovery document is read from
	// Issuer/.well-known/openid-configuration, and tokens must carry it as iss.
	Issuer string
	// Audience is the client id tokens must be issued to (in aud).
	Audience string
	// GroupsClaim names the claim that lists the caller's groups; DefaultGroupsClaim when
	// empty. It is one top-level claim, named exactly: namespaced claim names such as
	// https://example.com/groups contain dots, so no dotted path is read into it.
	GroupsClaim string
	// Grants map groups to roles and accounts. A caller in no granted group is
	// authenticated but may do nothing.
	Grants []Grant
	// HTTPClient fetches the discovery document and keys; nil is a client with a 10s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock expiry is judged by; time.Now when nil.
	Now func() time.Time
}

// OIDC verifies OIDC bearer tokens (JWTs) issued by one identity provider: signature
// against the provider's published keys (refetched when a token names a key not yet
// seen, so that rotation needs no restart), issuer, audience and expiry; then it maps
// the token's groups to a role and accounts through the grants. It is an OIDCVerifier,
// safe for concurrent use.
type OIDC struct {
	verifier *oidc.IDTokenVerifier
	issuer   string
	audience string
	claims   *ClaimMapper
}

// NewOIDC reads the issuer's discovery document and returns a verifier. It fails when
// the options are incomplete or invalid, or the issuer cannot be reached: a server that
// starts without being able to check tokens would refuse every OIDC caller.
func NewOIDC(ctx context.Context, o OIDCOptions) (*OIDC, error) {
	if o.Issuer == "" {
		return nil, errors.New("oidc: no issuer; set oidc.issuer to the identity provider's issuer URL")
	}
	if o.Audience == "" {
		return nil, errors.New("oidc: no audience; set oidc.audience to the client id tokens are issued to")
	}
	claims, err := NewClaimMapper(o.GroupsClaim, o.Grants)
	if err != nil {
		return nil, err
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultOIDCTimeout}
	}
	ctx = oidc.ClientContext(ctx, client)
	provider, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discover issuer %s: %w", o.Issuer, err)
	}
	// The verifier keeps the client for key fetches long after NewOIDC returns; go-oidc
	// ignores the context's cancellation and uses it only to carry the client.
	v := provider.VerifierContext(context.WithoutCancel(ctx), &oidc.Config{ClientID: o.Audience, Now: o.Now})
	return &OIDC{verifier: v, issuer: o.Issuer, audience: o.Audience, claims: claims}, nil
}

// Verify checks token and returns its principal. Errors for a token that is not valid
// wrap ErrUnauthenticated and say why; an error that does not means the issuer's keys
// could not be fetched, so that the caller is answered "try again" rather than told
// their token is bad. A valid token whose groups are granted nothing gives a principal
// with no role, which every permission check refuses.
func (o *OIDC) Verify(ctx context.Context, token string) (Principal, error) {
	tok, err := o.verifier.Verify(ctx, token)
	if err != nil {
		return Principal{}, o.verifyError(ctx, err)
	}
	var all map[string]json.RawMessage
	if err := tok.Claims(&all); err != nil {
		return Principal{}, fmt.Errorf("%w: the OIDC token's claims are unreadable: %v", ErrUnauthenticated, err)
	}
	return o.claims.Principal(all)
}

// verifyError turns a go-oidc error into one that says what is wrong and what to do.
// go-oidc formats most of its errors with %v, so their kind is told from the message;
// a message not recognised still counts as an invalid token, which refuses the caller.
func (o *OIDC) verifyError(ctx context.Context, err error) error {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("verify the OIDC token: %w", ctx.Err())
	case strings.Contains(msg, "fetching keys"):
		return fmt.Errorf("verify the OIDC token: the keys of issuer %s could not be fetched: %v", o.issuer, err)
	case errors.As(err, &expired) && expired.Expiry.IsZero():
		return fmt.Errorf("%w: the OIDC token has no expiry (exp claim); a token that never expires is not accepted", ErrUnauthenticated)
	case errors.As(err, &expired):
		return fmt.Errorf("%w: the OIDC token expired at %s; sign in again for a new one",
			ErrUnauthenticated, expired.Expiry.UTC().Format(time.RFC3339))
	case strings.Contains(msg, "expected audience"):
		return fmt.Errorf("%w: the OIDC token is not issued to this server (audience %s): %v", ErrUnauthenticated, o.audience, err)
	case strings.Contains(msg, "issued by a different provider"):
		return fmt.Errorf("%w: the OIDC token is not issued by %s: %v", ErrUnauthenticated, o.issuer, err)
	case strings.Contains(msg, "signature"):
		return fmt.Errorf("%w: the OIDC token's signature does not verify against the keys of %s", ErrUnauthenticated, o.issuer)
	case strings.Contains(msg, "malformed jwt"):
		return fmt.Errorf("%w: the bearer token is neither a Firebreak API token nor a signed JWT", ErrUnauthenticated)
	}
	return fmt.Errorf("%w: the OIDC token is not valid: %v", ErrUnauthenticated, err)
}
