//go:build unix

package moto

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts moto in a process group of its own, so that stopping it reaches
// every process it started and none of the test's.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup asks moto's process group to stop, or forces it to.
func signalGroup(cmd *exec.Cmd, force bool) {
	if cmd.Process == nil {
		return
	}
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
