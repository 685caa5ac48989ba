// Package general declares the actions that belong to no single AWS service: tagging a
// resource and notifying people. Their names stand alone in playbooks ("tag", "notify").
package general

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every service-less action.
func Specs() []*action.Spec {
	return []*action.Spec{
		TagSpec(),
		NotifySpec(),
	}
}
