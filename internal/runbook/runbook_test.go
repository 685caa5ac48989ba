package runbook

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testCatalogue(t *testing.T) *action.Catalogue {
	t.Helper()
	cat, err := action.NewCatalogue(
		&action.Spec{Name: "ec2.snapshot-volumes", Summary: "Snapshot every EBS volume attached to the instance.", Targets: []event.Kind{event.KindInstance},
			Manual: "aws ec2 describe-instances --region {{.Region}} --instance-ids {{.ID}} --query 'Reservations[].Instances[].BlockDeviceMappings[].Ebs.VolumeId'\naws ec2 create-snapshot --region {{.Region}} --volume-id <volume-id>"},
		&action.Spec{Name: "ec2.isolate", Summary: "Move the instance into a quarantine security group.", Targets: []event.Kind{event.KindInstance}, Reversible: true,
			Manual:     "aws ec2 modify-instance-attribute --region {{.Region}} --instance-id {{.ID}} --groups <quarantine-sg-id>",
			ManualUndo: "aws ec2 modify-instance-attribute --region {{.Region}} --instance-id {{.ID}} --groups <original-sg-ids>"},
		&action.Spec{Name: "ec2.terminate", Summary: "Terminate the instance.", Targets: []event.Kind{event.KindInstance}, Destructive: true,
			Manual: "aws ec2 terminate-instances --region {{.Region}} --instance-ids {{.ID}}"},
		&action.Spec{Name: "waf.block-ip", Summary: "Add the address to a WAF IP set.", Targets: []event.Kind{event.KindIP}, Reversible: true,
			Params:     []action.Param{{Name: "ip_set", Type: action.String, Required: true}, {Name: "scope", Type: action.String, Default: "REGIONAL"}},
			Manual:     "aws wafv2 update-ip-set --scope {{.Param \"scope\"}} --name {{.Param \"ip_set\"}} --addresses {{.ID}}/32 ...",
			ManualUndo: "aws wafv2 update-ip-set --scope {{.Param \"scope\"}} --name {{.Param \"ip_set\"}} (without {{.ID}}/32)"},
		&action.Spec{Name: "notify", Summary: "Tell people.", Targets: event.Kinds},
	)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestWrite(t *testing.T) {
	cat := testCatalogue(t)
	set, err := playbook.LoadDir("testdata", cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range set.Playbooks {
		t.Run(p.Name, func(t *testing.T) {
			got := Write(p, cat)
			golden := filepath.Join("testdata", p.Name+".md")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("runbook differs from %s; got:\n%s", golden, got)
			}
		})
	}
}

func TestTrigger(t *testing.T) {
	tests := []struct {
		pattern, want string
		ok            bool
	}{
		{`{"source":["aws.guardduty"],"detail-type":["GuardDuty Finding"],"detail":{"type":[{"prefix":"Backdoor:EC2/"}],"severity":[{"numeric":[">=",7]}]}}`,
			"GuardDuty findings whose severity ≥ 7 and type starts with Backdoor:EC2/", true},
		{`{"source":["aws.iam"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventName":["CreateAccessKey","DeleteTrail"]}}`,
			"CloudTrail API calls whose eventName is CreateAccessKey or is DeleteTrail", true},
		{`{"detail":{"state":{"value":[{"anything-but":"OK"}]}}}`, "Events whose state.value is not OK", true},
		{`{"source":["x"],"$or":[{"a":["1"]},{"b":["2"]}]}`, "events from x", false},
	}
	for _, tt := range tests {
		got, ok := Trigger([]byte(tt.pattern))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Trigger(%s) = %q, %v; want %q, %v", tt.pattern, got, ok, tt.want, tt.ok)
		}
	}
}
