package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
	"github.com/firebreak-sec/firebreak/internal/world"
)

const (
	c2Prod       = "../../examples/events/guardduty-backdoor-c2-prod.json"
	cryptoDev    = "../../examples/events/guardduty-cryptomining-dev.json"
	worldFile    = "../../examples/world.yaml"
	playbooksDir = "../../playbooks"
)

type fixture struct {
	eng   *Engine
	store *store.Store
	org   *sim.Org
	env   *action.Env
	cat   *action.Catalogue
}

type options struct {
	breaker Breaker
	sim     sim.Options
	// attempts is the retry policy's; 4 when zero.
	attempts int
	// stopped leaves the engine's workers stopped; start them with f.eng.Start.
	stopped bool
	// afterStep is Config.AfterStep.
	afterStep func(incident string, st store.Step)
	// configure, when set, adjusts the engine's configuration before it is built.
	configure func(*Config)
}

// eachDatabase runs fn on SQLite and on PostgreSQL (see storetest.Each).
func eachDatabase(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

// newFixture starts an engine on a fresh store against the example organisation.
func newFixture(t *testing.T, d store.Dialect, o options) *fixture {
	t.Helper()
	ctx := context.Background()
	s := storetest.Open(t, d)
	w, err := world.Load(worldFile)
	if err != nil {
		t.Fatal(err)
	}
	// Deciding reads a copy, as serve --dev does, so that accepting events while steps
	// change the simulated world does not race.
	snapshot, err := world.Load(worldFile)
	if err != nil {
		t.Fatal(err)
	}
	org := sim.New(w, o.sim)
	cat := catalog.Default()
	set, err := playbook.LoadDir(playbooksDir, cat)
	if err != nil {
		t.Fatal(err)
	}
	env := &action.Env{Cloud: org, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1,
		Poll: 5 * time.Millisecond, Retry: action.Retry{Attempts: o.attempts, Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}}
	cfg := Config{Decider: decide.New(set, decide.Options{}), Catalogue: cat, Env: env,
		Inventory: decide.WorldInventory(snapshot), Breaker: o.breaker, PollInterval: 20 * time.Millisecond, AfterStep: o.afterStep}
	if o.configure != nil {
		o.configure(&cfg)
	}
	eng, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Stopped before the store closes (cleanups run last first).
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Stop(stop); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if !o.stopped {
		if err := eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{eng: eng, store: s, org: org, env: env, cat: cat}
}

func readEvents(t *testing.T, path string) []*event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := event.FromJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// only returns the one incident the store holds.
func (f *fixture) only(t *testing.T) *store.Incident {
	t.Helper()
	list, err := f.eng.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d incidents, want 1", len(list))
	}
	return list[0]
}

// waitFor polls the incident until it reaches state.
func (f *fixture) waitFor(t *testing.T, id, state string) *store.Incident {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		inc, err := f.eng.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if inc.State == state {
			return inc
		}
		if time.Now().After(deadline) {
			t.Fatalf("incident %s is %s after 30s, want %s; steps %+v", id, inc.State, state, inc.Steps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) verifyAudit(t *testing.T) store.Summary {
	t.Helper()
	sum, err := f.store.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	return sum
}

// auditRecords returns the store's audit records in order: all of them, or those of the
// kinds given.
func auditRecords(t *testing.T, s *store.Store, kinds ...string) []store.AuditRecord {
	t.Helper()
	var buf bytes.Buffer
	if err := s.ExportAudit(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	var out []store.AuditRecord
	for line := range bytes.Lines(buf.Bytes()) {
		var r store.AuditRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if len(kinds) == 0 || slices.Contains(kinds, r.Kind) {
			out = append(out, r)
		}
	}
	return out
}

// auditKinds counts the audit records by kind.
func (f *fixture) auditKinds(t *testing.T) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	for _, r := range auditRecords(t, f.store) {
		kinds[r.Kind]++
	}
	return kinds
}

func dump(t *testing.T, org *sim.Org) string {
	t.Helper()
	var buf bytes.Buffer
	if err := org.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestContainToTheEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		ctx := context.Background()
		evs := readEvents(t, c2Prod)
		acc, dup, err := f.eng.Accept(ctx, evs, "http")
		if err != nil || acc != 1 || dup != 0 {
			t.Fatalf("accept: %d accepted, %d duplicates, %v; want 1, 0", acc, dup, err)
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateContained)
		if inc.Playbook != "ec2-compromise-prod" || inc.Target.ID != "i-0a1b2c3d4e5f60001" {
			t.Errorf("incident for %s on %s", inc.Playbook, inc.Target)
		}
		for _, st := range inc.Steps {
			if st.Status != string(run.Done) && st.Status != string(run.AlreadyDone) {
				t.Errorf("step %d (%s) is %s (%s), want done", st.Index, st.Action, st.Status, st.Reason)
			}
			if st.Attempts != 1 || st.Started.IsZero() || st.Finished.IsZero() {
				t.Errorf("step %d (%s): %d attempts, started %v, finished %v", st.Index, st.Action, st.Attempts, st.Started, st.Finished)
			}
		}
		if inc.Steps[0].Evidence == nil {
			t.Errorf("snapshot step recorded no evidence")
		}
		sum := f.verifyAudit(t)
		kinds := f.auditKinds(t)
		for _, k := range []string{"event.accepted", "decision", "incident.opened", "step.done", "incident.contained"} {
			if kinds[k] == 0 {
				t.Errorf("no %s audit record; have %v", k, kinds)
			}
		}
		t.Log(sum)
	})
}

func TestDuplicateEvents(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		ctx := context.Background()
		tests := []struct {
			name      string
			events    []*event.Event
			accepted  int
			duplicate int
		}{
			{"first delivery", readEvents(t, c2Prod), 1, 0},
			{"same event again", readEvents(t, c2Prod), 0, 1},
			{"twice in one batch", append(readEvents(t, c2Prod), readEvents(t, c2Prod)...), 0, 2},
		}
		for _, tc := range tests {
			acc, dup, err := f.eng.Accept(ctx, tc.events, "http")
			if err != nil || acc != tc.accepted || dup != tc.duplicate {
				t.Errorf("%s: %d accepted, %d duplicates, %v; want %d, %d", tc.name, acc, dup, err, tc.accepted, tc.duplicate)
			}
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateContained)
		if len(inc.Events) != 1 {
			t.Errorf("incident has events %v, want one", inc.Events)
		}
		if n := f.auditKinds(t)["event.duplicate"]; n != 3 {
			t.Errorf("%d duplicate audit records, want 3", n)
		}
		f.verifyAudit(t)
	})
}

func TestJoinWithinWindow(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		ctx := context.Background()
		first := readEvents(t, c2Prod)
		second := readEvents(t, c2Prod)
		second[0].ID, second[0].FindingID = "another-delivery", "another-finding"
		if _, _, err := f.eng.Accept(ctx, first, "http"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.eng.Accept(ctx, second, "http"); err != nil {
			t.Fatal(err)
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateContained)
		if len(inc.Events) != 2 {
			t.Errorf("incident has events %v, want both", inc.Events)
		}
		if n := f.auditKinds(t)["incident.joined"]; n != 1 {
			t.Errorf("%d incident.joined records, want 1", n)
		}
	})
}

func TestApproval(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		tests := []struct {
			name      string
			approve   bool
			state     string
			instance  string // the instance's state afterwards
			terminate string // the terminate step's status
		}{
			{"approved", true, store.StateContained, "terminated", string(run.Done)},
			{"denied", false, store.StateContained, "running", string(run.Skipped)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, d, options{})
				ctx := context.Background()
				if _, _, err := f.eng.Accept(ctx, readEvents(t, cryptoDev), "http"); err != nil {
					t.Fatal(err)
				}
				inc := f.waitFor(t, f.only(t).ID, store.StateAwaitingApproval)
				if inc.Playbook != "ec2-compromise-dev" {
					t.Fatalf("playbook %s, want ec2-compromise-dev", inc.Playbook)
				}
				last := len(inc.Steps) - 1
				term := inc.Steps[last]
				if term.Action != "ec2.terminate" || term.Status != store.StepPending || term.Approval != store.ApprovalRequired {
					t.Fatalf("last step %+v, want ec2.terminate pending approval", term)
				}
				for _, st := range inc.Steps[:last] {
					if st.Status != string(run.Done) {
						t.Errorf("step %d (%s) is %s before the approval, want done", st.Index, st.Action, st.Status)
					}
				}
				if err := f.eng.Approve(ctx, inc.ID, last, "http", ""); !errors.Is(err, ErrForbidden) {
					t.Errorf("requester approving: %v, want ErrForbidden", err)
				}
				if err := f.eng.Approve(ctx, inc.ID, 0, "alice", ""); !errors.Is(err, ErrConflict) {
					t.Errorf("approving a finished step: %v, want ErrConflict", err)
				}
				answer := f.eng.Deny
				if tc.approve {
					answer = f.eng.Approve
				}
				if err := answer(ctx, inc.ID, last, "alice", "checked with the owner"); err != nil {
					t.Fatal(err)
				}
				inc = f.waitFor(t, inc.ID, tc.state)
				if got := inc.Steps[last]; got.Status != tc.terminate || got.Approver != "alice" {
					t.Errorf("terminate step is %s, approved by %q; want %s by alice", got.Status, got.Approver, tc.terminate)
				}
				if got := instanceState(t, f.org, "i-0b1c2d3e4f5a60002"); got != tc.instance {
					t.Errorf("instance is %s, want %s", got, tc.instance)
				}
				f.verifyAudit(t)
			})
		}
	})
}

func instanceState(t *testing.T, org *sim.Org, id string) string {
	t.Helper()
	for _, a := range org.World().Accounts {
		for _, r := range a.Regions {
			for _, in := range r.Instances {
				if in.ID == id {
					return in.State
				}
			}
		}
	}
	t.Fatalf("instance %s not in the world", id)
	return ""
}

// TestReleaseMatchesRun contains the same event through the engine and through run, releases
// both, and compares the organisations: the engine must leave exactly what run.Release does.
func TestReleaseMatchesRun(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		ctx := context.Background()
		before := dump(t, f.org)
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateContained)
		if _, err := f.eng.Release(ctx, inc.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		inc = f.waitFor(t, inc.ID, store.StateReleased)
		for _, st := range inc.Steps {
			if st.ReleaseStatus == "" {
				t.Errorf("step %d (%s) has no release status", st.Index, st.Action)
			}
		}
		if _, err := f.eng.Release(ctx, inc.ID, "alice"); !errors.Is(err, ErrConflict) {
			t.Errorf("second release: %v, want ErrConflict", err)
		}
		engineAfter := normalise(t, dump(t, f.org))

		// The same response through run, on a fresh organisation.
		w, err := world.Load(worldFile)
		if err != nil {
			t.Fatal(err)
		}
		org := sim.New(w, sim.Options{})
		env := *f.env
		env.Cloud, env.Cache, env.Notify = org, &action.Cache{}, &action.RecordingNotifier{}
		set, err := playbook.LoadDir(playbooksDir, f.cat)
		if err != nil {
			t.Fatal(err)
		}
		ev := readEvents(t, c2Prod)[0]
		inv := decide.WorldInventory(w)
		decide.Enrich(ev, inv)
		for _, d := range decide.New(set, decide.Options{}).Decide(ctx, ev, inv) {
			rep := run.Execute(ctx, &env, f.cat, PlanFor(ev, d))
			run.Release(ctx, &env, f.cat, rep)
		}
		runAfter := normalise(t, dump(t, org))
		if engineAfter != runAfter {
			// FIREBREAK_TEST_DUMP keeps the two states somewhere to diff after the test.
			dir := os.Getenv("FIREBREAK_TEST_DUMP")
			if dir == "" {
				dir = t.TempDir()
			}
			_ = os.WriteFile(filepath.Join(dir, "engine.json"), []byte(engineAfter), 0o644)
			_ = os.WriteFile(filepath.Join(dir, "run.json"), []byte(runAfter), 0o644)
			t.Errorf("after release the engine's organisation differs from run's; compare %s/engine.json and run.json", dir)
		}
		if engineAfter == before {
			t.Log("release restored the organisation to its state before containment")
		}
		f.verifyAudit(t)
	})
}

// normalise names the groups Firebreak creates after their names rather than their ids and
// sorts each region's groups: the isolation action creates its groups concurrently, so which
// gets which id differs from run to run.
func normalise(t *testing.T, dumped string) string {
	t.Helper()
	w, err := world.Parse("dump.json", []byte(dumped))
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for _, a := range w.Accounts {
		for _, r := range a.Regions {
			for _, sg := range r.SecurityGroups {
				if sg.Tags["firebreak:managed"] == "true" {
					pairs = append(pairs, `"`+sg.ID+`"`, `"`+a.ID+"/"+sg.Name+`"`)
				}
			}
		}
	}
	if w, err = world.Parse("dump.json", []byte(strings.NewReplacer(pairs...).Replace(dumped))); err != nil {
		t.Fatal(err)
	}
	for _, a := range w.Accounts {
		for _, r := range a.Regions {
			slices.SortFunc(r.SecurityGroups, func(x, y *world.SecurityGroup) int { return strings.Compare(x.ID, y.ID) })
		}
	}
	out, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestBreaker(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{breaker: Breaker{Total: 1}})
		ctx := context.Background()
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.eng.Accept(ctx, readEvents(t, cryptoDev), "http"); err != nil {
			t.Fatal(err)
		}
		list, err := f.eng.List(ctx, store.Filter{Playbook: "ec2-compromise-dev"})
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %v, %v", list, err)
		}
		inc := f.waitFor(t, list[0].ID, store.StateAwaitingApproval)
		if st := inc.Steps[0]; st.Approval != store.ApprovalRequired || st.Status != store.StepPending {
			t.Errorf("first step past the breaker: %+v, want it pending approval", st)
		}
		if n := f.auditKinds(t)["breaker.tripped"]; n != 1 {
			t.Errorf("%d breaker.tripped records, want 1", n)
		}
		// An alert went out naming the held incident and the limit.
		var alerts []action.Notification
		for _, n := range f.env.Notify.(*action.RecordingNotifier).Sent() {
			if n.Channel == BreakerAlertChannel {
				alerts = append(alerts, n)
			}
		}
		if len(alerts) != 1 || alerts[0].Incident != inc.ID || !strings.Contains(alerts[0].Message, "2 incidents within 1h0m0s (limit 1)") {
			t.Errorf("breaker alerts %+v, want one naming %s and the overall limit", alerts, inc.ID)
		}
		if err := f.eng.Approve(ctx, inc.ID, 0, "alice", "expected"); err != nil {
			t.Fatal(err)
		}
		// The playbook's own approval for terminate still stands.
		inc = f.waitFor(t, inc.ID, store.StateAwaitingApproval)
		if inc.Steps[0].Status != string(run.Done) {
			t.Errorf("first step after approval: %s, want done", inc.Steps[0].Status)
		}
	})
}

// TestRetriesAreRiverJobs throttles EC2 until a step has been attempted twice: River runs
// the job again after the backoff, and the step ends done with its attempts counted.
func TestRetriesAreRiverJobs(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{attempts: 50})
		ctx := context.Background()
		f.org.AddFault(sim.Fault{Service: "ec2", ThrottleRate: 1})
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		id := f.only(t).ID
		deadline := time.Now().Add(30 * time.Second)
		for {
			inc, err := f.eng.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if inc.Steps[0].Attempts >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("first step not retried: %+v", inc.Steps[0])
			}
			time.Sleep(10 * time.Millisecond)
		}
		f.org.ClearFaults()
		inc := f.waitFor(t, id, store.StateContained)
		if st := inc.Steps[0]; st.Status != string(run.Done) || st.Attempts < 2 {
			t.Errorf("first step %s after %d attempts, want done after 2 or more", st.Status, st.Attempts)
		}
		if f.auditKinds(t)["step.retry"] == 0 {
			t.Error("no step.retry audit record")
		}
		f.verifyAudit(t)
	})
}

// TestFailureStopsLikeRun denies every call into the target's account: the engine's steps
// must end exactly as run.Execute's do for the same plan.
func TestFailureStopsLikeRun(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		deny := sim.Options{DenyAssumeRole: []string{"111122223333"}}
		f := newFixture(t, d, options{sim: deny})
		ctx := context.Background()
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateFailed)

		w, err := world.Load(worldFile)
		if err != nil {
			t.Fatal(err)
		}
		env := *f.env
		env.Cloud, env.Cache = sim.New(w, deny), &action.Cache{}
		set, err := playbook.LoadDir(playbooksDir, f.cat)
		if err != nil {
			t.Fatal(err)
		}
		ev := readEvents(t, c2Prod)[0]
		decide.Enrich(ev, decide.WorldInventory(w))
		ds := decide.New(set, decide.Options{}).Decide(ctx, ev, decide.WorldInventory(w))
		rep := run.Execute(ctx, &env, f.cat, PlanFor(ev, ds[0]))
		for i, want := range rep.Steps {
			got := inc.Steps[i]
			if got.Status != string(want.Status) || got.Reason != want.Reason || got.Class != want.Class {
				t.Errorf("step %d (%s): engine %s %q (%s), run %s %q (%s)", i, got.Action, got.Status, got.Reason, got.Class, want.Status, want.Reason, want.Class)
			}
		}
		f.verifyAudit(t)
	})
}

// TestJobsOutliveTheProcess accepts an event while no worker runs, as if the server stopped
// right after answering: the step job is in the database, and a worker started later runs it.
func TestJobsOutliveTheProcess(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{stopped: true})
		ctx := context.Background()
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		inc := f.only(t)
		if inc.State != store.StateContaining {
			t.Fatalf("incident is %s before any worker ran, want containing", inc.State)
		}
		if err := f.eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
		f.waitFor(t, inc.ID, store.StateContained)
	})
}

// TestAcceptIsAllOrNothing fails a batch at its second event: the first must not be stored,
// decided or acted on either, so that the sender's retry of the whole batch loses nothing
// and doubles nothing.
func TestAcceptIsAllOrNothing(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		ctx := context.Background()
		bad := readEvents(t, cryptoDev)[0]
		bad.Details = map[string]any{"unencodable": func() {}}
		batch := append(readEvents(t, c2Prod), bad)
		if _, _, err := f.eng.Accept(ctx, batch, "http"); err == nil {
			t.Fatal("accepting an event that cannot be stored succeeded")
		}
		if list, err := f.eng.List(ctx, store.Filter{}); err != nil || len(list) != 0 {
			t.Fatalf("after a failed batch: %d incidents, %v; want none", len(list), err)
		}
		if sum := f.verifyAudit(t); sum.Records != 0 {
			t.Errorf("after a failed batch: %d audit records, want none", sum.Records)
		}
		acc, dup, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http")
		if err != nil || acc != 1 || dup != 0 {
			t.Fatalf("delivering again: %d accepted, %d duplicates, %v; want 1, 0", acc, dup, err)
		}
		f.waitFor(t, f.only(t).ID, store.StateContained)
	})
}
