package world

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/event"
)

func TestLoadExample(t *testing.T) {
	w, err := Load("testdata/world.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Accounts) != 3 {
		t.Fatalf("accounts = %d, want 3", len(w.Accounts))
	}
	r := w.Accounts[0].Regions["us-east-1"]
	if got := r.Instances[1].NetworkInterfaces[0].SecurityGroups; len(got) != 2 {
		t.Errorf("secondary ENI groups = %v", got)
	}
	if r.FirewallRuleGroups[0].RuleGroup["RulesSource"] == nil {
		t.Errorf("rule group lost its RulesSource")
	}
}

// A dump read back and dumped again is the same text, and the first dump keeps every
// value the file gave.
func TestRoundTrip(t *testing.T) {
	w, err := Load("testdata/world.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	if err := w.Dump(&first); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dump.json")
	if err := os.WriteFile(path, first.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	w2, err := Load(path)
	if err != nil {
		t.Fatalf("loading the dump: %v", err)
	}
	var second bytes.Buffer
	if err := w2.Dump(&second); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Fatalf("dumps differ:\n%s\n---\n%s", first.String(), second.String())
	}
	for _, want := range []string{`"snapshots": []`, `"public_access_block": false`, `"login_profile": true`, `"primary_network_interface": "eni-app0"`, `"RulesString": "drop ip $BLOCKED any -> any any (sid:1;)"`} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("dump lacks %s", want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "accounts:\n  - id: \"111122223333\"\n    nmae: prod\n", "w.yaml:3:5: unknown field \"nmae\""},
		{"wrong type", "accounts:\n  - id: \"111122223333\"\n    tags: [a]\n", "w.yaml:3:11: accounts[0].tags: want a mapping"},
		{"bool as string", "accounts:\n  - id: \"111122223333\"\n    regions:\n      us-east-1:\n        trails: [{name: t, logging: yes please}]\n", "w.yaml:5:37: accounts[0].regions.us-east-1.trails[0].logging: want true or false"},
		{"bad account id", "accounts:\n  - id: prod\n", "w.yaml:2:9: accounts[0].id: \"prod\" is not a 12-digit account id"},
		{"duplicate account", "accounts:\n  - id: \"111122223333\"\n  - id: \"111122223333\"\n", "w.yaml:3:9: accounts[1].id: account 111122223333 listed twice"},
		{"unknown group", "accounts:\n  - id: \"111122223333\"\n    regions:\n      us-east-1:\n        instances: [{id: i-1, security_groups: [sg-x]}]\n", "security_groups: no security group \"sg-x\""},
		{"bad state", "accounts:\n  - id: \"111122223333\"\n    regions:\n      us-east-1:\n        instances: [{id: i-1, state: melted}]\n", "w.yaml:5:38: accounts[0].regions.us-east-1.instances[0].state: \"melted\" is not an instance state"},
		{"bad key status", "accounts:\n  - id: \"111122223333\"\n    iam:\n      users: [{name: a, access_keys: [{id: AKIA1, status: on}]}]\n", "status: \"on\" is not Active or Inactive"},
		{"rule without source", "accounts:\n  - id: \"111122223333\"\n    regions:\n      us-east-1:\n        security_groups: [{id: sg-1, ingress: [{protocol: tcp, port: 22}]}]\n", "a rule needs exactly one of cidr"},
		{"bad scope", "accounts:\n  - id: \"111122223333\"\n    regions:\n      us-east-1:\n        waf_ip_sets: [{name: b, scope: GLOBAL, addresses: []}]\n", "scope: \"GLOBAL\" is not REGIONAL or CLOUDFRONT"},
		{"not yaml", "accounts: [\n", "w.yaml: yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("w.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestResourceTags(t *testing.T) {
	w, err := Load("testdata/world.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const prod = "111122223333"
	tests := []struct {
		account, region string
		kind            event.Kind
		id              string
		want            string // Owner tag; "-" when not found
	}{
		{prod, "us-east-1", event.KindInstance, "i-0abc", "team-web"},
		{prod, "eu-west-1", event.KindInstance, "i-0abc", "-"},
		{prod, "", event.KindIAMUser, "ci-deployer", "platform"},
		{prod, "", event.KindIAMRole, "web-role", "team-web"},
		{prod, "", event.KindIAMRole, "app-role", ""},
		{prod, "us-east-1", event.KindSecurityGroup, "sg-app", "team-app"},
		{prod, "", event.KindS3Bucket, "data-prod-eu", ""},
		{prod, "us-east-1", event.KindTrail, "org-trail", ""},
		{prod, "us-east-1", event.KindIP, "192.0.2.1", "-"},
		{"999999999999", "us-east-1", event.KindInstance, "i-0abc", "-"},
	}
	for _, tt := range tests {
		tags, ok := w.ResourceTags(tt.account, tt.region, tt.kind, tt.id)
		if tt.want == "-" {
			if ok {
				t.Errorf("%s %s: found, want not found", tt.kind, tt.id)
			}
			continue
		}
		if !ok || tags == nil || tags["Owner"] != tt.want {
			t.Errorf("%s %s: tags = %v, %v; want Owner %q", tt.kind, tt.id, tags, ok, tt.want)
		}
	}
	a, ok := w.Account("444455556666")
	if !ok || a.Name != "staging" || a.Tags["Environment"] != "staging" {
		t.Errorf("Account = %+v, %v", a, ok)
	}
	if _, ok := w.Account("000000000000"); ok {
		t.Error("unknown account found")
	}
}
