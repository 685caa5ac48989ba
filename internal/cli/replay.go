package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
)

type replayOptions struct {
	playbooks string
	world     string
	output    string
}

func newReplayCmd(s *streams) *cobra.Command {
	o := &replayOptions{}
	cmd := &cobra.Command{
		Use:   "replay [flags] INPUT...",
		Short: "Decide what the playbooks would do about events, without touching any account",
		Long: `Replay reads events (files, directories, or - for standard input; one JSON value, a
JSON array, or newline-delimited JSON each) and prints, for every normalised event, the
decisions the playbooks make. Nothing is executed.

Exit status: 0 when every input was read, 1 when some input was rejected (each rejection
on stderr as INPUT:line:col: message; the rest is still decided), 2 when the playbooks
or flags are invalid.`,
		Example: `  firebreak replay --world examples/world.yaml examples/events
  aws guardduty get-findings ... | firebreak replay --output json -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd.Context(), s, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.playbooks, "playbooks", "playbooks", "directory of playbooks")
	f.StringVar(&o.world, "world", "", "world file (CONTRACTS §4) supplying tags and account names the events lack")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

// replayRecord is one line of `replay --output json` (CONTRACTS §3).
type replayRecord struct {
	Event     *event.Event      `json:"event"`
	Decisions []decide.Decision `json:"decisions"`
}

func runReplay(ctx context.Context, s *streams, o *replayOptions, inputs []string) error {
	if o.output != "json" && o.output != "text" {
		return usageErr("--output %q: use json or text", o.output)
	}
	eng, inv, err := loadDecider(s, o.playbooks, o.world)
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(s.out, 64<<10)
	defer out.Flush()

	var text *textReport
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if o.output == "text" {
		text = newTextReport(out)
	}
	rejected := 0
	emit := func(ev *event.Event) error {
		decide.Enrich(ev, inv)
		ds := eng.Decide(ctx, ev, inv)
		if ds == nil {
			ds = []decide.Decision{}
		}
		if text != nil {
			text.add(ev, ds)
			return nil
		}
		return enc.Encode(replayRecord{Event: ev, Decisions: ds})
	}
	reject := func(e *event.InputError) {
		rejected++
		fmt.Fprintln(s.err, e.Error())
	}
	for _, in := range inputs {
		if err := event.ScanPath(ctx, in, s.in, emit, reject); err != nil {
			// An input that cannot be opened at all is a rejected input, not a usage error:
			// the others are still replayed.
			rejected++
			fmt.Fprintf(s.err, "%s:0:0: %v\n", in, err)
		}
	}
	if text != nil {
		text.flush()
	}
	if rejected > 0 {
		out.Flush()
		return &exitError{code: ExitRejected}
	}
	return nil
}

// textReport renders decisions as a table a responder can read at a glance.
type textReport struct {
	tw     *tabwriter.Writer
	events int
}

func newTextReport(w io.Writer) *textReport {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tSOURCE\tTYPE\tPLAYBOOK\tOUTCOME\tTARGET\tSTEPS / REASON")
	return &textReport{tw: tw}
}

func (r *textReport) add(ev *event.Event, ds []decide.Decision) {
	r.events++
	id := shorten(ev.ID, 24)
	if len(ds) == 0 {
		fmt.Fprintf(r.tw, "%s\t%s\t%s\t-\t-\t-\tno playbook matched\n", id, ev.Source, shorten(ev.Type, 48))
		return
	}
	for _, d := range ds {
		detail := d.Reason
		if detail == "" {
			var steps []string
			for _, st := range d.Steps {
				name := st.Action
				if st.Outcome != decide.Outcome(d.Outcome) && st.Outcome != "" {
					name += " (" + string(st.Outcome) + ")"
				}
				steps = append(steps, name)
			}
			detail = strings.Join(steps, " → ")
		}
		target := string(d.Target.Kind) + " " + d.Target.ID
		fmt.Fprintf(r.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, ev.Source, shorten(ev.Type, 48), d.Playbook, d.Outcome, target, detail)
	}
}

func (r *textReport) flush() {
	r.tw.Flush()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
