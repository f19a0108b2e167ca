// Package interop_test drives the CA server with the real C client library
// (libca, through pyepics under /usr/bin/python3). The Python scripts in
// testdata/ print JSON; the tests assert on it and on the server's state.
package interop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
)

// peer gates the tests that need pyepics (catest.PyEpics).
var peer catest.PyEpics

// requirePeer skips the test when pyepics is missing, or fails it in CI.
func requirePeer(t *testing.T) { t.Helper(); peer.Require(t) }

// testServer is an in-process catest server on loopback.
type testServer struct {
	*catest.Server
}

// startServer serves pvs on 127.0.0.1 with system-chosen ports (catest,
// which also checks for leaked goroutines at cleanup). mod, if not nil,
// adjusts the Config first; catest overrides its addresses and ports.
func startServer(t *testing.T, pvs map[string]ca.PV, mod func(*ca.Config)) *testServer {
	t.Helper()
	var cfg ca.Config
	if mod != nil {
		mod(&cfg)
	}
	return &testServer{catest.Start(t, pvs, cfg)}
}

// Stats returns the server's counters.
func (s *testServer) Stats() ca.Stats { return s.Server.Server.Stats() }

// TCPAddr returns the server's TCP address.
func (s *testServer) TCPAddr() netip.AddrPort { return s.Addr() }

// shutdown stops the server now (clients see a disconnect); the cleanup's
// second Shutdown is then a no-op.
func (s *testServer) shutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Server.Server.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// Env returns the client variables that point libca at the server by UDP.
func (s *testServer) Env() map[string]string { return envMap(s.Server.Env()) }

// NameServerEnv returns the client variables for TCP-only name resolution.
func (s *testServer) NameServerEnv() map[string]string { return envMap(s.Server.NameServerEnv()) }

func envMap(kvs []string) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// pyProc is a running script whose stdout is read one JSON line at a time.
type pyProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	stderr *strings.Builder
	done   chan error
}

// startPy starts testdata/script with env (on top of a clean copy of the
// process environment without EPICS_* variables) and args as the JSON
// document in CAHELP_ARGS. The process is killed after timeout.
func startPy(t *testing.T, timeout time.Duration, script string, env map[string]string, args any) *pyProc {
	t.Helper()
	requirePeer(t)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	cmd := exec.CommandContext(ctx, catest.Python, filepath.Join("testdata", script))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EPICS_") && !strings.HasPrefix(kv, "CAHELP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, "CAHELP_ARGS="+string(js), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &pyProc{t: t, cmd: cmd, lines: make(chan string, 64), stderr: new(strings.Builder), done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
		close(p.lines)
		p.done <- cmd.Wait()
		cancel()
	}()
	t.Cleanup(func() {
		cancel()
		for range p.lines {
		}
	})
	return p
}

// next decodes the script's next JSON line into v, failing the test if the
// script exits first.
func (p *pyProc) next(v any) {
	p.t.Helper()
	line, ok := <-p.lines
	if !ok {
		err := <-p.done
		p.done <- err
		p.t.Fatalf("script exited (%v) before printing a result; stderr:\n%s", err, p.stderrText())
	}
	if err := json.Unmarshal([]byte(line), v); err != nil {
		p.t.Fatalf("bad JSON from script: %v: %.500s", err, line)
	}
}

// wait waits for the script to exit and fails the test if it failed.
func (p *pyProc) wait() {
	p.t.Helper()
	for range p.lines {
	}
	if err := <-p.done; err != nil {
		p.t.Fatalf("script failed: %v; stderr:\n%s", err, p.stderrText())
	}
	p.done <- nil
}

func (p *pyProc) stderrText() string {
	lw := p.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return p.stderr.String()
}

// runPy runs a script to completion and decodes its single JSON line.
func runPy(t *testing.T, timeout time.Duration, script string, env map[string]string, args, out any) {
	t.Helper()
	p := startPy(t, timeout, script, env, args)
	p.next(out)
	p.wait()
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// DBR metadata and results as cahelp.decode prints them.
type dbrResult struct {
	Type      int      `json:"type"`
	Count     int      `json:"count"`
	Status    int      `json:"status"` // alarm status for STS..CTRL, ECA status for plain
	Severity  int      `json:"severity"`
	Secs      uint32   `json:"secs"`
	Nsec      uint32   `json:"nsec"`
	Posix     float64  `json:"posix"`
	Precision *int     `json:"precision"`
	Units     *string  `json:"units"`
	NoStr     int      `json:"no_str"`
	Strs      []string `json:"strs"`
	Value     []any    `json:"value"`
	DispHigh  *num     `json:"upper_disp_limit"`
	DispLow   *num     `json:"lower_disp_limit"`
	AlarmHigh *num     `json:"upper_alarm_limit"`
	WarnHigh  *num     `json:"upper_warning_limit"`
	WarnLow   *num     `json:"lower_warning_limit"`
	AlarmLow  *num     `json:"lower_alarm_limit"`
	CtrlHigh  *num     `json:"upper_ctrl_limit"`
	CtrlLow   *num     `json:"lower_ctrl_limit"`
}

// DBR type arithmetic as in db_access.h.
const (
	dbrString = 0
	dbrShort  = 1
	dbrFloat  = 2
	dbrEnum   = 3
	dbrChar   = 4
	dbrLong   = 5
	dbrDouble = 6

	famPlain = 0
	famSts   = 1
	famTime  = 2
	famGr    = 3
	famCtrl  = 4
)

func dbrType(family, base int) int { return family*7 + base }

// ECA codes the tests check.
const ecaNormal = 1

// num is a float64 that also decodes the strings "NaN", "Infinity" and
// "-Infinity" that the scripts print for non-finite values.
type num float64

func (n *num) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*n = num(math.NaN())
	case `"Infinity"`:
		*n = num(math.Inf(1))
	case `"-Infinity"`:
		*n = num(math.Inf(-1))
	default:
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		*n = num(f)
	}
	return nil
}
