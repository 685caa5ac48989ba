package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// hold starts a grouped write that blocks the writer until the returned function is
// called, so that the calls made meanwhile queue up and are taken as one group.
func hold(t *testing.T, s *store.Store) (release func()) {
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

// waitQueued waits until n grouped writes are queued.
func waitQueued(t *testing.T, s *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.GroupQueue() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d grouped writes queued, want %d", s.GroupQueue(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriteGroupedFailure runs six grouped writes in one transaction, of which three fail:
// one after it has written, one before it writes anything, and the last one. The other
// three commit, nothing of the failed ones is left, and the audit chain the calls appended
// to in turn is intact.
func TestWriteGroupedFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		release := hold(t, s)
		const calls = 6
		failsMidway := map[int]bool{2: true, 5: true}
		const failsAtOnce = 3
		errs := make([]error, calls)
		txs := make([]*store.Tx, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() {
				errs[i] = s.WriteGrouped(ctx, func(ctx context.Context, tx *store.Tx) error {
					txs[i] = tx
					if i == failsAtOnce {
						return errors.New("failed at once")
					}
					for j := range 2 {
						if _, err := s.Audit(ctx, tx, store.AuditRecord{Kind: "test", Actor: "tester",
							Subject: fmt.Sprintf("call-%d", i), Data: json.RawMessage(fmt.Sprintf(`{"record": %d}`, j))}); err != nil {
							return err
						}
					}
					if failsMidway[i] {
						return errors.New("failed midway")
					}
					return nil
				})
			})
			waitQueued(t, s, i+1)
		}
		release()
		wg.Wait()
		for i, err := range errs {
			if (err != nil) != (failsMidway[i] || i == failsAtOnce) {
				t.Errorf("call %d: %v", i, err)
			}
			if txs[i] != txs[0] {
				t.Errorf("call %d ran in a transaction of its own", i)
			}
		}
		sum, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Records != 2*3 {
			t.Errorf("%d audit records, want %d", sum.Records, 2*3)
		}
		for i := range failsMidway {
			var n int
			err = s.Read(ctx, func(tx *store.Tx) error {
				return tx.QueryRow(ctx, `SELECT COUNT(*) FROM audit WHERE subject = ?`, fmt.Sprintf("call-%d", i)).Scan(&n)
			})
			if err != nil || n != 0 {
				t.Errorf("failed call %d left %d audit records (%v)", i, n, err)
			}
		}
		// The chain goes on from the group's last record.
		if err := s.WriteGrouped(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := s.Audit(ctx, tx, store.AuditRecord{Kind: "test", Actor: "tester", Subject: "after", Data: json.RawMessage(`{}`)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if sum, err := s.VerifyAudit(ctx); err != nil || sum.Records != 7 {
			t.Fatalf("%+v, %v; want 7 records", sum, err)
		}
	})
}

// TestWriteGroupedPanic hands a call's panic to its own caller, and the writer goes on.
func TestWriteGroupedPanic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		audit := func(ctx context.Context, tx *store.Tx) error {
			_, err := s.Audit(ctx, tx, store.AuditRecord{Kind: "test", Actor: "tester", Subject: "x", Data: json.RawMessage(`{}`)})
			return err
		}
		release := hold(t, s)
		var wg sync.WaitGroup
		var recovered any
		var okErr error
		wg.Go(func() {
			defer func() { recovered = recover() }()
			_ = s.WriteGrouped(ctx, func(ctx context.Context, tx *store.Tx) error {
				if err := audit(ctx, tx); err != nil {
					return err
				}
				panic("boom")
			})
		})
		waitQueued(t, s, 1)
		wg.Go(func() { okErr = s.WriteGrouped(ctx, audit) })
		waitQueued(t, s, 2)
		release()
		wg.Wait()
		if recovered != "boom" || okErr != nil {
			t.Fatalf("recovered %v, other call %v", recovered, okErr)
		}
		if err := s.WriteGrouped(ctx, audit); err != nil {
			t.Fatal(err)
		}
		if sum, err := s.VerifyAudit(ctx); err != nil || sum.Records != 2 {
			t.Fatalf("%+v, %v; want 2 records", sum, err)
		}
	})
}

// TestWriteGroupedCancelled does not run a call whose caller has gone before the writer
// reached it.
func TestWriteGroupedCancelled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		release := hold(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		ran := false
		errc := make(chan error, 1)
		go func() {
			errc <- s.WriteGrouped(ctx, func(context.Context, *store.Tx) error { ran = true; return nil })
		}()
		waitQueued(t, s, 1)
		cancel()
		err := <-errc
		release()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call: %v", err)
		}
		// A later write runs after the writer has passed the abandoned call.
		if err := s.WriteGrouped(context.Background(), func(context.Context, *store.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if ran {
			t.Error("the abandoned call ran")
		}
	})
}
