// Package iam declares the actions Firebreak takes on IAM principals: cutting off a user,
// one of its access keys, or the sessions already issued for a role.
package iam

import "github.com/firebreak-sec/firebreak/internal/action"

// DenyAllPolicy is the inline policy document that denies every action on every resource.
// An explicit deny wins over any allow, whatever else is attached to the principal.
const DenyAllPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"FirebreakDenyAll","Effect":"Deny","Action":"*","Resource":"*"}]}`

// Specs returns every IAM action.
func Specs() []*action.Spec {
	return []*action.Spec{
		DeactivateUserSpec(),
		DeactivateAccessKeySpec(),
		RevokeRoleSessionsSpec(),
	}
}
