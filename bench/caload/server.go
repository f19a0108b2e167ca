package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/cabridge/cabridge/bench/internal/child"
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
	output *child.TailBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, set before exited is closed
}

// startServer starts `path bench-server -n n` on 127.0.0.1 with free
// non-default ports. The child is signalled when ctx ends, and killed if
// this process dies.
func startServer(ctx context.Context, path string, n int) (*server, error) {
	port, err := child.FreeTCPUDPPort()
	if err != nil {
		return nil, err
	}
	beacon, err := child.FreeUDPPort()
	if err != nil {
		return nil, err
	}
	s := &server{port: port, n: n, output: &child.TailBuffer{Max: 16 << 10}, exited: make(chan struct{})}
	cmd := exec.CommandContext(ctx, path, "bench-server", "-n", strconv.Itoa(n))
	cmd.Env = append(child.CleanEnv(os.Environ()),
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
	child.SetDeathSignal(cmd)
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
