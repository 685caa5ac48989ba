// Package waf declares the actions Firebreak takes with AWS WAF (WAFv2).
package waf

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every WAF action.
func Specs() []*action.Spec {
	return []*action.Spec{BlockIPSpec()}
}
