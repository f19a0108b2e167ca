//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package iocstats

import (
	"errors"
	"time"
)

// processCPU reports that the process CPU time is not available here.
func processCPU() (time.Duration, error) {
	return 0, errors.New("iocstats: process CPU time not supported on this system")
}
