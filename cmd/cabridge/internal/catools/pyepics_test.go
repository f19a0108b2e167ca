package catools_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/catools"
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

// TestPyEpicsMonitor subscribes to the same PVs with pyepics and with
// Monitor -S, changes them (values, alarms, an enum, a char array, the
// length of an array) and compares the lines: the same updates, values,
// alarms and timestamps.
func TestPyEpicsMonitor(t *testing.T) {
	pyepics.Require(t)
	pvs := testPVs()
	srv := catest.NewServer(t, pvs)
	cfg, err := client.ConfigFromEnv(env(srv.Env()))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"T:AI", "T:MODE", "T:LONGSTR", "T:WF"}
	const updates = 4 + 5 // the first update of each, then the changes below
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := catest.Command(ctx, srv.Env(), "testdata/pyepics_tools.py", append([]string{"monitor", strconv.Itoa(updates)}, names...)...)
	pyOut := newLines()
	cmd.Stdout = pyOut
	var pyErr bytes.Buffer
	cmd.Stderr = &pyErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o, _, err := catools.ParseMonitor(append([]string{"-S"}, names...), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	out := newLines()
	done := make(chan error, 1)
	go func() { done <- catools.Monitor(mctx, cfg, names, o, out, io.Discard) }()
	for _, l := range []*lines{pyOut, out} {
		l.waitFor(t, "T:WF ")
		l.waitFor(t, "T:LONGSTR ")
		l.waitFor(t, "T:MODE ")
		l.waitFor(t, "T:AI ")
	}
	// Each change is awaited on both sides before the next, so that no
	// server coalesces two updates for one client and not the other.
	major := dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}
	changes := []struct {
		change func() error
		shows  string
	}{
		{func() error {
			return pvs["T:AI"].(*ca.Double).Post(ca.Post[float64]{Values: []float64{95}, Alarm: &major})
		}, " 95 HIHI MAJOR"},
		{func() error { pvs["T:MODE"].(*ca.Enum).Set(2); return nil }, " Standby "},
		{func() error { return pvs["T:LONGSTR"].(*ca.Char).Set("x\ty \"z\"") }, ` x\ty \"z\" `},
		{func() error { return pvs["T:WF"].(*ca.Double).SetArray([]float64{9, 0.125}) }, " 2 9 0.125 "},
		{func() error {
			return pvs["T:AI"].(*ca.Double).Post(ca.Post[float64]{Values: []float64{-1e-9}, Alarm: &dbr.Alarm{}})
		}, " -1e-09 "},
	}
	for _, c := range changes {
		if err := c.change(); err != nil {
			t.Fatal(err)
		}
		pyOut.waitFor(t, c.shows)
		out.waitFor(t, c.shows)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pyepics: %v\n%s", err, pyErr.String())
	}
	want := sortedLines(pyOut.waitFor(t, "-1e-09"))
	got := sortedLines(out.waitFor(t, "-1e-09"))
	stop()
	if err := <-done; err != nil {
		t.Error(err)
	}
	t.Logf("monitor:\n%s", got)
	if got != want {
		t.Errorf("monitor differs from pyepics\ncabridge:\n%s\npyepics:\n%s", got, want)
	}
}

// sortedLines sorts the lines of s: the PVs' updates interleave in any
// order, each PV's in the order they happened.
func sortedLines(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(l)
	return strings.Join(l, "\n") + "\n"
}
