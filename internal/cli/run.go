package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	awscloud "github.com/firebreak-sec/firebreak/internal/cloud/aws"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/world"
)

type runOptions struct {
	playbooks  string
	world      string
	stateOut   string
	endpoint   string
	roleName   string
	externalID string
	output     string
}

func newRunCmd(s *streams) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] INPUT...",
		Short: "Decide and execute: contain the incidents the events describe",
		Long: `Run decides what the playbooks say about each event, as replay does, and then carries
out every planned decision step by step: against the simulated organisation of --world,
against an AWS-compatible --endpoint, or, with neither, against AWS through the SDK's
default credential chain. For each event's account it assumes
arn:aws:iam::ACCOUNT:role/ROLE (--role-name).

A step that fails stops its decision's later steps unless the step is marked
continue_on_error (a destructive step never runs after a failed evidence step); other
decisions go on. Exit status: 0 when every input was read and every step succeeded,
1 when some input was rejected or some step failed (each reported), 2 on bad flags,
playbooks or world file.`,
		Example: `  firebreak run --world examples/world.yaml --state-out /tmp/state.json examples/events
  firebreak run --endpoint http://127.0.0.1:5000 examples/events/guardduty-backdoor-c2-prod.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), s, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.playbooks, "playbooks", "playbooks", "directory of playbooks")
	f.StringVar(&o.world, "world", "", "simulated organisation to act on (CONTRACTS §4)")
	f.StringVar(&o.stateOut, "state-out", "", "with --world, write the organisation's final state (JSON) here")
	f.StringVar(&o.endpoint, "endpoint", "", "AWS-compatible endpoint URL to act on instead of AWS")
	f.StringVar(&o.roleName, "role-name", awscloud.DefaultRoleName, "role assumed in each member account")
	f.StringVar(&o.externalID, "external-id", "", "external id the member roles' trust policies require")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runRun(ctx context.Context, s *streams, o *runOptions, inputs []string) error {
	if o.output != "json" && o.output != "text" {
		return usageErr("--output %q: use json or text", o.output)
	}
	if o.world != "" && o.endpoint != "" {
		return usageErr("--world and --endpoint both given: act on the simulated organisation or on an endpoint, not both")
	}
	if o.stateOut != "" && o.world == "" {
		return usageErr("--state-out needs --world: only the simulated organisation's state can be written")
	}
	set, err := loadPlaybooks(s, o.playbooks)
	if err != nil {
		return err
	}
	eng := decide.New(set, decide.Options{})

	var (
		provider cloud.Provider
		inv      decide.Inventory
		org      *sim.Org
	)
	if o.world != "" {
		w, err := world.Load(o.world)
		if err != nil {
			return &exitError{code: ExitUsage, err: err}
		}
		org = sim.New(w, sim.Options{})
		provider, inv = org, decide.WorldInventory(w)
	} else {
		p, err := awscloud.New(ctx, awscloud.Options{RoleName: o.roleName, ExternalID: o.externalID, Endpoint: o.endpoint})
		if err != nil {
			return &exitError{code: ExitUsage, err: fmt.Errorf("AWS configuration: %w", err)}
		}
		provider = p
	}
	env := &action.Env{Cloud: provider, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}}
	if org != nil {
		// The simulation finishes background work (snapshots, commands) within a few polls;
		// waiting AWS's intervals for it would only slow the run down.
		env.Poll = 10 * time.Millisecond
		// Nothing is ever in flight in a simulation in this process.
		env.Settle = -1
	}
	cat := catalog.Default()

	out := bufio.NewWriter(s.out)
	defer out.Flush()
	rep := newRunReport(out, o.output)
	failed, rejected := 0, 0
	emit := func(ev *event.Event) error {
		decide.Enrich(ev, inv)
		for _, d := range eng.Decide(ctx, ev, inv) {
			// The engine's plan, so that run and serve name the same incident for the same
			// event and the actions recognise each other's work.
			plan := engine.PlanFor(ev, d)
			if d.Outcome != decide.Planned {
				rep.decision(plan, nil)
				continue
			}
			r := run.Execute(awscloud.WithSessionName(ctx, plan.Incident), env, cat, plan)
			if r.Failed() {
				failed++
			}
			rep.decision(plan, &r)
		}
		return nil
	}
	reject := func(e *event.InputError) {
		rejected++
		fmt.Fprintln(s.err, e.Error())
	}
	for _, in := range inputs {
		if err := event.ScanPath(ctx, in, s.in, emit, reject); err != nil {
			rejected++
			fmt.Fprintf(s.err, "%s:0:0: %v\n", in, err)
		}
	}
	rep.flush()
	if o.stateOut != "" {
		if err := writeState(org, o.stateOut); err != nil {
			return &exitError{code: ExitRejected, err: err}
		}
	}
	if failed > 0 || rejected > 0 {
		out.Flush()
		return &exitError{code: ExitRejected, err: fmt.Errorf("%d decisions failed, %d inputs rejected; see above", failed, rejected)}
	}
	return nil
}

func writeState(org *sim.Org, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--state-out %s: %w", path, err)
	}
	if err := org.Dump(f); err != nil {
		f.Close()
		return fmt.Errorf("--state-out %s: %w", path, err)
	}
	return f.Close()
}

// runReport prints what run did, as a table or one JSON object per decision.
type runReport struct {
	json *json.Encoder
	tw   *tabwriter.Writer
}

type runRecord struct {
	Incident string           `json:"incident"`
	Playbook string           `json:"playbook"`
	Event    string           `json:"event"`
	Outcome  string           `json:"outcome"`
	Reason   string           `json:"reason"`
	Target   action.Target    `json:"target"`
	Steps    []run.StepReport `json:"steps"`
}

func newRunReport(w *bufio.Writer, format string) *runReport {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &runReport{json: enc}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tPLAYBOOK\tTARGET\tSTEP\tSTATUS\tTOOK\tDETAIL")
	return &runReport{tw: tw}
}

func (r *runReport) decision(p run.Plan, rep *run.Report) {
	if r.json != nil {
		rec := runRecord{Incident: p.Incident, Playbook: p.Playbook, Event: p.Event.ID, Outcome: p.Outcome, Reason: p.Reason, Target: p.Target, Steps: []run.StepReport{}}
		if rep != nil {
			rec.Steps = rep.Steps
		}
		_ = r.json.Encode(rec)
		return
	}
	target := string(p.Target.Kind) + " " + p.Target.ID
	if p.Target.Account != "" {
		target += " in " + p.Target.Account
	}
	if rep == nil {
		fmt.Fprintf(r.tw, "%s\t%s\t%s\t-\t%s\t-\t%s\n", p.Incident, p.Playbook, target, p.Outcome, p.Reason)
		return
	}
	for _, st := range rep.Steps {
		detail := st.Message
		if st.Reason != "" {
			detail = st.Reason
		}
		fmt.Fprintf(r.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Incident, p.Playbook, target, st.Action, st.Status, st.Duration.Round(time.Millisecond), detail)
	}
}

func (r *runReport) flush() {
	if r.tw != nil {
		r.tw.Flush()
	}
}
