package engine

import (
	"context"
	"encoding/json"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// orphanStep accepts an event while no worker runs and leaves its first step job as a
// dead process would: running, last taken by client. It returns the incident and the job.
func orphanStep(t *testing.T, f *fixture, client string) (*store.Incident, int64) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
		t.Fatal(err)
	}
	inc := f.only(t)
	var job int64
	err := f.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM river_job WHERE kind = ? AND state = 'available'`, StepArgs{}.Kind()).Scan(&job); err != nil {
			return err
		}
		by, _ := json.Marshal([]string{client})
		q := `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', 'subsec'),
			attempted_by = jsonb(?) WHERE id = ?`
		arg := any(string(by))
		if f.store.Dialect() == store.Postgres {
			q = `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
				attempted_by = ARRAY[?::text] WHERE id = ?`
			arg = client
		}
		_, err := tx.Exec(ctx, q, arg, job)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return inc, job
}

// resumeSpy records, per action, whether the engine ran it as resumed.
type resumeSpy struct {
	mu      sync.Mutex
	resumed map[string]bool
}

// wrap makes every action of cfg's catalogue report to the spy.
func (s *resumeSpy) wrap(cfg *Config) {
	for _, name := range cfg.Catalogue.Names() {
		spec, _ := cfg.Catalogue.Lookup(name)
		spec.Exec = spyExec{spec.Exec, s, name}
	}
}

func (s *resumeSpy) seen() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.resumed)
}

type spyExec struct {
	action.Executor
	spy  *resumeSpy
	name string
}

func (e spyExec) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	e.spy.mu.Lock()
	if e.spy.resumed == nil {
		e.spy.resumed = map[string]bool{}
	}
	e.spy.resumed[e.name] = e.spy.resumed[e.name] || req.Resumed
	e.spy.mu.Unlock()
	return e.Executor.Do(ctx, env, req)
}

// jobState reads a River job's state.
func jobState(t *testing.T, s *store.Store, job int64) string {
	t.Helper()
	ctx := context.Background()
	var state string
	err := s.Read(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT state FROM river_job WHERE id = ?`, job).Scan(&state)
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// addReplica registers a replica other than the engine under test, last seen ago.
func addReplica(t *testing.T, s *store.Store, id string, ago time.Duration) {
	t.Helper()
	ctx := context.Background()
	if err := s.RegisterReplica(ctx, store.Replica{ID: id, Host: "elsewhere", PID: 1}); err != nil {
		t.Fatal(err)
	}
	err := s.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE replicas SET last_seen = now() - make_interval(secs => ?) WHERE id = ?`, ago.Seconds(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRecoverAfterCrash leaves a step job running as a killed process would and starts an
// engine: on SQLite every running job is an orphan, and on PostgreSQL one whose replica has
// not been seen for an hour is. The job is handed back at start, audited, and the incident
// contained.
func TestRecoverAfterCrash(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		var spy resumeSpy
		f := newFixture(t, d, options{stopped: true, configure: spy.wrap})
		ctx := context.Background()
		if d == store.Postgres {
			addReplica(t, f.store, "dead-replica", time.Hour)
		}
		inc, job := orphanStep(t, f, "dead-replica")
		// The dead attempt had begun its step, as runStep records before acting.
		err := f.store.Write(ctx, func(tx *store.Tx) error {
			full, err := f.store.Incident(ctx, tx, inc.ID)
			if err != nil {
				return err
			}
			st := full.Steps[0]
			st.Status, st.Started = store.StepRunning, time.Now()
			return f.store.UpdateStep(ctx, tx, inc.ID, &st)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
		got := f.waitFor(t, inc.ID, store.StateContained)
		if got.Steps[0].Attempts != 2 {
			t.Errorf("recovered step ran as attempt %d, want 2: the dead attempt counts", got.Steps[0].Attempts)
		}
		// The recovered step cannot know whether the dead attempt's calls landed; the
		// steps after it were never begun.
		want := map[string]bool{}
		for _, st := range got.Steps {
			want[st.Action] = st.Index == 0
		}
		if !maps.Equal(spy.seen(), want) {
			t.Errorf("resumed by action %v, want %v", spy.seen(), want)
		}
		// River records a job's completion a moment after the step's outcome commits.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			s := jobState(t, f.store, job)
			if s == "completed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("recovered job is %s, want completed", s)
			}
		}
		if n := f.auditKinds(t)["step.recovered"]; n != 1 {
			t.Errorf("%d step.recovered audit records, want 1", n)
		}
		f.verifyAudit(t)
	})
}

// TestLiveReplicaKeepsItsSteps runs an engine beside a replica that keeps heartbeating with a
// step job running: over several replica timeouts the job is never taken. Once the replica
// falls silent, the engine's periodic check takes it, and the incident is contained.
func TestLiveReplicaKeepsItsSteps(t *testing.T) {
	f := newFixture(t, store.Postgres, options{stopped: true})
	ctx := context.Background()
	f.eng.cfg.ReplicaTimeout = time.Second
	addReplica(t, f.store, "live-replica", 0)
	inc, job := orphanStep(t, f, "live-replica")

	hb, stopBeating := context.WithCancel(ctx)
	var beating sync.WaitGroup
	beating.Go(func() {
		for hb.Err() == nil {
			if _, err := f.store.HeartbeatReplica(hb, "live-replica"); err != nil && hb.Err() == nil {
				t.Errorf("heartbeat: %v", err)
			}
			select {
			case <-hb.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	defer func() { stopBeating(); beating.Wait() }()

	if err := f.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * f.eng.cfg.ReplicaTimeout)
	if s := jobState(t, f.store, job); s != "running" {
		t.Fatalf("a live replica's running job is %s, want running", s)
	}
	if got, err := f.eng.Get(ctx, inc.ID); err != nil || got.State != store.StateContaining {
		t.Fatalf("incident beside a live replica's job: %v, %v; want containing", got.State, err)
	}
	if n := f.auditKinds(t)["step.recovered"]; n != 0 {
		t.Fatalf("%d step.recovered audit records while the replica lives, want none", n)
	}

	stopBeating()
	beating.Wait()
	f.waitFor(t, inc.ID, store.StateContained)
	if n := f.auditKinds(t)["step.recovered"]; n != 1 {
		t.Errorf("%d step.recovered audit records, want 1", n)
	}
	f.verifyAudit(t)

	// The engine under test registered itself and heartbeats too.
	rs, err := f.store.Replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var self *store.Replica
	for i := range rs {
		if rs[i].ID == f.eng.ReplicaID() {
			self = &rs[i]
		}
	}
	if self == nil || !self.Stopped.IsZero() || time.Since(self.LastSeen) > 2*f.eng.cfg.ReplicaTimeout {
		t.Errorf("engine's own registration %+v among %+v: want running and seen within the timeout", self, rs)
	}
}

// TestStoppedReplicaHandsOver stops an engine with a step job still running under its
// name, as when its drain is cut short: a second engine takes the job over at once rather
// than after the replica timeout.
func TestStoppedReplicaHandsOver(t *testing.T) {
	f := newFixture(t, store.Postgres, options{stopped: true})
	ctx := context.Background()
	if err := f.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	inc, _ := orphanStep(t, f, f.eng.ReplicaID())

	other, err := New(f.store, f.eng.cfg)
	if err != nil {
		t.Fatal(err)
	}
	other.cfg.ReplicaTimeout = time.Hour
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := other.Stop(stop); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	f.waitFor(t, inc.ID, store.StateContained)
}
