package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// fake is an executor that records what it was asked to do and fails as told.
type fake struct {
	name string
	log  *journal
	fail error // returned by every Do
	// failures is how many Do calls fail with a throttling error before one succeeds.
	failures int
}

type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, s)
}

func (f *fake) Do(context.Context, *action.Env, *action.Request) (*action.Result, error) {
	f.log.add("do " + f.name)
	if f.fail != nil {
		return nil, f.fail
	}
	if f.failures > 0 {
		f.failures--
		return nil, &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Rate exceeded"}
	}
	return &action.Result{Status: action.Done, Prior: json.RawMessage(`{"was":"` + f.name + `"}`)}, nil
}

func (f *fake) Undo(_ context.Context, _ *action.Env, _ *action.Request, prior json.RawMessage) (*action.Result, error) {
	f.log.add("undo " + f.name + " " + string(prior))
	return &action.Result{Status: action.Done}, nil
}

func catalogue(t *testing.T, log *journal, fails map[string]error, specs ...*action.Spec) *action.Catalogue {
	t.Helper()
	for _, s := range specs {
		s.Targets = []event.Kind{event.KindInstance}
		s.Exec = &fake{name: s.Name, log: log, fail: fails[s.Name]}
	}
	c, err := action.NewCatalogue(specs...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func specs() []*action.Spec {
	return []*action.Spec{
		{Name: "capture", Evidence: true},
		{Name: "isolate", Reversible: true},
		{Name: "tag", Reversible: true},
		{Name: "stop", Reversible: true, LosesEvidence: true},
		{Name: "terminate", Destructive: true},
	}
}

func steps(names ...string) []Step {
	var out []Step
	for _, n := range names {
		out = append(out, Step{Action: n, Outcome: OutcomePlanned})
	}
	return out
}

func statuses(r Report) []Status {
	var out []Status
	for _, s := range r.Steps {
		out = append(out, s.Status)
	}
	return out
}

func TestExecute(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "You are not authorized to perform: ec2:SendCommand"}
	tests := []struct {
		name    string
		outcome string
		steps   []Step
		fails   map[string]error
		want    []Status
		ran     []string
	}{
		{
			name:  "all done",
			steps: steps("capture", "isolate", "terminate"),
			want:  []Status{Done, Done, Done},
			ran:   []string{"do capture", "do isolate", "do terminate"},
		},
		{
			name:  "failure stops the rest",
			steps: steps("isolate", "tag", "terminate"),
			fails: map[string]error{"isolate": denied},
			want:  []Status{Failed, NotRun, NotRun},
			ran:   []string{"do isolate"},
		},
		{
			name:  "continue on error",
			steps: []Step{{Action: "isolate", Outcome: OutcomePlanned, ContinueOnError: true}, {Action: "tag", Outcome: OutcomePlanned}},
			fails: map[string]error{"isolate": denied},
			want:  []Status{Failed, Done},
			ran:   []string{"do isolate", "do tag"},
		},
		{
			name: "failed evidence never followed by a stop or a termination",
			steps: []Step{{Action: "capture", Outcome: OutcomePlanned, ContinueOnError: true},
				{Action: "isolate", Outcome: OutcomePlanned}, {Action: "stop", Outcome: OutcomePlanned},
				{Action: "terminate", Outcome: OutcomePlanned}},
			fails: map[string]error{"capture": denied},
			want:  []Status{Failed, Done, NotRun, NotRun},
			ran:   []string{"do capture", "do isolate"},
		},
		{
			name:  "steps not planned are reported, not run",
			steps: []Step{{Action: "isolate", Outcome: OutcomePlanned}, {Action: "terminate", Outcome: OutcomeNeedsApproval}, {Action: "tag", Outcome: OutcomeDryRun}},
			want:  []Status{Done, Skipped, Skipped},
			ran:   []string{"do isolate"},
		},
		{
			name:    "decision not planned",
			outcome: OutcomeExcepted,
			steps:   steps("isolate"),
			want:    []Status{Skipped},
		},
		{
			name:  "unknown action fails",
			steps: steps("nope", "isolate"),
			want:  []Status{Failed, NotRun},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &journal{}
			cat := catalogue(t, log, tt.fails, specs()...)
			outcome := tt.outcome
			if outcome == "" {
				outcome = OutcomePlanned
			}
			rep := Execute(context.Background(), &action.Env{Retry: action.Retry{Attempts: 1}}, cat, Plan{
				Incident: "inc-1", Outcome: outcome, Target: action.Target{Kind: event.KindInstance, ID: "i-1"}, Steps: tt.steps})
			if got := statuses(rep); !slices.Equal(got, tt.want) {
				t.Errorf("statuses %v, want %v (%+v)", got, tt.want, rep.Steps)
			}
			if !slices.Equal(log.entries, tt.ran) {
				t.Errorf("ran %v, want %v", log.entries, tt.ran)
			}
		})
	}
}

func TestExecuteRetries(t *testing.T) {
	log := &journal{}
	cat := catalogue(t, log, nil, specs()...)
	spec, _ := cat.Lookup("isolate")
	spec.Exec.(*fake).failures = 2
	env := &action.Env{Retry: action.Retry{Attempts: 3, Base: time.Millisecond}}
	rep := Execute(context.Background(), env, cat, Plan{Outcome: OutcomePlanned,
		Target: action.Target{Kind: event.KindInstance, ID: "i-1"}, Steps: steps("isolate")})
	if st := rep.Steps[0]; st.Status != Done || st.Attempts != 3 {
		t.Errorf("status %s after %d attempts, want done after 3", st.Status, st.Attempts)
	}

	spec.Exec.(*fake).failures = 5
	rep = Execute(context.Background(), env, cat, Plan{Outcome: OutcomePlanned,
		Target: action.Target{Kind: event.KindInstance, ID: "i-1"}, Steps: steps("isolate")})
	if st := rep.Steps[0]; st.Status != Failed || !st.Retryable || st.Class != "throttled" {
		t.Errorf("got %s retryable=%v class=%s, want failed, retryable, throttled", st.Status, st.Retryable, st.Class)
	}
}

func TestRelease(t *testing.T) {
	log := &journal{}
	cat := catalogue(t, log, nil, specs()...)
	env := &action.Env{}
	rep := Execute(context.Background(), env, cat, Plan{Outcome: OutcomePlanned,
		Target: action.Target{Kind: event.KindInstance, ID: "i-1"}, Steps: steps("capture", "isolate", "tag", "terminate")})
	log.entries = nil
	rel := Release(context.Background(), env, cat, rep)
	want := []string{`undo tag {"was":"tag"}`, `undo isolate {"was":"isolate"}`}
	if !slices.Equal(log.entries, want) {
		t.Errorf("undid %v, want %v", log.entries, want)
	}
	if got, want := statuses(rel), []Status{Skipped, Released, Released, Skipped}; !slices.Equal(got, want) {
		t.Errorf("release statuses %v, want %v", got, want)
	}
	if r := rel.Steps[3].Reason; r != "evidence is kept" {
		t.Errorf("release of the evidence step says %q", r)
	}
}

func TestFailedReasonNamesPermission(t *testing.T) {
	log := &journal{}
	err := action.AWSError(&smithy.GenericAPIError{Code: "UnauthorizedOperation",
		Message: "You are not authorized to perform: ec2:ModifyNetworkInterfaceAttribute"}, "111122223333", "ec2:ModifyNetworkInterfaceAttribute", "isolate")
	cat := catalogue(t, log, map[string]error{"isolate": err}, specs()...)
	rep := Execute(context.Background(), &action.Env{}, cat, Plan{Outcome: OutcomePlanned,
		Target: action.Target{Kind: event.KindInstance, ID: "i-1"}, Steps: steps("isolate")})
	st := rep.Steps[0]
	if st.Class != "denied" || st.Retryable {
		t.Errorf("class %s retryable %v, want denied and not retryable", st.Class, st.Retryable)
	}
	if want := "ec2:ModifyNetworkInterfaceAttribute"; !containsAll(st.Reason, want, "111122223333") {
		t.Errorf("reason %q does not name %s and the account", st.Reason, want)
	}
	if !errors.Is(fmt.Errorf("x: %w", action.ErrIrreversible), action.ErrIrreversible) {
		t.Error("ErrIrreversible does not wrap")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// resumeRecorder fails with each of errs in turn, then succeeds, recording whether each
// attempt was told it resumes one whose outcome is unknown.
type resumeRecorder struct {
	errs    []error
	resumed []bool
}

func (r *resumeRecorder) Do(_ context.Context, _ *action.Env, req *action.Request) (*action.Result, error) {
	r.resumed = append(r.resumed, req.Resumed)
	if n := len(r.resumed); n <= len(r.errs) {
		return nil, r.errs[n-1]
	}
	return &action.Result{Status: action.Done}, nil
}

func (r *resumeRecorder) Undo(context.Context, *action.Env, *action.Request, json.RawMessage) (*action.Result, error) {
	return &action.Result{Status: action.Done}, nil
}

// TestExecuteMarksResumedAttempts checks which retries are told their earlier attempt's
// outcome is unknown: after a 5xx, yes (AWS may have carried the call out); after a
// throttle, no (AWS refused it); and from the first attempt on when the plan says the
// step was begun before.
func TestExecuteMarksResumedAttempts(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Rate exceeded"}
	internal := &smithy.GenericAPIError{Code: "InternalError", Message: "An internal error has occurred"}
	for _, tt := range []struct {
		name    string
		errs    []error
		resumed bool
		want    []bool
	}{
		{"fresh", nil, false, []bool{false}},
		{"begun before", nil, true, []bool{true}},
		{"throttled", []error{throttled, throttled}, false, []bool{false, false, false}},
		{"5xx", []error{internal}, false, []bool{false, true}},
		{"5xx then throttled", []error{internal, throttled}, false, []bool{false, true, true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &resumeRecorder{errs: tt.errs}
			cat, err := action.NewCatalogue(&action.Spec{Name: "snap", Targets: []event.Kind{event.KindInstance}, Exec: rec})
			if err != nil {
				t.Fatal(err)
			}
			env := &action.Env{Retry: action.Retry{Attempts: 5, Base: time.Millisecond}}
			st := Step{Action: "snap", Outcome: OutcomePlanned, Resumed: tt.resumed}
			rep := Execute(context.Background(), env, cat, Plan{Outcome: OutcomePlanned,
				Target: action.Target{Kind: event.KindInstance, ID: "i-1"}, Steps: []Step{st}})
			if rep.Steps[0].Status != Done {
				t.Fatalf("status %s: %s", rep.Steps[0].Status, rep.Steps[0].Reason)
			}
			if !slices.Equal(rec.resumed, tt.want) {
				t.Errorf("resumed per attempt %v, want %v", rec.resumed, tt.want)
			}
		})
	}
}
