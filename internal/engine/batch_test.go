package engine

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// holdWriter blocks the store's grouped writer until the returned function is called, so
// that the Accept calls made meanwhile are taken as one group.
func holdWriter(t *testing.T, s *store.Store) (release func()) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.WriteGrouped(context.Background(), func(context.Context, *store.Tx) error {
			close(entered)
			<-gate
			return nil
		})
	}()
	<-entered
	return func() {
		close(gate)
		if err := <-errc; err != nil {
			t.Errorf("holding write: %v", err)
		}
	}
}

func waitGroupQueue(t *testing.T, s *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.GroupQueue() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d grouped writes queued, want %d", s.GroupQueue(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAcceptGrouped accepts four requests in one transaction: two carry the same event,
// and one fails at its second event, after its first was stored and audited. The failed
// request's events are absent and it alone hears the error; of the same event twice one
// request accepts it and the other counts it a duplicate; the audit chain is intact.
func TestAcceptGrouped(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{stopped: true, breaker: Breaker{PerPlaybook: 10, Total: 50, Accounts: 5}})
		ctx := context.Background()
		c2 := readEvents(t, c2Prod)
		fresh := readEvents(t, cryptoDev)[0]
		// A new event, not another delivery of the cryptomining finding.
		fresh.ID, fresh.FindingID, fresh.UpdatedAt = "fresh-event", "", nil
		broken := *fresh
		broken.ID, broken.Raw = "broken-event", json.RawMessage("{") // cannot be encoded for storage
		requests := [][]*event.Event{c2, readEvents(t, cryptoDev), {fresh, &broken}, readEvents(t, c2Prod)}
		const failing = 2

		release := holdWriter(t, f.store)
		type result struct {
			accepted, duplicates int
			err                  error
		}
		results := make([]result, len(requests))
		var wg sync.WaitGroup
		for i, evs := range requests {
			wg.Go(func() {
				a, dup, err := f.eng.Accept(ctx, evs, "http")
				results[i] = result{a, dup, err}
			})
			waitGroupQueue(t, f.store, i+1)
		}
		release()
		wg.Wait()

		for i, r := range results {
			if (r.err != nil) != (i == failing) {
				t.Errorf("request %d: %v", i, r.err)
			}
		}
		if r := results[1]; r.accepted != 1 || r.duplicates != 0 {
			t.Errorf("cryptomining request: %d accepted, %d duplicates; want 1, 0", r.accepted, r.duplicates)
		}
		// The same event twice in one group: stored once.
		a, b := results[0], results[3]
		if a.accepted+b.accepted != len(c2) || a.duplicates+b.duplicates != len(c2) || a.accepted*b.accepted != 0 {
			t.Errorf("the same events twice: %+v and %+v; want one request to accept all %d and the other to count them duplicates", a, b, len(c2))
		}

		var events, audits int
		err := f.store.Read(ctx, func(tx *store.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM events WHERE id IN (?, ?)`, fresh.ID, broken.ID).Scan(&events); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT COUNT(*) FROM audit WHERE subject IN (?, ?)`, fresh.ID, broken.ID).Scan(&audits)
		})
		if err != nil {
			t.Fatal(err)
		}
		if events != 0 || audits != 0 {
			t.Errorf("the failed request left %d events and %d audit records", events, audits)
		}
		if _, err := f.store.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}
		kinds := f.auditKinds(t)
		if kinds["event.accepted"] != len(c2)+1 || kinds["event.duplicate"] != len(c2) {
			t.Errorf("audit kinds %v", kinds)
		}
		list, err := f.eng.List(ctx, store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Errorf("%d incidents, want one for each of the two findings", len(list))
		}

		// The failed request's events are taken when delivered again, now whole.
		if a, dup, err := f.eng.Accept(ctx, []*event.Event{fresh}, "http"); err != nil || a != 1 || dup != 0 {
			t.Errorf("delivered again: %d accepted, %d duplicates, %v", a, dup, err)
		}
	})
}

// TestBreakerCountsGroup trips the breaker's total across requests sharing a transaction:
// each counts the incidents those before it opened, and none that a failed one opened.
func TestBreakerCountsGroup(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{stopped: true, breaker: Breaker{Total: 1}})
		ctx := context.Background()
		failed := readEvents(t, c2Prod)
		broken := *failed[0]
		broken.ID, broken.Raw = "broken-event", json.RawMessage("{")
		failed = append(failed, &broken)
		requests := [][]*event.Event{failed, readEvents(t, c2Prod), readEvents(t, cryptoDev)}

		release := holdWriter(t, f.store)
		errs := make([]error, len(requests))
		var wg sync.WaitGroup
		for i, evs := range requests {
			wg.Go(func() { _, _, errs[i] = f.eng.Accept(ctx, evs, "http") })
			waitGroupQueue(t, f.store, i+1)
		}
		release()
		wg.Wait()
		if errs[0] == nil || errs[1] != nil || errs[2] != nil {
			t.Fatalf("results %v; want the first alone to fail", errs)
		}
		// The failed request's incident was rolled back: the c2 incident is the first in
		// the window and the cryptomining one the second, past the limit of one.
		if n := f.auditKinds(t)["breaker.tripped"]; n != 1 {
			t.Errorf("%d breaker.tripped records, want 1", n)
		}
		list, err := f.eng.List(ctx, store.Filter{Playbook: "ec2-compromise-dev"})
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %v, %v", list, err)
		}
		inc, err := f.eng.Get(ctx, list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if st := inc.Steps[0]; st.Approval != store.ApprovalRequired {
			t.Errorf("first step past the breaker: %+v, want it to need approval", st)
		}
	})
}
