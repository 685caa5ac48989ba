package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/input"
)

// ClaimMapper turns the claims of an identity provider's verified token into a principal
// through grants. Bearer tokens (OIDC) and the console's browser sign-in share it, so that
// a person has the same role and accounts however they reach Firebreak. It is safe for
// concurrent use.
type ClaimMapper struct {
	groupsClaim string
	grants      []Grant
}

// NewClaimMapper checks grants and returns a mapper reading groups from groupsClaim
// (DefaultGroupsClaim when empty). It fails on no grants, a grant without a group, an
// unknown role, an account that is not a 12-digit id or a clearance label ParseClearance
// refuses, naming the oidc setting to fix.
func NewClaimMapper(groupsClaim string, grants []Grant) (*ClaimMapper, error) {
	if groupsClaim == "" {
		groupsClaim = DefaultGroupsClaim
	}
	if len(grants) == 0 {
		return nil, errors.New("oidc: no grants; without oidc.grants no OIDC caller may do anything")
	}
	out := make([]Grant, len(grants))
	for i, g := range grants {
		if strings.TrimSpace(g.Group) == "" {
			return nil, fmt.Errorf("oidc: grant %d names no group", i+1)
		}
		if g.Role.rank() < 0 {
			return nil, fmt.Errorf("oidc: grant %d (group %s): unknown role %q; use one of viewer, responder, approver, admin", i+1, g.Group, g.Role)
		}
		for _, a := range g.Accounts {
			if !input.Account(a) {
				return nil, fmt.Errorf("oidc: grant %d (group %s): account %q is not a 12-digit AWS account id", i+1, g.Group, a)
			}
		}
		clearance, err := ParseClearance(g.Clearance)
		if err != nil {
			return nil, fmt.Errorf("oidc: grant %d (group %s): %w", i+1, g.Group, err)
		}
		out[i] = Grant{Group: g.Group, Role: g.Role, Accounts: slices.Clone(g.Accounts), Clearance: clearance}
	}
	return &ClaimMapper{groupsClaim: groupsClaim, grants: out}, nil
}

// Principal names the caller by the token's verified email, else its subject, and gives
// them the role, accounts and clearance their groups are granted. The claims must come
// from a token whose signature, issuer, audience and expiry were checked. Errors wrap
// ErrUnauthenticated: a token without a name, or with an unreadable groups claim, signs
// nobody in. Groups granted nothing give a principal with no role, which every permission
// check refuses.
func (m *ClaimMapper) Principal(claims map[string]json.RawMessage) (Principal, error) {
	var (
		sub, email string
		verified   *bool
	)
	for _, c := range []struct {
		name string
		into any
	}{{"sub", &sub}, {"email", &email}, {"email_verified", &verified}} {
		if raw, ok := claims[c.name]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, c.into); err != nil {
				return Principal{}, fmt.Errorf("%w: the OIDC token's %s claim is unreadable: %v", ErrUnauthenticated, c.name, err)
			}
		}
	}
	name := sub
	// An address the provider says it has not verified could be anybody's, and names are
	// what approvals are checked by (nobody approves their own request).
	if email != "" && (verified == nil || *verified) {
		name = email
	}
	if name == "" {
		return Principal{}, fmt.Errorf("%w: the OIDC token has neither an email nor a sub claim to name the caller by", ErrUnauthenticated)
	}
	groups, err := claimStrings(claims[m.groupsClaim])
	if err != nil {
		return Principal{}, fmt.Errorf("%w: the OIDC token's %s claim %v", ErrUnauthenticated, m.groupsClaim, err)
	}
	role, accounts := m.grant(groups)
	return Principal{Name: name, Role: role, Accounts: accounts, Kind: KindOIDC,
		Clearance: m.clearance(groups, accounts)}, nil
}

// grant maps groups to the highest role any of them is granted, scoped to the union of
// the accounts of the grants that give that role (empty: every account). Grants of lower
// roles add no accounts: the principal has one role for all its accounts, and widening
// the higher role to the lower grants' accounts would give, say, an admin of one account
// who views all of them admin everywhere. No granted group gives no role.
func (m *ClaimMapper) grant(groups []string) (Role, []string) {
	var (
		best     Role
		accounts []string
		all      bool
	)
	for _, g := range m.grants {
		if !slices.Contains(groups, g.Group) {
			continue
		}
		switch {
		case best == "" || g.Role.rank() > best.rank():
			best, accounts, all = g.Role, nil, false
		case g.Role != best:
			continue
		}
		if len(g.Accounts) == 0 {
			all = true
		}
		accounts = append(accounts, g.Accounts...)
	}
	if best == "" || all {
		return best, nil
	}
	slices.Sort(accounts)
	return best, slices.Compact(accounts)
}

// clearance is the union of the clearances of the grants of groups whose accounts cover
// every account the principal may see (accounts; nil for every account), whatever role
// those grants give: clearance is about which incidents a person may see, not what they
// may do, so a viewer grant that clears a group for a label clears its members who are
// responders through another group too. A grant scoped to fewer accounts than the
// principal sees adds nothing, since the principal has one clearance for all its
// accounts and taking it would widen the label to accounts the grant does not name.
func (m *ClaimMapper) clearance(groups, accounts []string) []string {
	var out []string
	for _, g := range m.grants {
		if len(g.Clearance) == 0 || !slices.Contains(groups, g.Group) {
			continue
		}
		covers := len(g.Accounts) == 0
		if !covers && len(accounts) > 0 {
			covers = true
			for _, a := range accounts {
				if !slices.Contains(g.Accounts, a) {
					covers = false
					break
				}
			}
		}
		if covers {
			out = append(out, g.Clearance...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// claimStrings reads a claim that is a list of strings, or one string (some providers
// send a single group so); an absent or null claim is no groups.
func claimStrings(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	return nil, errors.New("is neither a string nor a list of strings")
}
