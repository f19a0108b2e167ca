package ca

import (
	"testing"
	"time"
)

func TestBeaconSchedule(t *testing.T) {
	b := beaconSchedule{period: time.Second}
	ms := time.Millisecond
	want := []struct {
		counter uint32
		gap     time.Duration
	}{{0, 20 * ms}, {0, 40 * ms}, {1, 80 * ms}, {2, 160 * ms}, {3, 320 * ms}, {4, 640 * ms}, {5, time.Second}, {6, time.Second}}
	for i, w := range want {
		c, g := b.next()
		if c != w.counter || g != w.gap {
			t.Fatalf("beacon %d: counter %d gap %v, want %d %v", i, c, g, w.counter, w.gap)
		}
	}
	b = beaconSchedule{period: time.Second, counter: 0xFFFFFFFF, sent: 5}
	b.next()
	if c, _ := b.next(); c != 0 {
		t.Fatalf("counter did not wrap: %d", c)
	}
}
