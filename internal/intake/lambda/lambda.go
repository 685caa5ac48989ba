// Package lambda takes in events from AWS Lambda invocations: an EventBridge rule invoking
// the function with the event itself, an SNS subscription, or an SQS event source mapping
// delivering a batch of messages. Each message goes through intake.Deliver, so that it is
// stored, dead-lettered, or reported as failed for Lambda to deliver again, and never lost.
package lambda

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/firebreak-sec/firebreak/internal/intake"
)

// Via is the via given to Intake.Accept and recorded with dead letters, unless
// Options.Via names another.
const Via = "lambda"

// RuntimeEnv is the variable the Lambda runtime sets to the address of its API, in every
// function's environment and nowhere else.
const RuntimeEnv = "AWS_LAMBDA_RUNTIME_API"

// RunningInLambda reports whether the process runs as a Lambda function, so that the bare
// command can start the function handler rather than print its usage.
func RunningInLambda() bool {
	return os.Getenv(RuntimeEnv) != ""
}

// Options configure a Function. All are optional.
type Options struct {
	// DeadLetter records what is not an event. Without one, a message holding a value that
	// is not an event is reported failed, so that Lambda delivers it again and, in the
	// end, to the queue's redrive target or the function's on-failure destination.
	DeadLetter intake.DeadLetterer
	// Via names the intake to Intake.Accept and in dead letters; default "lambda".
	Via string
	// Logger receives a line per failure and per dead letter; default discards. Message
	// bodies are never logged, only ids and positions.
	Logger *slog.Logger
}

// Function handles Lambda invocations; it implements the Handler interface of
// github.com/aws/aws-lambda-go/lambda, so lambda.Start(Handler(...)) runs it.
type Function struct {
	in   intake.Intake
	opts Options
	log  *slog.Logger
}

// Handler returns the function that stores the events of each invocation with in.
func Handler(in intake.Intake, opts Options) *Function {
	if opts.Via == "" {
		opts.Via = Via
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Function{in: in, opts: opts, log: log.With(slog.String("intake", opts.Via))}
}

// Response answers an invocation that is not an SQS batch (an EventBridge event, an SNS
// notification): what became of the events, in the shape POST /v1/events answers.
type Response struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected"`
	// DeadLettered is true when the rejected values were recorded as a dead letter.
	DeadLettered bool `json:"dead_lettered"`
}

// Rejection is a value of the invocation that is not an event.
type Rejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// Invoke handles one invocation. An SQS batch is answered with the records whose events
// could not be stored (events.SQSEventResponse), so that only those are delivered again;
// this needs ReportBatchItemFailures on the event source mapping, without which Lambda
// deletes the whole batch whatever the answer. Any other payload is one message; when its
// events could not be stored, Invoke fails, and Lambda retries the invocation.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if batch, ok := sqsBatch(payload); ok {
		return json.Marshal(f.sqs(ctx, batch))
	}
	m := intake.Message{Via: f.opts.Via, Source: Via, Body: payload, Received: time.Now()}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		// Lambda retries an asynchronous invocation with the same request id, so a dead
		// letter is recorded once however often it is retried.
		m.ID, m.Source = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	res, err := intake.Deliver(ctx, f.in, f.opts.DeadLetter, m)
	if err != nil {
		f.log.LogAttrs(ctx, slog.LevelError, "invocation not taken in", slog.String("request_id", m.ID),
			slog.String("error", err.Error()))
		return nil, err
	}
	resp := Response{Accepted: res.Accepted, Duplicates: res.Duplicates, Rejected: []Rejection{}, DeadLettered: res.DeadLettered}
	for _, r := range res.Rejected {
		resp.Rejected = append(resp.Rejected, Rejection{Index: r.Index, Error: r.Error()})
	}
	if res.DeadLettered {
		f.log.LogAttrs(ctx, slog.LevelWarn, "invocation dead-lettered", slog.String("request_id", m.ID),
			slog.Int("rejected", max(len(res.Rejected), 1)))
	}
	return json.Marshal(resp)
}

// sqs takes in each record of an SQS batch on its own, so that one that fails does not
// hold back the others.
func (f *Function) sqs(ctx context.Context, batch events.SQSEvent) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	now := time.Now()
	for _, r := range batch.Records {
		res, err := intake.Deliver(ctx, f.in, f.opts.DeadLetter, intake.Message{
			Via: f.opts.Via, Source: r.EventSourceARN, ID: r.MessageId, Body: []byte(r.Body), Received: now,
		})
		if err != nil {
			f.log.LogAttrs(ctx, slog.LevelError, "message not taken in", slog.String("message_id", r.MessageId),
				slog.String("queue", r.EventSourceARN), slog.String("error", err.Error()))
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			continue
		}
		if res.DeadLettered {
			f.log.LogAttrs(ctx, slog.LevelWarn, "message dead-lettered", slog.String("message_id", r.MessageId),
				slog.String("queue", r.EventSourceARN), slog.Int("rejected", max(len(res.Rejected), 1)))
		}
	}
	return resp
}

// sqsBatch recognises the payload of an SQS event source mapping: Records, every one from
// aws:sqs. Anything else, a CloudTrail log file's Records included, is a message to read.
func sqsBatch(payload []byte) (events.SQSEvent, bool) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if json.Unmarshal(payload, &probe) != nil || len(probe.Records) == 0 {
		return events.SQSEvent{}, false
	}
	for _, r := range probe.Records {
		if r.EventSource != "aws:sqs" {
			return events.SQSEvent{}, false
		}
	}
	var batch events.SQSEvent
	if err := json.Unmarshal(payload, &batch); err != nil {
		return events.SQSEvent{}, false
	}
	return batch, true
}
