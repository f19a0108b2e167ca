package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// stopTimeout is how long a child server gets to exit after SIGTERM
// before it is killed.
const stopTimeout = 5 * time.Second

// server is a `cabridge bench-server` child process on loopback.
type server struct {
	cmd    *exec.Cmd
	port   int
	n      int
	output *tailBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, set before exited is closed
}

// startServer starts `path bench-server -n n` on 127.0.0.1 with free
// non-default ports. The child is signalled when ctx ends, and killed if
// this process dies.
func startServer(ctx context.Context, path string, n int) (*server, error) {
	port, err := freeTCPUDPPort()
	if err != nil {
		return nil, err
	}
	beacon, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	s := &server{port: port, n: n, output: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	cmd := exec.CommandContext(ctx, path, "bench-server", "-n", strconv.Itoa(n))
	cmd.Env = append(withoutEPICS(os.Environ()),
		"EPICS_CAS_INTF_ADDR_LIST=127.0.0.1",
		"EPICS_CAS_SERVER_PORT="+strconv.Itoa(port),
		"EPICS_CAS_BEACON_ADDR_LIST=127.0.0.1",
		"EPICS_CAS_BEACON_PORT="+strconv.Itoa(beacon),
		"EPICS_CAS_AUTO_BEACON_ADDR_LIST=NO",
		"EPICS_CA_AUTO_ARRAY_BYTES=YES",
	)
	cmd.Stdout = s.output
	cmd.Stderr = s.output
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopTimeout
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("caload: start %s: %w", path, err)
	}
	s.cmd = cmd
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// pid returns the child's process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

// target returns what the measurements need to know of the server.
func (s *server) target() target {
	return target{cfg: s.clientConfig(), pid: s.pid(), n: s.n}
}

// clientConfig returns a client configuration that searches only this
// server and accepts arrays of any size.
func (s *server) clientConfig() client.Config {
	return client.Config{
		AddrList:        []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))},
		ServerPort:      s.port,
		MaxSearchPeriod: 200 * time.Millisecond,
		ClientName:      "caload",
		HostName:        "localhost",
	}
}

// waitReady returns once the server answers a search and a get for
// BENCH:ao, or fails if the process exits or ctx ends first.
func (s *server) waitReady(ctx context.Context) error {
	c, err := client.New(s.clientConfig())
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	ch, err := c.Connect(ctx, "BENCH:ao")
	if err == nil {
		_, _, err = ch.Get(ctx, dbr.String, 1)
	}
	select {
	case <-s.exited:
		if s.err == nil {
			return fmt.Errorf("caload: server exited before answering (exit status 0); its output:\n%s", s.output)
		}
		return fmt.Errorf("caload: server exited before answering (%w); its output:\n%s", s.err, s.output)
	default:
	}
	if err != nil {
		return fmt.Errorf("caload: server -n %d not answering: %w; its output:\n%s", s.n, err, s.output)
	}
	return nil
}

// stop sends SIGTERM and waits for the process to exit, killing it after
// stopTimeout. Calling it again is harmless.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-s.exited:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// withoutEPICS drops the EPICS_* variables from env so that the user's
// settings cannot point the child elsewhere.
func withoutEPICS(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "EPICS_") {
			out = append(out, e)
		}
	}
	return out
}

// freeTCPUDPPort finds a loopback port free for both TCP and UDP, as a
// CA server needs. Another process may take it before the child binds it;
// the child then fails to start and the error says so.
func freeTCPUDPPort() (int, error) {
	var last error
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("caload: free port: %w", err)
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
	return 0, fmt.Errorf("caload: no port free for both TCP and UDP: %w", last)
}

// freeUDPPort finds a free loopback UDP port.
func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("caload: free port: %w", err)
	}
	defer func() { _ = pc.Close() }()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write appends p, dropping the oldest bytes beyond max.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the bytes kept.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
