package main

import (
	"bytes"
	"context"
	"errors"
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
)

// stopTimeout is how long the child gets to exit after SIGTERM before it
// is killed.
const stopTimeout = 5 * time.Second

// bridge is a `cabridge run` child process serving CA on loopback.
type bridge struct {
	cmd    *exec.Cmd
	port   int
	output *tailBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, set before exited is closed
}

// validateConfig runs `path validate config` and returns its complaint,
// if any, within timeout.
func validateConfig(ctx context.Context, path, config string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "validate", config).CombinedOutput()
	if err != nil {
		return fmt.Errorf("modbusbench: %s validate %s: %w: %s", path, config, err, bytes.TrimSpace(out))
	}
	return nil
}

// startBridge starts `path run --config config -q` on 127.0.0.1 with free
// non-default CA ports. The caller stops it with stop (also when
// interrupted); the kernel kills it if this process dies first.
func startBridge(path, config string) (*bridge, error) {
	port, err := freeTCPUDPPort()
	if err != nil {
		return nil, err
	}
	beacon, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	b := &bridge{port: port, output: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	cmd := exec.Command(path, "run", "--config", config, "-q")
	cmd.Env = append(withoutEPICS(os.Environ()),
		"EPICS_CAS_INTF_ADDR_LIST=127.0.0.1",
		"EPICS_CAS_SERVER_PORT="+strconv.Itoa(port),
		"EPICS_CAS_BEACON_ADDR_LIST=127.0.0.1",
		"EPICS_CAS_BEACON_PORT="+strconv.Itoa(beacon),
		"EPICS_CAS_AUTO_BEACON_ADDR_LIST=NO",
	)
	cmd.Stdout = b.output
	cmd.Stderr = b.output
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("modbusbench: start %s: %w", path, err)
	}
	b.cmd = cmd
	go func() { // owned by b: stop waits for it through exited
		b.err = cmd.Wait()
		close(b.exited)
	}()
	return b, nil
}

// pid returns the child's process id.
func (b *bridge) pid() int { return b.cmd.Process.Pid }

// clientConfig returns a client configuration that searches only this
// bridge.
func (b *bridge) clientConfig() client.Config {
	return client.Config{
		AddrList:        []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))},
		ServerPort:      b.port,
		MaxSearchPeriod: 200 * time.Millisecond,
		ClientName:      "modbusbench",
		HostName:        "localhost",
	}
}

// exitErr returns an error describing the child's exit, or nil while it
// runs.
func (b *bridge) exitErr() error {
	select {
	case <-b.exited:
	default:
		return nil
	}
	if b.err == nil {
		return fmt.Errorf("modbusbench: cabridge exited (status 0); its output:\n%s", b.output)
	}
	return fmt.Errorf("modbusbench: cabridge exited (%w); its output:\n%s", b.err, b.output)
}

// whileRunning returns a context that is cancelled when ctx ends or the
// child exits; cancel releases it.
func (b *bridge) whileRunning(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-b.exited:
			cancel()
		case <-ctx.Done():
		}
	})
	return ctx, func() {
		cancel()
		wg.Wait()
	}
}

// stop sends SIGTERM and waits for the process to exit, killing it after
// stopTimeout. It returns an error if the process had to be killed or
// exited with a failure. Calling it again is harmless.
func (b *bridge) stop() error {
	select {
	case <-b.exited:
		return nil
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-b.exited:
		if b.err != nil {
			return fmt.Errorf("modbusbench: cabridge after SIGTERM: %w; its output:\n%s", b.err, b.output)
		}
		return nil
	case <-t.C:
		_ = b.cmd.Process.Kill()
		<-b.exited
		return fmt.Errorf("modbusbench: cabridge ignored SIGTERM for %v and was killed", stopTimeout)
	}
}

// withoutEPICS drops the EPICS_* and CABRIDGE_* variables from env so
// that the user's settings cannot point the child elsewhere or override
// the generated configuration.
func withoutEPICS(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "EPICS_") && !strings.HasPrefix(e, "CABRIDGE_") {
			out = append(out, e)
		}
	}
	return out
}

// freeTCPUDPPort finds a loopback port free for both TCP and UDP, as a
// CA server needs. Another process may take it before the child binds
// it; the child then fails to start and the error says so.
func freeTCPUDPPort() (int, error) {
	var last error
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("modbusbench: free port: %w", err)
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
	return 0, errors.Join(errors.New("modbusbench: no port free for both TCP and UDP"), last)
}

// freeUDPPort finds a free loopback UDP port.
func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("modbusbench: free port: %w", err)
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
