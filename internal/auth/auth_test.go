package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// TestAllowed checks every role against every permission, in and out of scope.
func TestAllowed(t *testing.T) {
	// Each role has the permissions of the roles before it and its own.
	want := map[Role][]Permission{
		Viewer:    {Read},
		Responder: {Read, RequestAction, Release},
		Approver:  {Read, RequestAction, Release, Approve},
		Admin:     {Read, RequestAction, Release, Approve, Administer},
		"root":    {},
	}
	perms := []Permission{Read, RequestAction, Release, Approve, Administer, "fly"}
	for role, has := range want {
		for _, scoped := range []bool{false, true} {
			p := Principal{Name: "p", Role: role}
			if scoped {
				p.Accounts = []string{"111122223333"}
			}
			for _, perm := range perms {
				allowed := false
				for _, h := range has {
					allowed = allowed || h == perm
				}
				tests := []struct {
					account string
					want    bool
				}{
					{"", allowed},
					{"111122223333", allowed},
					{"444455556666", allowed && !scoped},
				}
				for _, tt := range tests {
					if got := Allowed(p, perm, tt.account); got != tt.want {
						t.Errorf("Allowed(%s scoped=%v, %s, %q) = %v, want %v", role, scoped, perm, tt.account, got, tt.want)
					}
					// What may reach every account is for the unscoped alone.
					reaching := tt.want && (tt.account != "" || !scoped)
					if got := AllowedReaching(p, perm, tt.account); got != reaching {
						t.Errorf("AllowedReaching(%s scoped=%v, %s, %q) = %v, want %v", role, scoped, perm, tt.account, got, reaching)
					}
				}
			}
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Role
		ok   bool
	}{
		{"viewer", Viewer, true}, {" admin ", Admin, true}, {"Admin", "", false}, {"", "", false}, {"superuser", "", false},
	} {
		got, err := ParseRole(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

type fakeOIDC struct{}

func (fakeOIDC) Verify(_ context.Context, tok string) (Principal, error) {
	if tok != "good.jwt" {
		return Principal{}, errors.Join(ErrUnauthenticated, errors.New("bad signature"))
	}
	return Principal{Name: "alice@example.com", Role: Approver}, nil
}

// TestAuthenticate checks each kind of credential a request may carry.
func TestAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now()
		valid, rec, err := Issue(ctx, s, IssueOptions{Role: Responder, Accounts: []string{"111122223333"}, TTL: time.Hour, By: "test"})
		if err != nil {
			t.Fatal(err)
		}
		expired, _, err := Issue(ctx, s, IssueOptions{Role: Admin, TTL: time.Hour, By: "test", Now: now.Add(-2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		forever, _, err := Issue(ctx, s, IssueOptions{Role: Viewer, By: "test"})
		if err != nil {
			t.Fatal(err)
		}
		cleared, _, err := Issue(ctx, s, IssueOptions{Role: Viewer, Clearance: []string{"Restricted", "legal"}, By: "test"})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			header   string
			oidc     OIDCVerifier
			want     Principal
			wantAuth bool // want an ErrUnauthenticated
		}{
			{name: "no header", wantAuth: true},
			{name: "basic", header: "Basic dXNlcjpwYXNz", wantAuth: true},
			{name: "bearer, nothing", header: "Bearer ", wantAuth: true},
			{name: "valid", header: "Bearer " + valid, want: Principal{Name: "token:" + rec.ID, Role: Responder, Accounts: []string{"111122223333"}, Kind: KindToken}},
			{name: "lower-case scheme", header: "bearer " + forever, want: Principal{Role: Viewer, Kind: KindToken}},
			{name: "cleared", header: "Bearer " + cleared, want: Principal{Role: Viewer, Kind: KindToken, Clearance: []string{"legal", "restricted"}}},
			{name: "expired", header: "Bearer " + expired, wantAuth: true},
			{name: "unknown", header: "Bearer " + TokenPrefix + strings.Repeat("x", 43), wantAuth: true},
			{name: "truncated", header: "Bearer " + valid[:20], wantAuth: true},
			{name: "not ours, no OIDC", header: "Bearer good.jwt", wantAuth: true},
			{name: "OIDC", header: "Bearer good.jwt", oidc: fakeOIDC{}, want: Principal{Name: "alice@example.com", Role: Approver, Kind: KindOIDC}},
			{name: "OIDC refused", header: "Bearer bad.jwt", oidc: fakeOIDC{}, wantAuth: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/v1/incidents", nil)
				if tt.header != "" {
					r.Header.Set("Authorization", tt.header)
				}
				a := &Authenticator{Store: s, OIDC: tt.oidc}
				p, err := a.Authenticate(r)
				if tt.wantAuth {
					if !errors.Is(err, ErrUnauthenticated) {
						t.Errorf("error %v, want ErrUnauthenticated", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if tt.want.Name == "" {
					tt.want.Name = p.Name
				}
				if p.Name != tt.want.Name || p.Role != tt.want.Role || p.Kind != tt.want.Kind || strings.Join(p.Accounts, ",") != strings.Join(tt.want.Accounts, ",") ||
					strings.Join(p.Clearance, ",") != strings.Join(tt.want.Clearance, ",") {
					t.Errorf("principal %+v, want %+v", p, tt.want)
				}
			})
		}
	})
}

// TestIssue checks the token's form, that only its hash is stored, that the audit records
// the creation without the token, and that bad options are refused.
func TestIssue(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	tok, rec, err := Issue(ctx, s, IssueOptions{Role: Approver, Accounts: []string{"111122223333"}, TTL: 24 * time.Hour, By: "cli:alice"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, TokenPrefix))
	if !strings.HasPrefix(tok, TokenPrefix) || err != nil || len(raw) != 32 {
		t.Errorf("token %q: want fbk_ and 32 bytes of base64url", tok)
	}
	if rec.Hash != HashToken(tok) || rec.Expires.Sub(rec.Created) != 24*time.Hour {
		t.Errorf("record %+v", rec)
	}
	var audit bytes.Buffer
	if err := s.ExportAudit(ctx, &audit); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(audit.String(), `"kind":"token.created"`) || !strings.Contains(audit.String(), `"actor":"cli:alice"`) {
		t.Errorf("audit %s: want a token.created record by cli:alice", audit.String())
	}
	secret := strings.TrimPrefix(tok, TokenPrefix)
	if strings.Contains(audit.String(), secret) || strings.Contains(audit.String(), rec.Hash) {
		t.Error("the audit holds the token or its hash")
	}
	var stored int
	if err := s.Read(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT COUNT(*) FROM api_tokens WHERE hash = ? OR id = ? OR accounts LIKE ?`, tok, tok, "%"+secret+"%").Scan(&stored)
	}); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Error("the token itself is stored")
	}

	for _, o := range []IssueOptions{
		{Role: "root"},
		{Role: Viewer, Accounts: []string{"1111"}},
		{Role: Viewer, TTL: -time.Hour},
		{Role: Viewer, Clearance: []string{"restricted", ""}},
		{Role: Viewer, Clearance: []string{"a,b"}},
	} {
		if _, _, err := Issue(ctx, s, o); err == nil {
			t.Errorf("Issue(%+v) succeeded", o)
		}
	}
}
