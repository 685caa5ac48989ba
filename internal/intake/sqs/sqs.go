// Package sqs takes in events from Amazon SQS queues. A Poller long-polls each queue and
// hands every message to intake.Deliver; it deletes a message only once everything in it is
// stored, as events or as a dead letter. A message whose events could not be stored is left
// on the queue, hidden for a growing delay, and delivered again; the events a redelivery
// repeats are recognised as duplicates, so at-least-once delivery stores each event once.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/firebreak-sec/firebreak/internal/intake"
)

// Via is the via given to Intake.Accept and recorded with dead letters, unless
// Options.Via names another.
const Via = "sqs"

// SQSAPI is the part of the SQS API the poller calls; *sqs.Client implements it.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, opts ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *awssqs.DeleteMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *awssqs.ChangeMessageVisibilityInput, opts ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityOutput, error)
}

// Limits SQS sets on a receive call.
const (
	maxWait     = 20 * time.Second
	maxMessages = 10
	// maxVisibility is the longest SQS hides a message (12 hours).
	maxVisibility = 12 * time.Hour
)

// Options configure a Poller. Queues is required; the rest has defaults.
type Options struct {
	// Queues are the URLs of the queues to poll, each by a goroutine of its own.
	Queues []string
	// Via names the intake to Intake.Accept and in dead letters; default "sqs".
	Via string
	// WaitTime is how long a receive call waits for a message (long polling); default and
	// most 20s. Long polling keeps an idle queue from costing a call a second.
	WaitTime time.Duration
	// MaxMessages is how many messages a receive call takes; default and most 10.
	MaxMessages int
	// VisibilityTimeout hides received messages from other receivers for this long; zero
	// keeps the queue's own setting. Make it longer than storing a batch takes, or another
	// replica receives the same messages meanwhile (harmless: they are duplicates).
	VisibilityTimeout time.Duration
	// RetryDelay says how long a message whose events could not be stored stays hidden
	// before it is delivered again, given how often it has been received; zero or less
	// leaves the queue's visibility timeout. Default: DefaultRetryDelay.
	RetryDelay func(receiveCount int) time.Duration
	// DrainTimeout bounds how long, once the poller is told to stop, it keeps working on
	// the messages it has received; default 30s. Messages not finished by then are left on
	// the queue, to be delivered again.
	DrainTimeout time.Duration
	// Logger receives one line per failure and per dead letter; default slog.Default().
	// Message bodies are never logged, only ids and positions.
	Logger *slog.Logger
	// Hooks, when set, are called as messages are handled, for metrics.
	Hooks Hooks
}

// Hooks are optional callbacks for metrics. Each is called from the queue's goroutine; a
// nil hook is skipped.
type Hooks struct {
	// Received is called with the number of messages each receive call returned.
	Received func(queue string, messages int)
	// Stored is called for each message taken in (and so deleted).
	Stored func(queue string, res intake.Result)
	// Failed is called for each message left on the queue, and for each failed call to SQS.
	Failed func(queue string, err error)
}

// DefaultRetryDelay doubles from 10 seconds with each receive, up to 15 minutes: a store
// that is down is not hammered, and one that is back is used again within minutes.
func DefaultRetryDelay(receiveCount int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < receiveCount && d < 15*time.Minute; i++ {
		d *= 2
	}
	return min(d, 15*time.Minute)
}

// Poller receives messages from SQS queues and takes them in.
type Poller struct {
	client SQSAPI
	in     intake.Intake
	dl     intake.DeadLetterer
	opts   Options
	log    *slog.Logger
}

// New returns a Poller that takes messages from client's queues into in, and records what
// is not an event with deadLetter. deadLetter may be nil: a message with a value that is not
// an event is then left on its queue, for the queue's redrive policy to move to its
// dead-letter queue.
func New(client SQSAPI, in intake.Intake, deadLetter intake.DeadLetterer, opts Options) (*Poller, error) {
	switch {
	case client == nil:
		return nil, errors.New("sqs intake: no SQS client")
	case in == nil:
		return nil, errors.New("sqs intake: no Intake to store events in")
	case len(opts.Queues) == 0:
		return nil, errors.New("sqs intake: no queue to poll; set sqs.queues to the queue URLs")
	}
	for _, q := range opts.Queues {
		if q == "" {
			return nil, errors.New("sqs intake: empty queue URL in sqs.queues")
		}
	}
	if opts.Via == "" {
		opts.Via = Via
	}
	if opts.WaitTime <= 0 || opts.WaitTime > maxWait {
		opts.WaitTime = maxWait
	}
	if opts.MaxMessages <= 0 || opts.MaxMessages > maxMessages {
		opts.MaxMessages = maxMessages
	}
	if opts.RetryDelay == nil {
		opts.RetryDelay = DefaultRetryDelay
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Poller{client: client, in: in, dl: deadLetter, opts: opts, log: log.With(slog.String("intake", opts.Via))}, nil
}

// Run polls every queue until ctx is cancelled, then finishes the messages already
// received (within DrainTimeout) and returns nil. Failures are logged and retried, never
// returned: a queue that cannot be read now may be readable in a minute.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, q := range p.opts.Queues {
		wg.Go(func() { p.poll(ctx, q) })
	}
	wg.Wait()
	return nil
}

// poll receives from one queue until ctx is cancelled.
func (p *Poller) poll(ctx context.Context, queue string) {
	log := p.log.With(slog.String("queue", queue))
	in := &awssqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(queue),
		MaxNumberOfMessages:         int32(p.opts.MaxMessages),
		WaitTimeSeconds:             int32(p.opts.WaitTime / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	}
	if p.opts.VisibilityTimeout > 0 {
		in.VisibilityTimeout = int32(min(p.opts.VisibilityTimeout, maxVisibility) / time.Second)
	}
	pause := time.Duration(0)
	for ctx.Err() == nil {
		out, err := p.client.ReceiveMessage(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Back off so that a queue that is gone or forbidden costs a call a minute, not
			// a busy loop.
			pause = min(max(2*pause, time.Second), time.Minute)
			log.LogAttrs(ctx, slog.LevelError, "receive failed", slog.String("error", err.Error()),
				slog.Duration("retry_in", pause))
			p.failed(queue, fmt.Errorf("receive from %s: %w", queue, err))
			sleep(ctx, pause)
			continue
		}
		pause = 0
		if p.opts.Hooks.Received != nil {
			p.opts.Hooks.Received(queue, len(out.Messages))
		}
		if len(out.Messages) > 0 {
			p.handle(ctx, log, queue, out.Messages)
		}
	}
}

// handle takes in a received batch and deletes the messages that were taken in. It goes on
// after ctx is cancelled, for at most DrainTimeout, so that a stop does not waste the
// receive: a message stored but not deleted would be delivered again as a duplicate.
func (p *Poller) handle(ctx context.Context, log *slog.Logger, queue string, msgs []types.Message) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(p.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-work.Done():
		}
	})
	defer func() {
		stop()
		cancel()
	}()

	now := time.Now()
	var done []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		id := aws.ToString(m.MessageId)
		res, err := intake.Deliver(work, p.in, p.dl, intake.Message{
			Via: p.opts.Via, Source: queue, ID: id, Body: []byte(aws.ToString(m.Body)), Received: now,
		})
		if err != nil {
			p.retryLater(work, log, queue, m, err)
			continue
		}
		if res.DeadLettered {
			log.LogAttrs(work, slog.LevelWarn, "message dead-lettered", slog.String("message_id", id),
				slog.Int("events", res.Accepted+res.Duplicates), slog.Int("rejected", max(len(res.Rejected), 1)))
		}
		if p.opts.Hooks.Stored != nil {
			p.opts.Hooks.Stored(queue, res)
		}
		done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(done) == 0 {
		return
	}
	out, err := p.client.DeleteMessageBatch(work, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(queue), Entries: done})
	if err != nil {
		// The messages come back after their visibility timeout; their events are then
		// duplicates and their dead letters already recorded, so nothing is stored twice.
		log.LogAttrs(work, slog.LevelError, "delete failed", slog.Int("messages", len(done)), slog.String("error", err.Error()))
		p.failed(queue, fmt.Errorf("delete %d messages from %s: %w", len(done), queue, err))
		return
	}
	for _, f := range out.Failed {
		i, _ := strconv.Atoi(aws.ToString(f.Id))
		err := fmt.Errorf("delete message %s from %s: %s: %s", aws.ToString(msgs[i].MessageId), queue, aws.ToString(f.Code), aws.ToString(f.Message))
		log.LogAttrs(work, slog.LevelError, "delete failed", slog.String("message_id", aws.ToString(msgs[i].MessageId)),
			slog.String("error", err.Error()))
		p.failed(queue, err)
	}
}

// retryLater leaves a message that was not taken in on the queue, hidden for RetryDelay.
func (p *Poller) retryLater(ctx context.Context, log *slog.Logger, queue string, m types.Message, cause error) {
	count, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	delay := p.opts.RetryDelay(max(count, 1))
	attrs := []slog.Attr{slog.String("message_id", aws.ToString(m.MessageId)), slog.Int("receive_count", count),
		slog.String("error", cause.Error())}
	p.failed(queue, cause)
	if delay > 0 {
		_, err := p.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle,
			VisibilityTimeout: int32(min(delay, maxVisibility) / time.Second),
		})
		if err != nil {
			// The queue's own visibility timeout still brings the message back.
			attrs = append(attrs, slog.String("visibility_error", err.Error()))
		} else {
			attrs = append(attrs, slog.Duration("retry_in", delay))
		}
	}
	log.LogAttrs(ctx, slog.LevelError, "message left on the queue", attrs...)
}

func (p *Poller) failed(queue string, err error) {
	if p.opts.Hooks.Failed != nil {
		p.opts.Hooks.Failed(queue, err)
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
