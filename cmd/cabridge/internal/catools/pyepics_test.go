package catools_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/catest"
)

//nolint:gochecknoglobals // one gate per test binary, as catest.PyEpics asks
var pyepics catest.PyEpics

// TestPyEpicsCompare reads the same PVs with pyepics (libca) and with the
// tools and compares the text: values (%g, enum strings, signed chars,
// char arrays as escaped strings, array counts), alarm status and severity
// names (EPICS base's own tables, from libCom), timestamps, and cainfo's
// block (state, host as libca names it, access, DBF/DBR names from libca's
// tables, element count).
func TestPyEpicsCompare(t *testing.T) {
	pyepics.Require(t)
	srv, cfg := startServer(t)
	names := []string{"T:AI", "T:RO", "T:FLOAT", "T:LONG", "T:SHORT", "T:BYTE", "T:MODE", "T:STR", "T:WF", "T:LONGSTR", "T:ALARM"}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	puts := [][]string{
		{"T:MODE", "Standby"}, {"-S", "T:LONGSTR", `new\ttext "quoted"`}, {"-a", "T:WF", "4", "0.5", "-1e-7", "12345678", "3"},
		{"T:STR", "two", "words"}, {"T:BYTE", "255"}, {"-c", "T:FLOAT", "0.1"}, {"T:LONG", "-2147483648"},
	}
	for _, tool := range []string{"get", "info", "put"} {
		t.Run(tool, func(t *testing.T) {
			if tool == "put" {
				// What the tools wrote reads back the same through libca.
				for _, args := range puts {
					if _, stderr, err := runToolLocal(ctx, cfg, "put", args); err != nil {
						t.Fatalf("put %v: %v\n%s", args, err, stderr)
					}
				}
				tool = "get"
			}
			cmd := catest.Command(ctx, srv.Env(), "testdata/pyepics_tools.py", append([]string{tool}, names...)...)
			py, err := cmd.Output()
			if err != nil {
				t.Fatalf("pyepics: %v\n%s", err, py)
			}
			args := names
			if tool == "get" {
				args = append([]string{"-a", "-S"}, names...)
			}
			out, stderr, err := runToolLocal(ctx, cfg, tool, args)
			if err != nil {
				t.Fatalf("%s: %v\n%s", tool, err, stderr)
			}
			t.Logf("%s:\n%s", tool, out)
			// pyepics trims nothing; the tools end NO_ALARM lines with two
			// separators, as caget does.
			if got, want := out, string(py); got != want {
				t.Errorf("%s differs from pyepics\ncabridge:\n%s\npyepics:\n%s", tool, got, want)
				gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Errorf("first difference:\n%q\n%q", gl[i], wl[i])
						break
					}
				}
			}
		})
	}
}
