package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/api"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine/enginetest"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// exceptionServer serves the real API over an engine on the example organisation, and
// returns its address with an admin's and a viewer's token.
func exceptionServer(t *testing.T) (addr, admin, viewer string) {
	t.Helper()
	e := enginetest.Start(t, store.SQLite)
	st := e.Store
	h, err := api.New(api.Options{Engine: e.Engine, Store: st, Auth: &auth.Authenticator{Store: st}, Catalogue: e.Catalogue})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, r := range []struct {
		role auth.Role
		dst  *string
	}{{auth.Admin, &admin}, {auth.Viewer, &viewer}} {
		tok, _, err := auth.Issue(context.Background(), st, auth.IssueOptions{Role: r.role, By: "test"})
		if err != nil {
			t.Fatal(err)
		}
		*r.dst = tok
	}
	return srv.URL, admin, viewer
}

var excID = regexp.MustCompile(`exc-[0-9a-f]{16}`)

// TestExceptionCommands creates, lists and revokes an exception through the commands
// against the real API, and checks their tables, JSON, refusals and usage errors.
func TestExceptionCommands(t *testing.T) {
	addr, admin, viewer := exceptionServer(t)
	apiEnv(t, addr, admin)

	code, out, errs := invoke(t, "", "exceptions", "create", "--resource", "i-0a1b2c3d4e5f60001", "--reason", "forensic image in progress",
		"--expires", "72h", "--approved-by", "alice")
	if code != ExitOK || !strings.Contains(out, "for resource i-0a1b2c3d4e5f60001 (every playbook), approved by alice, until ") {
		t.Fatalf("create: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	id := excID.FindString(out)
	if id == "" || !strings.Contains(out, "Revoke it with: firebreak exceptions revoke "+id+" --reason REASON") {
		t.Fatalf("create printed no id or no way to revoke it: %q", out)
	}
	code, out, errs = invoke(t, "", "exceptions", "create", "--account", "444455556666", "--playbook", "ec2-compromise-dev",
		"--playbook", "ec2-compromise-prod", "--reason", "load test", "--expires", time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339), "-o", "json")
	var acct api.Exception
	if code != ExitOK || json.Unmarshal([]byte(out), &acct) != nil || acct.Account != "444455556666" || len(acct.Playbooks) != 2 {
		t.Fatalf("create as json: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	tests := []struct {
		name     string
		token    string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{name: "list as a table", token: viewer, args: []string{"exceptions"},
			wantOut: []string{"ID ", "STATE", "FOR", id + "  active  resource i-0a1b2c3d4e5f60001", "account 444455556666", "ec2-compromise-dev,ec2-compromise-prod", "alice", "forensic image in progress"}},
		{name: "list one account", token: viewer, args: []string{"exceptions", "list", "--account", "444455556666"}, wantOut: []string{acct.ID}},
		{name: "list as json", token: viewer, args: []string{"exceptions", "list", "-o", "json"}, wantOut: []string{`"exceptions": [`, `"state": "active"`}},
		{name: "show one", token: viewer, args: []string{"exceptions", "show", id},
			wantOut: []string{"Exception:    " + id, "State:        active", "For:          resource i-0a1b2c3d4e5f60001", "Playbooks:    *", "Approved by:  alice"}},
		{name: "show one as json", token: viewer, args: []string{"exceptions", "show", acct.ID, "-o", "json"}, wantOut: []string{`"account": "444455556666"`}},
		{name: "show an unknown one", token: viewer, args: []string{"exceptions", "show", "exc-nothere"}, wantCode: ExitRejected, wantErr: []string{"(404 Not Found)"}},
		{name: "unknown playbook", token: admin, args: []string{"exceptions", "create", "--resource", "i-1", "--playbook", "ec2-compromise-prd", "--reason", "r", "--expires", "1h"},
			wantCode: ExitRejected, wantErr: []string{"(422 Unprocessable Entity)", `  playbooks: no playbook is called "ec2-compromise-prd" (did you mean "ec2-compromise-prod"?)`}},
		{name: "too far ahead", token: admin, args: []string{"exceptions", "create", "--resource", "i-1", "--reason", "r", "--expires", "91d"},
			wantCode: ExitRejected, wantErr: []string{"  expires: must be at most 90 days ahead"}},
		{name: "create as a viewer", token: viewer, args: []string{"exceptions", "create", "--resource", "i-1", "--reason", "r", "--expires", "1h"},
			wantCode: ExitRejected, wantErr: []string{"role viewer may not administer", "(403 Forbidden)"}},
		{name: "neither resource nor account", token: admin, args: []string{"exceptions", "create", "--reason", "r", "--expires", "1h"},
			wantCode: ExitUsage, wantErr: []string{"give --resource (an id or ARN) or --account, exactly one"}},
		{name: "both resource and account", token: admin, args: []string{"exceptions", "create", "--resource", "i-1", "--account", "444455556666", "--reason", "r", "--expires", "1h"},
			wantCode: ExitUsage, wantErr: []string{"exactly one"}},
		{name: "no reason", token: admin, args: []string{"exceptions", "create", "--resource", "i-1", "--expires", "1h"}, wantCode: ExitUsage, wantErr: []string{"--reason required"}},
		{name: "no expiry", token: admin, args: []string{"exceptions", "create", "--resource", "i-1", "--reason", "r"}, wantCode: ExitUsage, wantErr: []string{"--expires required"}},
		{name: "unreadable expiry", token: admin, args: []string{"exceptions", "create", "--resource", "i-1", "--reason", "r", "--expires", "next week"},
			wantCode: ExitUsage, wantErr: []string{`--expires "next week": give an RFC 3339 time`}},
		{name: "bad state", token: viewer, args: []string{"exceptions", "--state", "expired"}, wantCode: ExitUsage, wantErr: []string{`--state "expired": use active or all`}},
		{name: "revoke without a reason", token: admin, args: []string{"exceptions", "revoke", id}, wantCode: ExitUsage, wantErr: []string{"--reason required"}},
		{name: "revoke an unknown one", token: admin, args: []string{"exceptions", "revoke", "exc-nothere", "--reason", "r"}, wantCode: ExitRejected,
			wantErr: []string{"no exception exc-nothere", "(404 Not Found)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tokenEnv, tt.token)
			code, out, errs := invoke(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errs)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errs)
				}
			}
		})
	}

	t.Setenv(tokenEnv, admin)
	code, out, errs = invoke(t, "", "exceptions", "revoke", id, "--reason", "imaging finished")
	if code != ExitOK || out != "Revoked exception "+id+" for resource i-0a1b2c3d4e5f60001; the playbooks act on it again\n" {
		t.Fatalf("revoke: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, _, errs := invoke(t, "", "exceptions", "revoke", id, "--reason", "again"); code != ExitRejected || !strings.Contains(errs, "(409 Conflict)") {
		t.Errorf("revoke twice: exit %d, stderr %q; want the 409", code, errs)
	}
	if code, out, _ := invoke(t, "", "exceptions", "--account", "111122223333"); code != ExitOK || out != "No exceptions in force.\n" {
		t.Errorf("list after revoking: exit %d, stdout %q", code, out)
	}
	if code, out, _ := invoke(t, "", "exceptions", "list", "--state", "all"); code != ExitOK || !strings.Contains(out, id+"  revoked") {
		t.Errorf("list all: exit %d, stdout %q; want %s revoked", code, out, id)
	}
	if code, out, _ := invoke(t, "", "exceptions", "show", id); code != ExitOK || !strings.Contains(out, "Revoked:") || !strings.Contains(out, ": imaging finished") {
		t.Errorf("show after revoking: exit %d, stdout %q; want who revoked it and why", code, out)
	}
}

func TestParseExpires(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2026-12-01T00:00:00Z", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), false},
		{"72h", now.Add(72 * time.Hour), false},
		{"90m", now.Add(90 * time.Minute), false},
		{"30d", now.Add(30 * 24 * time.Hour), false},
		{"0d", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"2026-12-01", time.Time{}, true},
		{"soon", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseExpires(tt.in, now)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("parseExpires(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
