package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// Target is the resource a step acts on, as the decision named it.
type Target struct {
	Kind    event.Kind        `json:"kind"`
	ID      string            `json:"id"`
	ARN     string            `json:"arn,omitempty"`
	Account string            `json:"account"`
	Region  string            `json:"region"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// String names the target the way error messages and reports do.
func (t Target) String() string {
	return fmt.Sprintf("%s %s in %s/%s", t.Kind, t.ID, t.Account, t.Region)
}

// Request is one execution of an action on a target.
type Request struct {
	Target Target
	// Params are the step's parameters with every declared default filled in (see Params).
	Params map[string]any
	// Incident names the incident the step belongs to; actions tag and describe their
	// changes with it, and use it to recognise their own earlier work.
	Incident string
	// Event is the event that opened the incident; finding actions act on its finding.
	Event *event.Event
	// Resumed says an earlier attempt at this step began and its outcome is unknown: its
	// process died, or a call timed out or failed with a 5xx. A call that attempt sent may
	// still land, and AWS's reads are eventually consistent, so an action that recognises
	// its earlier work by looking for it (snapshots and commands take no client token)
	// waits Env.SettleFor first; otherwise it could look too early and do the work twice.
	Resumed bool
}

// Status is how a step ended when it did not fail.
type Status string

// The statuses an Executor reports.
const (
	// Done means the action changed the resource.
	Done Status = "done"
	// AlreadyDone means the resource was already in the state the action brings about, so
	// nothing was changed; a repeated step reports this.
	AlreadyDone Status = "already-done"
	// Skipped means the action did not apply to the target (a finding action on an event
	// from another detector) and changed nothing.
	Skipped Status = "skipped"
)

// Evidence is something a step preserved or started that an investigator will want:
// snapshots, Run Command ids, automation executions, published messages.
type Evidence struct {
	Kind string `json:"kind"` // snapshot, ssm-command, automation-execution, message, ...
	ID   string `json:"id"`
	// Detail says what it is of, e.g. the volume a snapshot was taken from.
	Detail string `json:"detail,omitempty"`
}

// Result is what an Executor reports.
type Result struct {
	Status  Status `json:"status"`
	Message string `json:"message,omitempty"`
	// Prior is the state the action changed, in the action's own shape: what Undo needs to
	// put the resource back. Nil when nothing was changed or nothing can be undone.
	Prior      json.RawMessage `json:"prior,omitempty"`
	Evidence   []Evidence      `json:"evidence,omitempty"`
	RequestIDs []string        `json:"request_ids,omitempty"`
}

// Executor carries out an action. Do is idempotent: run again on a resource it has already
// changed, it changes nothing and reports AlreadyDone. When Do fails after it has read the
// resource it still returns a Result carrying Prior, so that a retry or a release can undo
// the part that was done. Undo puts back exactly what prior records.
type Executor interface {
	Do(ctx context.Context, env *Env, req *Request) (*Result, error)
	Undo(ctx context.Context, env *Env, req *Request, prior json.RawMessage) (*Result, error)
}

// ErrIrreversible is returned by Undo for actions that cannot be undone.
var ErrIrreversible = errors.New("cannot be undone")

// Notification is a message for people about an incident.
type Notification struct {
	Incident string   `json:"incident"`
	To       []string `json:"to"`
	Channel  string   `json:"channel,omitempty"`
	Subject  string   `json:"subject"`
	Message  string   `json:"message"`
	Target   Target   `json:"target"`
}

// Notifier delivers notifications through the server's integrations (chat, paging,
// e-mail). It says whether a failure is worth retrying, as Alertmanager's notifiers do.
type Notifier interface {
	Notify(ctx context.Context, n Notification) (retry bool, err error)
}

// RecordingNotifier keeps every notification it is given; `run --world` and tests use it.
type RecordingNotifier struct {
	mu   sync.Mutex
	sent []Notification
}

// Notify records n.
func (r *RecordingNotifier) Notify(_ context.Context, n Notification) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, n)
	return false, nil
}

// Sent returns the notifications recorded so far.
func (r *RecordingNotifier) Sent() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.sent...)
}

// Retry bounds how often a step is attempted again after a failure AWS says is transient.
// The SDK already retries each call; this covers faults that outlast its attempts and the
// simulated organisation, which has no retryer of its own.
type Retry struct {
	Attempts int           // total attempts; DefaultRetry.Attempts when zero
	Base     time.Duration // first backoff, doubled each time; DefaultRetry.Base when zero
	Max      time.Duration // longest backoff; DefaultRetry.Max when zero
}

// DefaultRetry is the step retry policy when Env.Retry is zero.
var DefaultRetry = Retry{Attempts: 4, Base: 500 * time.Millisecond, Max: 10 * time.Second}

// Backoff returns how long to wait before attempt n (counting from 1 for the first retry).
func (r Retry) Backoff(n int) time.Duration {
	base, maxWait := r.Base, r.Max
	if base <= 0 {
		base = DefaultRetry.Base
	}
	if maxWait <= 0 {
		maxWait = DefaultRetry.Max
	}
	d := base
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// MaxAttempts returns the number of attempts, defaulted.
func (r Retry) MaxAttempts() int {
	if r.Attempts <= 0 {
		return DefaultRetry.Attempts
	}
	return r.Attempts
}

// Env is what executors act through. It is shared by every step and every incident of a
// process, so that Cache outlives a single run.
type Env struct {
	Cloud  cloud.Provider
	Now    func() time.Time
	Notify Notifier
	// Cache remembers resources Firebreak creates once and reuses (isolation groups per VPC).
	// Nil disables caching.
	Cache *Cache
	// Poll is the interval between polls of something AWS finishes in the background
	// (snapshots, Run Command, automations); 5 s when zero.
	Poll  time.Duration
	Retry Retry
	// Settle is how long a resumed step waits for an earlier attempt's calls to land and
	// show in AWS's reads before it looks for them; DefaultSettle when zero, no wait when
	// negative (a simulation in the same process, where nothing is ever in flight).
	Settle time.Duration
}

// DefaultSettle is Env.Settle when zero. A request AWS received completes within a second
// or two, and EC2 advises waiting "a couple of seconds" before a Describe that follows a
// write (EC2 developer guide, "Eventual consistency in the Amazon EC2 API").
const DefaultSettle = 5 * time.Second

// SettleFor waits until a resumed request's earlier attempt has settled (Env.Settle); it
// returns at once for a request that is not resumed, or early with ctx's error.
func (env *Env) SettleFor(ctx context.Context, req *Request) error {
	d := env.Settle
	if d == 0 {
		d = DefaultSettle
	}
	if !req.Resumed || d < 0 {
		return nil
	}
	return sleep(ctx, d)
}

// Clock returns env.Now, or time.Now when unset.
func (env *Env) Clock() time.Time {
	if env.Now == nil {
		return time.Now()
	}
	return env.Now()
}

// PollInterval returns env.Poll, defaulted.
func (env *Env) PollInterval() time.Duration {
	if env.Poll <= 0 {
		return 5 * time.Second
	}
	return env.Poll
}

// Wait sleeps for one poll interval, or until ctx ends.
func (env *Env) Wait(ctx context.Context) error {
	return sleep(ctx, env.PollInterval())
}

// sleep waits d, or until ctx ends and returns its error.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Cache is a concurrency-safe map of values Firebreak looked up or created and may reuse.
// A cached value can go stale (someone deletes the group); users verify what they get when
// using it fails, and Forget it.
type Cache struct {
	mu sync.Mutex
	m  map[string]string
}

// Get returns the value stored under key.
func (c *Cache) Get(key string) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// Put stores value under key.
func (c *Cache) Put(key, value string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	c.m[key] = value
}

// Forget removes key.
func (c *Cache) Forget(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// Trace collects the AWS request ids of a step's successful calls for the audit record.
// Executors share one across the goroutines of a step.
type Trace struct {
	mu  sync.Mutex
	ids []string
}

// Record notes the request id in a call's result metadata, if it has one.
func (t *Trace) Record(md middleware.Metadata) {
	if id := cloud.ResultRequestID(md); id != "" {
		t.mu.Lock()
		t.ids = append(t.ids, id)
		t.mu.Unlock()
	}
}

// IDs returns the recorded request ids.
func (t *Trace) IDs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.ids...)
}

// AWSError describes a failed call for the person who must fix it: what the step was
// doing, in which account, and (through cloud.Describe) which permission is missing when
// AWS denied it. op is the IAM action the call needs, e.g. "ec2:ModifyInstanceAttribute".
func AWSError(err error, account, op, doing string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", doing, cloud.Describe(err, account, op))
}

// Class says what can be done about an error an Executor returned.
func Class(err error) cloud.Class {
	c := cloud.Classify(err)
	var ce *cloud.Error
	if errors.As(err, &ce) {
		c = ce.Class
	}
	// A code the table does not know (IAM's ServiceFailure) is still a server fault when
	// the SDK says so, and server faults are worth retrying.
	var ae smithy.APIError
	if c == cloud.Permanent && errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultServer {
		return cloud.Retry
	}
	return c
}

// ParamsWithDefaults returns with, plus the declared default of every parameter it does not
// name.
// The map returned is new; with is not changed.
func (s *Spec) ParamsWithDefaults(with map[string]any) map[string]any {
	out := make(map[string]any, len(s.Params))
	for _, p := range s.Params {
		if p.Default != nil {
			out[p.Name] = p.Default
		}
	}
	for k, v := range with {
		out[k] = v
	}
	return out
}

// String returns parameter name as a string ("" when absent or not a string).
func (r *Request) String(name string) string {
	switch v := r.Params[name].(type) {
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// Bool returns parameter name as a bool; def when absent.
func (r *Request) Bool(name string, def bool) bool {
	switch v := r.Params[name].(type) {
	case bool:
		return v
	case string:
		switch v {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return def
}

// Duration returns parameter name as a duration; def when absent or malformed (playbook
// validation rejects malformed durations before a step can run).
func (r *Request) Duration(name string, def time.Duration) time.Duration {
	switch v := r.Params[name].(type) {
	case time.Duration:
		return v
	case string:
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// StringList returns parameter name as a list of strings, accepting what YAML and JSON
// decoding produce ([]any) as well as []string; a lone string is a list of one.
func (r *Request) StringList(name string) []string {
	switch v := r.Params[name].(type) {
	case []string:
		return append([]string(nil), v...)
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	}
	return nil
}

// StringMap returns parameter name as a map of strings, accepting map[string]any too.
func (r *Request) StringMap(name string) map[string]string {
	switch v := r.Params[name].(type) {
	case map[string]string:
		out := make(map[string]string, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, s := range v {
			out[k] = fmt.Sprint(s)
		}
		return out
	}
	return map[string]string{}
}

// TagChange is one tag key an action set, and what it was before, for undo.
type TagChange struct {
	Key   string `json:"key"`
	Had   bool   `json:"had"`
	Value string `json:"value,omitempty"`
}

// TagChanges compares the tags a resource has with those an action is about to set,
// returning the changes needed (sorted by key) and what each key was before. A key that
// already has the wanted value is left out: it needs neither setting nor undoing.
func TagChanges(current, want map[string]string) (set map[string]string, prior []TagChange) {
	set = map[string]string{}
	for k, v := range want {
		old, had := current[k]
		if had && old == v {
			continue
		}
		set[k] = v
		prior = append(prior, TagChange{Key: k, Had: had, Value: old})
	}
	sort.Slice(prior, func(i, j int) bool { return prior[i].Key < prior[j].Key })
	return set, prior
}

// SplitTagUndo says how to put back tags recorded by TagChanges: the keys to set back to
// their old values, and the keys to delete.
func SplitTagUndo(prior []TagChange) (restore map[string]string, remove []string) {
	restore = map[string]string{}
	for _, c := range prior {
		if c.Had {
			restore[c.Key] = c.Value
		} else {
			remove = append(remove, c.Key)
		}
	}
	return restore, remove
}

// IncidentTags are the tags every action that tags a resource adds.
func IncidentTags(incident, status string) map[string]string {
	tags := map[string]string{}
	if incident != "" {
		tags["firebreak:incident"] = incident
	}
	if status != "" {
		tags["firebreak:status"] = status
	}
	return tags
}

// EncodePrior marshals an action's prior state; the shapes are plain structs, so an error
// here is a programming mistake and is reported as such rather than panicking.
func EncodePrior(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("record prior state: %w", err)
	}
	return b, nil
}

// DecodePrior unmarshals prior into v, with an error that says the record is unusable.
func DecodePrior(prior json.RawMessage, v any) error {
	if len(prior) == 0 {
		return errors.New("no prior state was recorded, so there is nothing to undo")
	}
	if err := json.Unmarshal(prior, v); err != nil {
		return fmt.Errorf("prior state record is unreadable: %w", err)
	}
	return nil
}

// Parallel runs fns concurrently and waits for all of them, returning their errors joined.
// Actions use it for calls that do not depend on one another, so that a step costs as few
// serial round trips to AWS as its data dependencies allow.
func Parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		if fn == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
