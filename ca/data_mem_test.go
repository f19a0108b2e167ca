package ca

import (
	"runtime"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// TestSetAllocs checks that Set on a scalar with one subscriber allocates
// only the new snapshot (with its element) and the value's slice header.
func TestSetAllocs(t *testing.T) {
	if dataRaceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	d := NewDouble(Options{})
	var n int
	d.Subscribe(subscriberFunc(func(*Snapshot, dbr.EventMask) { n++ }))
	v := 0.0
	allocs := testing.AllocsPerRun(1000, func() {
		v++
		d.Set(v)
	})
	if allocs > 2 {
		t.Errorf("Set allocates %v times, want at most 2", allocs)
	}
	if n < 1000 {
		t.Errorf("subscriber called %d times", n)
	}
	reads := testing.AllocsPerRun(1000, func() {
		_ = d.Value()
		_ = d.Snapshot()
		_ = d.Alarm()
	})
	if reads != 0 {
		t.Errorf("reads allocate %v times", reads)
	}
}

// bytesPerPV returns the heap bytes that n scalar Doubles occupy.
func bytesPerPV(n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pvs := make([]*Double, n)
	for i := range pvs {
		pvs[i] = NewDouble(Options{Units: "V", Precision: 3}, float64(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(pvs)
	// The slice of pointers is the caller's, not the PVs'.
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc) - float64(8*n)) / float64(n)
}

// TestMemoryPerPV checks that 100,000 scalar PVs stay well under 1 KB each.
func TestMemoryPerPV(t *testing.T) {
	if dataRaceEnabled {
		t.Skip("the race detector changes heap sizes")
	}
	if testing.Short() {
		t.Skip("allocates 100,000 PVs")
	}
	b := bytesPerPV(100000)
	t.Logf("%.0f bytes per scalar Double PV", b)
	if b > 1024 {
		t.Errorf("%.0f bytes per PV, want under 1024", b)
	}
}

// BenchmarkMemoryPerPV reports the heap bytes of one scalar Double.
func BenchmarkMemoryPerPV(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(bytesPerPV(10000), "bytes/PV")
	}
}

// BenchmarkSet measures a driver push to a scalar with one subscriber.
func BenchmarkSet(b *testing.B) {
	d := NewDouble(Options{})
	d.Subscribe(subscriberFunc(func(*Snapshot, dbr.EventMask) {}))
	v := 0.0
	b.ReportAllocs()
	for b.Loop() {
		v++
		d.Set(v)
	}
}

// BenchmarkSnapshot measures a reader.
func BenchmarkSnapshot(b *testing.B) {
	d := NewDouble(Options{}, 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = d.Snapshot()
		}
	})
}
