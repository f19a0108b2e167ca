package iocstats

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "proc", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseStatusRSS(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       uint64
		err        string
	}{
		{"fixture", string(readFixture(t, "self/status")), 12345 * 1024, ""},
		{"no unit", "VmRSS: 42\n", 42, ""},
		{"kernel thread", "Name:\tkthreadd\nState:\tS\n", 0, "no VmRSS line"},
		{"bad number", "VmRSS:\t12x kB\n", 0, "invalid syntax"},
		{"bad unit", "VmRSS:\t12 MB\n", 0, "unknown unit"},
		{"empty value", "VmRSS:\n", 0, "no value"},
		{"prefix is not the key", "VmRSSx: 5 kB\nVmRSS: 6 kB\n", 6 * 1024, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusRSS([]byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestParseMeminfo(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       memInfo
		err        string
	}{
		{"fixture", string(readFixture(t, "meminfo")), memInfo{Total: 24684096 * 1024, Available: 24196720 * 1024}, ""},
		{"old kernel", "MemTotal: 100 kB\nMemFree: 40 kB\n", memInfo{Total: 100 * 1024, Available: 40 * 1024}, ""},
		{"no total", "MemFree: 40 kB\n", memInfo{}, "no MemTotal line"},
		{"no free", "MemTotal: 100 kB\n", memInfo{}, "no MemFree line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMeminfo([]byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       cpuTimes
		err        string
	}{
		// user 300 nice 0 system 100 idle 500 iowait 50 irq 0 softirq 50 steal 0.
		{"fixture", string(readFixture(t, "stat")), cpuTimes{Busy: 450, Total: 1000}, ""},
		{"guest ignored", "cpu 10 0 0 80 10 0 0 0 7 7\n", cpuTimes{Busy: 10, Total: 100}, ""},
		{"old kernel 4 fields", "cpu 1 2 3 4\n", cpuTimes{Busy: 6, Total: 10}, ""},
		{"too short", "cpu 1 2 3\n", cpuTimes{}, "has 3 fields"},
		{"bad field", "cpu 1 x 3 4\n", cpuTimes{}, "field 2"},
		{"only per-cpu lines", "cpu0 1 2 3 4\n", cpuTimes{}, "no cpu line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestLoads(t *testing.T) {
	if l, ok := sysLoad(cpuTimes{Busy: 450, Total: 1000}, cpuTimes{Busy: 525, Total: 1100}); !ok || l != 75 {
		t.Errorf("sysLoad = %v, %v; want 75", l, ok)
	}
	if _, ok := sysLoad(cpuTimes{Busy: 1, Total: 10}, cpuTimes{Busy: 1, Total: 10}); ok {
		t.Error("sysLoad with no time passed is ok")
	}
	if l, ok := cpuLoad(250*time.Millisecond, time.Second); !ok || l != 25 {
		t.Errorf("cpuLoad = %v, %v; want 25", l, ok)
	}
	if l, ok := cpuLoad(3*time.Second, 2*time.Second); !ok || l != 150 {
		t.Errorf("cpuLoad on two cores = %v, %v; want 150", l, ok)
	}
	if _, ok := cpuLoad(time.Second, 0); ok {
		t.Error("cpuLoad with no wall time is ok")
	}
}

func TestFormatUptime(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 days, 00:00:00"},
		{-time.Second, "0 days, 00:00:00"},
		{1500 * time.Millisecond, "0 days, 00:00:01"},
		{26*time.Hour + 3*time.Minute + 4*time.Second, "1 days, 02:03:04"},
		{400 * 24 * time.Hour, "400 days, 00:00:00"},
	} {
		if got := FormatUptime(tc.d); got != tc.want {
			t.Errorf("FormatUptime(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("a", 38) + "é" // 40 bytes; é straddles byte 39
	if got := clip(long); got != strings.Repeat("a", 38) {
		t.Errorf("clip = %q", got)
	}
	if got := clip("short"); got != "short" {
		t.Errorf("clip = %q", got)
	}
}
