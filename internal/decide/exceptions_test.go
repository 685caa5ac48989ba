package decide

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// TestRuntimeExceptions checks the exceptions created at run time: consulted after the
// exceptions file, named by their id, noted once expired, limited to the playbooks they
// name, and replaced whole by SetExceptions.
func TestRuntimeExceptions(t *testing.T) {
	_, eng := loadEngine(t, "testdata/playbooks") // decides at 2026-06-01
	until := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	eng.SetExceptions([]*playbook.ExceptionEntry{
		{ID: "exc-1a2b", Resource: "i-0rt", Playbooks: []string{"*"}, Reason: "forensic image", ApprovedBy: "alice", Expires: until},
		{ID: "exc-old", Resource: "i-0gone", Playbooks: []string{"*"}, Reason: "patch window", ApprovedBy: "bob",
			Expires: time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)},
		{ID: "exc-ip", Resource: "198.51.100.7", Playbooks: []string{"block-c2-ip"}, Reason: "our scanner", ApprovedBy: "carol", Expires: until},
		{ID: "exc-late", Resource: "i-0legacy", Playbooks: []string{"*"}, Reason: "shadowed by the file", Expires: until},
		{ID: "exc-acct", Account: "444455556666", Playbooks: []string{"ec2-command-and-control"}, Reason: "load test", ApprovedBy: "dan", Expires: until},
	})
	tests := []struct {
		name     string
		ev       *event.Event
		playbook string
		outcome  Outcome
		reason   string
	}{
		{"a resource, named by id", c2Event("i-0rt", nil, 7), "ec2-command-and-control", Excepted,
			"excepted by exception exc-1a2b (approved by alice, until 2026-12-01): forensic image"},
		{"expired: noted, and the playbook goes ahead", c2Event("i-0gone", nil, 7), "ec2-command-and-control", Planned,
			"exception exc-old (approved by bob, until 2026-05-01T12:30:00Z): patch window expired on 2026-05-01T12:30:00Z"},
		{"only the playbooks it names", c2Event("i-0abc", nil, 7), "block-c2-ip", Excepted,
			"excepted by exception exc-ip (approved by carol, until 2026-12-01): our scanner"},
		{"the exceptions file first", c2Event("i-0legacy", nil, 7), "ec2-command-and-control", Excepted,
			"excepted by exceptions.yaml:5 (approved by alice, until 2030-01-01): vendor appliance"},
		{"a whole account", func() *event.Event { e := c2Event("i-0dev", nil, 7); e.Account = "444455556666"; return e }(),
			"ec2-command-and-control", Excepted, "excepted by exception exc-acct (approved by dan, until 2026-12-01): load test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, d := range eng.Decide(context.Background(), tt.ev, nil) {
				if d.Playbook != tt.playbook {
					continue
				}
				if d.Outcome != tt.outcome || d.Reason != tt.reason {
					t.Errorf("%s: %s\nwant %s: %s", d.Outcome, d.Reason, tt.outcome, tt.reason)
				}
				return
			}
			t.Errorf("no decision by %s", tt.playbook)
		})
	}

	// A request that runs no playbook is judged by the entries for every playbook alone.
	for _, tc := range []struct {
		id, want string
	}{
		{"i-0rt", "excepted by exception exc-1a2b (approved by alice, until 2026-12-01): forensic image"},
		{"198.51.100.7", ""},
		{"i-0old", ""}, // the file's entry for every playbook has expired
	} {
		r := &event.Resource{Kind: event.KindInstance, ID: tc.id, Account: "111122223333"}
		if got, _ := eng.EntryException("self-service", r); got != tc.want {
			t.Errorf("EntryException(%s) = %q, want %q", tc.id, got, tc.want)
		}
	}

	eng.SetExceptions(nil)
	for _, d := range eng.Decide(context.Background(), c2Event("i-0rt", nil, 7), nil) {
		if d.Outcome == Excepted {
			t.Errorf("after SetExceptions(nil), %s still excepted: %s", d.Playbook, d.Reason)
		}
	}
}
