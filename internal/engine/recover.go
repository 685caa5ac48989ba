package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// A step job River marked running stays running when the process running it dies, and
// River's rescuer takes it back only after RescueStuckJobsAfter, far beyond a step's time
// limit; meanwhile its incident waits. Steps are idempotent and their jobs unique per
// incident and step, so a job whose runner is known to be gone is handed back to the queue
// at once, and a live runner is never second-guessed:
//
//   - SQLite has one server per file (serve holds the file's lock), so at Start every
//     running job belongs to a process that has ended.
//   - On PostgreSQL each replica registers under its River client id and heartbeats; a
//     running job whose latest attempt (the last of attempted_by) is a replica stopped, or
//     not seen for ReplicaTimeout, is handed back by any replica still here.

// replicaPruneAge is how long a silent replica stays registered. It is far beyond River's
// own rescue time, so that no job can be left naming a replica that is no longer known.
const replicaPruneAge = 24 * time.Hour

// newReplicaID names this engine's River client, and so its replica: host, process and a
// random part, since two engines may share a host and even a process (tests). River allows
// 100 characters.
func newReplicaID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown-host"
	}
	host = strings.ReplaceAll(host, ".", "_")
	if len(host) > 60 {
		host = host[:60]
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%d_%s", host, os.Getpid(), hex.EncodeToString(b))
}

// ReplicaID is the id this engine runs step jobs under: its River client id, which River
// records in each job's attempted_by.
func (e *Engine) ReplicaID() string { return e.replicaID }

// orphan is a running step job to hand back.
type orphan struct {
	job     int64
	args    StepArgs
	attempt int
	by      string // the client that last took it
}

// recoverOrphans hands every running step job back to the queue, for SQLite at start:
// whoever was running them has ended, since this engine holds the store alone.
func (e *Engine) recoverOrphans(ctx context.Context) (int, error) {
	return e.handBack(ctx, `SELECT id, json_extract(args, '$.incident'), json_extract(args, '$.step'), attempt,
			coalesce(json_extract(attempted_by, '$[#-1]'), '')
		FROM river_job WHERE state = 'running' AND kind = ? ORDER BY id`,
		"its process ended while it ran", StepArgs{}.Kind())
}

// recoverFromGone hands back the running step jobs last taken by a replica that stopped, or
// that has not been seen for ReplicaTimeout (PostgreSQL). The rows are locked with SKIP
// LOCKED, so that a job River is completing at that moment is left to River, and the whole
// runs under the store's write lock, so that two replicas checking at once hand a job back
// once and audit it once.
func (e *Engine) recoverFromGone(ctx context.Context) (int, error) {
	// A cheap look first, without the write lock every writer waits for: nearly always
	// there is nothing to hand back.
	var some bool
	err := e.store.Read(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job j JOIN replicas r
				ON r.id = j.attempted_by[array_length(j.attempted_by, 1)]
			WHERE j.state = 'running' AND j.kind = ?
				AND (r.stopped_at IS NOT NULL OR r.last_seen < now() - make_interval(secs => ?)))`,
			StepArgs{}.Kind(), e.cfg.ReplicaTimeout.Seconds()).Scan(&some)
	})
	if err != nil || !some {
		return 0, err
	}
	return e.handBack(ctx, `SELECT j.id, j.args->>'incident', (j.args->>'step')::int, j.attempt, r.id
		FROM river_job j JOIN replicas r ON r.id = j.attempted_by[array_length(j.attempted_by, 1)]
		WHERE j.state = 'running' AND j.kind = ?
			AND (r.stopped_at IS NOT NULL OR r.last_seen < now() - make_interval(secs => ?))
		ORDER BY j.id
		FOR UPDATE OF j SKIP LOCKED`,
		"the replica running it is gone", StepArgs{}.Kind(), e.cfg.ReplicaTimeout.Seconds())
}

// handBack makes the jobs query selects available again, in one transaction with a
// step.recovered audit record for each. The attempt that died keeps counting towards the
// job's attempts, as River's own rescuer counts it, so that a step that kills its process
// every time cannot run for ever; a job past its attempts still runs once more, and its
// step then ends as failed rather than waiting for ever.
func (e *Engine) handBack(ctx context.Context, query, reason string, args ...any) (int, error) {
	var found []orphan
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		found = found[:0]
		err := tx.Query(ctx, query, func(r store.Row) error {
			var o orphan
			if err := r.Scan(&o.job, &o.args.Incident, &o.args.Step, &o.attempt, &o.by); err != nil {
				return err
			}
			found = append(found, o)
			return nil
		}, args...)
		if err != nil {
			return fmt.Errorf("find running step jobs: %w", err)
		}
		for _, o := range found {
			// The state is checked again: on SQLite nothing locked the row between the
			// two statements, though nothing else writes meanwhile either.
			if _, err := tx.Exec(ctx, `UPDATE river_job SET state = 'available' WHERE id = ? AND state = 'running'`, o.job); err != nil {
				return fmt.Errorf("hand back step job %d: %w", o.job, err)
			}
			if err := e.audit(ctx, tx, actor, "step.recovered", o.args.Incident, map[string]any{
				"step": o.args.Step, "job": o.job, "attempt": o.attempt, "replica": o.by, "reason": reason}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, o := range found {
		e.cfg.Logger.Warn("step job handed back to the queue", "incident", o.args.Incident, "step", o.args.Step,
			"job", o.job, "attempt", o.attempt, "replica", o.by, "reason", reason)
	}
	return len(found), nil
}

// replicaLoop heartbeats this replica every ReplicaTimeout/6 and, at each beat, hands back
// the jobs of replicas gone; it returns when ctx ends. A beat that lands later than
// ReplicaTimeout after the last one is logged: other replicas may have taken this one for
// gone and run its steps again meanwhile, which the steps' idempotence makes harmless.
func (e *Engine) replicaLoop(ctx context.Context) {
	every := e.cfg.ReplicaTimeout / 6
	t := time.NewTicker(every)
	defer t.Stop()
	hb, err := e.store.NewHeartbeat(e.replicaID)
	if err != nil {
		e.cfg.Logger.Error("replica heartbeat cannot run", "replica", e.replicaID, "err", err)
		return
	}
	defer hb.Close(ctx)
	last := time.Now()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Each beat is bounded by the interval, so that a hung connection is replaced.
		bctx, cancel := context.WithTimeout(ctx, every)
		ok, err := hb.Beat(bctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			e.cfg.Logger.Warn("replica heartbeat failed", "replica", e.replicaID, "err", err)
		case !ok:
			// Pruned after a long silence: register again, so that jobs taken from now on
			// name a known replica.
			if err := e.store.RegisterReplica(ctx, e.replica()); err != nil {
				e.cfg.Logger.Warn("replica registration failed", "replica", e.replicaID, "err", err)
			}
			fallthrough
		default:
			if gap := time.Since(last); gap > e.cfg.ReplicaTimeout {
				e.cfg.Logger.Warn("replica was unseen longer than the replica timeout; others may have run its steps again",
					"replica", e.replicaID, "unseen", gap.Round(time.Millisecond), "timeout", e.cfg.ReplicaTimeout)
			}
			last = time.Now()
		}
		if _, err := e.recoverFromGone(ctx); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("handing back the steps of gone replicas failed", "err", err)
		}
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if _, err := e.store.PruneReplicas(ctx, replicaPruneAge); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Warn("pruning replicas failed", "err", err)
			}
		}
	}
}

// replica is this engine's registration.
func (e *Engine) replica() store.Replica {
	host, _ := os.Hostname()
	return store.Replica{ID: e.replicaID, Host: host, PID: os.Getpid()}
}

// replicaRun is the running replicaLoop.
type replicaRun struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startRecovery runs before the job queue starts. On SQLite it hands back every running
// job; on PostgreSQL it registers this replica, hands back the jobs of replicas already
// gone, and starts the heartbeat.
func (e *Engine) startRecovery(ctx context.Context) error {
	if e.store.Dialect() != store.Postgres {
		n, err := e.recoverOrphans(ctx)
		if err != nil {
			return fmt.Errorf("engine: hand back the steps left running: %w", err)
		}
		if n > 0 {
			e.cfg.Logger.Info("steps left running by the previous process handed back to the queue", "count", n)
		}
		return nil
	}
	if err := e.store.RegisterReplica(ctx, e.replica()); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if _, err := e.recoverFromGone(ctx); err != nil {
		return fmt.Errorf("engine: hand back the steps of gone replicas: %w", err)
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &replicaRun{cancel: cancel}
	r.wg.Go(func() { e.replicaLoop(lctx) })
	e.loop = r
	return nil
}

// stopRecovery stops the heartbeat and, on PostgreSQL, records this replica as stopped:
// a step still running when the job queue stopped (its drain cut short) is then taken over
// by another replica at once.
func (e *Engine) stopRecovery(ctx context.Context) error {
	if e.loop == nil {
		return nil
	}
	e.loop.cancel()
	e.loop.wg.Wait()
	e.loop = nil
	return e.store.StopReplica(context.WithoutCancel(ctx), e.replicaID)
}
