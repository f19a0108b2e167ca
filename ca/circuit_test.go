package ca

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// The sids the prelude of every protocol case gets, in creation order.
const (
	sidAI, sidWF, sidSTR, sidRO, sidNO, sidBIG = 0, 1, 2, 3, 4, 5
	cidAI, cidWF, cidSTR, cidRO, cidNO, cidBIG = 1, 2, 3, 4, 5, 6
)

// prelude sends VERSION and creates one channel to each test PV.
func prelude(h *harness) {
	for i, n := range []string{"T:AI", "T:WF", "T:STR", "T:RO", "T:NO", "T:BIG"} {
		if sid := h.open(n, uint32(i+1)); sid != uint32(i) {
			h.t.Fatalf("sid of %s = %d, want %d", n, sid, i)
		}
	}
}

// step is one request and the exact bytes the server must answer with.
type step struct {
	req     []byte
	want    []byte
	close   bool // the request closes the circuit
	ops     bool // run the put worker and expect its output too
	updates bool // collect queued subscription updates after the request
}

func TestCircuitProtocol(t *testing.T) {
	hdrOf := func(b []byte) []byte { return b[:16] }
	readAI := mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 1, sidAI, 7)
	writeRO := mkMsg(wire.CmdWrite, uint16(dbr.Double), 1, sidRO, cidRO, beF64(2))
	mask0 := wire.AppendEventAdd(nil, 6, 1, sidAI, 5, 0)
	mask256 := wire.AppendEventAdd(nil, 6, 1, sidAI, 5, 256)
	cancel99 := wire.AppendEventCancel(nil, 6, 1, sidAI, 99)
	bad5 := mkHdr(wire.CmdSnapshot, 0, 0, 0, 0, 0)
	bad28 := mkHdr(28, 0, 0, 0, 0, 0)
	misaligned := joinBytes(mkHdr(wire.CmdEcho, 4, 0, 0, 0, 0), []byte{1, 2, 3, 4})
	hostName := wire.AppendHostName(nil, "vm")
	longName := wire.AppendHostName(nil, strings.Repeat("x", 512))

	tests := []struct {
		name  string
		setup func(h *harness)
		steps []step
	}{
		{name: "read_notify double", steps: []step{{req: readAI,
			want: hexBytes("000f 0008 0006 0001 00000001 00000007 400c000000000000")}}},
		{name: "read_notify time_double", steps: []step{{req: mkHdr(wire.CmdReadNotify, 0, uint16(dbr.TimeDouble), 1, sidAI, 7),
			want: hexBytes("000f 0018 0014 0001 00000001 00000007 0000 0000 000003e8 00000005 00000000 400c000000000000")}}},
		{name: "read_notify conversion failure is GETFAIL with zeroed data", steps: []step{{
			req:  mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Short), 1, sidSTR, 7),
			want: hexBytes("000f 0008 0001 0001 00000098 00000007 0000000000000000")}}},
		{name: "read_notify of PUT_ACKT is GETFAIL", steps: []step{{
			req:  mkHdr(wire.CmdReadNotify, 0, uint16(dbr.PutAckT), 1, sidAI, 7),
			want: hexBytes("000f 0008 0023 0001 00000098 00000007 0000000000000000")}}},
		{name: "read_notify without read access", steps: []step{{
			req:  mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 1, sidNO, 7),
			want: hexBytes("000f 0008 0006 0001 00000170 00000007 0000000000000000")}}},
		{name: "read_notify count 0 is the current length", steps: []step{{
			req:  mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 0, sidWF, 7),
			want: joinBytes(hexBytes("000f 0018 0006 0003 00000001 00000007"), beF64(1), beF64(2), beF64(3))}}},
		{name: "read_notify count above native is clamped and zero padded", steps: []step{{
			req:  mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 20, sidWF, 7),
			want: joinBytes(hexBytes("000f 0050 0006 000a 00000001 00000007"), beF64(1), beF64(2), beF64(3), make([]byte, 56))}}},
		{name: "read_notify fewer elements", steps: []step{{
			req:  mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 2, sidWF, 7),
			want: joinBytes(hexBytes("000f 0010 0006 0002 00000001 00000007"), beF64(1), beF64(2))}}},
		{name: "read_notify extended header", steps: []step{{
			req:  mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 0, sidBIG, 7),
			want: joinBytes(hexBytes("000f ffff 0006 0000 00000001 00000007 000c3500 000186a0"), make([]byte, 800000))}}},
		{name: "read string scalar is shortened, p1 is cid", steps: []step{{
			req:  mkHdr(wire.CmdRead, 0, uint16(dbr.String), 1, sidSTR, 9),
			want: hexBytes("0003 0008 0000 0001 00000003 00000009 68656c6c6f000000")}}},
		{name: "read failure is an ERROR", steps: []step{{
			req:  mkHdr(wire.CmdRead, 0, uint16(dbr.Double), 1, sidNO, 9),
			want: errorMsg(cidNO, uint32(eca.NoRdAccess), mkHdr(wire.CmdRead, 0, 6, 1, sidNO, 9), "T:NO")}}},
		{name: "write_notify then read", steps: []step{
			{req: mkMsg(wire.CmdWriteNotify, uint16(dbr.Double), 1, sidAI, 11, beF64(7.25)), ops: true,
				want: hexBytes("0013 0000 0006 0001 00000001 0000000b")},
			{req: readAI, want: joinBytes(hexBytes("000f 0008 0006 0001 00000001 00000007"), beF64(7.25))},
		}},
		{name: "write and read are ordered per channel", steps: []step{
			{req: joinBytes(mkMsg(wire.CmdWrite, uint16(dbr.String), 1, sidAI, cidAI, []byte("1.25\x00")), readAI), ops: true,
				want: joinBytes(hexBytes("000f 0008 0006 0001 00000001 00000007"), beF64(1.25))},
		}},
		{name: "write to read-only is an ERROR with header and name", steps: []step{{req: writeRO, ops: true,
			want: joinBytes(hexBytes("000b 0018 0000 0000 00000004 00000178"), hdrOf(writeRO), []byte("T:RO\x00\x00\x00\x00"))}}},
		{name: "write_notify to read-only", steps: []step{{
			req: mkMsg(wire.CmdWriteNotify, uint16(dbr.Double), 1, sidRO, 12, beF64(2)), ops: true,
			want: hexBytes("0013 0000 0006 0001 00000178 0000000c")}}},
		{name: "write_notify put error maps to PUTFAIL",
			setup: func(h *harness) { h.pvs["T:AI"].putErr = errors.New("device says no") },
			steps: []step{{req: mkMsg(wire.CmdWriteNotify, uint16(dbr.Double), 1, sidAI, 12, beF64(2)), ops: true,
				want: hexBytes("0013 0000 0006 0001 000000a0 0000000c")}}},
		{name: "write_notify put error with ECA code",
			setup: func(h *harness) { h.pvs["T:AI"].putErr = ErrReadOnly },
			steps: []step{{req: mkMsg(wire.CmdWriteNotify, uint16(dbr.Double), 1, sidAI, 12, beF64(2)), ops: true,
				want: hexBytes("0013 0000 0006 0001 00000178 0000000c")}}},
		{name: "put_ackt goes to the acknowledger", steps: []step{{
			req: mkMsg(wire.CmdWriteNotify, uint16(dbr.PutAckT), 1, sidAI, 12, []byte{0, 1}), ops: true,
			want: hexBytes("0013 0000 0023 0001 00000001 0000000c")}}},
		{name: "event_add first update then cancel confirmation", steps: []step{
			{req: wire.AppendEventAdd(nil, 6, 1, sidAI, 5, 5),
				want: hexBytes("0001 0008 0006 0001 00000001 00000005 400c000000000000")},
			{req: wire.AppendEventCancel(nil, 6, 1, sidAI, 5), want: hexBytes("0001 0000 0006 0001 00000000 00000005")},
		}},
		{name: "event_cancel unknown id", steps: []step{{req: cancel99, close: true,
			want: errorMsg(cidAI, uint32(eca.BadMonID), cancel99, "bad event subscription identifier")}}},
		{name: "event_add mask 0", steps: []step{{req: mask0, close: true,
			want: errorMsg(cidAI, uint32(eca.AllocMem), hdrOf(mask0), "subscription install into record T:AI failed")}}},
		{name: "event_add mask 256", steps: []step{{req: mask256, close: true,
			want: errorMsg(cidAI, uint32(eca.AllocMem), hdrOf(mask256), "subscription install into record T:AI failed")}}},
		{name: "clear_channel echo, then the sid is bad", steps: []step{
			{req: wire.AppendClearChannel(nil, sidAI, cidAI), want: hexBytes("000c 0000 0000 0000 00000000 00000001")},
			{req: readAI, close: true, want: errorMsg(noCID, uint32(eca.Internal), readAI, "Bad Resource ID")},
		}},
		{name: "echo with payload", steps: []step{{req: mkMsg(wire.CmdEcho, 0, 0, 1, 2, []byte("abc")),
			want: mkMsg(wire.CmdEcho, 0, 0, 1, 2, []byte("abc"))}}},
		{name: "read_sync echo", steps: []step{{req: mkHdr(wire.CmdReadSync, 0, 1, 2, 3, 4), want: mkHdr(wire.CmdReadSync, 0, 1, 2, 3, 4)}}},
		{name: "obsolete command", steps: []step{{req: bad5, close: true,
			want: errorMsg(noCID, uint32(eca.Internal), bad5, "invalid (damaged?) request code from TCP")}}},
		{name: "unknown command", steps: []step{{req: bad28, close: true,
			want: errorMsg(noCID, uint32(eca.Internal), bad28, "invalid (damaged?) request code from TCP")}}},
		{name: "invalid DBR type closes silently", steps: []step{{
			req: mkHdr(wire.CmdReadNotify, 0, 39, 1, sidAI, 7), close: true, want: nil}}},
		{name: "misaligned", steps: []step{{req: misaligned, close: true,
			want: errorMsg(noCID, uint32(eca.Internal), misaligned[:16], "CAS: Missaligned protocol rejected")}}},
		// rsrv R3.15+ refuses it with an ERROR; this server accepts it and
		// recomputes the rights (access_rights.go). With no access rules
		// no rights change, so nothing is sent.
		{name: "host name after the first channel is accepted", steps: []step{
			{req: hostName, want: nil},
			{req: readAI, want: hexBytes("000f 0008 0006 0001 00000001 00000007 400c000000000000")},
		}},
		{name: "host name too long", steps: []step{{req: longName, close: true,
			want: errorMsg(noCID, uint32(eca.Internal), longName[:16], "host or user name too long")}}},
		{name: "tcp search found", steps: []step{{req: wire.AppendSearchFlag(nil, wire.DoReply, 9, "T:AI"),
			want: hexBytes("0006 0000 13c8 0000 ffffffff 00000009")}}},
		{name: "tcp search not found with DOREPLY", steps: []step{{req: wire.AppendSearchFlag(nil, wire.DoReply, 9, "NOPE"),
			want: hexBytes("000e 0000 000a 000d 00000009 00000009")}}},
		{name: "tcp search not found with DONTREPLY", steps: []step{{req: wire.AppendSearchFlag(nil, wire.DontReply, 9, "NOPE")}}},
		{name: "mid-stream version is informational", steps: []step{{
			req:  joinBytes(wire.AppendVersionUDP(nil, 3), wire.AppendSearch(nil, 9, "T:AI")),
			want: hexBytes("0006 0000 13c8 0000 ffffffff 00000009")}}},
		{name: "create_chan", steps: []step{{req: wire.AppendCreateChan(nil, 42, "T:AI"),
			want: hexBytes("0016 0000 0000 0000 0000002a 00000003 0012 0000 0006 0001 0000002a 00000006")}}},
		{name: "create_chan read-only rights", steps: []step{{req: wire.AppendCreateChan(nil, 42, "T:RO"),
			want: hexBytes("0016 0000 0000 0000 0000002a 00000001 0012 0000 0006 0001 0000002a 00000006")}}},
		{name: "create_chan unknown", steps: []step{{req: wire.AppendCreateChan(nil, 42, "NOPE"),
			want: hexBytes("001a 0000 0000 0000 0000002a 00000000")}}},
		{name: "create_chan large array", steps: []step{{req: wire.AppendCreateChan(nil, 42, "T:BIG"),
			want: hexBytes("0016 0000 0000 0000 0000002a 00000003 0012 ffff 0006 0000 0000002a 00000006 00000000 000186a0")}}},
		{name: "events off keeps only the newest", steps: []step{
			{req: wire.AppendEventAdd(nil, 6, 1, sidAI, 5, 1),
				want: hexBytes("0001 0008 0006 0001 00000001 00000005 400c000000000000")},
			{req: mkHdr(wire.CmdEventsOff, 0, 0, 0, 0, 0)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			prelude(h)
			if tc.setup != nil {
				tc.setup(h)
			}
			for i, st := range tc.steps {
				got, err := h.send(st.req)
				if st.ops {
					got = append(got, h.runOps()...)
				}
				if st.updates {
					got = append(got, h.updates()...)
				}
				if (err != nil) != st.close {
					t.Fatalf("step %d: close error = %v, want close %v", i, err, st.close)
				}
				if !bytes.Equal(got, st.want) {
					t.Fatalf("step %d:\n got %x\nwant %x", i, trimForLog(got), trimForLog(st.want))
				}
			}
		})
	}
}

func TestCircuitBeforeVersion(t *testing.T) {
	h := newHarness(t, Config{})
	req := mkHdr(wire.CmdReadNotify, 0, 6, 1, 0, 7)
	got, err := h.send(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := errorMsg(noCID, uint32(eca.Defunct), req, "Client version 0 too old"); !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
	if _, err := h.send(mkHdr(wire.CmdVersion, 0, 0, 3, 0, 0)); err == nil {
		t.Fatal("VERSION with minor 3 accepted")
	}
}

func TestCircuitVersionAtAccept(t *testing.T) {
	c := newCircuit(&Server{}, nil, "x")
	if want := hexBytes("0000 0000 0000 000d 00000000 00000000"); !bytes.Equal(c.out, want) {
		t.Fatalf("got %x want %x", c.out, want)
	}
}

func TestCircuitOldClient(t *testing.T) {
	h := newHarness(t, Config{})
	got, err := h.send(joinBytes(mkHdr(wire.CmdVersion, 0, 0, 8, 0, 0), wire.AppendCreateChan(nil, 1, "T:BIG")))
	if err != nil {
		t.Fatal(err)
	}
	if want := hexBytes("0016 0000 0000 0000 00000001 00000003 0012 0000 0006 fffe 00000001 00000000"); !bytes.Equal(got, want) {
		t.Fatalf("create: got %x want %x", got, want)
	}
	got, _ = h.send(mkHdr(wire.CmdReadNotify, 0, 6, 3000, 0, 7))
	if want := hexBytes("000f 0000 0006 0000 00000048 00000007"); !bytes.Equal(got, want) {
		t.Fatalf("read: got %x want %x", got, want)
	}
}

func TestCircuitMaxArrayBytes(t *testing.T) {
	h := newHarness(t, Config{MaxArrayBytes: 16384})
	prelude(h)
	// A request larger than the limit: ERROR ECA_TOLARGE, body skipped,
	// circuit kept.
	big := mkMsg(wire.CmdWrite, 6, 3000, sidWF, cidWF, make([]byte, 24000))
	got, err := h.send(joinBytes(big, mkHdr(wire.CmdReadNotify, 0, 6, 2, sidWF, 7)))
	if err != nil {
		t.Fatal(err)
	}
	want := joinBytes(errorMsg(noCID, uint32(eca.TooLarge), big[:16], "request larger than EPICS_CA_MAX_ARRAY_BYTES"),
		hexBytes("000f 0010 0006 0002 00000001 00000007"), beF64(1), beF64(2))
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
	// A reply larger than the limit: status ECA_TOLARGE.
	got, _ = h.send(mkHdr(wire.CmdReadNotify, 0, 6, 0, sidBIG, 7))
	if want := hexBytes("000f 0000 0006 0000 00000048 00000007"); !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
}

func TestCircuitSubscriptionQueue(t *testing.T) {
	h := newHarness(t, Config{})
	prelude(h)
	h.send(wire.AppendEventAdd(nil, 6, 1, sidAI, 5, uint16(dbr.EventValue)))
	pv := h.pvs["T:AI"]
	upd := func(v float64) []byte {
		return joinBytes(hexBytes("0001 0008 0006 0001 00000001 00000005"), beF64(v))
	}
	// Masks are honoured.
	pv.set(dbr.Doubles{9}, dbr.EventAlarm)
	if got := h.updates(); len(got) != 0 {
		t.Fatalf("alarm event sent to a value subscription: %x", got)
	}
	// At most 4 queued; the newest replaces the last.
	for i := range 10 {
		pv.set(dbr.Doubles{float64(i)}, dbr.EventValue)
	}
	if got, want := h.updates(), joinBytes(upd(0), upd(1), upd(2), upd(9)); !bytes.Equal(got, want) {
		t.Fatalf("queue: got %x\nwant %x", got, want)
	}
	if n := h.s.Stats().Coalesced; n != 6 {
		t.Errorf("coalesced = %d, want 6", n)
	}
	// Events off: only the newest, sent after EVENTS_ON.
	h.send(mkHdr(wire.CmdEventsOff, 0, 0, 0, 0, 0))
	for i := range 3 {
		pv.set(dbr.Doubles{float64(20 + i)}, dbr.EventValue)
	}
	if got := h.updates(); len(got) != 0 {
		t.Fatalf("update sent while events are off: %x", got)
	}
	h.send(mkHdr(wire.CmdEventsOn, 0, 0, 0, 0, 0))
	if got, want := h.updates(), upd(22); !bytes.Equal(got, want) {
		t.Fatalf("after events on: got %x\nwant %x", got, want)
	}
	// Count-0 subscription follows the length.
	h.send(wire.AppendEventAdd(nil, 6, 0, sidWF, 6, 1))
	h.pvs["T:WF"].set(dbr.Doubles{4}, dbr.EventValue)
	want := joinBytes(hexBytes("0001 0008 0006 0001 00000001 00000006"), beF64(4))
	if got := h.updates(); !bytes.Equal(got, want) {
		t.Fatalf("count 0: got %x\nwant %x", got, want)
	}
	// Clearing the channel cancels its subscriptions.
	h.send(wire.AppendClearChannel(nil, sidAI, cidAI))
	pv.set(dbr.Doubles{1}, dbr.EventValue)
	if got := h.updates(); len(got) != 0 || pv.nsubs() != 0 {
		t.Fatalf("update after clear: %x, %d subscribers", got, pv.nsubs())
	}
}

func TestCircuitRemovedPV(t *testing.T) {
	h := newHarness(t, Config{})
	prelude(h)
	h.send(wire.AppendEventAdd(nil, 6, 1, sidAI, 5, 1))
	h.c.pvRemoved("T:AI", h.pvs["T:AI"])
	if got, want := h.take(), hexBytes("001b 0000 0000 0000 00000001 00000000"); !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
	if h.pvs["T:AI"].nsubs() != 0 {
		t.Fatal("subscription not cancelled")
	}
	if _, err := h.send(mkHdr(wire.CmdReadNotify, 0, 6, 1, sidAI, 7)); err == nil {
		t.Fatal("removed channel still answers")
	}
}

func TestCircuitManyChannels(t *testing.T) {
	h := newHarness(t, Config{})
	h.send(wire.AppendVersionTCP(nil, 0))
	const n = 100000
	var req []byte
	for i := range n {
		req = wire.AppendCreateChan(req, uint32(i), "T:AI")
	}
	got, err := h.send(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n*32 || h.c.nchans != n {
		t.Fatalf("%d bytes, %d channels", len(got), h.c.nchans)
	}
	// sids must be distinct.
	seen := make(map[uint32]bool, n)
	for i := 0; i < len(got); i += 32 {
		sid := uint32(got[i+28])<<24 | uint32(got[i+29])<<16 | uint32(got[i+30])<<8 | uint32(got[i+31])
		if seen[sid] {
			t.Fatalf("duplicate sid %d", sid)
		}
		seen[sid] = true
	}
}

// sids are dense per circuit: a cleared channel's sid is reused, a live
// one never is, and an id past the table is unknown.
func TestCircuitSIDReuse(t *testing.T) {
	h := newHarness(t, Config{})
	h.send(wire.AppendVersionTCP(nil, 0))
	a, b, c := h.open("T:AI", 1), h.open("T:AI", 2), h.open("T:AI", 3)
	if a != 0 || b != 1 || c != 2 {
		t.Fatalf("sids %d %d %d", a, b, c)
	}
	if _, err := h.send(wire.AppendClearChannel(nil, b, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.send(mkHdr(wire.CmdReadNotify, 0, 6, 1, b, 7)); err == nil {
		t.Fatal("cleared sid still answers")
	}
	h = newHarness(t, Config{})
	h.send(wire.AppendVersionTCP(nil, 0))
	a, b, c = h.open("T:AI", 1), h.open("T:AI", 2), h.open("T:AI", 3)
	h.send(wire.AppendClearChannel(nil, b, 2))
	if d := h.open("T:WF", 4); d != b {
		t.Fatalf("sid %d, want the freed %d", d, b)
	}
	if e := h.open("T:WF", 5); e == a || e == b || e == c {
		t.Fatalf("sid %d is in use", e)
	}
	if h.c.nchans != 4 {
		t.Fatalf("%d channels", h.c.nchans)
	}
	for _, sid := range []uint32{5, 0xFFFFFFFF, 1 << 31} {
		if _, err := h.send(mkHdr(wire.CmdReadNotify, 0, 6, 1, sid, 7)); err == nil {
			t.Fatalf("unknown sid %#x answers", sid)
		}
	}
}

// Subscription ids are the client's: the whole 32-bit space works, and
// EVENT_CANCEL must name the channel the subscription belongs to.
func TestCircuitSubscriptionIDs(t *testing.T) {
	h := newHarness(t, Config{})
	prelude(h)
	ids := []uint32{0, 0xFFFFFFFF, 1 << 31, 12345}
	for _, id := range ids {
		out, err := h.send(wire.AppendEventAdd(nil, 6, 1, sidAI, id, 1))
		if err != nil || len(out) != 16+8 || binary.BigEndian.Uint32(out[12:]) != id {
			t.Fatalf("EVENT_ADD %#x: %x, %v", id, out, err)
		}
	}
	if _, err := h.send(wire.AppendEventCancel(nil, 6, 1, sidWF, 0xFFFFFFFF)); err == nil {
		t.Fatal("EVENT_CANCEL on the wrong channel accepted")
	}
	h = newHarness(t, Config{})
	prelude(h)
	for _, id := range ids {
		h.send(wire.AppendEventAdd(nil, 6, 1, sidAI, id, 1))
	}
	for _, id := range ids {
		out, err := h.send(wire.AppendEventCancel(nil, 6, 1, sidAI, id))
		if err != nil || len(out) != 16 || binary.BigEndian.Uint32(out[12:]) != id {
			t.Fatalf("EVENT_CANCEL %#x: %x, %v", id, out, err)
		}
	}
	if len(h.c.subs) != 0 || len(h.c.chans[sidAI].subs) != 0 || h.pvs["T:AI"].nsubs() != 0 {
		t.Fatal("subscriptions left")
	}
}

func TestCloseReasonString(t *testing.T) {
	for r := range numCloseReasons {
		if s := r.String(); s == "" || strings.HasPrefix(s, "CloseReason(") {
			t.Errorf("%d: %q", r, s)
		}
	}
	if s := numCloseReasons.String(); !strings.HasPrefix(s, "CloseReason(") {
		t.Errorf("got %q", s)
	}
}

// trim shortens a byte string for a failure message.
func trimForLog(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
