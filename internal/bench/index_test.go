package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// TestIndexNarrowsCandidates guards the engine's index: with a large organisation's
// library, an event must be matched against little more than the playbooks that concern
// it, not the whole library nor every playbook of its source, or deciding cost would grow
// with every playbook any team adds.
func TestIndexNarrowsCandidates(t *testing.T) {
	const n = 2000
	set := library(t, n, librarySeed)

	// What an ideal index could not avoid: the playbooks that match.
	data, err := os.ReadFile(filepath.Join(examplesDir, "guardduty-backdoor-c2-prod.json"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := event.FromJSON(data)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	typical := evs[0]
	matching, sameKind := 0, 0
	for _, p := range set.Playbooks {
		if p.On.Match(typical.Envelope) {
			matching++
		}
		if vs, _ := p.On.ExactValues("source"); slices.Contains(vs, "aws.guardduty") {
			sameKind++
		}
	}

	e := decide.New(set, decide.Options{Now: fixedNow})
	count := e.Candidates
	got := count(typical)
	t.Logf("typical GuardDuty finding (%s): %d of %d patterns evaluated (%d GuardDuty playbooks), %d match",
		typical.Type, got, n, sameKind, matching)
	if got < matching {
		t.Fatalf("%d patterns evaluated but %d match: the index drops playbooks", got, matching)
	}
	// The index splits GuardDuty playbooks on detail.type, so a finding is matched against
	// the playbooks for its type, its type's prefixes, and the few that name no type: a few
	// dozen (29 for this library), where keying on source and detail-type alone would
	// give every GuardDuty finding playbook (over 500).
	if got > 40 {
		t.Errorf("%d of %d patterns evaluated for one GuardDuty finding that %d match, want at most 40: the index does not split on the finding type",
			got, n, matching)
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
	// 16 for this library and corpus, where an event matches 6.8 on average.
	if mean > 25 {
		t.Errorf("%.1f of %d patterns evaluated per event on average, want at most 25: the index does not narrow the library", mean, n)
	}
}
