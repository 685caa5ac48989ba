package engine

import (
	"testing"

	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// TestSensitivityOf checks which label value an incident's sensitivity is taken from.
func TestSensitivityOf(t *testing.T) {
	tests := []struct {
		name string
		p    *playbook.Playbook
		want string
	}{
		{"no playbook", nil, ""},
		{"no labels", &playbook.Playbook{Name: "p"}, ""},
		{"other labels", &playbook.Playbook{Labels: map[string]string{"domain": "iam"}}, ""},
		{"restricted", &playbook.Playbook{Labels: map[string]string{"sensitivity": "restricted"}}, "restricted"},
		{"case and space", &playbook.Playbook{Labels: map[string]string{"sensitivity": " Restricted "}}, "restricted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SensitivityOf(tt.p); got != tt.want {
				t.Errorf("SensitivityOf = %q, want %q", got, tt.want)
			}
		})
	}
}
