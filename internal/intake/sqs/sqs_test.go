package sqs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/intake"
	"github.com/firebreak-sec/firebreak/internal/intake/sqs"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// envelope is a generic EventBridge event with the given id: the smallest body that is an event.
func envelope(id string) string {
	return fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"Scan Result","source":"com.example.scanner",`+
		`"account":"111122223333","time":"2026-03-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{"verdict":"malicious"}}`, id)
}

// snsWrapped is an SNS notification carrying body, as an SNS subscription delivers it to SQS.
func snsWrapped(body string) string {
	b, _ := json.Marshal(map[string]any{"Type": "Notification", "MessageId": "5f2b7c1e-sns",
		"TopicArn": "arn:aws:sns:us-east-1:111122223333:findings", "Message": body})
	return string(b)
}

// fakeIntake stores event ids in memory. fail holds, per event id, how many more Accept
// calls that include it fail; block, when set, holds every Accept until it is closed.
type fakeIntake struct {
	mu         sync.Mutex
	stored     map[string]bool
	accepted   int
	duplicates int
	calls      map[string]int
	fail       map[string]int
	block      chan struct{}
	entered    chan struct{}
}

func newFakeIntake() *fakeIntake {
	return &fakeIntake{stored: map[string]bool{}, calls: map[string]int{}, fail: map[string]int{}}
}

func (f *fakeIntake) Accept(ctx context.Context, evs []*event.Event, via string) (int, int, error) {
	if f.block != nil {
		f.entered <- struct{}{}
		<-f.block
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if via != sqs.Via {
		return 0, 0, fmt.Errorf("via %q, want %q", via, sqs.Via)
	}
	for _, ev := range evs {
		f.calls[ev.ID]++
	}
	for _, ev := range evs {
		if f.fail[ev.ID] != 0 {
			f.fail[ev.ID]--
			return 0, 0, errors.New("database is unavailable")
		}
	}
	a, d := 0, 0
	for _, ev := range evs {
		if f.stored[ev.ID] {
			d++
		} else {
			f.stored[ev.ID] = true
			a++
		}
	}
	f.accepted += a
	f.duplicates += d
	return a, d, nil
}

func (f *fakeIntake) isStored(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stored[id]
}

// sent is a message the test put on a queue and what must become of it.
type sent struct {
	name string
	body string
	// events must all be stored before the message is deleted.
	events []string
	// deadLetter says a dead letter with this many reasons must be recorded before the
	// message is deleted; 0 for none.
	deadLetter int
	id         string
}

// recorder is the SQS client the poller is given: it passes every call through to moto,
// and checks, when a message is deleted, that everything in it is already stored.
type recorder struct {
	*awssqs.Client
	t     *testing.T
	in    *fakeIntake
	st    *store.Store
	mu    sync.Mutex
	byID  map[string]*sent
	recv  map[string]string // receipt handle → message id
	del   map[string]int    // message id → deletes
	vis   int               // ChangeMessageVisibility calls
	wrong []string
}

func (r *recorder) ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, opts ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error) {
	out, err := r.Client.ReceiveMessage(ctx, in, opts...)
	if err == nil {
		r.mu.Lock()
		for _, m := range out.Messages {
			r.recv[aws.ToString(m.ReceiptHandle)] = aws.ToString(m.MessageId)
		}
		r.mu.Unlock()
	}
	return out, err
}

func (r *recorder) DeleteMessageBatch(ctx context.Context, in *awssqs.DeleteMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error) {
	letters := deadLetters(r.t, r.st)
	r.mu.Lock()
	for _, e := range in.Entries {
		id := r.recv[aws.ToString(e.ReceiptHandle)]
		m := r.byID[id]
		if m == nil {
			r.wrong = append(r.wrong, "deleted a message the test did not send: "+id)
			continue
		}
		r.del[id]++
		for _, ev := range m.events {
			if !r.in.isStored(ev) {
				r.wrong = append(r.wrong, fmt.Sprintf("%s deleted before its event %s was stored", m.name, ev))
			}
		}
		if m.deadLetter > 0 {
			d, ok := letters[id]
			switch {
			case !ok:
				r.wrong = append(r.wrong, m.name+" deleted before its dead letter was recorded")
			case len(d.Reasons) != m.deadLetter || string(d.Body) != m.body || d.Events != len(m.events):
				r.wrong = append(r.wrong, fmt.Sprintf("%s: dead letter of %d events with reasons %q and body %q",
					m.name, d.Events, d.Reasons, d.Body))
			}
		}
	}
	r.mu.Unlock()
	return r.Client.DeleteMessageBatch(ctx, in, opts...)
}

func (r *recorder) ChangeMessageVisibility(ctx context.Context, in *awssqs.ChangeMessageVisibilityInput, opts ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityOutput, error) {
	r.mu.Lock()
	r.vis++
	r.mu.Unlock()
	return r.Client.ChangeMessageVisibility(ctx, in, opts...)
}

func (r *recorder) deletes() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.del)
}

func deadLetters(t *testing.T, st *store.Store) map[string]store.DeadLetter {
	t.Helper()
	out := map[string]store.DeadLetter{}
	err := st.Read(context.Background(), func(tx *store.Tx) error {
		ds, err := st.DeadLetters(context.Background(), tx, 0)
		for _, d := range ds {
			out[d.MessageID] = d
		}
		return err
	})
	if err != nil {
		t.Errorf("read dead letters: %v", err)
	}
	return out
}

// queue creates a queue on moto whose messages come back one second after a receive that
// did not delete them, so that redelivery is quick to test.
func queue(t *testing.T, c *awssqs.Client, name string) string {
	t.Helper()
	out, err := c.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name),
		Attributes: map[string]string{"VisibilityTimeout": "1"}})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func send(t *testing.T, c *awssqs.Client, url string, msgs []*sent) map[string]*sent {
	t.Helper()
	byID := map[string]*sent{}
	for _, m := range msgs {
		out, err := c.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(m.body)})
		if err != nil {
			t.Fatalf("send %s: %v", m.name, err)
		}
		m.id = aws.ToString(out.MessageId)
		byID[m.id] = m
	}
	return byID
}

// inQueue counts the messages still on a queue, visible or not.
func inQueue(t *testing.T, c *awssqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, k := range []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		v, _ := strconv.Atoi(out.Attributes[string(k)])
		n += v
	}
	return n
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a poller on url until the returned stop is called; stop waits for Run to end.
func start(t *testing.T, c sqs.SQSAPI, in intake.Intake, dl intake.DeadLetterer, url string, opts sqs.Options) (stop func()) {
	t.Helper()
	opts.Queues = []string{url}
	opts.WaitTime = time.Second
	if opts.RetryDelay == nil {
		opts.RetryDelay = func(int) time.Duration { return time.Second }
	}
	opts.Logger = quiet()
	p, err := sqs.New(c, in, dl, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return 30s after its context was cancelled")
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPollerOnMoto(t *testing.T) {
	url, _ := moto.Start(t)
	cfg, err := moto.Config(context.Background(), url, moto.HubAccount)
	if err != nil {
		t.Fatal(err)
	}
	client := awssqs.NewFromConfig(cfg)

	t.Run("every message stored or dead-lettered, then deleted", func(t *testing.T) {
		q := queue(t, client, "findings")
		st := storetest.Open(t, store.SQLite)
		in := newFakeIntake()
		// The first two attempts to store ev-retry fail: the message must stay and come back.
		in.fail["ev-retry"] = 2
		msgs := []*sent{
			{name: "good", body: envelope("ev-1"), events: []string{"ev-1"}},
			{name: "duplicate", body: envelope("ev-1"), events: []string{"ev-1"}},
			{name: "sns-wrapped", body: snsWrapped(envelope("ev-2")), events: []string{"ev-2"}},
			{name: "array", body: "[" + envelope("ev-3") + "," + envelope("ev-4") + "]", events: []string{"ev-3", "ev-4"}},
			{name: "not json", body: "this is not JSON", deadLetter: 1},
			{name: "not an event", body: `{"hello": "world"}`, deadLetter: 1},
			{name: "partly events", body: envelope("ev-5") + "\n" + `{"hello": "world"}` + "\n" + `"a string"` + "\n" + envelope("ev-6"),
				events: []string{"ev-5", "ev-6"}, deadLetter: 2},
			{name: "store fails twice", body: envelope("ev-retry"), events: []string{"ev-retry"}},
		}
		rec := &recorder{Client: client, t: t, in: in, st: st, byID: send(t, client, q, msgs),
			recv: map[string]string{}, del: map[string]int{}}
		stop := start(t, rec, in, st, q, sqs.Options{})
		waitFor(t, "every message is deleted", func() bool { return len(rec.deletes()) == len(msgs) })
		stop()

		if len(rec.wrong) > 0 {
			t.Errorf("deleted too early:\n%v", rec.wrong)
		}
		for id, n := range rec.deletes() {
			if n != 1 {
				t.Errorf("%s deleted %d times, want once", rec.byID[id].name, n)
			}
		}
		if n := inQueue(t, client, q); n != 0 {
			t.Errorf("%d messages left on the queue, want none", n)
		}
		want := []string{"ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6", "ev-retry"}
		var got []string
		for id := range in.stored {
			got = append(got, id)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("stored %v, want %v", got, want)
		}
		if in.accepted != len(want) || in.duplicates != 1 {
			t.Errorf("%d accepted, %d duplicates; want %d, 1", in.accepted, in.duplicates, len(want))
		}
		if in.calls["ev-retry"] != 3 {
			t.Errorf("ev-retry given to Accept %d times, want 3 (two failures, then stored)", in.calls["ev-retry"])
		}
		if rec.vis != 2 {
			t.Errorf("%d visibility changes, want 2 (one per failed store)", rec.vis)
		}
		letters := deadLetters(t, st)
		if len(letters) != 3 {
			t.Errorf("%d dead letters, want 3", len(letters))
		}
		for _, d := range letters {
			if d.Via != sqs.Via || d.Source != q {
				t.Errorf("dead letter from %s %s, want %s %s", d.Via, d.Source, sqs.Via, q)
			}
		}
		if sum, err := st.VerifyAudit(context.Background()); err != nil || sum.Records != 3 {
			t.Errorf("audit: %d records (%v), want one per dead letter", sum.Records, err)
		}
	})

	t.Run("a message whose events are never stored stays on the queue", func(t *testing.T) {
		q := queue(t, client, "store-down")
		st := storetest.Open(t, store.SQLite)
		in := newFakeIntake()
		in.fail["ev-down"] = 1 << 30
		msgs := []*sent{{name: "store down", body: envelope("ev-down"), events: []string{"ev-down"}}}
		rec := &recorder{Client: client, t: t, in: in, st: st, byID: send(t, client, q, msgs),
			recv: map[string]string{}, del: map[string]int{}}
		stop := start(t, rec, in, st, q, sqs.Options{})
		waitFor(t, "the message is received three times", func() bool {
			in.mu.Lock()
			defer in.mu.Unlock()
			return in.calls["ev-down"] >= 3
		})
		stop()
		if d := rec.deletes(); len(d) != 0 {
			t.Errorf("deleted %v, want nothing deleted", d)
		}
		if n := inQueue(t, client, q); n != 1 {
			t.Errorf("%d messages on the queue, want the 1 not stored", n)
		}
		if n := len(deadLetters(t, st)); n != 0 {
			t.Errorf("%d dead letters, want none: a store failure is retried, not dead-lettered", n)
		}
	})

	t.Run("without a dead-letter store a poison message stays on the queue", func(t *testing.T) {
		q := queue(t, client, "no-dead-letters")
		in := newFakeIntake()
		msgs := []*sent{
			{name: "poison", body: "not JSON"},
			{name: "good", body: envelope("ev-7"), events: []string{"ev-7"}},
		}
		st := storetest.Open(t, store.SQLite)
		rec := &recorder{Client: client, t: t, in: in, st: st, byID: send(t, client, q, msgs),
			recv: map[string]string{}, del: map[string]int{}}
		stop := start(t, rec, in, nil, q, sqs.Options{})
		waitFor(t, "the good message is deleted and the poison one received twice", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			seen := 0
			for _, id := range rec.recv {
				if id == msgs[0].id {
					seen++
				}
			}
			return rec.del[msgs[1].id] == 1 && seen >= 2
		})
		stop()
		if d := rec.deletes(); d[msgs[0].id] != 0 {
			t.Errorf("poison message deleted with nowhere to keep it")
		}
		if n := inQueue(t, client, q); n != 1 {
			t.Errorf("%d messages on the queue, want the poison one", n)
		}
	})

	t.Run("a stop finishes the messages received", func(t *testing.T) {
		q := queue(t, client, "draining")
		st := storetest.Open(t, store.SQLite)
		in := newFakeIntake()
		in.block, in.entered = make(chan struct{}), make(chan struct{}, 1)
		msgs := []*sent{{name: "in flight", body: envelope("ev-8"), events: []string{"ev-8"}}}
		rec := &recorder{Client: client, t: t, in: in, st: st, byID: send(t, client, q, msgs),
			recv: map[string]string{}, del: map[string]int{}}
		stop := start(t, rec, in, st, q, sqs.Options{VisibilityTimeout: time.Minute})
		<-in.entered
		stopped := make(chan struct{})
		go func() { stop(); close(stopped) }()
		// The poller is told to stop while Accept is under way; the store then finishes.
		time.Sleep(200 * time.Millisecond)
		close(in.block)
		<-stopped
		if !in.isStored("ev-8") || rec.deletes()[msgs[0].id] != 1 {
			t.Errorf("stored %v, deletes %v: the message in flight must be stored and deleted", in.stored, rec.deletes())
		}
		if len(rec.wrong) > 0 {
			t.Error(rec.wrong)
		}
	})
}

func TestNew(t *testing.T) {
	c := awssqs.New(awssqs.Options{Region: "us-east-1"})
	in := newFakeIntake()
	for _, tc := range []struct {
		name string
		c    sqs.SQSAPI
		in   intake.Intake
		opts sqs.Options
		want string
	}{
		{"no client", nil, in, sqs.Options{Queues: []string{"q"}}, "sqs intake: no SQS client"},
		{"no intake", c, nil, sqs.Options{Queues: []string{"q"}}, "sqs intake: no Intake to store events in"},
		{"no queue", c, in, sqs.Options{}, "sqs intake: no queue to poll; set sqs.queues to the queue URLs"},
		{"empty queue", c, in, sqs.Options{Queues: []string{""}}, "sqs intake: empty queue URL in sqs.queues"},
	} {
		_, err := sqs.New(tc.c, tc.in, nil, tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaultRetryDelay(t *testing.T) {
	for count, want := range map[int]time.Duration{
		1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 7: 640 * time.Second,
		8: 15 * time.Minute, 100: 15 * time.Minute,
	} {
		if got := sqs.DefaultRetryDelay(count); got != want {
			t.Errorf("DefaultRetryDelay(%d) = %v, want %v", count, got, want)
		}
	}
}
