package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cabridge/cabridge/bench/internal/loadstat"
)

// Machine describes where the numbers were taken, and how busy it was.
type Machine struct {
	CPUs       int    `json:"nproc"`
	CPUModel   string `json:"cpu_model"`
	Kernel     string `json:"kernel"`
	GoVersion  string `json:"go_version"`
	Date       string `json:"date"`
	LoadBefore string `json:"loadavg_before"` // 1, 5 and 15 minute load averages
	LoadAfter  string `json:"loadavg_after"`
}

func machine() Machine {
	m := Machine{
		CPUs:       runtime.NumCPU(),
		GoVersion:  runtime.Version(),
		Date:       time.Now().UTC().Format(time.RFC3339),
		LoadBefore: loadAvg(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = loadstat.ParseCPUModel(b)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// loadAvg returns the three load averages of /proc/loadavg, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machineCPU is the aggregate "cpu" line of /proc/stat, in clock ticks.
type machineCPU struct {
	cpus  int    // cpuN lines
	total uint64 // every field
	idle  uint64 // idle + iowait
}

// parseProcStat reads the aggregate cpu line and counts the per-CPU
// lines of the contents of /proc/stat.
func parseProcStat(stat []byte) (machineCPU, error) {
	var m machineCPU
	found := false
	for line := range bytes.Lines(stat) {
		f := strings.Fields(string(line))
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			m.cpus++
			continue
		}
		if len(f) < 6 {
			return m, fmt.Errorf("modbusbench: /proc/stat: short cpu line %q", bytes.TrimSpace(line))
		}
		for k, s := range f[1:] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return m, fmt.Errorf("modbusbench: /proc/stat: cpu field %d %q: not a number", k+1, s)
			}
			// guest and guest_nice (fields 9 and 10) are already in user and nice.
			if k < 8 {
				m.total += v
			}
			if k == 3 || k == 4 { // idle, iowait
				m.idle += v
			}
		}
		found = true
	}
	if !found {
		return m, errors.New("modbusbench: /proc/stat: no cpu line")
	}
	return m, nil
}

// busySince returns the share of all CPUs' time spent busy between
// before and m, in % of all CPUs, and the number of CPUs.
func (m machineCPU) busySince(before machineCPU) (float64, int) {
	total := m.total - before.total
	if total == 0 {
		return 0, m.cpus
	}
	idle := m.idle - before.idle
	return 100 * float64(total-idle) / float64(total), m.cpus
}

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, fmt.Errorf("modbusbench: %w", err)
	}
	return parseProcStat(b)
}

// parseCPUPressure returns the "some" total of the contents of
// /proc/pressure/cpu: the time in which at least one task waited for a
// CPU.
func parseCPUPressure(b []byte) (time.Duration, error) {
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		if len(f) == 0 || f[0] != "some" {
			continue
		}
		for _, kv := range f[1:] {
			if v, ok := strings.CutPrefix(kv, "total="); ok {
				us, err := strconv.ParseUint(v, 10, 63)
				if err != nil {
					return 0, fmt.Errorf("modbusbench: /proc/pressure/cpu: total %q: not a number", v)
				}
				return time.Duration(us) * time.Microsecond, nil
			}
		}
	}
	return 0, errors.New("modbusbench: /proc/pressure/cpu: no some total")
}

func readCPUPressure() (time.Duration, error) {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0, fmt.Errorf("modbusbench: %w", err)
	}
	return parseCPUPressure(b)
}
