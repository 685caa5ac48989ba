// Package guardduty declares the actions Firebreak takes on GuardDuty findings.
package guardduty

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every GuardDuty action.
func Specs() []*action.Spec {
	return []*action.Spec{ArchiveFindingSpec()}
}
