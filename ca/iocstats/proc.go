package iocstats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseStatusRSS returns the resident set size in bytes from the content
// of /proc/self/status (its VmRSS line, in kB).
func parseStatusRSS(data []byte) (uint64, error) {
	return parseKBField(data, "VmRSS")
}

// memInfo is the part of /proc/meminfo iocstats reports, in bytes.
type memInfo struct {
	Total     uint64 // MemTotal
	Available uint64 // MemAvailable, or MemFree on kernels before 3.14
}

// parseMeminfo parses the content of /proc/meminfo.
func parseMeminfo(data []byte) (memInfo, error) {
	var m memInfo
	var err error
	if m.Total, err = parseKBField(data, "MemTotal"); err != nil {
		return memInfo{}, err
	}
	if m.Available, err = parseKBField(data, "MemAvailable"); err != nil {
		if m.Available, err = parseKBField(data, "MemFree"); err != nil {
			return memInfo{}, err
		}
	}
	return m, nil
}

// parseKBField finds the line "key: N kB" and returns N*1024.
func parseKBField(data []byte, key string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("iocstats: %s: no value", key)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("iocstats: %s: %w", key, err)
		}
		mult := uint64(1)
		if len(f) > 1 {
			if !strings.EqualFold(f[1], "kB") {
				return 0, fmt.Errorf("iocstats: %s: unknown unit %q", key, f[1])
			}
			mult = 1024
		}
		return n * mult, nil
	}
	return 0, fmt.Errorf("iocstats: no %s line", key)
}

// cpuTimes are the aggregate CPU times of the "cpu" line of /proc/stat, in
// clock ticks since boot.
type cpuTimes struct {
	Busy  uint64 // all but idle and iowait
	Total uint64 // user+nice+system+idle+iowait+irq+softirq+steal
}

// parseProcStat parses the "cpu" line of /proc/stat. Guest times are
// already counted in user and nice, so they are left out.
func parseProcStat(data []byte) (cpuTimes, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		if len(f) < 5 {
			return cpuTimes{}, fmt.Errorf("iocstats: /proc/stat cpu line has %d fields", len(f)-1)
		}
		var t cpuTimes
		for i, s := range f[1:min(len(f), 9)] {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("iocstats: /proc/stat cpu field %d: %w", i+1, err)
			}
			t.Total += n
			if i != 3 && i != 4 { // idle, iowait
				t.Busy += n
			}
		}
		return t, nil
	}
	return cpuTimes{}, errors.New("iocstats: /proc/stat has no cpu line")
}

// sysLoad returns the busy percentage between two samples of /proc/stat,
// or false if no time passed.
func sysLoad(prev, cur cpuTimes) (float64, bool) {
	if cur.Total <= prev.Total || cur.Busy < prev.Busy {
		return 0, false
	}
	return 100 * float64(cur.Busy-prev.Busy) / float64(cur.Total-prev.Total), true
}

// cpuLoad returns the CPU time used over the wall time elapsed as a
// percentage of one core, or false if no wall time passed.
func cpuLoad(cpu, wall time.Duration) (float64, bool) {
	if wall <= 0 || cpu < 0 {
		return 0, false
	}
	return 100 * cpu.Seconds() / wall.Seconds(), true
}

// FormatUptime formats d as iocStats does: "D days, HH:MM:SS".
func FormatUptime(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	return fmt.Sprintf("%d days, %02d:%02d:%02d", s/86400, s/3600%24, s/60%60, s%60)
}
