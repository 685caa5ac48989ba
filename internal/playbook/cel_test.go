package playbook

import (
	"context"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/event"
)

func TestConditions(t *testing.T) {
	ev := &event.Event{Source: event.SourceGuardDuty, Severity: 8, Type: "Backdoor:EC2/X",
		Resources: []event.Resource{{Kind: event.KindInstance, ID: "i-1", Tags: map[string]string{"Env": "prod"}}},
		Network:   &event.Network{RemoteIPs: []string{"198.51.100.7"}}}
	vars := NewVars(ev, &ev.Resources[0], &Account{ID: "1", Tags: map[string]string{"Tier": "prod"}},
		&Playbook{Name: "p", Labels: map[string]string{"domain": "infra"}})
	tests := []struct {
		expr    string
		want    bool
		loadErr string
	}{
		{`resource.tags["Env"] == "prod"`, true, ""},
		{`resource.tags["Missing"] != "sandbox"`, true, ""},
		{`resource.tags["Missing"] == ""`, true, ""},
		{`"Env" in resource.tags`, true, ""},
		{`"Missing" in resource.tags`, false, ""},
		{`account.tags["Tier"] == "prod" && account.id == "1"`, true, ""},
		{`playbook.labels["domain"] == "infra" && !("x" in playbook.labels)`, true, ""},
		{`event.severity >= 7.0 && event.type.startsWith("Backdoor:")`, true, ""},
		{`event.resources.exists(r, r.kind == "instance" && r.tags["Env"] == "prod")`, true, ""},
		{`"198.51.100.7" in event.network.remote_ips`, true, ""},
		{`event.actor.user_name == ""`, true, ""},
		{`size(resource.tags) == 1`, true, ""},
		{`resource.tgas["x"] == ""`, false, "undefined field 'tgas'"},
		{`event.severity`, false, "must return bool"},
		{`resource.tags["x"] == 1`, false, "no matching overload"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			c, err := compileCondition(tt.expr)
			if tt.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.loadErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Eval(context.Background(), vars)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCostLimit(t *testing.T) {
	c, err := compileCondition(`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Eval(context.Background(), NewVars(nil, nil, nil, nil)); err == nil {
		t.Error("a runaway expression was not stopped by the cost limit")
	}
}

func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: a}\nspec: {on: {source: [x]}, target: instance, steps: [{action: ec2.isolate}]}\n",
		"apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: a}\nspec: {on: {detail: {n: [{numeric: ['>', 1e3]}]}}, when: 'resource.tags[\"a\"] == \"b\"', target: ip, steps: [{action: waf.block-ip, with: {ip_set: s}}]}\n",
		"apiVersion: firebreak/v1\nkind: Exceptions\nspec: {exceptions: [{resource: i-1, playbooks: ['*'], reason: r, expires: 2026-01-01}]}\n",
		"a: &x [*x]\n",
		"kind: PlaybookTest\nspec: {cases: [{event: {a: 1}, expect: []}]}\n",
	} {
		f.Add([]byte(s))
	}
	cat := testCatalogue(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Load("fuzz.yaml", data, cat)
		if err == nil && set == nil {
			t.Fatal("nil set without error")
		}
		if err != nil {
			for _, e := range err.(LoadErrors) {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("malformed error %+v", e)
				}
			}
		}
	})
}
