package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// maxGroup bounds how many calls one grouped transaction takes: enough to share one lock,
// one commit and one flush among every request a busy intake has waiting, few enough that
// the first of them is not kept long waiting for the last.
const maxGroup = 64

// ErrClosed is returned by WriteGrouped once the store is closed.
var ErrClosed = errors.New("database: store is closed")

// group is WriteGrouped's queue and the writer that empties it. The writer is started by
// the first grouped write and stopped by Close.
type group struct {
	start sync.Once
	stop  sync.Once
	queue chan *groupCall
	done  chan struct{} // closed by Close: the writer stops
	ended chan struct{} // closed by the writer when it has stopped
}

// groupCall is one WriteGrouped call waiting for, or taking part in, a transaction.
type groupCall struct {
	ctx   context.Context
	fn    func(context.Context, *Tx) error
	state atomic.Int32 // callQueued, callTaken or callAbandoned
	err   error
	// panicked holds what fn panicked with, for the caller to panic with in its own
	// goroutine: the writer must go on serving the others.
	panicked any
	done     chan struct{} // closed once err is final: committed, rolled back or not run
}

const (
	callQueued    int32 = iota
	callTaken           // the writer runs it: the caller waits for the outcome
	callAbandoned       // the caller gave up before it was run: the writer skips it
)

// WriteGrouped runs fn in a writing transaction like Write, but one it may share with
// other WriteGrouped calls waiting at the same time: one writer takes up to 64 waiting
// calls, runs each in a savepoint of one transaction, and commits once, so that they share
// the write lock, the round trips of BEGIN and COMMIT and the commit's flush. When fn
// returns an error only its own savepoint is rolled back, and WriteGrouped returns that
// error to its caller alone while the others commit. WriteGrouped returns nil only once the
// transaction holding fn's writes has committed.
//
// fn must make its queries with the context it is given: it carries ctx's values but not
// its cancellation, because cancelling one call's statement would break the transaction
// the others share. A call whose ctx ends before the writer reaches it is not run. A lone
// call is not kept waiting for company: the writer takes whatever is queued when it is
// free, and nothing more.
func (s *Store) WriteGrouped(ctx context.Context, fn func(context.Context, *Tx) error) error {
	g := &s.group
	g.start.Do(func() {
		g.queue = make(chan *groupCall, 4*maxGroup)
		g.done = make(chan struct{})
		g.ended = make(chan struct{})
		go s.groupWriter()
	})
	if g.queue == nil {
		return ErrClosed // closed before any grouped write
	}
	c := &groupCall{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case g.queue <- c:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.done:
		return ErrClosed
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return ctx.Err()
		}
		// Already under way: its outcome is what the caller must hear, whatever it is.
		<-c.done
	case <-g.ended:
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return ErrClosed
		}
		<-c.done
	}
	if c.panicked != nil {
		panic(c.panicked)
	}
	return c.err
}

// close stops the writer, after the transaction it is running, if it was started.
func (g *group) close() {
	g.start.Do(func() {}) // a writer is never started after Close
	if g.done == nil {
		return
	}
	g.stop.Do(func() { close(g.done) })
	<-g.ended
}

// groupWriter runs grouped transactions, one at a time, until the store is closed.
func (s *Store) groupWriter() {
	g := &s.group
	defer close(g.ended)
	batch := make([]*groupCall, 0, maxGroup)
	for {
		select {
		case c := <-g.queue:
			batch = append(batch[:0], c)
		case <-g.done:
			return
		}
	more:
		for len(batch) < maxGroup {
			select {
			case c := <-g.queue:
				batch = append(batch, c)
			default:
				break more
			}
		}
		s.runGroup(batch)
		clear(batch)
	}
}

// runGroup runs the calls of batch that are still wanted in one transaction and tells each
// caller its outcome once the transaction has ended.
func (s *Store) runGroup(batch []*groupCall) {
	calls := batch[:0:0]
	for _, c := range batch {
		switch {
		case !c.state.CompareAndSwap(callQueued, callTaken):
			// Abandoned: its caller has returned already.
		case c.ctx.Err() != nil:
			c.err = c.ctx.Err()
			close(c.done)
		default:
			calls = append(calls, c)
		}
	}
	if len(calls) == 0 {
		return
	}
	err := s.runCalls(calls)
	for _, c := range calls {
		if err != nil && c.err == nil && c.panicked == nil {
			c.err = err
		}
		close(c.done)
	}
}

// runCalls runs calls in one transaction and commits it. A call's own failure is left in
// its err; the error returned is the transaction's, and fails every call that had none.
func (s *Store) runCalls(calls []*groupCall) (err error) {
	// The transaction belongs to no caller, so that none of them ends it by going away.
	ctx := context.Background()
	tx, err := s.begin(ctx, ctx, true)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.rollback(ctx)
		}
	}()
	if len(calls) == 1 {
		// Alone, the call's failure is the transaction's: no savepoint is needed.
		c := calls[0]
		if c.panicked, c.err = call(c, tx); c.err != nil || c.panicked != nil {
			return errFailed
		}
		return tx.commit(ctx)
	}
	ok := 0
	savepoint := true // whether the next call's savepoint is still to be set
	for i, c := range calls {
		if savepoint {
			if _, err := tx.Exec(ctx, `SAVEPOINT grouped_call`); err != nil {
				return fmt.Errorf("database: savepoint: %w", err)
			}
			savepoint = false
		}
		head, pending := tx.head, len(tx.pending)
		if c.panicked, c.err = call(c, tx); c.err == nil && c.panicked == nil {
			callErr, err := tx.endCall(ctx, i+1 < len(calls))
			if err != nil {
				return err
			}
			if callErr == nil {
				ok++
				continue
			}
			c.err = callErr
		}
		// The audit records the call appended are rolled back with it, so the chain's head
		// is again what it was at the savepoint. The savepoint stays: the next call runs in
		// it.
		tx.head, tx.pending = head, tx.pending[:pending]
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT grouped_call`); err != nil {
			return fmt.Errorf("database: roll back to savepoint: %w", err)
		}
	}
	if ok == 0 {
		return errFailed
	}
	return tx.commit(ctx)
}

// errFailed ends a transaction in which every call failed; each caller hears its own error.
var errFailed = errors.New("database: every call failed")

// call runs one call's fn in tx, catching a panic so that the writer survives it.
func call(c *groupCall, tx *Tx) (panicked any, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	return nil, c.fn(context.WithoutCancel(c.ctx), tx)
}

// GroupQueue is the number of grouped writes waiting for the writer, not counting the ones
// in the transaction it is running: a measure of how far writing lags behind.
func (s *Store) GroupQueue() int {
	return len(s.group.queue)
}

// endCall ends a grouped call that succeeded: it writes the call's audit records, so that a
// failure to write them is the call's own (callErr), and when another call follows,
// releases this call's savepoint and sets the next one. On PostgreSQL the three go in one
// round trip. The last call's savepoint is left to the commit. txErr is a failure of the
// transaction itself.
func (tx *Tx) endCall(ctx context.Context, next bool) (callErr, txErr error) {
	q, args, first := tx.takeAudit()
	if tx.pgx == nil {
		if q != "" {
			if _, err := tx.exec(ctx, q, args...); err != nil {
				return auditWriteError(first, err), nil
			}
		}
		if next {
			if _, err := tx.exec(ctx, `RELEASE SAVEPOINT grouped_call; SAVEPOINT grouped_call`); err != nil {
				return nil, fmt.Errorf("database: next savepoint: %w", err)
			}
		}
		return nil, nil
	}
	b := &pgx.Batch{}
	if q != "" {
		b.Queue(rebind(Postgres, q), args...)
	}
	if next {
		b.Queue(`RELEASE SAVEPOINT grouped_call`)
		b.Queue(`SAVEPOINT grouped_call`)
	}
	if b.Len() == 0 {
		return nil, nil
	}
	br := tx.pgx.SendBatch(ctx, b)
	defer br.Close()
	if q != "" {
		if _, err := br.Exec(); err != nil {
			// The statements queued after it failed too: the savepoint is still the call's.
			return auditWriteError(first, err), nil
		}
	}
	if next {
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return nil, fmt.Errorf("database: next savepoint: %w", err)
			}
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return nil, nil
}
