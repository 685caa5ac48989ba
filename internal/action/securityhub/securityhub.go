// Package securityhub declares the actions Firebreak takes on Security Hub findings.
package securityhub

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every Security Hub action.
func Specs() []*action.Spec {
	return []*action.Spec{UpdateFindingSpec()}
}
