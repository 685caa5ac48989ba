package auth_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// TestParseClearance checks that labels are normalised, deduplicated and sorted, and that
// a label no playbook could be cleared by is refused with a reason.
func TestParseClearance(t *testing.T) {
	tests := []struct {
		name   string
		in     []string
		want   []string
		reason string
	}{
		{name: "none", in: nil, want: []string{}},
		{name: "normalised and sorted", in: []string{" Restricted", "legal", "RESTRICTED "}, want: []string{"legal", "restricted"}},
		{name: "spaces inside are kept", in: []string{"Top Secret"}, want: []string{"top secret"}},
		{name: "empty", in: []string{"restricted", "  "}, reason: "is empty"},
		{name: "comma", in: []string{"a,b"}, reason: "holds a comma"},
		{name: "control character", in: []string{"a\tb"}, reason: "control character"},
		{name: "too long", in: []string{strings.Repeat("x", auth.MaxLabelLength+1)}, reason: "longer than 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParseClearance(tt.in)
			if tt.reason != "" {
				if err == nil || !strings.Contains(err.Error(), tt.reason) {
					t.Errorf("error %v, want one saying %q", err, tt.reason)
				}
				return
			}
			if err != nil || got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseClearance(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestNormaliseLabelMatchesIncidents checks that a clearance label is compared in the form
// the engine gives an incident's sensitivity, so that no spelling of a label is cleared
// for nothing.
func TestNormaliseLabelMatchesIncidents(t *testing.T) {
	for _, label := range []string{"restricted", " Restricted ", "LEGAL", "Top Secret"} {
		p := &playbook.Playbook{Labels: map[string]string{engine.SensitivityLabel: label}}
		if got, want := auth.NormaliseLabel(label), engine.SensitivityOf(p); got != want {
			t.Errorf("NormaliseLabel(%q) = %q, the incident's sensitivity is %q", label, got, want)
		}
	}
}

// TestCleared checks who sees an incident of each sensitivity.
func TestCleared(t *testing.T) {
	tests := []struct {
		name        string
		p           auth.Principal
		sensitivity string
		want        bool
	}{
		{"unlabelled, no clearance", auth.Principal{Role: auth.Viewer}, "", true},
		{"labelled, no clearance", auth.Principal{Role: auth.Approver}, "restricted", false},
		{"labelled, cleared", auth.Principal{Role: auth.Viewer, Clearance: []string{"restricted"}}, "restricted", true},
		{"labelled, cleared for another", auth.Principal{Role: auth.Viewer, Clearance: []string{"legal"}}, "restricted", false},
		{"admin without clearance", auth.Principal{Role: auth.Admin}, "restricted", true},
		{"no role, cleared", auth.Principal{Clearance: []string{"restricted"}}, "restricted", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Cleared(tt.sensitivity); got != tt.want {
				t.Errorf("Cleared(%q) = %v, want %v", tt.sensitivity, got, tt.want)
			}
		})
	}
}

// TestGrantClearance checks how the clearances of a person's groups combine: every
// matching grant whose accounts cover the principal's adds its labels, whatever its role,
// and a grant narrower than the principal's accounts adds none.
func TestGrantClearance(t *testing.T) {
	grants := []auth.Grant{
		{Group: "responders", Role: auth.Responder},
		{Group: "prod-responders", Role: auth.Responder, Accounts: []string{prodAcct}},
		{Group: "insider-threat", Role: auth.Viewer, Clearance: []string{"Restricted"}},
		{Group: "legal-prod", Role: auth.Viewer, Accounts: []string{prodAcct}, Clearance: []string{"legal"}},
		{Group: "legal-prod-dev", Role: auth.Responder, Accounts: []string{prodAcct, devAcct}, Clearance: []string{"legal", "hr"}},
	}
	m, err := auth.NewClaimMapper("", grants)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		groups    []string
		role      auth.Role
		clearance []string
	}{
		{"no clearance granted", []string{"responders"}, auth.Responder, nil},
		{"a viewer grant clears a responder", []string{"responders", "insider-threat"}, auth.Responder, []string{"restricted"}},
		{"cleared in the grant's own accounts", []string{"legal-prod"}, auth.Viewer, []string{"legal"}},
		{"a grant narrower than the principal adds nothing", []string{"responders", "legal-prod"}, auth.Responder, nil},
		{"a grant as wide as the principal", []string{"prod-responders", "legal-prod"}, auth.Responder, []string{"legal"}},
		{"a grant wider than the principal", []string{"prod-responders", "legal-prod-dev"}, auth.Responder, []string{"hr", "legal"}},
		{"labels of several grants, once each", []string{"legal-prod-dev", "insider-threat", "legal-prod"}, auth.Responder, []string{"hr", "legal", "restricted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			groups, _ := json.Marshal(tt.groups)
			p, err := m.Principal(map[string]json.RawMessage{"sub": json.RawMessage(`"ana"`), "groups": groups})
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != tt.role || !slices.Equal(p.Clearance, tt.clearance) {
				t.Errorf("role %s, clearance %q; want %s, %q", p.Role, p.Clearance, tt.role, tt.clearance)
			}
		})
	}
	if _, err := auth.NewClaimMapper("", []auth.Grant{{Group: "g", Role: auth.Viewer, Clearance: []string{""}}}); err == nil ||
		!strings.Contains(err.Error(), "grant 1 (group g)") || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("an empty clearance label: %v, want an error naming the grant", err)
	}
}
