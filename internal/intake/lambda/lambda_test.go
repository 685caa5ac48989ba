package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/intake/lambda"
	"github.com/firebreak-sec/firebreak/internal/store"
)

const queueARN = "arn:aws:sqs:us-east-1:111122223333:findings"

func envelope(id string) string {
	return fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"Scan Result","source":"com.example.scanner",`+
		`"account":"111122223333","time":"2026-03-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{}}`, id)
}

// fakeIntake stores event ids in memory, or fails every call when down.
type fakeIntake struct {
	mu     sync.Mutex
	down   bool
	stored []string
	seen   map[string]bool
}

func (f *fakeIntake) Accept(_ context.Context, evs []*event.Event, via string) (int, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, 0, errors.New("database is unavailable")
	}
	if via != lambda.Via {
		return 0, 0, fmt.Errorf("via %q", via)
	}
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	a, d := 0, 0
	for _, ev := range evs {
		if f.seen[ev.ID] {
			d++
			continue
		}
		f.seen[ev.ID] = true
		f.stored = append(f.stored, ev.ID)
		a++
	}
	return a, d, nil
}

// fakeDeadLetters keeps dead letters in memory.
type fakeDeadLetters struct{ got []store.DeadLetter }

func (f *fakeDeadLetters) RecordDeadLetter(_ context.Context, d store.DeadLetter) error {
	f.got = append(f.got, d)
	return nil
}

func sqsPayload(bodies ...string) string {
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m-%d", i), Body: b,
			EventSource: "aws:sqs", EventSourceARN: queueARN, AWSRegion: "us-east-1"})
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func TestInvoke(t *testing.T) {
	tests := []struct {
		name       string
		payload    string
		down       bool
		deadLetter bool
		// For an SQS batch, the message ids reported failed; otherwise nil.
		failed  []string
		wantErr bool
		stored  []string
		// For any other payload, the answer.
		resp *lambda.Response
		// The dead letters recorded, by message id and number of reasons.
		letters map[string]int
	}{
		{name: "EventBridge event", payload: envelope("ev-1"), stored: []string{"ev-1"},
			resp: &lambda.Response{Accepted: 1, Rejected: []lambda.Rejection{}}},
		{name: "EventBridge event, store down", payload: envelope("ev-1"), down: true, wantErr: true},
		{name: "SNS invocation", payload: `{"Records":[{"EventSource":"aws:sns","Sns":{"Type":"Notification","Message":` +
			mustQuote(envelope("ev-2")) + `}}]}`, stored: []string{"ev-2"},
			resp: &lambda.Response{Accepted: 1, Rejected: []lambda.Rejection{}}},
		{name: "not an event, dead-lettered", payload: `{"hello":"world"}`, deadLetter: true,
			resp:    &lambda.Response{Rejected: []lambda.Rejection{{Index: 0}}, DeadLettered: true},
			letters: map[string]int{"request-1": 1}},
		{name: "not an event, nowhere to keep it", payload: `{"hello":"world"}`, wantErr: true},
		{name: "SQS batch", payload: sqsPayload(envelope("ev-1"), envelope("ev-2"), envelope("ev-1")),
			failed: []string{}, stored: []string{"ev-1", "ev-2"}},
		{name: "SQS batch with a bad record", payload: sqsPayload(envelope("ev-1"), "not JSON", envelope("ev-3")),
			failed: []string{"m-1"}, stored: []string{"ev-1", "ev-3"}},
		{name: "SQS batch with a bad record, dead-lettered", payload: sqsPayload(envelope("ev-1"), "not JSON", envelope("ev-3")),
			deadLetter: true, failed: []string{}, stored: []string{"ev-1", "ev-3"}, letters: map[string]int{"m-1": 1}},
		{name: "SQS batch with a record partly events", payload: sqsPayload(envelope("ev-4") + "\n" + `"text"`),
			deadLetter: true, failed: []string{}, stored: []string{"ev-4"}, letters: map[string]int{"m-0": 1}},
		{name: "SQS batch, store down", payload: sqsPayload(envelope("ev-1"), envelope("ev-2"), "not JSON"), down: true,
			deadLetter: true, failed: []string{"m-0", "m-1"}, letters: map[string]int{"m-2": 1}},
		{name: "SQS batch, store down, no dead letters", payload: sqsPayload(envelope("ev-1"), envelope("ev-2"), "not JSON"),
			down: true, failed: []string{"m-0", "m-1", "m-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &fakeIntake{down: tc.down}
			dl := &fakeDeadLetters{}
			opts := lambda.Options{}
			if tc.deadLetter {
				opts.DeadLetter = dl
			}
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
				AwsRequestID: "request-1", InvokedFunctionArn: "arn:aws:lambda:us-east-1:111122223333:function:firebreak"})
			out, err := lambda.Handler(in, opts).Invoke(ctx, []byte(tc.payload))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if !slices.Equal(in.stored, tc.stored) {
				t.Errorf("stored %v, want %v", in.stored, tc.stored)
			}
			switch {
			case err != nil:
			case tc.failed != nil:
				var resp events.SQSEventResponse
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Fatalf("answer %s: %v", out, err)
				}
				var ids []string
				for _, f := range resp.BatchItemFailures {
					ids = append(ids, f.ItemIdentifier)
				}
				if !slices.Equal(ids, tc.failed) {
					t.Errorf("failed %v, want %v", ids, tc.failed)
				}
			default:
				var resp lambda.Response
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Fatalf("answer %s: %v", out, err)
				}
				for i := range resp.Rejected {
					if resp.Rejected[i].Error == "" {
						t.Errorf("rejection %d has no reason", i)
					}
					resp.Rejected[i].Error = ""
				}
				got, _ := json.Marshal(resp)
				want, _ := json.Marshal(tc.resp)
				if string(got) != string(want) {
					t.Errorf("answer %s, want %s", got, want)
				}
			}
			letters := map[string]int{}
			for _, d := range dl.got {
				letters[d.MessageID] = len(d.Reasons)
				if d.Via != lambda.Via || d.Source == "" || len(d.Body) == 0 {
					t.Errorf("dead letter %+v: want via, source and body", d)
				}
			}
			if len(letters) != len(tc.letters) {
				t.Errorf("dead letters %v, want %v", letters, tc.letters)
			}
			for id, n := range tc.letters {
				if letters[id] != n {
					t.Errorf("dead letters %v, want %v", letters, tc.letters)
				}
			}
		})
	}
}

func mustQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRunningInLambda(t *testing.T) {
	t.Setenv(lambda.RuntimeEnv, "")
	if lambda.RunningInLambda() {
		t.Error("RunningInLambda with no runtime API")
	}
	t.Setenv(lambda.RuntimeEnv, "127.0.0.1:9001")
	if !lambda.RunningInLambda() {
		t.Error("not RunningInLambda with the runtime API set")
	}
}
