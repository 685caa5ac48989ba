// Package networkfirewall declares the actions Firebreak takes with AWS Network Firewall.
// In playbooks its actions are named network-firewall.*, after the service's IAM prefix.
package networkfirewall

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every Network Firewall action.
func Specs() []*action.Spec {
	return []*action.Spec{BlockIPSpec()}
}
