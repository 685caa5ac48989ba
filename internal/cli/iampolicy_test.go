package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// policyActions returns the IAM actions a policy printed by iam-policy allows.
func policyActions(t *testing.T, args ...string) map[string]bool {
	t.Helper()
	code, out, errs := invoke(t, "", append([]string{"iam-policy"}, args...)...)
	if code != 0 {
		t.Fatalf("iam-policy %v: exit %d: %s", args, code, errs)
	}
	var doc struct {
		Statement []struct {
			Effect string
			Action json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("iam-policy printed no policy document: %v\n%s", err, out)
	}
	allowed := map[string]bool{}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			continue
		}
		var list []string
		if json.Unmarshal(st.Action, &list) != nil {
			var one string
			if err := json.Unmarshal(st.Action, &one); err != nil {
				t.Fatalf("statement action %s: %v", st.Action, err)
			}
			list = []string{one}
		}
		for _, a := range list {
			allowed[a] = true
		}
	}
	return allowed
}

// TestIAMPolicyCoversTheExamples carries out every shipped example through the simulated
// organisation, as `firebreak run` does, and checks that every AWS call made in a member
// account is allowed by the member policy `firebreak iam-policy` prints for the shipped
// playbooks, and the role assumption by the hub policy.
func TestIAMPolicyCoversTheExamples(t *testing.T) {
	member := policyActions(t, "--playbooks", playbooks)
	hub := policyActions(t, "--playbooks", playbooks, "--role-kind", "hub")

	ctx := context.Background()
	cat := catalog.Default()
	set, err := playbook.LoadDir(playbooks, cat)
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.Load(worldFile)
	if err != nil {
		t.Fatal(err)
	}
	org := sim.New(w, sim.Options{})
	inv := decide.WorldInventory(w)
	env := &action.Env{Cloud: org, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1, Poll: 1}
	eng := decide.New(set, decide.Options{})
	executed := 0
	err = event.ScanPath(ctx, events, nil, func(ev *event.Event) error {
		decide.Enrich(ev, inv)
		for _, d := range eng.Decide(ctx, ev, inv) {
			if d.Outcome != decide.Planned {
				continue
			}
			r := run.Execute(ctx, env, cat, engine.PlanFor(ev, d))
			if r.Failed() {
				t.Errorf("%s on %s %s failed: %+v", d.Playbook, d.Target.Kind, d.Target.ID, r.Steps)
			}
			executed++
		}
		return nil
	}, func(e *event.InputError) { t.Errorf("example rejected: %v", e) })
	if err != nil {
		t.Fatal(err)
	}
	if executed == 0 {
		t.Fatal("no example decision was carried out")
	}
	calls := org.Calls()
	if len(calls) == 0 {
		t.Fatal("the examples made no AWS call")
	}
	for _, c := range calls {
		need := action.IAMAction(c.Service, c.Operation)
		allowed := member
		if c.Service == "sts" {
			allowed = hub
		}
		if !allowed[need] {
			t.Errorf("%s in %s was called but the printed policy does not allow it", need, c.Account)
		}
	}
}

func TestRunContainsEveryExample(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	code, out, errs := invoke(t, "", "run", "--playbooks", playbooks, "--world", worldFile, "--state-out", state, "--output", "json", events)
	if code != 0 {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := world.Parse(state, data); err != nil {
		t.Fatalf("--state-out is not a world file: %v", err)
	}
}

// TestHubPolicyFromConfig checks that the hub policy printed with --config lets the hub
// read each configured queue and write the audit anchor, in the right partition and
// resource, and takes the configuration's role name.
func TestHubPolicyFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte(`accounts: {role_name: team/Responder, external_id: env:NOT_SET_HERE}
sqs:
  queues:
    - url: https://sqs.eu-west-1.amazonaws.com/111122223333/firebreak-events
    - url: https://sqs.cn-north-1.amazonaws.com.cn/222233334444/cn-events
audit: {anchor: {location: "s3://audit-anchors/prod"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"iam-policy", "--role-kind", "hub", "--config", cfg}, nil, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	var doc action.PolicyDocument
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := map[string]string{}
	for _, st := range doc.Statement {
		got[st.Sid] = strings.Join(st.Action, ",") + " on " + st.Resource
	}
	want := map[string]string{
		"FirebreakAssumeResponderRole": "sts:AssumeRole on arn:aws:iam::*:role/team/Responder",
		"FirebreakReadEventQueue1":     "sqs:ChangeMessageVisibility,sqs:DeleteMessage,sqs:GetQueueAttributes,sqs:ReceiveMessage on arn:aws:sqs:eu-west-1:111122223333:firebreak-events",
		"FirebreakReadEventQueue2":     "sqs:ChangeMessageVisibility,sqs:DeleteMessage,sqs:GetQueueAttributes,sqs:ReceiveMessage on arn:aws-cn:sqs:cn-north-1:222233334444:cn-events",
		"FirebreakAnchorAuditChain":    "s3:GetObject,s3:PutObject,s3:PutObjectRetention on arn:aws:s3:::audit-anchors/prod/*",
		"FirebreakListAuditAnchors":    "s3:ListBucket on arn:aws:s3:::audit-anchors",
	}
	if !maps.Equal(got, want) {
		t.Errorf("hub policy statements:\n got %v\nwant %v", got, want)
	}
}
