// Package ec2 declares the actions Firebreak takes on EC2 instances and security groups:
// preserving their disks and memory, cutting them off the network, stopping and
// terminating them.
package ec2

import "github.com/firebreak-sec/firebreak/internal/action"

// Specs returns every EC2 action, evidence first, in the order a responder would usually
// run them.
func Specs() []*action.Spec {
	return []*action.Spec{
		SnapshotVolumesSpec(),
		CaptureMemorySpec(),
		IsolateSpec(),
		ConfineSecurityGroupSpec(),
		StopSpec(),
		TerminateSpec(),
	}
}
