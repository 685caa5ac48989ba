package playbook

import (
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// testCatalogue is a small catalogue shaped like the real one.
func testCatalogue(t testing.TB) *action.Catalogue {
	t.Helper()
	cat, err := action.NewCatalogue(
		&action.Spec{Name: "ec2.snapshot-volumes", Targets: []event.Kind{event.KindInstance}, Evidence: true},
		&action.Spec{Name: "ec2.isolate", Targets: []event.Kind{event.KindInstance}, Reversible: true,
			Params: []action.Param{{Name: "security_group", Type: action.String, Doc: "quarantine group name", Default: "firebreak-quarantine"}}},
		&action.Spec{Name: "ec2.terminate", Targets: []event.Kind{event.KindInstance}, Destructive: true},
		&action.Spec{Name: "waf.block-ip", Targets: []event.Kind{event.KindIP}, Params: []action.Param{
			{Name: "ip_set", Type: action.String, Required: true, Doc: "the IP set's name"},
			{Name: "scope", Type: action.String, Default: "REGIONAL", Allowed: []string{"REGIONAL", "CLOUDFRONT"}},
			{Name: "ttl", Type: action.Duration},
		}},
		&action.Spec{Name: "tag", Targets: event.Kinds, Params: []action.Param{{Name: "tags", Type: action.StringMap, Required: true}}},
		&action.Spec{Name: "notify", Targets: event.Kinds, Params: []action.Param{{Name: "to", Type: action.StringList, Default: []string{"security"}}}},
		&action.Spec{Name: "iam.deactivate-user", Targets: []event.Kind{event.KindIAMUser}},
		&action.Spec{Name: "ssm.start-automation", Targets: event.Kinds, Params: []action.Param{
			{Name: "document", Type: action.String, Required: true},
			{Name: "parameters", Type: action.Any},
			{Name: "max_attempts", Type: action.Int, Default: 1},
			{Name: "wait", Type: action.Bool, Default: false},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}
