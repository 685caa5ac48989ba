package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// execCase is one step the execution tests run against a world: Do, Do again, Undo, with
// the permissions checked and faults injected.
type execCase struct {
	action string
	target action.Target
	with   map[string]any
	// ignore removes from dumps what undo deliberately leaves.
	ignore func(any)
	// event is the event the step answers, for actions that act on a finding.
	event *event.Event
	// opts are the simulation's options (PendingPolls for what AWS finishes later).
	opts sim.Options
	// skipped means the action does not apply and must change nothing.
	skipped bool
	// notAuthorized means a denial comes back as SNS's AuthorizationError, which
	// cloud.Classify does not take for a denial, so the step's reason says "not
	// authorized" rather than naming a denied permission.
	notAuthorized bool
}

// execWorld is a simulated organisation and the cases run against it.
type execWorld struct {
	name  string
	yaml  string
	cases []execCase
	// cloud wraps the simulation in what the world's actions need beyond it.
	cloud func(*sim.Org) cloud.Provider
	// now fixes the clock, for actions that write the time into what they create.
	now time.Time
}

// worlds are the organisations the execution tests run every case against.
var worlds = []execWorld{instanceWorld, moreWorld, findingWorld}

// org builds the world afresh with opts, and an Env on it.
func (w execWorld) org(t *testing.T, opts sim.Options) (*sim.Org, *action.Env) {
	t.Helper()
	parsed, err := world.Parse(w.name+".yaml", []byte(w.yaml))
	if err != nil {
		t.Fatal(err)
	}
	org := sim.New(parsed, opts)
	env := &action.Env{Cloud: w.cloud(org), Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1,
		Poll: time.Millisecond, Retry: action.Retry{Attempts: 8, Base: time.Millisecond, Max: 5 * time.Millisecond}}
	if !w.now.IsZero() {
		now := w.now
		env.Now = func() time.Time { return now }
	}
	return org, env
}

func request(t *testing.T, c execCase) (*action.Spec, *action.Request) {
	t.Helper()
	spec, ok := Default().Lookup(c.action)
	if !ok || spec.Exec == nil {
		t.Fatalf("%s has no executor", c.action)
	}
	return spec, &action.Request{Target: c.target, Params: spec.ParamsWithDefaults(c.with), Incident: "inc-1", Event: c.event}
}

func name(c execCase) string {
	n := fmt.Sprintf("%s/%s/%v", c.action, c.target.ID, c.with)
	if c.event != nil {
		n += "/" + string(c.event.Source)
	}
	return n
}

// eachCase runs fn as a subtest for every case of every world.
func eachCase(t *testing.T, fn func(t *testing.T, w execWorld, c execCase)) {
	for _, w := range worlds {
		t.Run(w.name, func(t *testing.T) {
			for _, c := range w.cases {
				t.Run(name(c), func(t *testing.T) { fn(t, w, c) })
			}
		})
	}
}

// TestDoUndo checks, for every case, that Do changes the world (or, skipped, says why and
// changes nothing), that an evidence action reports its evidence, that a second Do changes
// nothing and says already-done, and that Undo restores the world as it was (reversible
// actions), leaves it as Do did (evidence and other irreversible actions), or refuses
// (destructive).
func TestDoUndo(t *testing.T) {
	ctx := context.Background()
	eachCase(t, func(t *testing.T, w execWorld, c execCase) {
		org, env := w.org(t, c.opts)
		spec, req := request(t, c)
		before := dump(t, org, c.ignore)
		res, err := spec.Exec.Do(ctx, env, req)
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		if c.skipped {
			if res.Status != action.Skipped || res.Message == "" {
				t.Errorf("Do: status %s (%q), want skipped with a reason", res.Status, res.Message)
			}
			if d := dump(t, org, c.ignore); d != before {
				t.Errorf("a skipped Do changed the world:\n%s", diff(before, d))
			}
			return
		}
		if res.Status != action.Done {
			t.Fatalf("Do: status %s (%s), want done", res.Status, res.Message)
		}
		if spec.Evidence && len(res.Evidence) == 0 {
			t.Error("an evidence action reported no evidence")
		}
		afterDo := dump(t, org, c.ignore)
		if afterDo == before {
			t.Fatal("Do changed nothing")
		}
		again, err := spec.Exec.Do(ctx, env, req)
		if err != nil {
			t.Fatalf("second Do: %v", err)
		}
		if again.Status != action.AlreadyDone {
			t.Errorf("second Do: status %s, want already-done; prior %s", again.Status, again.Prior)
		}
		if d := dump(t, org, c.ignore); d != afterDo {
			t.Errorf("second Do changed the world:\n%s", diff(afterDo, d))
		}
		_, err = spec.Exec.Undo(ctx, env, req, res.Prior)
		switch {
		case spec.Destructive:
			if err == nil || !strings.Contains(err.Error(), "cannot be undone") {
				t.Errorf("Undo of a destructive action: %v, want cannot be undone", err)
			}
		case !spec.Reversible:
			if err != nil {
				t.Errorf("Undo of an irreversible action: %v", err)
			}
			if d := dump(t, org, c.ignore); d != afterDo {
				t.Errorf("Undo of an irreversible action changed the world:\n%s", diff(afterDo, d))
			}
		default:
			if err != nil {
				t.Fatalf("Undo: %v", err)
			}
			if d := dump(t, org, c.ignore); d != before {
				t.Errorf("Undo did not restore the world:\n%s", diff(before, d))
			}
		}
	})
}

// TestPermissionsCoverCalls checks that every AWS operation an action calls, in Do, a
// repeated Do and Undo, is among the permissions it declares, so the generated policy is
// enough.
func TestPermissionsCoverCalls(t *testing.T) {
	ctx := context.Background()
	eachCase(t, func(t *testing.T, w execWorld, c execCase) {
		org, env := w.org(t, c.opts)
		spec, req := request(t, c)
		res, err := spec.Exec.Do(ctx, env, req)
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		if _, err := spec.Exec.Do(ctx, env, req); err != nil {
			t.Fatalf("second Do: %v", err)
		}
		// A skipped Do recorded nothing, so there is nothing for Undo to call.
		if spec.Reversible && !c.skipped {
			if _, err := spec.Exec.Undo(ctx, env, req, res.Prior); err != nil {
				t.Fatalf("Undo: %v", err)
			}
		}
		declared := map[string]bool{}
		for _, p := range spec.Permissions {
			declared[p] = true
		}
		for _, call := range org.Calls() {
			if p := permissionFor(call); !declared[p] {
				t.Errorf("calls %s:%s, which needs %s, not among its permissions", call.Service, call.Operation, p)
			}
		}
	})
}

// TestFaults runs each case that applies through run.Execute with throttling, server
// errors and denied access injected: the first two are retried until the step succeeds,
// the last fails naming the permission.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	faults := []struct {
		name  string
		fault sim.Fault
	}{
		{"throttled", sim.Fault{ThrottleRate: 0.1}},
		{"5xx", sim.Fault{ServerErrorRate: 0.1}},
		{"denied", sim.Fault{AccessDenied: true}},
	}
	for _, w := range worlds {
		t.Run(w.name, func(t *testing.T) {
			for _, c := range w.cases {
				if c.skipped {
					continue
				}
				for _, f := range faults {
					t.Run(name(c)+"/"+f.name, func(t *testing.T) {
						opts := c.opts
						opts.Seed, opts.Faults = 7, []sim.Fault{f.fault}
						org, env := w.org(t, opts)
						env.Retry.Attempts = 30
						plan := run.Plan{Incident: "inc-1", Outcome: run.OutcomePlanned, Target: c.target, Event: c.event,
							Steps: []run.Step{{Action: c.action, With: c.with, Outcome: run.OutcomePlanned}}}
						rep := run.Execute(ctx, env, Default(), plan)
						st := rep.Steps[0]
						if f.fault.AccessDenied {
							calls := org.Calls()
							if st.Status != run.Failed || len(calls) == 0 {
								t.Fatalf("status %s (%s), want failed", st.Status, st.Reason)
							}
							switch {
							case c.notAuthorized:
								if !strings.Contains(st.Reason, "denied") && !strings.Contains(st.Reason, "not authorized") {
									t.Errorf("reason %q does not say access was denied", st.Reason)
								}
							case !strings.Contains(st.Reason, "denied") || !strings.Contains(st.Reason, ":"):
								t.Errorf("reason %q does not name the denied permission (first call %s:%s)", st.Reason, calls[0].Service, calls[0].Operation)
							}
							if st.Retryable {
								t.Error("a denied step is marked retryable")
							}
							return
						}
						if st.Status != run.Done {
							t.Fatalf("status %s after %d attempts (%s), want done", st.Status, st.Attempts, st.Reason)
						}
					})
				}
			}
		})
	}
}

func dump(t *testing.T, org *sim.Org, ignore func(any)) string {
	t.Helper()
	var b bytes.Buffer
	if err := org.Dump(&b); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	// An instance without metadata options has AWS's defaults; once set back to them the
	// simulation spells them out.
	walk(v, func(m map[string]any) {
		if md, ok := m["metadata_options"].(map[string]any); ok && len(md) == 2 &&
			md["http_endpoint"] == "enabled" && md["http_tokens"] == "optional" {
			delete(m, "metadata_options")
		}
	})
	if ignore != nil {
		ignore(v)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

// walk calls fn on every JSON object in v.
func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

// diff shows the first lines where two dumps differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)) && b.Len() < 2000; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

func permissionFor(c sim.Call) string {
	return action.IAMAction(c.Service, c.Operation)
}
