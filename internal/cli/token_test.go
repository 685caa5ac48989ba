package cli

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestTokenCreate checks that token create prints the token and nothing else on stdout,
// that the token then authenticates with its role, scope and expiry, and that bad flags
// are usage errors that create nothing.
func TestTokenCreate(t *testing.T) {
	tokenLine := regexp.MustCompile(`^fbk_[A-Za-z0-9_-]{43}\n$`)
	tests := []struct {
		name         string
		args         []string
		wantCode     int
		wantErr      string
		wantRole     auth.Role
		wantAccounts string
		// wantClearance is the principal's clearance, and wantSays what stderr says of it.
		wantClearance string
		wantSays      string
		wantTTL       time.Duration
	}{
		{name: "viewer, every account, never expires", args: []string{"--role", "viewer"}, wantRole: auth.Viewer,
			wantSays: "cleared for no sensitivity label"},
		{name: "viewer cleared for two labels", args: []string{"--role", "viewer", "--clearance", "Restricted, legal"}, wantRole: auth.Viewer,
			wantClearance: "legal,restricted", wantSays: "cleared for legal, restricted"},
		{name: "admin is cleared for every label", args: []string{"--role", "admin"}, wantRole: auth.Admin,
			wantSays: "cleared for every sensitivity label"},
		{name: "an empty clearance label", args: []string{"--role", "viewer", "--clearance", "restricted,"}, wantCode: ExitUsage,
			wantErr: `--clearance: clearance "": is empty`},
		{name: "scoped responder for 30 days", args: []string{"--role", "responder", "--accounts", "111122223333, 444455556666", "--expires", "30d"},
			wantRole: auth.Responder, wantAccounts: "111122223333,444455556666", wantTTL: 30 * 24 * time.Hour},
		{name: "admin for 12 hours", args: []string{"--role", "admin", "--expires", "12h"}, wantRole: auth.Admin, wantTTL: 12 * time.Hour},
		{name: "no role", args: []string{}, wantCode: ExitUsage, wantErr: "--role is required"},
		{name: "unknown role", args: []string{"--role", "root"}, wantCode: ExitUsage, wantErr: "unknown role"},
		{name: "bad account", args: []string{"--role", "viewer", "--accounts", "1234"}, wantCode: ExitUsage, wantErr: "12-digit"},
		{name: "bad expiry", args: []string{"--role", "viewer", "--expires", "soon"}, wantCode: ExitUsage, wantErr: "--expires"},
		{name: "negative expiry", args: []string{"--role", "viewer", "--expires", "-1h"}, wantCode: ExitUsage, wantErr: "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := invoke(t, "", append([]string{"token", "create", "--data-dir", dir}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, stderr)
			}
			if tt.wantCode != 0 {
				if stdout != "" || !strings.Contains(stderr, tt.wantErr) {
					t.Errorf("stdout %q, stderr %q; want nothing on stdout and %q on stderr", stdout, stderr, tt.wantErr)
				}
				return
			}
			if !tokenLine.MatchString(stdout) {
				t.Fatalf("stdout %q: want the token and nothing else", stdout)
			}
			ctx := context.Background()
			st, err := store.Open(ctx, filepath.Join(dir, "firebreak.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			r := httptest.NewRequest("GET", "/v1/incidents", nil)
			r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(stdout))
			p, err := (&auth.Authenticator{Store: st}).Authenticate(r)
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != tt.wantRole || strings.Join(p.Accounts, ",") != tt.wantAccounts || strings.Join(p.Clearance, ",") != tt.wantClearance {
				t.Errorf("principal %+v, want role %s accounts %q clearance %q", p, tt.wantRole, tt.wantAccounts, tt.wantClearance)
			}
			if !strings.Contains(stderr, tt.wantSays) {
				t.Errorf("stderr %q does not say %q", stderr, tt.wantSays)
			}
			if tt.wantTTL > 0 {
				late := &auth.Authenticator{Store: st, Now: func() time.Time { return time.Now().Add(tt.wantTTL + time.Minute) }}
				if _, err := late.Authenticate(r); err == nil {
					t.Errorf("the token still works after %s", tt.wantTTL)
				}
			}
			if _, err := st.VerifyAudit(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
