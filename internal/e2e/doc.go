// Package e2e holds the end-to-end suite that runs the same containment scenarios against
// the simulated organisation (cloud/sim) and against moto, an independent AWS-compatible
// server, through the real provider and action code, and compares the final states. It
// keeps the simulation honest: a behaviour the simulator invents, or an AWS behaviour it
// leaves out, shows up as a difference between the two backends.
//
// The suite starts moto itself (python3 -m moto.server) and fails when moto is missing;
// see internal/cloud/moto for how to install it.
package e2e
