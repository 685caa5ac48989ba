package engine

import (
	"strings"

	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// SensitivityLabel is the playbook label (metadata.labels.sensitivity) whose value the
// incidents the playbook opens carry as their sensitivity, so that only responders
// cleared for it see them.
const SensitivityLabel = "sensitivity"

// SensitivityOf returns the sensitivity of an incident p opens: its sensitivity label,
// trimmed and lower-cased so that "Restricted" and "restricted" are one clearance;
// empty for a nil or unlabelled playbook.
func SensitivityOf(p *playbook.Playbook) string {
	if p == nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(p.Labels[SensitivityLabel]))
}
