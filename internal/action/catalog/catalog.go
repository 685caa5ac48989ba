// Package catalog assembles Firebreak's built-in actions into the catalogue that playbook
// loading, replay, runbooks and the IAM policy generator are given.
package catalog

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/cloudtrail"
	"github.com/firebreak-sec/firebreak/internal/action/ec2"
	"github.com/firebreak-sec/firebreak/internal/action/general"
	"github.com/firebreak-sec/firebreak/internal/action/guardduty"
	"github.com/firebreak-sec/firebreak/internal/action/iam"
	"github.com/firebreak-sec/firebreak/internal/action/networkfirewall"
	"github.com/firebreak-sec/firebreak/internal/action/s3"
	"github.com/firebreak-sec/firebreak/internal/action/securityhub"
	"github.com/firebreak-sec/firebreak/internal/action/ssm"
	"github.com/firebreak-sec/firebreak/internal/action/waf"
)

// Specs returns a fresh copy of every built-in action's declaration.
func Specs() []*action.Spec {
	var specs []*action.Spec
	for _, service := range [][]*action.Spec{
		ec2.Specs(),
		iam.Specs(),
		cloudtrail.Specs(),
		waf.Specs(),
		networkfirewall.Specs(),
		s3.Specs(),
		ssm.Specs(),
		securityhub.Specs(),
		guardduty.Specs(),
		general.Specs(),
	} {
		specs = append(specs, service...)
	}
	return specs
}

// Default returns the catalogue of built-in actions. The declarations are fixed at build
// time and checked by this package's tests, so an error here is a programming mistake and
// panics rather than making every caller handle it.
func Default() *action.Catalogue {
	c, err := action.NewCatalogue(Specs()...)
	if err != nil {
		panic("built-in action catalogue: " + err.Error())
	}
	return c
}
