//go:build darwin || freebsd

package ca

// soReusePort is SO_REUSEPORT (sys/socket.h).
const soReusePort = 0x200
