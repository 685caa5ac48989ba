package run_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// TestOneAccountDeniesAssumeRole contains three incidents in three accounts at once while
// one account refuses the responder role: the other two must be contained, and the failure
// must name the account and the permission that is missing, so an operator can fix it.
func TestOneAccountDeniesAssumeRole(t *testing.T) {
	w, err := world.Load("../../examples/world.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const denied = "444455556666"
	org := sim.New(w, sim.Options{DenyAssumeRole: []string{denied}})
	env := &action.Env{Cloud: org, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1}
	cat := catalog.Default()

	targets := []action.Target{
		{Kind: event.KindInstance, ID: "i-0a1b2c3d4e5f60001", Account: "111122223333", Region: "us-east-1"},
		{Kind: event.KindInstance, ID: "i-0b1c2d3e4f5a60002", Account: denied, Region: "us-east-1"},
		{Kind: event.KindInstance, ID: "i-0c1d2e3f4a5b60005", Account: "777788889999", Region: "us-east-1"},
	}
	reports := make([]run.Report, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i] = run.Execute(context.Background(), env, cat, run.Plan{
				Playbook: "ec2-compromise", Incident: "inc-" + tg.Account, Outcome: "planned", Target: tg,
				Steps: []run.Step{{Action: "ec2.isolate", Outcome: "planned"}},
			})
		}()
	}
	wg.Wait()

	for i, r := range reports {
		st := r.Steps[0]
		if targets[i].Account == denied {
			if st.Status != run.Failed {
				t.Fatalf("isolation in the denying account: status %s, want failed", st.Status)
			}
			for _, want := range []string{denied, "sts:AssumeRole"} {
				if !strings.Contains(st.Reason, want) {
					t.Errorf("failure reason %q does not name %q", st.Reason, want)
				}
			}
			t.Logf("denied account reports: %s", st.Reason)
			continue
		}
		if st.Status != run.Done {
			t.Errorf("isolation in %s: status %s (%s), want done", targets[i].Account, st.Status, st.Reason)
		}
	}

	// The denying account is untouched; the others now hold the isolation group.
	var dump bytes.Buffer
	if err := org.Dump(&dump); err != nil {
		t.Fatal(err)
	}
	after, err := world.Parse("after.json", dump.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range after.Accounts {
		groups := 0
		for _, r := range a.Regions {
			for _, sg := range r.SecurityGroups {
				if strings.HasPrefix(sg.Name, "firebreak-isolation") {
					groups++
				}
			}
		}
		if a.ID == denied && groups != 0 {
			t.Errorf("account %s refused the role but has %d isolation groups", a.ID, groups)
		}
		if a.ID != denied && groups == 0 {
			t.Errorf("account %s has no isolation group after containment", a.ID)
		}
	}
}
