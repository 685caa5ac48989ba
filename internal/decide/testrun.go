package decide

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// Summary counts the test cases run and failed.
type Summary struct {
	Cases  int
	Failed int
}

// RunTests runs every case of every `kind: PlaybookTest` suite in set through engine and
// writes a report to w: each failure with its position and a diff of expected against
// actual decisions, then a summary line. loadWorld turns a suite's world file into an
// Inventory (it may be nil when no suite names one). The error is for problems writing
// the report; failing cases are counted in the Summary, and the caller decides the exit
// status.
func RunTests(ctx context.Context, set *playbook.Set, engine *Engine, loadWorld func(path string) (Inventory, error), w io.Writer) (Summary, error) {
	var sum Summary
	out := &errWriter{w: w}
	worlds := map[string]Inventory{}
	for _, suite := range set.Tests {
		var inv Inventory
		var worldErr error
		if suite.World != "" {
			if loadWorld == nil {
				worldErr = fmt.Errorf("the suite names a world (%s) but no world loader is configured", suite.World)
			} else if cached, ok := worlds[suite.World]; ok {
				inv = cached
			} else if inv, worldErr = loadWorld(suite.World); worldErr == nil {
				worlds[suite.World] = inv
			}
		}
		for _, c := range suite.Cases {
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			sum.Cases++
			var problems []string
			if worldErr != nil {
				problems = []string{"world: " + worldErr.Error()}
			} else {
				problems = runCase(ctx, engine, inv, c)
			}
			if len(problems) == 0 {
				continue
			}
			sum.Failed++
			title := c.Name
			if suite.Name != "" {
				title = suite.Name + " / " + c.Name
			}
			out.printf("FAIL %s (%s:%d)\n", title, c.Pos.File, c.Pos.Line)
			for _, p := range problems {
				out.printf("%s\n", indent(p))
			}
		}
	}
	if sum.Failed == 0 {
		out.printf("ok %d cases, 0 failed\n", sum.Cases)
	} else {
		out.printf("FAIL %d cases, %d failed\n", sum.Cases, sum.Failed)
	}
	return sum, out.err
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// runCase returns what is wrong with the case's decisions, as diff lines.
func runCase(ctx context.Context, engine *Engine, inv Inventory, c *playbook.TestCase) []string {
	data := c.Event
	if c.EventFile != "" {
		var err error
		if data, err = os.ReadFile(c.EventFile); err != nil {
			return []string{err.Error()}
		}
	}
	evs, err := event.FromJSON(data)
	if err != nil {
		return []string{"event: " + err.Error()}
	}
	var actual []Decision
	for _, ev := range evs {
		actual = append(actual, engine.Decide(ctx, ev, inv)...)
	}
	return diffDecisions(c.Expect, actual)
}

// diffDecisions pairs each expectation with a produced decision (same playbook, and the
// target fields it gives) and reports, unified-diff style, expectations not produced,
// decisions not expected, and field mismatches in pairs.
func diffDecisions(expect []*playbook.Expectation, actual []Decision) []string {
	used := make([]bool, len(actual))
	var lines []string
	var mismatched []string
	for _, x := range expect {
		best, bestScore := -1, -1
		for i := range actual {
			if used[i] || actual[i].Playbook != x.Playbook || !targetMatches(x.Target, actual[i].Target) {
				continue
			}
			if s := len(fieldDiff(x, &actual[i])); bestScore == -1 || s < bestScore {
				best, bestScore = i, s
			}
		}
		if best < 0 {
			lines = append(lines, "- "+describeExpectation(x)+"    (expected, not produced; "+x.Pos.String()+")")
			continue
		}
		used[best] = true
		if d := fieldDiff(x, &actual[best]); len(d) > 0 {
			mismatched = append(mismatched, fmt.Sprintf("  %s %s/%s (%s):", x.Playbook, actual[best].Target.Kind, actual[best].Target.ID, x.Pos))
			mismatched = append(mismatched, d...)
		}
	}
	for i := range actual {
		if !used[i] {
			lines = append(lines, "+ "+describeDecision(&actual[i])+"    (produced, not expected)")
		}
	}
	lines = append(lines, mismatched...)
	if len(lines) == 0 {
		return nil
	}
	return append([]string{"--- expected", "+++ actual"}, lines...)
}

func targetMatches(want map[string]string, t Target) bool {
	for k, v := range want {
		var got string
		switch k {
		case "kind":
			got = string(t.Kind)
		case "id":
			got = t.ID
		case "account":
			got = t.Account
		case "region":
			got = t.Region
		case "arn":
			got = t.ARN
		}
		if got != v {
			return false
		}
	}
	return true
}

func fieldDiff(x *playbook.Expectation, d *Decision) []string {
	var out []string
	if x.Outcome != "" && x.Outcome != string(d.Outcome) {
		out = append(out, "-   outcome: "+x.Outcome, "+   outcome: "+string(d.Outcome))
	}
	if x.Reason != "" && !strings.Contains(d.Reason, x.Reason) {
		out = append(out, fmt.Sprintf("-   reason contains: %q", x.Reason), fmt.Sprintf("+   reason: %q", d.Reason))
	}
	if x.HasSteps {
		var got []Step
		for _, s := range d.Steps {
			if s.Outcome != Skipped {
				got = append(got, s)
			}
		}
		if !stepsMatch(x.Steps, got) {
			out = append(out, "-   steps: "+expectedSteps(x.Steps), "+   steps: "+actualSteps(got))
		}
	}
	return out
}

func stepsMatch(want []playbook.ExpectedStep, got []Step) bool {
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		if w.Action != got[i].Action || (w.Outcome != "" && w.Outcome != string(got[i].Outcome)) {
			return false
		}
	}
	return true
}

func expectedSteps(steps []playbook.ExpectedStep) string {
	s := make([]string, len(steps))
	for i, st := range steps {
		s[i] = st.Action
		if st.Outcome != "" {
			s[i] += " (" + st.Outcome + ")"
		}
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func actualSteps(steps []Step) string {
	s := make([]string, len(steps))
	for i, st := range steps {
		s[i] = fmt.Sprintf("%s (%s)", st.Action, st.Outcome)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func describeExpectation(x *playbook.Expectation) string {
	parts := []string{"playbook: " + x.Playbook}
	if x.Outcome != "" {
		parts = append(parts, "outcome: "+x.Outcome)
	}
	if len(x.Target) > 0 {
		var t []string
		for _, k := range []string{"kind", "id", "account", "region", "arn"} {
			if v, ok := x.Target[k]; ok {
				t = append(t, k+": "+v)
			}
		}
		parts = append(parts, "target: {"+strings.Join(t, ", ")+"}")
	}
	if x.Reason != "" {
		parts = append(parts, fmt.Sprintf("reason: %q", x.Reason))
	}
	if x.HasSteps {
		parts = append(parts, "steps: "+expectedSteps(x.Steps))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func describeDecision(d *Decision) string {
	parts := []string{"playbook: " + d.Playbook, "outcome: " + string(d.Outcome),
		fmt.Sprintf("target: {kind: %s, id: %s}", d.Target.Kind, d.Target.ID)}
	if d.Reason != "" {
		parts = append(parts, fmt.Sprintf("reason: %q", d.Reason))
	}
	var running []Step
	for _, s := range d.Steps {
		if s.Outcome != Skipped {
			running = append(running, s)
		}
	}
	if len(running) > 0 {
		parts = append(parts, "steps: "+actualSteps(running))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
