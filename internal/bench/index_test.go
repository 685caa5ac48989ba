package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/pattern"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// evaluatedCounter returns a function that says how many of set's playbooks decide
// evaluates the pattern of for an event: the candidates its index hands to matching.
//
// decide exposes no such count, so it is observed from outside: the engine is built over
// set as loaded (its index keyed on the real patterns), then every playbook is turned into
// one whose pattern matches any event and that yields exactly one decision, for the
// event's account. Every pattern the engine evaluates then shows as one decision. set is
// spoilt for any other use.
func evaluatedCounter(t *testing.T, set *playbook.Set) func(ev *event.Event) int {
	t.Helper()
	e := decide.New(set, decide.Options{Now: fixedNow})
	matchAll, err := pattern.Compile([]byte(`{"account": [{"exists": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range set.Playbooks {
		p.On, p.When, p.Target, p.Steps = matchAll, nil, event.KindAccount, nil
		p.Exceptions = playbook.Exceptions{}
	}
	set.Exceptions = nil
	return func(ev *event.Event) int {
		return len(e.Decide(context.Background(), ev, nil))
	}
}

// TestIndexNarrowsCandidates guards the engine's index: with a large organisation's
// library, a GuardDuty finding must be matched against only the playbooks that could
// concern it, not the whole library, or deciding cost would grow with every playbook
// any team adds.
func TestIndexNarrowsCandidates(t *testing.T) {
	const n = 2000
	set := library(t, n, librarySeed)

	// What an ideal index could not avoid: playbooks whose source and detail-type admit
	// the event. Counted on the real patterns, before the set is turned into probes.
	data, err := os.ReadFile(filepath.Join(examplesDir, "guardduty-backdoor-c2-prod.json"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := event.FromJSON(data)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	typical := evs[0]
	matching := 0
	for _, p := range set.Playbooks {
		if p.On.Match(typical.Envelope) {
			matching++
		}
	}

	count := evaluatedCounter(t, set)
	got := count(typical)
	t.Logf("typical GuardDuty finding (%s): %d of %d patterns evaluated, %d match", typical.Type, got, n, matching)
	if got < matching {
		t.Fatalf("%d patterns evaluated but %d match: the probe does not observe evaluation", got, matching)
	}
	// Without an index every pattern would be evaluated. The index keys on source and
	// detail-type, and GuardDuty playbooks are about a quarter of this library, so a
	// GuardDuty finding is matched against about that many; a third leaves room for the
	// library's randomness but not for losing the index.
	if got > n/3 {
		t.Errorf("%d of %d patterns evaluated for one GuardDuty finding: the index does not narrow the library", got, n)
	}

	// The same over the corpus, for every family.
	corpusData, _ := corpus(t)
	total, most, events := 0, 0, 0
	err = event.Scan(context.Background(), "corpus", bytes.NewReader(corpusData), func(ev *event.Event) error {
		c := count(ev)
		total += c
		most = max(most, c)
		events++
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mean := float64(total) / float64(events)
	t.Logf("corpus: %.1f patterns evaluated per event on average, %d at most, of %d", mean, most, n)
	if mean > n/5 {
		t.Errorf("%.0f of %d patterns evaluated per event on average: the index does not narrow the library", mean, n)
	}
}
