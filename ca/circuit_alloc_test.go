package ca

import (
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// The hot paths must not allocate: a scalar READ_NOTIFY and a scalar
// subscription update, from request bytes to reply bytes.
func TestCircuitHotPathsDoNotAllocate(t *testing.T) {
	if srvRaceEnabled {
		t.Skip("allocations are counted differently under -race")
	}
	h := newHarness(t, Config{})
	prelude(h)
	h.c.out = make([]byte, 0, 1<<16)
	for _, dt := range []dbr.Type{dbr.Double, dbr.TimeDouble, dbr.CtrlDouble, dbr.String} {
		req := mkHdr(wire.CmdReadNotify, 0, uint16(dt), 1, sidAI, 7)
		n := testing.AllocsPerRun(1000, func() {
			if _, _, err := h.c.process(req, 0, len(req)); err != nil {
				t.Fatal(err)
			}
			h.c.out = h.c.out[:0]
		})
		if n != 0 && dt != dbr.String { // a double read as a string is formatted
			t.Errorf("READ_NOTIFY %v: %v allocations", dt, n)
		}
	}

	h.send(wire.AppendEventAdd(nil, uint16(dbr.TimeDouble), 1, sidAI, 5, 1))
	sub := h.c.subs[5]
	snap := h.pvs["T:AI"].Snapshot()
	buf := make([]byte, 0, 4096)
	ups := make([]pendingUpdate, 0, 8)
	sub.Update(snap, dbr.EventValue) // grow the dirty list once
	ups = h.c.takeUpdates(ups[:0])
	n := testing.AllocsPerRun(1000, func() {
		sub.Update(snap, dbr.EventValue)
		ups = h.c.takeUpdates(ups[:0])
		for _, u := range ups {
			buf = h.c.appendUpdate(buf[:0], u.sub, u.snap, 13)
		}
		if len(buf) != 16+24 {
			t.Fatalf("update of %d bytes", len(buf))
		}
	})
	if n != 0 {
		t.Errorf("subscription update: %v allocations", n)
	}
}

func BenchmarkReadNotifyDouble(b *testing.B) {
	h := newHarness(b, Config{})
	prelude(h)
	var req []byte
	for range 1000 {
		req = append(req, mkHdr(wire.CmdReadNotify, 0, uint16(dbr.TimeDouble), 1, sidAI, 7)...)
	}
	h.c.out = make([]byte, 0, 1<<20)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		h.c.process(req, 0, len(req))
		h.c.out = h.c.out[:0]
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "reads/s")
}
