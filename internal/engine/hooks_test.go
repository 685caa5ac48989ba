package engine

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestAfterStep checks that the hook sees every step of a contained incident, once each,
// as recorded.
func TestAfterStep(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		var (
			mu   sync.Mutex
			seen []int
		)
		f := newFixture(t, d, options{afterStep: func(incident string, st store.Step) {
			mu.Lock()
			defer mu.Unlock()
			if st.Finished.IsZero() {
				t.Errorf("incident %s step %d (%s): hook called before the step finished", incident, st.Index, st.Action)
			}
			seen = append(seen, st.Index)
		}})
		if _, _, err := f.eng.Accept(context.Background(), readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateContained)
		want := make([]int, len(inc.Steps))
		for i := range want {
			want[i] = i
		}
		// The hook runs after the transaction that ends the incident commits.
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			got := slices.Clone(seen)
			mu.Unlock()
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hook saw steps %v, want %v", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestSetDecider checks that events accepted after SetDecider are decided by the new
// playbooks.
func TestSetDecider(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		set, err := playbook.LoadDir(playbooksDir, catalog.Default())
		if err != nil {
			t.Fatal(err)
		}
		set.Playbooks = slices.DeleteFunc(set.Playbooks, func(p *playbook.Playbook) bool { return p.Name == "ec2-compromise-prod" })
		f.eng.SetDecider(decide.New(set, decide.Options{}))
		f.eng.SetDecider(nil) // ignored
		if _, _, err := f.eng.Accept(context.Background(), readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		list, err := f.eng.List(context.Background(), store.Filter{Playbook: "ec2-compromise-prod"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Errorf("a playbook removed by SetDecider opened incident %s", list[0].ID)
		}
	})
}
