package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// storeCounts is what the store says happened.
type storeCounts struct {
	Incidents int
	Events    int // rows in events
	Steps     int // steps of all incidents
	Attempts  int // attempts over all steps: more than Steps when steps were run again
	StepDone  int // step completions (done or already done) in the audit chain
	Duplicate int // event.duplicate audit records
}

// waitStore polls the store at dsn until want incidents exist and none is open or
// containing.
func waitStore(t *testing.T, dsn string, want int, limit time.Duration) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(limit)
	for {
		var total, busy int
		err := s.Read(ctx, func(tx *store.Tx) error {
			list, err := s.ListIncidents(ctx, tx, store.Filter{Limit: want + 100})
			for _, inc := range list {
				total++
				if inc.State == store.StateOpen || inc.State == store.StateContaining {
					busy++
				}
			}
			return err
		})
		if err == nil && total >= want && busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d incidents, %d still open or containing (%v); want %d settled; step jobs by state: %s",
				limit, total, busy, err, want, jobStates(ctx, s))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkStore reads the store at dsn once every server has stopped: exactly one incident per
// finding, each contained with every step done; every event stored; every step's completion
// recorded once in the audit chain.
func checkStore(t *testing.T, dsn string, fs []finding) storeCounts {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var sc storeCounts
	var incs []*store.Incident
	stored := map[string]bool{}
	err = s.Read(ctx, func(tx *store.Tx) error {
		list, err := s.ListIncidents(ctx, tx, store.Filter{Limit: len(fs) + 100})
		if err != nil {
			return err
		}
		for _, inc := range list {
			full, err := s.Incident(ctx, tx, inc.ID)
			if err != nil {
				return err
			}
			incs = append(incs, full)
		}
		return tx.Query(ctx, "SELECT id FROM events", func(r store.Row) error {
			var id string
			err := r.Scan(&id)
			stored[id] = true
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	sc.Incidents, sc.Events = len(incs), len(stored)
	byTarget := map[string]*store.Incident{}
	for _, inc := range incs {
		if prev := byTarget[inc.Target.ID]; prev != nil {
			t.Errorf("two incidents for %s: %s and %s", inc.Target.ID, prev.ID, inc.ID)
		}
		byTarget[inc.Target.ID] = inc
		for _, st := range inc.Steps {
			sc.Steps++
			sc.Attempts += st.Attempts
			if st.Status != string(run.Done) && st.Status != string(run.AlreadyDone) {
				t.Errorf("incident %s step %d (%s) is %s (%s), want done", inc.ID, st.Index, st.Action, st.Status, st.Reason)
			}
		}
	}
	if len(incs) != len(fs) {
		t.Errorf("%d incidents, want %d", len(incs), len(fs))
	}
	for _, f := range fs {
		if !stored[f.EventID] {
			t.Errorf("event %s was acknowledged but is not stored", f.EventID)
		}
		inc := byTarget[f.Instance]
		switch {
		case inc == nil:
			t.Errorf("no incident for %s (event %s)", f.Instance, f.EventID)
		case inc.State != store.StateContained:
			t.Errorf("incident %s for %s is %s, want contained", inc.ID, f.Instance, inc.State)
		}
	}

	var buf bytes.Buffer
	if err := s.ExportAudit(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	done := map[string]int{}
	for line := range bytes.Lines(buf.Bytes()) {
		var r struct {
			Kind    string          `json:"kind"`
			Subject string          `json:"subject"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		switch r.Kind {
		case "step." + string(run.Done), "step." + string(run.AlreadyDone):
			sc.StepDone++
			var d struct {
				Step int `json:"step"`
			}
			if err := json.Unmarshal(r.Data, &d); err != nil {
				t.Fatalf("%s record for %s: %v", r.Kind, r.Subject, err)
			}
			done[fmt.Sprintf("%s step %d", r.Subject, d.Step)]++
		case "event.duplicate":
			sc.Duplicate++
		}
	}
	if sc.StepDone != sc.Steps {
		t.Errorf("%d step completions in the audit chain for %d steps, want one each", sc.StepDone, sc.Steps)
	}
	for k, n := range done {
		if n != 1 {
			t.Errorf("incident %s completed %d times, want once", k, n)
		}
	}
	return sc
}

// jobStates counts River's step jobs by state, to tell a stuck job (running, with no
// process left to run it) from a slow one.
func jobStates(ctx context.Context, s *store.Store) string {
	var out []string
	err := s.Read(ctx, func(tx *store.Tx) error {
		return tx.Query(ctx, "SELECT state, COUNT(*) FROM river_job GROUP BY state ORDER BY state", func(r store.Row) error {
			var state string
			var n int
			err := r.Scan(&state, &n)
			out = append(out, fmt.Sprintf("%s %d", state, n))
			return err
		})
	})
	if err != nil {
		return err.Error()
	}
	return strings.Join(out, ", ")
}
