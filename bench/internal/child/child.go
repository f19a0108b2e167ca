// Package child holds what the load tools need to run a server under
// test as a child process on loopback: free ports, a clean environment,
// a parent-death signal and a bounded copy of its output.
package child

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// CleanEnv drops the EPICS_* and CABRIDGE_* variables from env, so that
// the user's settings cannot point the child elsewhere or change its
// configuration.
func CleanEnv(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "EPICS_") && !strings.HasPrefix(e, "CABRIDGE_") {
			out = append(out, e)
		}
	}
	return out
}

// FreeTCPUDPPort finds a loopback port free for both TCP and UDP, as a
// CA server needs. Another process may take it before the child binds
// it; the child then fails to start and says so.
func FreeTCPUDPPort() (int, error) {
	var last error
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("child: free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = ln.Close()
		if err != nil {
			last = err
			continue
		}
		_ = pc.Close()
		return port, nil
	}
	return 0, errors.Join(errors.New("child: no port free for both TCP and UDP"), last)
}

// FreeUDPPort finds a free loopback UDP port.
func FreeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("child: free port: %w", err)
	}
	defer func() { _ = pc.Close() }()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

// TailBuffer keeps the last Max bytes written to it; it is safe for
// concurrent use, as a child's Stdout and Stderr.
type TailBuffer struct {
	Max int // bytes kept

	mu  sync.Mutex
	buf []byte
}

// Write appends p, dropping the oldest bytes beyond Max.
func (t *TailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.Max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the bytes kept, trimmed of surrounding space.
func (t *TailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
