package action_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

func TestPolicies(t *testing.T) {
	cat, err := action.NewCatalogue(
		&action.Spec{Name: "ec2.a", Targets: []event.Kind{event.KindInstance}, Permissions: []string{"ec2:B", "ec2:A"}},
		&action.Spec{Name: "nf.b", Targets: []event.Kind{event.KindIP}, Permissions: []string{"network-firewall:X", "ec2:A"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		names []string
		want  map[string][]string // Sid → actions
		bad   bool
	}{
		{"all", nil, map[string][]string{"FirebreakEc2": {"ec2:A", "ec2:B"}, "FirebreakNetworkFirewall": {"network-firewall:X"}}, false},
		{"one", []string{"ec2.a"}, map[string][]string{"FirebreakEc2": {"ec2:A", "ec2:B"}}, false},
		{"unknown", []string{"ec2.nope"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := cat.MemberPolicy(tt.names...)
			if (err != nil) != tt.bad {
				t.Fatalf("err %v, want error %v", err, tt.bad)
			}
			if tt.bad {
				return
			}
			var doc action.PolicyDocument
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, s := range doc.Statement {
				if s.Effect != "Allow" || s.Resource != "*" {
					t.Errorf("statement %+v", s)
				}
				got[s.Sid] = s.Action
			}
			if len(got) != len(tt.want) {
				t.Errorf("statements %v, want %v", got, tt.want)
			}
			for sid, acts := range tt.want {
				if !slices.Equal(got[sid], acts) {
					t.Errorf("%s: %v, want %v", sid, got[sid], acts)
				}
			}
		})
	}
	hub, err := action.HubPolicy("FirebreakResponder")
	if err != nil {
		t.Fatal(err)
	}
	var doc action.PolicyDocument
	if err := json.Unmarshal(hub, &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Statement[0]; s.Resource != "arn:aws:iam::*:role/FirebreakResponder" || !slices.Equal(s.Action, []string{"sts:AssumeRole"}) {
		t.Errorf("hub statement %+v", s)
	}
	if _, err := action.HubPolicy(""); err == nil {
		t.Error("hub policy without a role name")
	}
}
