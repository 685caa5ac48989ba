package engine

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// StepArgs is a River job: run one step of one incident.
type StepArgs struct {
	Incident string `json:"incident"`
	Step     int    `json:"step"`
}

// Kind names the job kind in River's tables.
func (StepArgs) Kind() string { return "firebreak.step" }

// jobQueue hides which driver (and so which transaction type) River runs on.
type jobQueue interface {
	// insert enqueues a step job inside tx, unique by incident and step.
	insert(ctx context.Context, tx *store.Tx, args StepArgs) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

type riverQueue[TTx any] struct {
	client *river.Client[TTx]
	queue  string
	// txOf takes the driver's transaction out of a store transaction, so that a job is
	// inserted in the same transaction as the records that call for it.
	txOf func(*store.Tx) TTx
}

func newRiverQueue[TTx any](driver riverdriver.Driver[TTx], cfg *river.Config, txOf func(*store.Tx) TTx) (*riverQueue[TTx], error) {
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, err
	}
	var queue string
	for q := range cfg.Queues {
		queue = q
	}
	return &riverQueue[TTx]{client: c, queue: queue, txOf: txOf}, nil
}

func (q *riverQueue[TTx]) insert(ctx context.Context, tx *store.Tx, args StepArgs) error {
	// Unique by args: however often an incident is advanced (a retried transaction, a
	// replayed approval), its step is enqueued once.
	_, err := q.client.InsertTx(ctx, q.txOf(tx), args, &river.InsertOpts{
		Queue:      q.queue,
		UniqueOpts: river.UniqueOpts{ByArgs: true},
	})
	return err
}

func (q *riverQueue[TTx]) start(ctx context.Context) error { return q.client.Start(ctx) }
func (q *riverQueue[TTx]) stop(ctx context.Context) error  { return q.client.Stop(ctx) }

// stepWorker runs step jobs.
type stepWorker struct {
	river.WorkerDefaults[StepArgs]
	e *Engine
}

// NextRetry backs off as the action retry policy says (Env.Retry), not River's default of
// attempt⁴ seconds: AWS throttling clears in seconds.
func (w *stepWorker) NextRetry(job *river.Job[StepArgs]) time.Time {
	return time.Now().Add(w.e.cfg.Env.Retry.Backoff(job.Attempt))
}

func (w *stepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	return w.e.runStep(ctx, job.Args, job.Attempt, job.MaxAttempts)
}
