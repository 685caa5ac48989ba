package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

func TestMigrateTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second migration: %v", err)
		}
		err := s.Read(ctx, func(tx *store.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
				return err
			}
			// One row per migration file of the dialect, however often Migrate ran.
			files, err := filepath.Glob(filepath.Join("migrations", string(s.Dialect()), "*.sql"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no migration files found: %v", err)
			}
			if n != len(files) {
				t.Errorf("schema_migrations has %d rows, want %d", n, len(files))
			}
			// River's tables exist too.
			return tx.QueryRow(ctx, `SELECT COUNT(*) FROM river_job`).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestInsertEventDuplicates(t *testing.T) {
	updated := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	later := updated.Add(time.Hour)
	tests := []struct {
		name      string
		ev        event.Event
		inserted  bool
		duplicate string
	}{
		{"new", event.Event{ID: "e1", FindingID: "f1", UpdatedAt: &updated}, true, ""},
		{"same id", event.Event{ID: "e1"}, false, "e1"},
		{"same finding, same update", event.Event{ID: "e2", FindingID: "f1", UpdatedAt: &updated}, false, "e1"},
		{"same finding, later update", event.Event{ID: "e3", FindingID: "f1", UpdatedAt: &later}, true, ""},
		{"no finding", event.Event{ID: "e4"}, true, ""},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, tc := range tests {
			rec, err := store.NewEventRecord(&tc.ev, "test", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			err = s.Write(ctx, func(tx *store.Tx) error {
				ins, dup, err := s.InsertEvent(ctx, tx, rec)
				if err != nil {
					return err
				}
				if ins != tc.inserted || dup != tc.duplicate {
					t.Errorf("%s: inserted %v, duplicate of %q; want %v, %q", tc.name, ins, dup, tc.inserted, tc.duplicate)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
	})
}

func TestIncidentRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		target := action.Target{Kind: event.KindInstance, ID: "i-1", Account: "111122223333", Region: "us-east-1", Tags: map[string]string{"Environment": "prod"}}
		inc := &store.Incident{ID: "inc-1", Playbook: "pb", Target: target, State: store.StateContaining, RequestedBy: "http",
			EventID: "e1", Decision: json.RawMessage(`{"outcome":"planned"}`), JoinKey: store.JoinKey("pb", target),
			JoinUntil: now.Add(time.Hour), Created: now,
			Steps: []store.Step{
				{Index: 0, Action: "ec2.isolate", With: map[string]any{"a": "b"}, Status: store.StepPending, Reversible: true},
				{Index: 1, Action: "ec2.terminate", Status: store.StepPending, Approval: store.ApprovalRequired, ApprovalReason: "playbook"},
			}}
		err := s.Write(ctx, func(tx *store.Tx) error {
			rec, _ := store.NewEventRecord(&event.Event{ID: "e1"}, "http", now)
			if _, _, err := s.InsertEvent(ctx, tx, rec); err != nil {
				return err
			}
			if err := s.CreateIncident(ctx, tx, inc); err != nil {
				return err
			}
			st := inc.Steps[0]
			st.Status, st.Prior, st.Started, st.Finished = "done", json.RawMessage(`{"groups":["sg-1"]}`), now, now.Add(time.Second)
			st.Evidence = []action.Evidence{{Kind: "snapshot", ID: "snap-1"}}
			return s.UpdateStep(ctx, tx, inc.ID, &st)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Read(ctx, func(tx *store.Tx) error {
			got, err := s.Incident(ctx, tx, "inc-1")
			if err != nil {
				return err
			}
			if got.State != store.StateContaining || got.Target.Tags["Environment"] != "prod" || len(got.Steps) != 2 || len(got.Events) != 1 {
				t.Errorf("incident read back as %+v", got)
			}
			st := got.Steps[0]
			if st.Status != "done" || string(st.Prior) != `{"groups":["sg-1"]}` || !st.Started.Equal(now) || st.Evidence[0].ID != "snap-1" || st.With["a"] != "b" || !st.Reversible {
				t.Errorf("step read back as %+v", st)
			}
			if got.Steps[1].Approval != store.ApprovalRequired || !got.Steps[1].Started.IsZero() {
				t.Errorf("second step read back as %+v", got.Steps[1])
			}
			id, err := s.JoinableIncident(ctx, tx, inc.JoinKey, now.Add(time.Minute), []string{store.StateContaining})
			if err != nil || id != "inc-1" {
				t.Errorf("joinable within the window: %q, %v", id, err)
			}
			if _, err := s.JoinableIncident(ctx, tx, inc.JoinKey, now.Add(2*time.Hour), []string{store.StateContaining}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("joinable after the window: %v, want ErrNotFound", err)
			}
			list, err := s.ListIncidents(ctx, tx, store.Filter{State: store.StateContaining, Since: now.Add(-time.Second)})
			if err != nil || len(list) != 1 {
				t.Errorf("list: %d incidents, %v", len(list), err)
			}
			if _, err := s.Incident(ctx, tx, "inc-none"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("missing incident: %v, want ErrNotFound", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestListByClearance checks that a list filtered by clearance keeps the unlabelled
// incidents and those labelled with a cleared label, and that without the filter every
// incident is listed.
func TestListByClearance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		err := s.Write(ctx, func(tx *store.Tx) error {
			for i, sens := range []string{"", "restricted", "legal"} {
				id := fmt.Sprintf("inc-%d", i)
				rec, _ := store.NewEventRecord(&event.Event{ID: "e-" + id}, "http", now)
				if _, _, err := s.InsertEvent(ctx, tx, rec); err != nil {
					return err
				}
				target := action.Target{Kind: event.KindInstance, ID: "i-" + id, Account: "111122223333", Region: "us-east-1"}
				if err := s.CreateIncident(ctx, tx, &store.Incident{ID: id, Playbook: "pb", Target: target, State: store.StateContained,
					Sensitivity: sens, RequestedBy: "http", EventID: "e-" + id, Decision: json.RawMessage(`{}`),
					JoinKey: store.JoinKey("pb", target), JoinUntil: now, Created: now.Add(time.Duration(i) * time.Second)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			f    store.Filter
			want []string
		}{
			{"no filter", store.Filter{}, []string{"inc-2", "inc-1", "inc-0"}},
			{"cleared for nothing", store.Filter{ByClearance: true}, []string{"inc-0"}},
			{"cleared for one label", store.Filter{ByClearance: true, Clearance: []string{"restricted"}}, []string{"inc-1", "inc-0"}},
			{"cleared for both", store.Filter{ByClearance: true, Clearance: []string{"legal", "restricted"}}, []string{"inc-2", "inc-1", "inc-0"}},
			{"a page of one is filled from what is cleared", store.Filter{ByClearance: true, Limit: 1}, []string{"inc-0"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []string
				err := s.Read(ctx, func(tx *store.Tx) error {
					list, err := s.ListIncidents(ctx, tx, tt.f)
					for _, inc := range list {
						got = append(got, inc.ID)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(got, ",") != strings.Join(tt.want, ",") {
					t.Errorf("listed %v, want %v", got, tt.want)
				}
			})
		}
	})
}

// appendRecords writes n audit records, one transaction each.
func appendRecords(t *testing.T, s *store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		err := s.Write(ctx, func(tx *store.Tx) error {
			_, err := s.Audit(ctx, tx, store.AuditRecord{Kind: "test", Actor: "tester", Source: "127.0.0.1",
				Subject: fmt.Sprintf("inc-%d", i), Data: json.RawMessage(fmt.Sprintf(`{"n": %d, "b": [1.50, "<x>"], "a": null}`, i))})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditChain(t *testing.T) {
	// Each tamper is done by raw SQL, as someone with database access would.
	tests := []struct {
		name    string
		tamper  []string
		seq     int64
		mention string
	}{
		{"intact", nil, 0, ""},
		{"edited actor", []string{`UPDATE audit SET actor = 'someone-else' WHERE seq = 3`}, 3, "edited"},
		{"edited data", []string{`UPDATE audit SET data = '{"n": 99}' WHERE seq = 4`}, 4, "edited"},
		{"deleted", []string{`DELETE FROM audit WHERE seq = 3`}, 3, "deleted"},
		{"deleted first", []string{`DELETE FROM audit WHERE seq = 1`}, 1, "deleted"},
		{"inserted", []string{
			`UPDATE audit SET seq = seq + 100 WHERE seq >= 3`,
			`UPDATE audit SET seq = seq - 99 WHERE seq >= 100`,
			`INSERT INTO audit (seq, at, kind, actor, source, request_id, subject, data, prev_hash, hash)
				SELECT 3, at, 'test', 'forger', '', '', 'inc-x', '{}', 'made-up', 'forged' FROM audit WHERE seq = 2`,
		}, 3, "inserted"},
		{"inserted, linked to the record before", []string{
			`UPDATE audit SET seq = seq + 100 WHERE seq >= 3`,
			`UPDATE audit SET seq = seq - 99 WHERE seq >= 100`,
			`INSERT INTO audit (seq, at, kind, actor, source, request_id, subject, data, prev_hash, hash)
				SELECT 3, at, kind, 'forger', source, request_id, subject, data, hash, 'forged' FROM audit WHERE seq = 2`,
		}, 3, "forged"},
		{"appended", []string{
			`INSERT INTO audit (seq, at, kind, actor, source, request_id, subject, data, prev_hash, hash)
				SELECT 7, at, kind, 'forger', source, request_id, subject, data, hash, 'forged' FROM audit WHERE seq = 6`,
		}, 7, "forged"},
		{"reordered", []string{
			`UPDATE audit SET seq = 100 WHERE seq = 3`,
			`UPDATE audit SET seq = 3 WHERE seq = 4`,
			`UPDATE audit SET seq = 4 WHERE seq = 100`,
		}, 3, "reordered"},
		{"renumbered out of the chain", []string{
			`UPDATE audit SET seq = 100 WHERE seq = 5`,
		}, 5, "deleted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				appendRecords(t, s, 6)
				err := s.Write(ctx, func(tx *store.Tx) error {
					for _, q := range tc.tamper {
						if _, err := tx.Exec(ctx, q); err != nil {
							return fmt.Errorf("%s: %w", q, err)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				sum, err := s.VerifyAudit(ctx)
				if tc.seq == 0 {
					if err != nil {
						t.Fatalf("intact chain: %v", err)
					}
					if sum.Records != 6 || sum.Head == "" {
						t.Errorf("summary %+v", sum)
					}
					t.Log(sum)
					return
				}
				var ce *store.ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("verify after tampering: %v, want a ChainError", err)
				}
				if ce.Seq != tc.seq || !strings.Contains(ce.Reason, tc.mention) {
					t.Errorf("verify names record %d: %s; want record %d, mentioning %q", ce.Seq, ce.Reason, tc.seq, tc.mention)
				}
				t.Log(err)
			})
		})
	}
}

func TestExportAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		appendRecords(t, s, 3)
		var buf bytes.Buffer
		if err := s.ExportAudit(context.Background(), &buf); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 3 {
			t.Fatalf("export has %d lines, want 3:\n%s", len(lines), buf.String())
		}
		var r store.AuditRecord
		if err := json.Unmarshal([]byte(lines[2]), &r); err != nil {
			t.Fatal(err)
		}
		if r.Seq != 3 || r.PrevHash == "" || string(r.Data) != `{"a":null,"b":[1.50,"<x>"],"n":2}` {
			t.Errorf("last exported record: %+v (data %s)", r, r.Data)
		}
	})
}
