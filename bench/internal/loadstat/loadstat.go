// Package loadstat holds the pure helpers of the load tool: summaries of
// latency samples and parsers of the Linux /proc files from which the
// tool reads a process's CPU time and resident memory.
package loadstat

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"
)

// ClockTicks is the unit of the utime and stime fields of /proc/<pid>/stat
// (USER_HZ), which Linux fixes at 100 per second for user space.
const ClockTicks = 100

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of sorted, which
// must be in ascending order, interpolating linearly between the two
// nearest ranks. It returns NaN for an empty slice.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return math.NaN()
	case p <= 0:
		return sorted[0]
	case p >= 100:
		return sorted[n-1]
	}
	r := p / 100 * float64(n-1)
	i := int(r)
	if i+1 >= n {
		return sorted[n-1]
	}
	f := r - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// Summary describes a set of samples.
type Summary struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
}

// Summarize sorts xs in place and returns its summary. The zero Summary
// (with N == 0) describes an empty slice.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	slices.Sort(xs)
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return Summary{
		N:      len(xs),
		Min:    xs[0],
		Median: Percentile(xs, 50),
		P99:    Percentile(xs, 99),
		Max:    xs[len(xs)-1],
		Mean:   sum / float64(len(xs)),
	}
}

// ParseCPUTime returns the user plus system CPU time (fields 14 and 15,
// utime and stime) recorded in the contents of a /proc/<pid>/stat file.
// The command name in field 2 may contain spaces and parentheses, so the
// fields are counted from its last closing parenthesis.
func ParseCPUTime(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("loadstat: stat: no command name")
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field k is f[k-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("loadstat: stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("loadstat: stat: cpu time %q: not a number", s)
		}
		ticks += v
	}
	return time.Duration(ticks) * (time.Second / ClockTicks), nil
}

// ParseStatusKB returns the value in bytes of a "Name:   1234 kB" line of
// the contents of a /proc/<pid>/status file, e.g. key "VmRSS".
func ParseStatusKB(status []byte, key string) (int64, error) {
	for line := range bytes.Lines(status) {
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok || string(name) != key {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("loadstat: status: %s: unexpected value %q", key, bytes.TrimSpace(rest))
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("loadstat: status: %s: %q is not a size", key, f[0])
		}
		return v * 1024, nil
	}
	return 0, fmt.Errorf("loadstat: status: no %s line", key)
}

// CPUTime reads the CPU time consumed so far by process pid (0: this
// process) from /proc.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return 0, fmt.Errorf("loadstat: %w", err)
	}
	return ParseCPUTime(b)
}

// RSS reads the resident set size in bytes of process pid (0: this
// process) from /proc (VmRSS).
func RSS(pid int) (int64, error) {
	return statusKB(pid, "VmRSS")
}

// PeakRSS reads the peak resident set size in bytes of process pid (0:
// this process) from /proc (VmHWM).
func PeakRSS(pid int) (int64, error) {
	return statusKB(pid, "VmHWM")
}

func statusKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return 0, fmt.Errorf("loadstat: %w", err)
	}
	return ParseStatusKB(b, key)
}

func procPath(pid int, file string) string {
	if pid == 0 {
		return "/proc/self/" + file
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

// ParseCPUModel returns the first "model name" of the contents of
// /proc/cpuinfo, or "" if there is none.
func ParseCPUModel(cpuinfo []byte) string {
	for line := range bytes.Lines(cpuinfo) {
		name, val, ok := bytes.Cut(line, []byte{':'})
		if ok && string(bytes.TrimSpace(name)) == "model name" {
			return string(bytes.TrimSpace(val))
		}
	}
	return ""
}
