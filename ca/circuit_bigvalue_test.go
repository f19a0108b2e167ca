package ca

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// copyReply is the READ_NOTIFY reply the copy path builds.
func copyReply(t *testing.T, c *circuit, dt dbr.Type, n int, ioid uint32, snap *Snapshot) []byte {
	t.Helper()
	b, err := c.appendValue(nil, wire.CmdReadNotify, dt, n, 1, ioid, snap, 13)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A large READ_NOTIFY sent from the value cache is byte-for-byte the
// reply of the copy path, in order with the replies around it.
func TestCircuitBigReadNotify(t *testing.T) {
	cases := []struct {
		name string
		dt   dbr.Type
		n    uint32
		ref  bool // sent from the cache
	}{
		{"double", dbr.Double, 0, true},
		{"time double", dbr.TimeDouble, 0, true},
		{"sts double", dbr.StsDouble, 0, true},
		{"ctrl double", dbr.CtrlDouble, 0, true},
		{"gr double part", dbr.GrDouble, 40000, true},
		{"converted", dbr.TimeFloat, 0, false},
		{"string", dbr.String, 0, false},
		{"small", dbr.TimeDouble, 100, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			prelude(h)
			big := make(dbr.Doubles, 100000)
			for i := range big {
				big[i] = float64(i) + 0.5
			}
			h.pvs["T:BIG"].set(big, dbr.EventValue)
			snap := h.pvs["T:BIG"].Snapshot()
			n := int(tc.n)
			if n == 0 {
				n = len(big)
			}
			req := joinBytes(mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 1, sidAI, 1),
				wire.AppendReadNotify(nil, uint16(tc.dt), tc.n, sidBIG, 2),
				mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 1, sidAI, 3),
				wire.AppendReadNotify(nil, uint16(tc.dt), tc.n, sidBIG, 4))
			if _, _, err := h.c.process(req, 0, len(req)); err != nil {
				t.Fatal(err)
			}
			if (len(h.c.refs) > 0) != tc.ref {
				t.Fatalf("%d refs", len(h.c.refs))
			}
			if tc.ref && (len(h.c.refs) != 2 || h.c.refs[0].ev != h.c.refs[1].ev) {
				t.Fatal("the second read did not reuse the encoded value")
			}
			got := h.take()
			ai := h.pvs["T:AI"].Snapshot()
			want := joinBytes(copyReply(t, h.c, dbr.Double, 1, 1, ai), copyReply(t, h.c, tc.dt, n, 2, snap),
				copyReply(t, h.c, dbr.Double, 1, 3, ai), copyReply(t, h.c, tc.dt, n, 4, snap))
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// The cached encoding follows the snapshot; its buffer is reused only
// once no queued reply refers to it.
func TestCircuitValueCacheReuse(t *testing.T) {
	h := newHarness(t, Config{})
	prelude(h)
	pv := h.pvs["T:BIG"]
	read := func(ioid uint32) {
		t.Helper()
		if _, err := h.send(wire.AppendReadNotify(nil, uint16(dbr.Double), 0, sidBIG, ioid)); err != nil {
			t.Fatal(err)
		}
	}
	readKeep := func(ioid uint32) {
		t.Helper()
		req := wire.AppendReadNotify(nil, uint16(dbr.Double), 0, sidBIG, ioid)
		if _, _, err := h.c.process(req, 0, len(req)); err != nil {
			t.Fatal(err)
		}
	}
	value := func(v float64) dbr.Doubles {
		d := make(dbr.Doubles, 100000)
		for i := range d {
			d[i] = v
		}
		return d
	}
	pv.set(value(1), dbr.EventValue)
	read(1) // encoded, then released by take
	first := h.c.valCache
	pv.set(value(2), dbr.EventValue)
	readKeep(2) // reuses the released buffer
	second := h.c.valCache
	if second == first || &second.b[0] != &first.b[0] {
		t.Fatal("a released buffer was not reused")
	}
	pv.set(value(3), dbr.EventValue)
	readKeep(3) // the queued reply still refers to the buffer: a new one
	third := h.c.valCache
	if &third.b[0] == &second.b[0] {
		t.Fatal("a queued buffer was overwritten")
	}
	out := h.take()
	const size = wire.ExtHeaderSize + 800000
	if len(out) != 2*size {
		t.Fatalf("%d bytes", len(out))
	}
	for i, want := range []float64{2, 3} {
		p := out[i*size+wire.ExtHeaderSize:]
		if got := f64(p); got != want || f64(p[799992:]) != want {
			t.Fatalf("reply %d carries %v, want %v", i, got, want)
		}
	}
}

// Over a socket, large replies are written with the small replies around
// them in order, and the value cache follows changes of the PV.
func TestServerBigReadNotify(t *testing.T) {
	s, _, pvs := startServer(t, Config{})
	c := dialRaw(t, s)
	c.buf = make([]byte, 4<<20)
	sid := c.open("T:BIG", 1)
	c.send(wire.AppendCreateChan(nil, 2, "T:AI"))
	c.next() // ACCESS_RIGHTS
	ai := c.next().Param2
	for round := range 3 {
		big := make(dbr.Doubles, 100000)
		for i := range big {
			big[i] = float64(round*1000000 + i)
		}
		pvs["T:BIG"].set(big, dbr.EventValue)
		var req []byte
		for i := range 6 {
			req = wire.AppendReadNotify(req, uint16(dbr.TimeDouble), 0, sid, uint32(2*i))
			req = wire.AppendReadNotify(req, uint16(dbr.Double), 1, ai, uint32(2*i+1))
		}
		c.send(req)
		for i := range 12 {
			m := c.next()
			if m.Command != wire.CmdReadNotify || m.Param2 != uint32(i) {
				t.Fatalf("round %d: message %d is %+v", round, i, m.Header)
			}
			if i%2 == 1 {
				continue
			}
			if m.DataCount != 100000 || len(m.Payload) != 16+800000 {
				t.Fatalf("round %d: %+v", round, m.Header)
			}
			if binary.BigEndian.Uint32(m.Payload[4:]) != fakeStamp.Sec {
				t.Fatalf("round %d: stamp %x", round, m.Payload[:16])
			}
			for _, k := range []int{0, 1, 54321, 99999} {
				if got := f64(m.Payload[16+8*k:]); got != big[k] {
					t.Fatalf("round %d: element %d = %v, want %v", round, k, got, big[k])
				}
			}
		}
	}
}

// A client that asks for large values and does not read them is dropped,
// as with any other reply: the cached bytes count towards the limit.
func TestServerBigReadNotifySlowClient(t *testing.T) {
	s, _, _ := startServer(t, Config{WriteTimeout: 300 * time.Millisecond, MaxOutputBytes: 1 << 20})
	slow := dialRaw(t, s)
	_ = slow.conn.SetReadBuffer(4096)
	sid := slow.open("T:BIG", 1)
	var req []byte
	for i := range 64 {
		req = wire.AppendReadNotify(req, uint16(dbr.Double), 0, sid, uint32(i))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := s.Stats()
		if st.Closes[CloseWriteTimeout]+st.Closes[CloseOverflow] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow client never dropped; stats %+v", st)
		}
		_ = slow.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := slow.conn.Write(req); err != nil && !isTimeout(err) {
			break // dropped: the server closed the connection
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A large READ_NOTIFY of an unchanged value neither encodes nor allocates.
func TestCircuitBigReadNotifyDoesNotAllocate(t *testing.T) {
	if srvRaceEnabled {
		t.Skip("allocations are counted differently under -race")
	}
	h := newHarness(t, Config{})
	prelude(h)
	req := wire.AppendReadNotify(nil, uint16(dbr.TimeDouble), 0, sidBIG, 1)
	h.c.out = make([]byte, 0, 1<<16)
	run := func() {
		if _, _, err := h.c.process(req, 0, len(req)); err != nil {
			t.Fatal(err)
		}
		if len(h.c.refs) != 1 {
			t.Fatalf("%d refs", len(h.c.refs))
		}
		h.c.out = h.c.out[:0]
		h.c.refs = h.c.releaseRefsLocked(h.c.refs)
		h.c.refBytes = 0
	}
	run() // encode once
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
