package record

import (
	"testing"
	"time"
)

func TestMenus(t *testing.T) {
	tests := []struct {
		m     Menu
		n     int
		first string
		last  string
	}{
		{MenuScan, 10, "Passive", ".1 second"},
		{MenuAlarmSevr, 4, "NO_ALARM", "INVALID"},
		{MenuAlarmStat, 22, "NO_ALARM", "WRITE_ACCESS"},
		{MenuYesNo, 2, "NO", "YES"},
		{MenuFtype, 12, "STRING", "ENUM"},
		{MenuIvoa, 3, "Continue normally", "Set output to IVOV"},
	}
	for _, tt := range tests {
		c := tt.m.Choices()
		if len(c) != tt.n || tt.m.Len() != tt.n || c[0] != tt.first || c[len(c)-1] != tt.last {
			t.Errorf("%v: choices %q", tt.m, c)
		}
		for i, s := range c {
			if j, ok := tt.m.Index(s); !ok || int(j) != i {
				t.Errorf("%v.Index(%q) = %d %v", tt.m, s, j, ok)
			}
		}
		c[0] = "changed"
		if tt.m.Choices()[0] != tt.first {
			t.Errorf("%v: Choices shares its table", tt.m)
		}
	}
	if _, ok := MenuScan.Index("passive"); ok {
		t.Error("menu lookup must be case-sensitive")
	}
	if MenuNone.Choices() != nil || MenuNone.Len() != 0 {
		t.Error("MenuNone has choices")
	}
}

func TestScanPeriod(t *testing.T) {
	tests := []struct {
		s    Scan
		name string
		d    time.Duration
	}{
		{ScanPassive, "Passive", 0},
		{ScanEvent, "Event", 0},
		{ScanIOIntr, "I/O Intr", 0},
		{Scan10s, "10 second", 10 * time.Second},
		{Scan5s, "5 second", 5 * time.Second},
		{Scan2s, "2 second", 2 * time.Second},
		{Scan1s, "1 second", time.Second},
		{Scan500ms, ".5 second", 500 * time.Millisecond},
		{Scan200ms, ".2 second", 200 * time.Millisecond},
		{Scan100ms, ".1 second", 100 * time.Millisecond},
		{Scan(10), "Scan(10)", 0},
		{Scan(65535), "Scan(65535)", 0},
	}
	for _, tt := range tests {
		if tt.s.String() != tt.name || tt.s.Period() != tt.d || tt.s.Periodic() != (tt.d > 0) {
			t.Errorf("%d: %q %v", tt.s, tt.s.String(), tt.s.Period())
		}
		if tt.d > 0 {
			if s, ok := ScanForPeriod(tt.d); !ok || s != tt.s {
				t.Errorf("ScanForPeriod(%v) = %v %v", tt.d, s, ok)
			}
		}
	}
	for _, d := range []time.Duration{0, -time.Second, 3 * time.Second, time.Second + 1} {
		if s, ok := ScanForPeriod(d); ok {
			t.Errorf("ScanForPeriod(%v) = %v, want none", d, s)
		}
	}
}
