//go:build !(linux || darwin || freebsd)

package ca

import "syscall"

// reuseControl does nothing on this platform: the UDP search port cannot
// be shared between servers.
func reuseControl(_, _ string, _ syscall.RawConn) error { return nil }
