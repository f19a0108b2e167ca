package catest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Python is the interpreter Debian's python3-pyepics is installed for. The
// python3 first on PATH may be another build that cannot see Debian's
// modules.
const Python = "/usr/bin/python3"

// PyEpicsInstallHint says how to get the interop peers.
const PyEpicsInstallHint = "install with: sudo make peers (apt-get install python3-pyepics socat)"

// pyepics tells, once per test binary, whether Python can load pyepics
// and libca.
type pyepics struct {
	once sync.Once
	ok   bool
	why  string
}

func (p *pyepics) check() (bool, string) {
	p.once.Do(func() {
		out, err := exec.Command(Python, "-c", "import epics, epics.ca; epics.ca.initialize_libca()").CombinedOutput()
		if err != nil {
			p.why = fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(out)))
			return
		}
		p.ok = true
	})
	return p.ok, p.why
}

// PyEpics gates tests that drive a server with libca through pyepics (the
// reference client): Require skips the test when pyepics is missing, or
// fails it when the CI environment variable is "true", so that CI never
// passes without the real peer. The zero PyEpics is ready; keep one per
// test binary (a package-level value in a _test.go file).
type PyEpics struct{ p pyepics }

// Require skips or fails t as described on PyEpics.
func (g *PyEpics) Require(t testing.TB) {
	t.Helper()
	if ok, why := g.p.check(); !ok {
		msg := fmt.Sprintf("%s cannot import epics (%s); %s", Python, why, PyEpicsInstallHint)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Command returns the command running a Python script with args as a CA
// client: the caller's EPICS_* variables are dropped and env (the client
// settings, e.g. Server.Env) added, with PYTHONDONTWRITEBYTECODE=1 so
// that test runs leave no __pycache__ behind.
func Command(ctx context.Context, env []string, script string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, Python, append([]string{script}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EPICS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, "PYTHONDONTWRITEBYTECODE=1")
	return cmd
}
