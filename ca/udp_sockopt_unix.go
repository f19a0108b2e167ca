//go:build linux || darwin || freebsd

package ca

import "syscall"

// reuseControl sets SO_REUSEADDR and SO_REUSEPORT, so that several servers
// can share the UDP search port, and SO_BROADCAST.
func reuseControl(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		for _, opt := range [...]int{syscall.SO_REUSEADDR, soReusePort, syscall.SO_BROADCAST} {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 1); serr != nil {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}
