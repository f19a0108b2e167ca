package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the child if this process dies
// without stopping it.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
