// Package enginetest starts, for the tests of the packages built on the engine (the API,
// the console), a running engine on a fresh store that acts on the example simulated
// organisation with the shipped playbooks.
package enginetest

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// Engine is a running engine and what it was built from.
type Engine struct {
	*engine.Engine
	Store     *store.Store
	World     *world.World
	Org       *sim.Org
	Playbooks *playbook.Set
	Catalogue *action.Catalogue
	// Inventory answers from a copy of World as it was at the start, as serve --dev's
	// does: changes the steps make to World do not show in it.
	Inventory decide.Inventory
}

// root is the repository's root, found from this file, so that every package's tests
// load the same examples whatever their directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Start opens a fresh store on dialect (see storetest.Open) and runs an engine on it, acting
// on examples/world.yaml with the playbooks of playbooks/. Steps run at once: one attempt
// each, short polls. The engine stops when the test ends, before the store closes.
func Start(t *testing.T, dialect store.Dialect) *Engine {
	t.Helper()
	s := storetest.Open(t, dialect)
	file := filepath.Join(root(), "examples", "world.yaml")
	w, err := world.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	// Deciding reads a copy of its own, as serve --dev does: the simulation changes its
	// world while steps run, and reading that one from a request at the same time races.
	snapshot, err := world.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	org := sim.New(w, sim.Options{})
	cat := catalog.Default()
	set, err := playbook.LoadDir(filepath.Join(root(), "playbooks"), cat)
	if err != nil {
		t.Fatal(err)
	}
	env := &action.Env{Cloud: org, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1,
		Poll: 5 * time.Millisecond, Retry: action.Retry{Attempts: 1}}
	inv := decide.WorldInventory(snapshot)
	eng, err := engine.New(s, engine.Config{Decider: decide.New(set, decide.Options{}), Catalogue: cat, Env: env,
		Inventory: inv, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Stop(ctx); err != nil {
			t.Errorf("stop the engine: %v", err)
		}
	})
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &Engine{Engine: eng, Store: s, World: w, Org: org, Playbooks: set, Catalogue: cat, Inventory: inv}
}
