package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

var (
	serviceVerb = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+(-[a-z0-9]+)*$`)
	paramName   = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	// An IAM action: the service prefix, then the operation in PascalCase.
	iamAction = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*:[A-Z][A-Za-z0-9]+$`)
)

// standalone are the actions that belong to no AWS service and so have a one-word name.
var standalone = []string{"tag", "notify"}

// needsWith are the actions that cannot run without a `with:` and the parameters it must
// give; every other action is valid as a bare `- action: NAME`.
var needsWith = map[string][]string{
	"ssm.start-automation": {"document"},
}

// sampleIDs are resource ids of each kind, as CONTRACTS §1 defines them.
var sampleIDs = map[event.Kind]string{
	event.KindInstance:       "i-0abc1234def567890",
	event.KindIAMUser:        "alice",
	event.KindIAMRole:        "app-role",
	event.KindAccessKey:      "AKIAIOSFODNN7EXAMPLE",
	event.KindS3Bucket:       "data-prod",
	event.KindSecurityGroup:  "sg-0123456789abcdef0",
	event.KindIP:             "203.0.113.7",
	event.KindTrail:          "org-trail",
	event.KindEKSCluster:     "prod-cluster",
	event.KindLambdaFunction: "ingest",
	event.KindRDSInstance:    "orders-db",
	event.KindAccount:        "111122223333",
}

// sampleTarget is what a runbook renders a Manual template with.
type sampleTarget struct {
	ID, Account, Region string
	spec                *action.Spec
	with                map[string]string // the step's parameters; the rest take their defaults
}

// Param renders a declared parameter's value, and fails on an undeclared one so that a
// template cannot refer to a parameter the action does not have.
func (t sampleTarget) Param(name string) (string, error) {
	p, ok := t.spec.Param(name)
	if !ok {
		return "", fmt.Errorf("no parameter %q", name)
	}
	if v, ok := t.with[name]; ok {
		return v, nil
	}
	if p.Default == nil {
		return "", nil
	}
	return fmt.Sprint(p.Default), nil
}

func TestDefaultHoldsEveryAction(t *testing.T) {
	c := Default()
	for _, name := range []string{
		"ec2.snapshot-volumes", "ec2.capture-memory", "ec2.isolate", "ec2.confine-security-group",
		"ec2.stop", "ec2.terminate",
		"iam.deactivate-user", "iam.deactivate-access-key", "iam.revoke-role-sessions",
		"cloudtrail.restart-logging", "waf.block-ip", "network-firewall.block-ip",
		"s3.block-public-access", "s3.enforce-encryption", "ssm.start-automation",
		"securityhub.update-finding", "guardduty.archive-finding", "tag", "notify",
	} {
		if _, ok := c.Lookup(name); !ok {
			t.Errorf("catalogue lacks %s", name)
		}
	}
	if got, want := len(c.Names()), len(Specs()); got != want {
		t.Errorf("catalogue has %d actions, Specs returns %d", got, want)
	}
}

func TestSpecsAreFreshCopies(t *testing.T) {
	first := Specs()
	for _, s := range first {
		s.Permissions = nil
		for i := range s.Params {
			s.Params[i].Default = nil
		}
	}
	for _, s := range Specs() {
		if len(s.Permissions) == 0 {
			t.Errorf("%s: changing one copy of the declarations changed the next", s.Name)
		}
	}
}

func TestSpecs(t *testing.T) {
	for _, s := range Specs() {
		t.Run(s.Name, func(t *testing.T) {
			checkName(t, s)
			checkSummary(t, s)
			checkTargets(t, s)
			checkParams(t, s)
			checkFlags(t, s)
			checkPermissions(t, s)
			checkManual(t, s)
		})
	}
}

func checkName(t *testing.T, s *action.Spec) {
	t.Helper()
	if !serviceVerb.MatchString(s.Name) && !slices.Contains(standalone, s.Name) {
		t.Errorf("name %q is neither service.verb nor one of %v", s.Name, standalone)
	}
}

func checkSummary(t *testing.T, s *action.Spec) {
	t.Helper()
	switch {
	case s.Summary == "":
		t.Error("no summary")
	case strings.Contains(s.Summary, "\n"):
		t.Error("summary is more than one line")
	case !strings.HasSuffix(s.Summary, "."):
		t.Errorf("summary %q does not end in a full stop", s.Summary)
	}
}

func checkTargets(t *testing.T, s *action.Spec) {
	t.Helper()
	if len(s.Targets) == 0 {
		t.Error("no target kinds")
	}
	seen := map[event.Kind]bool{}
	for _, k := range s.Targets {
		if !slices.Contains(event.Kinds, k) {
			t.Errorf("unknown target kind %q", k)
		}
		if seen[k] {
			t.Errorf("target kind %q listed twice", k)
		}
		seen[k] = true
	}
}

func checkParams(t *testing.T, s *action.Spec) {
	t.Helper()
	seen := map[string]bool{}
	var required []string
	for _, p := range s.Params {
		if !paramName.MatchString(p.Name) {
			t.Errorf("parameter %q is not snake_case", p.Name)
		}
		if seen[p.Name] {
			t.Errorf("parameter %q declared twice", p.Name)
		}
		seen[p.Name] = true
		if p.Doc == "" {
			t.Errorf("parameter %q has no doc", p.Name)
		}
		if err := checkParam(p); err != nil {
			t.Errorf("parameter %q: %v", p.Name, err)
		}
		if p.Required {
			required = append(required, p.Name)
		}
	}
	if want := needsWith[s.Name]; !slices.Equal(required, want) {
		t.Errorf("required parameters %v, want %v: every other parameter needs a default", required, want)
	}
}

// checkParam reports whether a parameter's default fits its type and allowed values, and
// whether an optional parameter has the default that makes a bare step valid.
func checkParam(p action.Param) error {
	if p.Required {
		if p.Default != nil {
			return fmt.Errorf("required, yet has a default")
		}
		return nil
	}
	if len(p.Allowed) > 0 && p.Type != action.String {
		return fmt.Errorf("allowed values on a %s parameter", p.Type)
	}
	switch p.Type {
	case action.String:
		v, ok := p.Default.(string)
		if !ok {
			return fmt.Errorf("default %#v is not a string", p.Default)
		}
		if len(p.Allowed) > 0 && !slices.Contains(p.Allowed, v) {
			return fmt.Errorf("default %q is not one of %v", v, p.Allowed)
		}
	case action.Int:
		if _, ok := p.Default.(int); !ok {
			return fmt.Errorf("default %#v is not an int", p.Default)
		}
	case action.Bool:
		if _, ok := p.Default.(bool); !ok {
			return fmt.Errorf("default %#v is not a bool", p.Default)
		}
	case action.StringList:
		if _, ok := p.Default.([]string); !ok {
			return fmt.Errorf("default %#v is not a list of strings", p.Default)
		}
	case action.StringMap:
		if _, ok := p.Default.(map[string]string); !ok {
			return fmt.Errorf("default %#v is not a map of strings", p.Default)
		}
	case action.Duration:
		v, ok := p.Default.(string)
		if !ok {
			return fmt.Errorf("default %#v is not a duration string", p.Default)
		}
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("default %q is not a positive duration", v)
		}
	case action.Any:
		// Free-form: no default is as good as any.
	default:
		return fmt.Errorf("unknown type %q", p.Type)
	}
	return nil
}

func TestCheckParam(t *testing.T) {
	tests := []struct {
		name string
		p    action.Param
		ok   bool
	}{
		{"string", action.Param{Type: action.String, Default: ""}, true},
		{"string without default", action.Param{Type: action.String}, false},
		{"string in allowed", action.Param{Type: action.String, Default: "a", Allowed: []string{"a", "b"}}, true},
		{"string outside allowed", action.Param{Type: action.String, Default: "c", Allowed: []string{"a", "b"}}, false},
		{"allowed on a bool", action.Param{Type: action.Bool, Default: true, Allowed: []string{"true"}}, false},
		{"bool", action.Param{Type: action.Bool, Default: false}, true},
		{"bool as a string", action.Param{Type: action.Bool, Default: "true"}, false},
		{"int", action.Param{Type: action.Int, Default: 3}, true},
		{"list", action.Param{Type: action.StringList, Default: []string{}}, true},
		{"list as a string", action.Param{Type: action.StringList, Default: "owners"}, false},
		{"map", action.Param{Type: action.StringMap, Default: map[string]string{"k": "v"}}, true},
		{"map of any", action.Param{Type: action.StringMap, Default: map[string]any{"k": "v"}}, false},
		{"duration", action.Param{Type: action.Duration, Default: "30m"}, true},
		{"bad duration", action.Param{Type: action.Duration, Default: "half an hour"}, false},
		{"duration as time.Duration", action.Param{Type: action.Duration, Default: 30 * time.Minute}, false},
		{"any without default", action.Param{Type: action.Any}, true},
		{"required", action.Param{Type: action.String, Required: true}, true},
		{"required with default", action.Param{Type: action.String, Required: true, Default: "x"}, false},
		{"unknown type", action.Param{Type: "float", Default: 1.0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkParam(tt.p); (err == nil) != tt.ok {
				t.Errorf("checkParam(%+v) = %v, want ok=%v", tt.p, err, tt.ok)
			}
		})
	}
}

func checkFlags(t *testing.T, s *action.Spec) {
	t.Helper()
	if s.Destructive && s.Evidence {
		t.Error("destructive and evidence: an evidence step must not destroy anything")
	}
	if s.Destructive && s.Reversible {
		t.Error("destructive and reversible: what is destroyed cannot be undone")
	}
}

func checkPermissions(t *testing.T, s *action.Spec) {
	t.Helper()
	if len(s.Permissions) == 0 {
		t.Error("no IAM permissions")
	}
	seen := map[string]bool{}
	for _, p := range s.Permissions {
		if !iamAction.MatchString(p) {
			t.Errorf("permission %q does not look like service:Operation", p)
		}
		if seen[p] {
			t.Errorf("permission %q listed twice", p)
		}
		seen[p] = true
	}
}

func checkManual(t *testing.T, s *action.Spec) {
	t.Helper()
	if s.Manual == "" {
		t.Error("no manual procedure")
	}
	if s.Reversible && s.ManualUndo == "" {
		t.Error("reversible, but no manual undo")
	}
	// Every string parameter given a value, so that templates' {{with}} branches run too.
	given := map[string]string{}
	for _, p := range s.Params {
		if p.Type == action.String {
			given[p.Name] = "given-" + p.Name
			if len(p.Allowed) > 0 {
				given[p.Name] = p.Allowed[len(p.Allowed)-1]
			}
		}
	}
	for _, k := range s.Targets {
		for _, with := range []map[string]string{nil, given} {
			target := sampleTarget{ID: sampleIDs[k], Account: "111122223333", Region: "eu-west-1", spec: s, with: with}
			for _, tmpl := range []struct{ name, text string }{{"Manual", s.Manual}, {"ManualUndo", s.ManualUndo}} {
				out, err := render(tmpl.text, target)
				if err != nil {
					t.Errorf("%s for %s with %v: %v", tmpl.name, k, with, err)
					continue
				}
				if strings.Contains(out, "<no value>") {
					t.Errorf("%s for %s with %v renders a missing value:\n%s", tmpl.name, k, with, out)
				}
				if !strings.Contains(out, target.ID) && !strings.Contains(out, "FINDING_ID") && tmpl.name == "Manual" {
					t.Errorf("Manual for %s names neither the target nor the finding:\n%s", k, out)
				}
			}
		}
	}
}

func render(text string, data any) (string, error) {
	tmpl, err := template.New("manual").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
