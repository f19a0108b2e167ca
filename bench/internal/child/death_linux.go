package child

import (
	"os/exec"
	"syscall"
)

// SetDeathSignal makes the kernel kill the child if this process dies
// without stopping it.
func SetDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
