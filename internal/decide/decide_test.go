package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testCatalogue(t testing.TB) *action.Catalogue {
	t.Helper()
	cat, err := action.NewCatalogue(
		&action.Spec{Name: "ec2.snapshot-volumes", Targets: []event.Kind{event.KindInstance}},
		&action.Spec{Name: "ec2.isolate", Targets: []event.Kind{event.KindInstance}},
		&action.Spec{Name: "ec2.terminate", Targets: []event.Kind{event.KindInstance}},
		&action.Spec{Name: "waf.block-ip", Targets: []event.Kind{event.KindIP}, Params: []action.Param{
			{Name: "ip_set", Type: action.String, Required: true},
			{Name: "scope", Type: action.String, Default: "REGIONAL", Allowed: []string{"REGIONAL", "CLOUDFRONT"}},
		}},
		&action.Spec{Name: "notify", Targets: event.Kinds, Params: []action.Param{{Name: "to", Type: action.StringList}}},
		&action.Spec{Name: "iam.deactivate-user", Targets: []event.Kind{event.KindIAMUser}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func loadEngine(t testing.TB, dir string) (*playbook.Set, *Engine) {
	t.Helper()
	set, err := playbook.LoadDir(dir, testCatalogue(t))
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	return set, New(set, Options{Now: func() time.Time { return now }})
}

// c2Event is a GuardDuty C2 finding on instance id with tags, as the envelope and the
// normalised event say it.
func c2Event(id string, tags map[string]string, severity float64) *event.Event {
	return &event.Event{
		ID: "ev", Source: event.SourceGuardDuty, Type: "Backdoor:EC2/C&CActivity.B", Account: "111122223333", Region: "us-east-1",
		Severity:  severity,
		Resources: []event.Resource{{Kind: event.KindInstance, ID: id, Tags: tags}},
		Network:   &event.Network{RemoteIPs: []string{"198.51.100.7"}},
		Envelope: map[string]any{"source": "aws.guardduty", "detail-type": "GuardDuty Finding",
			"detail": map[string]any{"type": "Backdoor:EC2/C&CActivity.B", "severity": json.Number(fmt.Sprint(severity))}},
	}
}

type fakeInventory struct {
	tags     map[string]map[string]string
	accounts map[string]AccountInfo
}

func (w fakeInventory) ResourceTags(account, region string, kind event.Kind, id string) (map[string]string, bool) {
	t, ok := w.tags[id]
	return t, ok
}

func (w fakeInventory) Account(id string) (AccountInfo, bool) {
	a, ok := w.accounts[id]
	return a, ok
}

func TestDecide(t *testing.T) {
	_, eng := loadEngine(t, "testdata/playbooks")
	tests := []struct {
		name string
		ev   *event.Event
		inv  Inventory
		want string // playbook outcome target [steps] reason, one decision a line
	}{
		{"prod instance", c2Event("i-0abc", map[string]string{"Environment": "prod"}, 7),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control planned instance/i-0abc [ec2.snapshot-volumes:planned ec2.isolate:planned ec2.terminate:skipped] `},
		{"dev instance needs approval for terminate", c2Event("i-0dev", map[string]string{"Environment": "dev"}, 7),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control needs-approval instance/i-0dev [ec2.snapshot-volumes:planned ec2.isolate:planned ec2.terminate:needs-approval] a step requires approval`},
		{"sandbox is skipped by when", c2Event("i-0sb", map[string]string{"Environment": "sandbox"}, 7),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control skipped instance/i-0sb [] when is false: resource.tags["Environment"] != "sandbox"`},
		{"untagged passes when", c2Event("i-0nt", nil, 7),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control planned instance/i-0nt [ec2.snapshot-volumes:planned ec2.isolate:planned ec2.terminate:skipped] `},
		{"exception tag", c2Event("i-0ex", map[string]string{"firebreak:exception": "CHG-1234"}, 7),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control excepted instance/i-0ex [] excepted by tag firebreak:exception=CHG-1234 on i-0ex`},
		{"expired exception tag goes ahead", c2Event("i-0ex", map[string]string{"firebreak:exception": "CHG-1", "firebreak:exception-until": "2026-01-01T00:00:00Z"}, 7),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control planned instance/i-0ex [ec2.snapshot-volumes:planned ec2.isolate:planned ec2.terminate:skipped] exception by tag firebreak:exception=CHG-1 on i-0ex expired on 2026-01-01`},
		{"inventory tag wins over event", c2Event("i-0abc", map[string]string{"Environment": "prod"}, 7),
			fakeInventory{tags: map[string]map[string]string{"i-0abc": {"Environment": "sandbox"}}}, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control skipped instance/i-0abc [] when is false: resource.tags["Environment"] != "sandbox"`},
		{"exceptions file", c2Event("i-0legacy", nil, 7),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control excepted instance/i-0legacy [] excepted by exceptions.yaml:5 (approved by alice, until 2030-01-01): vendor appliance`},
		{"expired exceptions file entry", c2Event("i-0old", nil, 7),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control planned instance/i-0old [ec2.snapshot-volumes:planned ec2.isolate:planned ec2.terminate:skipped] exception exceptions.yaml:10 (until 2020-01-01): old exception expired on 2020-01-01`},
		{"unindexed playbook, approve mode", c2Event("i-0abc", nil, 9),
			nil, `
any-high-severity needs-approval account/111122223333 [notify:needs-approval] playbook is in approve mode
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control planned instance/i-0abc [ec2.snapshot-volumes:planned ec2.isolate:planned ec2.terminate:skipped] `},
		{"no instance", func() *event.Event { e := c2Event("x", nil, 7); e.Resources = nil; return e }(),
			nil, `
block-c2-ip dry-run ip/198.51.100.7 [waf.block-ip:dry-run] playbook is in dry-run mode
ec2-command-and-control skipped instance/ [] no instance in the event`},
		{"other source matches nothing", &event.Event{Envelope: map[string]any{"source": "aws.health"}}, nil, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			for _, d := range eng.Decide(context.Background(), tt.ev, tt.inv) {
				var steps []string
				for _, s := range d.Steps {
					steps = append(steps, s.Action+":"+string(s.Outcome))
				}
				fmt.Fprintf(&b, "\n%s %s %s/%s [%s] %s", d.Playbook, d.Outcome, d.Target.Kind, d.Target.ID, strings.Join(steps, " "), d.Reason)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("got:%s\nwant:%s", got, tt.want)
			}
		})
	}
}

func TestDecisionJSON(t *testing.T) {
	_, eng := loadEngine(t, "testdata/playbooks")
	ds := eng.Decide(context.Background(), c2Event("i-0abc", map[string]string{"Environment": "prod"}, 7), nil)
	got, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"playbook":"block-c2-ip","outcome":"dry-run","reason":"playbook is in dry-run mode","target":{"kind":"ip","id":"198.51.100.7","account":"111122223333","region":"us-east-1"},"steps":[{"action":"waf.block-ip","with":{"ip_set":"firebreak-blocklist","scope":"REGIONAL"},"outcome":"dry-run"}]},` +
		`{"playbook":"ec2-command-and-control","outcome":"planned","reason":"","target":{"kind":"instance","id":"i-0abc","account":"111122223333","region":"us-east-1","tags":{"Environment":"prod"}},"steps":[{"action":"ec2.snapshot-volumes","outcome":"planned"},{"action":"ec2.isolate","outcome":"planned"},{"action":"ec2.terminate","outcome":"skipped","reason":"if is false: resource.tags[\"Environment\"] == \"dev\""}]}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestTargets(t *testing.T) {
	ev := &event.Event{
		Account:   "1",
		Resources: []event.Resource{{Kind: event.KindIAMUser, ID: "bob"}, {Kind: event.KindIP, ID: "10.0.0.1"}},
		Actor:     &event.Actor{Type: "AssumedRole", SessionIssuer: "arn:aws:iam::1:role/path/app-role", AccessKeyID: "ASIAX"},
		Network:   &event.Network{RemoteIPs: []string{"10.0.0.2", "10.0.0.1"}},
	}
	tests := []struct {
		kind event.Kind
		want string
	}{
		{event.KindIP, "10.0.0.1 10.0.0.2"},
		{event.KindIAMUser, "bob"},
		{event.KindIAMRole, "app-role"},
		{event.KindAccessKey, "ASIAX"},
		{event.KindAccount, "1"},
		{event.KindTrail, ""},
	}
	for _, tt := range tests {
		var ids []string
		for _, r := range Targets(ev, tt.kind) {
			ids = append(ids, r.ID)
		}
		if got := strings.Join(ids, " "); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.kind, got, tt.want)
		}
	}
}

func TestRunTests(t *testing.T) {
	tests := []struct {
		dir, golden string
		failed      int
	}{
		{"testdata/playbooks", "testdata/pass.golden", 0},
		{"testdata/failing", "testdata/fail.golden", 1},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			set, eng := loadEngine(t, tt.dir)
			var out bytes.Buffer
			sum, err := RunTests(context.Background(), set, eng, nil, &out)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed != tt.failed {
				t.Errorf("failed = %d, want %d\n%s", sum.Failed, tt.failed, out.String())
			}
			if *update {
				os.WriteFile(tt.golden, out.Bytes(), 0o644)
			}
			want, _ := os.ReadFile(tt.golden)
			if out.String() != string(want) {
				t.Errorf("report differs from %s:\n%s", tt.golden, out.String())
			}
		})
	}
}

// BenchmarkDecide decides one event against 200 playbooks, most of them for other
// sources, as a large installation would have.
func BenchmarkDecide(b *testing.B) {
	var src strings.Builder
	sources := []string{"aws.guardduty", "aws.securityhub", "aws.health", "aws.cloudtrail", "aws.s3"}
	for i := range 200 {
		fmt.Fprintf(&src, `---
apiVersion: firebreak/v1
kind: Playbook
metadata: {name: pb-%03d}
spec:
  on: {source: [%s], detail: {type: [{prefix: "T%d:"}], severity: [{numeric: [">=", 5]}]}}
  when: 'resource.tags["Environment"] != "sandbox" && event.severity > 2.0'
  target: instance
  steps:
    - action: ec2.snapshot-volumes
    - action: ec2.isolate
      if: '"Owner" in resource.tags'
`, i, sources[i%len(sources)], i%4)
	}
	set, err := playbook.Load("bench.yaml", []byte(src.String()), testCatalogue(b))
	if err != nil {
		b.Fatal(err)
	}
	eng := New(set, Options{})
	ev := c2Event("i-0abc", map[string]string{"Environment": "prod", "Owner": "web"}, 8)
	ev.Envelope["detail"].(map[string]any)["type"] = "T3:x"
	if n := len(eng.Decide(context.Background(), ev, nil)); n != 10 {
		b.Fatalf("%d decisions, want 10", n)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		eng.Decide(ctx, ev, nil)
	}
}
