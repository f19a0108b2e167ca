//go:build !linux

package child

import "os/exec"

// SetDeathSignal does nothing where the kernel has no parent-death signal.
func SetDeathSignal(*exec.Cmd) {}
