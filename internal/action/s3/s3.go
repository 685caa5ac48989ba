// Package s3 declares the actions Firebreak takes on S3 buckets.
package s3

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every S3 action.
func Specs() []*action.Spec {
	return []*action.Spec{
		BlockPublicAccessSpec(),
		EnforceEncryptionSpec(),
	}
}
