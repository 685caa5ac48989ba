// Package ssm declares the actions Firebreak runs through AWS Systems Manager: any
// Automation runbook, AWS-owned or your own.
package ssm

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every Systems Manager action.
func Specs() []*action.Spec {
	return []*action.Spec{StartAutomationSpec()}
}
