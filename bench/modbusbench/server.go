package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/cabridge/cabridge/bench/internal/child"
	"github.com/cabridge/cabridge/ca/client"
)

// stopTimeout is how long the child gets to exit after SIGTERM before it
// is killed.
const stopTimeout = 5 * time.Second

// bridge is a `cabridge run` child process serving CA on loopback.
type bridge struct {
	cmd    *exec.Cmd
	port   int
	output *child.TailBuffer
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
	port, err := child.FreeTCPUDPPort()
	if err != nil {
		return nil, err
	}
	beacon, err := child.FreeUDPPort()
	if err != nil {
		return nil, err
	}
	b := &bridge{port: port, output: &child.TailBuffer{Max: 16 << 10}, exited: make(chan struct{})}
	cmd := exec.Command(path, "run", "--config", config, "-q")
	cmd.Env = append(child.CleanEnv(os.Environ()),
		"EPICS_CAS_INTF_ADDR_LIST=127.0.0.1",
		"EPICS_CAS_SERVER_PORT="+strconv.Itoa(port),
		"EPICS_CAS_BEACON_ADDR_LIST=127.0.0.1",
		"EPICS_CAS_BEACON_PORT="+strconv.Itoa(beacon),
		"EPICS_CAS_AUTO_BEACON_ADDR_LIST=NO",
	)
	cmd.Stdout = b.output
	cmd.Stderr = b.output
	child.SetDeathSignal(cmd)
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
