package ca

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// libcaAccepts lists the commands libca accepts from a server on TCP; any
// other code makes it drop the circuit (reference §2.1).
func libcaAccepts(c wire.Command) bool {
	switch c {
	case wire.CmdVersion, wire.CmdEventAdd, wire.CmdRead, wire.CmdSearch, wire.CmdReadSync, wire.CmdError,
		wire.CmdClearChannel, wire.CmdReadNotify, wire.CmdCreateChan, wire.CmdWriteNotify, wire.CmdAccessRights,
		wire.CmdEcho, wire.CmdCreateChFail, wire.CmdServerDisconn:
		return true
	}
	return false
}

// checkReplies fails t unless out is a sequence of complete, aligned
// messages that libca accepts.
func checkReplies(t *testing.T, out []byte) {
	t.Helper()
	for len(out) > 0 {
		m, n, err := wire.Next(out, 0)
		if err != nil {
			t.Fatalf("server output does not parse: %v (% x)", err, out[:min(len(out), 48)])
		}
		if !libcaAccepts(m.Command) {
			t.Fatalf("server sent %v, which libca rejects", m.Command)
		}
		if m.Command == wire.CmdReadNotify || (m.Command == wire.CmdEventAdd && m.PayloadSize > 0) {
			t := dbr.Type(m.DataType)
			if !t.Valid() || int(m.PayloadSize) < dbr.DataSize(t, int(m.DataCount)) {
				panic("reply payload shorter than its type and count: " + t.String())
			}
		}
		out = out[n:]
	}
}

// circuitSeeds are request streams that reach the handlers: the prelude's
// channels exist, so sids 0..5 are valid.
func circuitSeeds() [][]byte {
	ev := wire.AppendEventAdd(nil, uint16(dbr.TimeDouble), 0, sidWF, 9, uint16(dbr.EventValue|dbr.EventAlarm))
	return [][]byte{
		wire.AppendReadNotify(nil, uint16(dbr.CtrlDouble), 1, sidAI, 1),
		wire.AppendReadNotify(nil, uint16(dbr.TimeDouble), 0, sidBIG, 2),
		wire.AppendReadNotify(nil, uint16(dbr.StsAckString), 1, sidSTR, 3),
		joinBytes(ev, wire.AppendEventCancel(nil, uint16(dbr.TimeDouble), 0, sidWF, 9)),
		mkMsg(wire.CmdWriteNotify, uint16(dbr.String), 1, sidAI, 4, []byte("1.5\x00")),
		mkMsg(wire.CmdWrite, uint16(dbr.Double), 3, sidWF, cidWF, joinBytes(beF64(1), beF64(2), beF64(3))),
		mkMsg(wire.CmdWriteNotify, uint16(dbr.PutAckT), 1, sidAI, 5, []byte{0, 1}),
		wire.AppendClearChannel(nil, sidRO, cidRO),
		wire.AppendSearch(nil, 7, "T:AI"),
		wire.AppendEcho(nil),
		mkHdr(wire.CmdEventsOff, 0, 0, 0, 0, 0),
		joinBytes(mkHdr(wire.CmdEcho, 4, 0, 0, 0, 0), []byte{1, 2, 3, 4}),
		{0, 1, 0xff, 0xff, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x10, 0, 0, 0, 1},
	}
}

// FuzzCircuit feeds arbitrary bytes after a valid prelude to one circuit's
// protocol layer, in chunks whose sizes the fuzzer picks. The circuit must
// never panic, must either consume the stream or close with a protocol
// error, and everything it sends must be well-formed CA that libca accepts.
func FuzzCircuit(f *testing.F) {
	for _, s := range circuitSeeds() {
		f.Add([]byte{16, 3, 200}, s)
	}
	f.Fuzz(func(t *testing.T, chunks, data []byte) {
		if len(data) > 1<<15 {
			return
		}
		h := newHarness(t, Config{MaxArrayBytes: 1 << 20})
		prelude(h)
		var buf []byte
		r, ci := 0, 0
		var skip int64
		for len(data) > 0 {
			n := len(data)
			if len(chunks) > 0 {
				n = min(n, int(chunks[ci%len(chunks)])+1)
				ci++
			}
			in := data[:n]
			data = data[n:]
			if skip > 0 {
				k := min(skip, int64(len(in)))
				in, skip = in[k:], skip-k
			}
			buf = append(buf[:copy(buf, buf[r:])], in...)
			r = 0
			nr, sk, err := h.c.process(buf, r, len(buf))
			checkReplies(t, h.take())
			checkReplies(t, h.runOps())
			checkReplies(t, h.updates())
			if err != nil {
				var ce *closeError
				if !errors.As(err, &ce) {
					t.Fatalf("close error of type %T: %v", err, err)
				}
				return
			}
			if int64(len(buf)-nr) >= sk {
				r = nr + int(sk)
			} else {
				skip = sk - int64(len(buf)-nr)
				r = len(buf)
			}
		}
	})
}

// FuzzSearchDatagram feeds arbitrary datagrams to the UDP search
// responder. It must never panic; when it answers, each reply datagram is
// at most 1024 bytes, opens with the request's VERSION sequence number if
// the request had one, and holds exactly one reply per SEARCH of a known
// name, with that search's cid.
func FuzzSearchDatagram(f *testing.F) {
	f.Add(joinBytes(wire.AppendVersionUDP(nil, 42), wire.AppendSearch(nil, 1, "T:AI"), wire.AppendSearch(nil, 2, "NOPE")))
	f.Add(wire.AppendSearch(nil, 3, "T:WF"))
	f.Add([]byte{0, 6, 0, 8, 0, 5, 0, 13, 0, 0, 0, 1, 0, 0, 0, 1, 'T', ':', 'A', 'I', 0, 0, 0, 0})
	known := map[string]bool{"T:AI": true, "T:WF": true}
	f.Fuzz(func(t *testing.T, req []byte) {
		r := searchResponder{port: 5064}
		ok := r.respond(req, func(name []byte) bool { return known[string(name)] })
		// The cids of the searches for known names, in order.
		var want []uint32
		var seq uint32
		hasSeq := false
		for i, rest := 0, req; len(rest) > 0; i++ {
			m, n, err := wire.Next(rest, 0)
			if err != nil {
				if ok {
					t.Fatalf("answered a datagram that does not parse: %v", err)
				}
				return
			}
			rest = rest[n:]
			if i == 0 && m.Command == wire.CmdVersion && m.DataCount >= 11 {
				hasSeq = true
				if m.DataType == wire.SequenceNoIsValid {
					seq = m.Param1
				}
			}
			if m.Command == wire.CmdSearch && known[string(nameBytes(m.Payload))] {
				want = append(want, m.Param1)
			}
		}
		if !ok {
			return
		}
		var got []uint32
		r.datagrams(func(d []byte) {
			if len(d) > wire.MaxUDPSend {
				t.Fatalf("reply datagram of %d bytes", len(d))
			}
			for i := 0; len(d) > 0; i++ {
				m, n, err := wire.Next(d, 0)
				if err != nil {
					t.Fatalf("reply does not parse: %v", err)
				}
				d = d[n:]
				switch {
				case i == 0 && hasSeq:
					if m.Command != wire.CmdVersion || m.Param1 != seq {
						t.Fatalf("reply opens with %v p1=%d, want VERSION with sequence %d", m.Command, m.Param1, seq)
					}
				case m.Command == wire.CmdSearch:
					if m.DataType != 5064 || len(m.Payload) != 8 || binary.BigEndian.Uint16(m.Payload) != wire.MinorVersion {
						t.Fatalf("bad search reply %+v % x", m.Header, m.Payload)
					}
					got = append(got, m.Param2)
				default:
					t.Fatalf("unexpected %v in a search reply", m.Command)
				}
			}
		})
		if len(got) != len(want) {
			t.Fatalf("%d replies for %d known names", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("reply %d has cid %d, want %d", i, got[i], want[i])
			}
		}
	})
}
