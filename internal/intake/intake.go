// Package intake takes in messages from queues and functions (SQS, Lambda): it reads each
// message's body as events (CONTRACTS §1), stores them, and records what is not an event as
// a dead letter, so that a message is either stored, dead-lettered, or left to be delivered
// again, and never lost. The sqs and lambda packages below it deliver the messages.
package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// Intake stores events. Accept stores evs durably, all or none, recognising events already
// stored as duplicates; via names the intake. engine.(*Engine).Accept implements it.
type Intake interface {
	Accept(ctx context.Context, evs []*event.Event, via string) (accepted, duplicates int, err error)
}

// DeadLetterer keeps what could not be read as events. RecordDeadLetter stores d durably,
// once per via, source and message id; (*store.Store).RecordDeadLetter implements it.
type DeadLetterer interface {
	RecordDeadLetter(ctx context.Context, d store.DeadLetter) error
}

// Message is one message to take in.
type Message struct {
	// Via names the intake (sqs, lambda); it is given to Intake.Accept.
	Via string
	// Source is where the message came from (a queue URL, an event source ARN).
	Source string
	// ID is the message's id at its source, stable across deliveries.
	ID string
	// Body is the message's body: any body CONTRACTS §1 accepts.
	Body []byte
	// Received is when the message was received; now when zero.
	Received time.Time
}

// Result is what became of a message.
type Result struct {
	// Accepted and Duplicates count the message's events, as Intake.Accept counted them.
	Accepted, Duplicates int
	// Rejected lists the values of the body that are not events.
	Rejected []*event.InputError
	// DeadLettered is true when the message was recorded as a dead letter: all of it
	// (no event in it) or the rejected part of it.
	DeadLettered bool
}

// RejectedError is returned by Deliver when part of a message is not events and there is no
// DeadLetterer to keep it: the message must stay at its source (its queue's redrive policy
// then moves it to the queue's dead-letter queue) rather than be deleted and lost.
type RejectedError struct {
	Reasons []string
}

// Error lists the reasons.
func (e *RejectedError) Error() string {
	return "message not taken in and no dead-letter store to keep it: " + strings.Join(e.Reasons, "; ")
}

// ErrNoEvent is the reason given for a message whose body holds no JSON value at all.
var ErrNoEvent = errors.New("the message holds no event; send an event, a JSON array of events or newline-delimited JSON")

// Deliver takes in one message: it reads the body's events and stores them with in, then
// records the values that are not events with dl, in that order. When Deliver returns nil,
// everything in the message is stored, as events or as a dead letter, and the message may
// be deleted at its source. When it returns an error, the message must be left to be
// delivered again; events already stored are then recognised as duplicates and a dead
// letter already recorded is not recorded twice. dl may be nil: a message with a rejected
// value then fails with a *RejectedError.
func Deliver(ctx context.Context, in Intake, dl DeadLetterer, m Message) (Result, error) {
	var (
		res Result
		evs []*event.Event
	)
	if m.Received.IsZero() {
		m.Received = time.Now()
	}
	err := event.Scan(ctx, "message", bytes.NewReader(m.Body), func(e *event.Event) error {
		evs = append(evs, e)
		return nil
	}, func(e *event.InputError) {
		res.Rejected = append(res.Rejected, e)
	})
	if err != nil {
		return res, fmt.Errorf("read message %s: %w", m.ID, err)
	}
	if len(evs) > 0 {
		res.Accepted, res.Duplicates, err = in.Accept(ctx, evs, m.Via)
		if err != nil {
			return Result{Rejected: res.Rejected}, fmt.Errorf("message %s: %w", m.ID, err)
		}
	}
	var reasons []string
	for _, r := range res.Rejected {
		reasons = append(reasons, r.Error())
	}
	if len(evs) == 0 && len(reasons) == 0 {
		reasons = []string{"message:1:1: " + ErrNoEvent.Error()}
	}
	if len(reasons) == 0 {
		return res, nil
	}
	if dl == nil {
		return res, &RejectedError{Reasons: reasons}
	}
	err = dl.RecordDeadLetter(ctx, store.DeadLetter{Via: m.Via, Source: m.Source, MessageID: m.ID,
		Reasons: reasons, Events: len(evs), Body: m.Body, ReceivedAt: m.Received})
	if err != nil {
		return res, fmt.Errorf("message %s: record dead letter: %w", m.ID, err)
	}
	res.DeadLettered = true
	return res, nil
}
