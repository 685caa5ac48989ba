// Package engine makes incidents durable: it stores each accepted event, decides it, opens
// or joins the incident each decision calls for, and runs the incident's steps one at a time
// as River jobs, so that a restart, a crash or a second replica neither loses a step nor runs
// one twice to any effect. Every change is recorded in the audit chain in the transaction
// that makes it.
package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// DefaultWorkers is how many steps one engine runs at once unless configured otherwise.
const DefaultWorkers = 64

// Config is what the engine decides and acts with.
type Config struct {
	Decider   *decide.Engine
	Catalogue *action.Catalogue
	Env       *action.Env
	// Inventory supplies current tags for deciding; nil uses the event's own.
	Inventory decide.Inventory
	// JoinWindow is how long after an incident's latest event a new event for the same
	// playbook and target joins it instead of opening another; one hour when zero.
	JoinWindow time.Duration
	Breaker    Breaker
	// Queue is the River queue step jobs go to; "firebreak" when empty. Workers is how many
	// steps run at once on this replica; DefaultWorkers when zero.
	Queue   string
	Workers int
	// StepTimeout bounds one attempt of a step; 15 minutes when zero, for snapshots and
	// memory captures that AWS finishes in the background.
	StepTimeout time.Duration
	// PollInterval is how often idle workers look for jobs; one second when zero.
	PollInterval time.Duration
	// ReplicaTimeout is how long a replica sharing a PostgreSQL store may go unseen before
	// the steps it was running are handed to the others; 30 seconds when zero. Replicas
	// heartbeat six times within it, so that a slow beat or two is not taken for a death.
	ReplicaTimeout time.Duration
	Logger         *slog.Logger
	// Now is the clock for records and windows; time.Now when nil.
	Now func() time.Time
	// AfterStep, when set, is called once an attempt at a step has been recorded, with the
	// step as stored, from the worker that ran it: a simulated organisation can be saved
	// there, so that its state never lags behind the store's. Several workers may call it
	// at once.
	AfterStep func(incident string, st store.Step)
	// ApprovalTimeout is how long a step waits for a person's approval before the engine
	// decides it as OnApprovalTimeout says; zero waits for ever.
	ApprovalTimeout time.Duration
	// OnApprovalTimeout is what an overdue approval is decided as: OnApprovalTimeoutDeny
	// (the default when empty) or OnApprovalTimeoutApprove.
	OnApprovalTimeout string
	// Registry, when set, is where the engine registers its metrics (see metrics.go).
	Registry *prometheus.Registry
	// ExceptionRefresh is how often the engine reloads the exceptions created at run time
	// from the store, so that one created or revoked through another replica takes effect
	// here too; DefaultExceptionRefresh when zero.
	ExceptionRefresh time.Duration
}

// Breaker limits how much the engine contains on its own within a window. Past a limit, a
// new incident's first step waits for a person's approval, and the audit says why: a
// flood of findings, or a bad playbook, must not take down a fleet. A zero limit is no limit.
type Breaker struct {
	// Window is the period counted; one hour when zero.
	Window time.Duration
	// PerPlaybook limits incidents a single playbook opens in the window.
	PerPlaybook int
	// Total limits incidents all playbooks open in the window.
	Total int
	// Accounts limits the distinct accounts incidents act in within the window.
	Accounts int
}

// Engine accepts events and drives incidents. It is safe for concurrent use, and several
// engines (replicas) may share a PostgreSQL store.
type Engine struct {
	store *store.Store
	cfg   Config
	jobs  jobQueue
	// decider is the one events are decided with: SetDecider replaces it while events are
	// being accepted, so it is read once per event rather than taken from cfg.
	decider atomic.Pointer[decide.Engine]
	// stepEnv is cfg.Env with a single attempt per job: retrying is River's, so that a
	// retry survives a restart and waits without holding a worker.
	stepEnv *action.Env
	// replicaID is the River client's id, under which this engine registers as a replica.
	replicaID string
	// loop is the heartbeat and recovery of a running PostgreSQL replica; nil otherwise.
	loop *replicaRun
	// approvals is the periodic check for overdue approvals; nil when not running.
	approvals *approvalLoop
	// metrics is nil without Config.Registry.
	metrics *metrics
	// exc are the exceptions created at run time, as the decider is given them (see
	// exceptions.go).
	exc runtimeExceptions
}

// actor is the name audit records give the engine's own doings.
const actor = "firebreak"

// New builds an engine over a migrated store. Call Start to run steps.
func New(s *store.Store, cfg Config) (*Engine, error) {
	if cfg.Decider == nil || cfg.Catalogue == nil || cfg.Env == nil {
		return nil, errors.New("engine: Decider, Catalogue and Env are required")
	}
	if cfg.JoinWindow <= 0 {
		cfg.JoinWindow = time.Hour
	}
	if cfg.Breaker.Window <= 0 {
		cfg.Breaker.Window = time.Hour
	}
	if cfg.Queue == "" {
		cfg.Queue = "firebreak"
	}
	if cfg.Workers <= 0 {
		// Most of a step's time is spent waiting on AWS (a snapshot to complete, a command
		// to finish), and a waiting worker is only a goroutine: enough of them that
		// incidents do not queue behind each other's waits.
		cfg.Workers = DefaultWorkers
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 15 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.ReplicaTimeout <= 0 {
		cfg.ReplicaTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ExceptionRefresh <= 0 {
		cfg.ExceptionRefresh = DefaultExceptionRefresh
	}
	if err := cfg.checkApprovalDefaults(); err != nil {
		return nil, err
	}
	env := *cfg.Env
	env.Retry = action.Retry{Attempts: 1}
	e := &Engine{store: s, cfg: cfg, stepEnv: &env, replicaID: newReplicaID()}
	e.decider.Store(cfg.Decider)
	if err := e.loadExceptions(); err != nil {
		return nil, err
	}
	var err error
	if e.metrics, err = newMetrics(e, cfg.Registry); err != nil {
		return nil, err
	}

	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &stepWorker{e: e}); err != nil {
		return nil, fmt.Errorf("engine: register the step worker: %w", err)
	}
	rc := &river.Config{
		// The id River records in attempted_by: it tells whose a running job is (recover.go).
		ID:                e.replicaID,
		Queues:            map[string]river.QueueConfig{cfg.Queue: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     min(cfg.PollInterval, 100*time.Millisecond),
		JobTimeout:        cfg.StepTimeout,
		// River's rescuer is the last resort, for a running job that names no known
		// replica: the engine hands back the jobs of a dead process itself (recover.go),
		// within seconds. It must not take a job still within its time limit, nor one whose
		// outcome is being recorded just after.
		RescueStuckJobsAfter: cfg.StepTimeout + rescueMargin,
		Logger:               cfg.Logger,
		MaxAttempts:          cfg.Env.Retry.MaxAttempts(),
	}
	switch s.Dialect() {
	case store.Postgres:
		e.jobs, err = newRiverQueue(riverpgxv5.New(s.Pool()), rc, func(tx *store.Tx) pgx.Tx { return tx.Pgx() })
	default:
		// SQLite has no LISTEN/NOTIFY: workers poll.
		rc.PollOnly = true
		e.jobs, err = newRiverQueue(riversqlite.New(s.DB()), rc, func(tx *store.Tx) *sql.Tx { return tx.SQL() })
	}
	if err != nil {
		return nil, fmt.Errorf("engine: job queue: %w", err)
	}
	return e, nil
}

// rescueMargin is how long past its time limit a step job may stay running before River's
// rescuer takes it back: time for a timed-out attempt to record its outcome.
const rescueMargin = 5 * time.Minute

// Start begins working step jobs; it returns once the workers are running. First it loads
// the exceptions created at run time, which it then reloads periodically until Stop; before
// the workers start it hands back to the queue the step jobs a dead process left running (see
// recover.go). On SQLite that is every running job, so the caller must be the only process
// using the file (serve holds a lock beside it); on PostgreSQL it is those of replicas gone,
// and Start registers this engine as a replica that heartbeats until Stop.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.startExceptions(ctx); err != nil {
		return err
	}
	if err := e.startRecovery(ctx); err != nil {
		e.stopExceptions()
		return err
	}
	if err := e.jobs.start(ctx); err != nil {
		e.stopExceptions()
		return errors.Join(fmt.Errorf("engine: start the job queue: %w", err), e.stopRecovery(ctx))
	}
	e.startApprovalTimeouts(ctx)
	return nil
}

// SetDecider replaces the decider, as when the playbooks are reloaded: events accepted
// from now on are decided by d, while incidents already open keep the steps they were
// planned with. d is given the exceptions created at run time before it decides anything.
// A nil d is ignored.
func (e *Engine) SetDecider(d *decide.Engine) {
	if d != nil {
		e.setDecider(d)
	}
}

// Stop waits for running steps to finish (or ctx to end) and stops taking new ones.
// Unfinished jobs stay queued for the next start, or, on PostgreSQL, for the replicas
// still running, which take them over once Stop has recorded this replica as stopped.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopApprovalTimeouts()
	e.stopExceptions()
	// The heartbeat goes on while steps drain: a long drain must not pass for a death.
	err := e.jobs.stop(ctx)
	return errors.Join(err, e.stopRecovery(ctx))
}

// Caller identifies who asked for something, for the audit chain.
type Caller struct {
	Name      string // user, token or intake name
	Source    string // client address
	RequestID string
}

type callerKey struct{}

// WithCaller returns a context whose audit records name c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerOf(ctx context.Context, def string) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	if c.Name == "" {
		c.Name = def
	}
	return c
}

// audit appends a record naming the context's caller (or name) as actor.
func (e *Engine) audit(ctx context.Context, tx *store.Tx, name, kind, subject string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", kind, subject, err)
	}
	c := callerOf(ctx, name)
	_, err = e.store.Audit(ctx, tx, store.AuditRecord{At: e.cfg.Now(), Kind: kind, Actor: c.Name, Source: c.Source,
		RequestID: c.RequestID, Subject: subject, Data: raw})
	return err
}

// List returns incidents matching f, newest first, without steps.
func (e *Engine) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	var out []*store.Incident
	err := e.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = e.store.ListIncidents(ctx, tx, f)
		return err
	})
	return out, err
}

// Get returns an incident with its steps and events; the error wraps store.ErrNotFound
// when there is none.
func (e *Engine) Get(ctx context.Context, id string) (*store.Incident, error) {
	var inc *store.Incident
	err := e.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		inc, err = e.store.Incident(ctx, tx, id)
		return err
	})
	return inc, err
}
