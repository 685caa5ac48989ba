// Package cloudtrail declares the actions Firebreak takes on CloudTrail trails.
package cloudtrail

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every CloudTrail action.
func Specs() []*action.Spec {
	return []*action.Spec{RestartLoggingSpec()}
}
