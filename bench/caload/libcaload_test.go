package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/bench/internal/child"
)

// What TestLibcaload serves and asks for.
const (
	libcaTestPVs      = 200
	libcaTestCounters = 1000
	libcaTestWaveform = 1_000_000
	libcaTestBudget   = 2 * time.Minute
)

// findLibca returns the path of a libca shared object ($LIBCA, else the
// newest version in the usual Debian and source-build places), or "".
func findLibca() string {
	if p := os.Getenv("LIBCA"); p != "" {
		return p
	}
	globs := []string{
		"/usr/lib/x86_64-linux-gnu/libca.so*",
		"/usr/lib/*/libca.so*",
		"/usr/lib/libca.so*",
		"/usr/local/lib/libca.so*",
	}
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		if len(m) > 0 {
			return m[len(m)-1]
		}
	}
	return ""
}

// buildLibcaload compiles bench/libcaload/libcaload.c into dir. It skips
// the test when gcc or libca is missing (also under CI=true: libca comes
// with the optional interop peers), and fails it when both are present but
// the build fails.
func buildLibcaload(t *testing.T, dir string) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("libcaload: gcc not found: skipping the libca load client")
	}
	libca := findLibca()
	if libca == "" {
		t.Skip("libcaload: libca not found (install python3-pyepics or set LIBCA): skipping the libca load client")
	}
	bin := filepath.Join(dir, "libcaload")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cc, "-O2", "-Wall", "-o", bin, filepath.Join("..", "libcaload", "libcaload.c"), libca, "-lpthread").CombinedOutput()
	if err != nil {
		t.Fatalf("libcaload: gcc with %s: %v\n%s", libca, err, out)
	}
	return bin
}

// repeaterPort returns a free loopback UDP port for libcaload's private
// CA repeater.
func repeaterPort(t *testing.T) int {
	t.Helper()
	p, err := child.FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// libcaReport is the part of libcaload -j's output the test checks.
type libcaReport struct {
	OK    bool `json:"ok"`
	Sizes []struct {
		N            int     `json:"n"`
		ConnectsPerS float64 `json:"connects_per_second"`
		GetRounds    int     `json:"get_rounds"`
		GetErrors    int     `json:"get_errors"`
		GetsBest     float64 `json:"gets_per_second_best"`
	} `json:"sizes"`
	Monitors struct {
		Subscriptions int     `json:"subscriptions"`
		Updates       int     `json:"updates"`
		Errors        int     `json:"errors"`
		LatencyMedian float64 `json:"latency_median_ms"`
	} `json:"monitors"`
	Waveform []struct {
		Type     string  `json:"type"`
		Elements int     `json:"elements"`
		Gets     int     `json:"gets"`
		Best     float64 `json:"mb_per_second_best"`
	} `json:"waveform"`
}

// TestLibcaload builds bench/libcaload (the libca load client) with gcc and runs every
// phase briefly against an in-process server. It checks that the phases
// complete with sane counts, never how fast they are.
func TestLibcaload(t *testing.T) {
	if testing.Short() {
		t.Skip("libcaload: builds a C program and runs a 1 s load test")
	}
	bin := buildLibcaload(t, t.TempDir())
	tgt := startInProcess(t, libcaTestPVs)

	ctx, cancel := context.WithTimeout(context.Background(), libcaTestBudget)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-j", "-q",
		"-n", fmt.Sprintf("%d,%d", libcaTestPVs/2, libcaTestPVs),
		"-r", "2", "-w", "0.5", "-g", "1", "-e", strconv.Itoa(libcaTestWaveform), "-t", "30",
		"-p", strconv.Itoa(os.Getpid()))
	env := []string{
		"EPICS_CA_AUTO_ADDR_LIST=NO",
		"EPICS_CA_ADDR_LIST=" + strings.Join(tgt.cfg.AddrList, " "),
		"EPICS_CA_REPEATER_PORT=" + strconv.Itoa(repeaterPort(t)),
		"EPICS_CA_MAX_ARRAY_BYTES=100000000",
	}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "EPICS_") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("libcaload: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	var r libcaReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("libcaload -j output: %v\n%s", err, &stdout)
	}
	if !r.OK || len(r.Sizes) != 2 || r.Sizes[1].N != libcaTestPVs {
		t.Fatalf("libcaload report = %+v", r)
	}
	for _, s := range r.Sizes {
		if s.ConnectsPerS <= 0 || s.GetRounds != 2 || s.GetErrors != 0 || s.GetsBest <= 0 {
			t.Errorf("size %d: %+v", s.N, s)
		}
	}
	if m := r.Monitors; m.Subscriptions != libcaTestCounters || m.Updates == 0 || m.Errors != 0 || m.LatencyMedian <= 0 {
		t.Errorf("monitors: %+v", m)
	}
	if len(r.Waveform) != 2 {
		t.Fatalf("waveform: %+v", r.Waveform)
	}
	for _, w := range r.Waveform {
		if w.Elements != libcaTestWaveform || w.Gets != 1 || w.Best <= 0 {
			t.Errorf("waveform %s: %+v", w.Type, w)
		}
	}
}
