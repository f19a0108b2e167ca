package ca

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cabridge/cabridge/ca/internal/wire"
)

func TestSearchResponder(t *testing.T) {
	known := map[string]bool{"T:AI": true, "T:WF": true}
	found := func(n []byte) bool { return known[string(n)] }
	reply := func(cid uint32) []byte { return wire.AppendSearchReplyUDP(nil, 5064, cid) }
	ver := func(seq uint32) []byte { return wire.AppendVersionUDP(nil, seq) }
	var many []byte
	many = wire.AppendVersionUDP(many, 9)
	var manyWant [][]byte
	for i := range 100 {
		many = wire.AppendSearch(many, uint32(i), "T:AI")
		if i%42 == 0 {
			manyWant = append(manyWant, ver(9))
		}
		manyWant[len(manyWant)-1] = append(manyWant[len(manyWant)-1], reply(uint32(i))...)
	}
	search := wire.AppendSearch(nil, 1, "T:AI")
	tests := []struct {
		name string
		req  []byte
		ok   bool
		want [][]byte
	}{
		{"batched with sequence echo", joinBytes(ver(7), search, wire.AppendSearch(nil, 2, "NOPE"), wire.AppendSearch(nil, 3, "T:WF")),
			true, [][]byte{joinBytes(ver(7), reply(1), reply(3))}},
		{"golden bytes", joinBytes(ver(0x01020304), search), true, [][]byte{hexBytes(`
			0000 0000 0001 000d 01020304 00000000
			0006 0008 13c8 0000 ffffffff 00000001 000d000000000000`)}},
		{"no version: no prefix", search, true, [][]byte{reply(1)}},
		{"old client: no prefix", joinBytes(mkHdr(wire.CmdVersion, 0, 0, 10, 0, 0), search), true, [][]byte{reply(1)}},
		{"DOREPLY for an unknown name: nothing", joinBytes(ver(1), wire.AppendSearchFlag(nil, wire.DoReply, 4, "NOPE")), true, nil},
		{"empty name ignored", joinBytes(ver(1), wire.AppendSearch(nil, 4, "")), true, nil},
		{"split at 1024 bytes", many, true, manyWant},
		{"truncated datagram", joinBytes(ver(1), search[:20]), false, nil},
		{"misaligned", joinBytes(ver(1), mkHdr(wire.CmdSearch, 5, 5, 13, 1, 1), []byte("T:AI\x00")), false, nil},
		{"other command", joinBytes(ver(1), search, mkHdr(wire.CmdEcho, 0, 0, 0, 0, 0)), false, nil},
	}
	r := searchResponder{port: 5064}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok := r.respond(tc.req, found)
			var got [][]byte
			r.datagrams(func(b []byte) { got = append(got, bytes.Clone(b)) })
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d datagrams, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if len(got[i]) > wire.MaxUDPSend {
					t.Errorf("datagram %d: %d bytes", i, len(got[i]))
				}
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("datagram %d:\n got %x\nwant %x", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSearchResponderNoAlloc(t *testing.T) {
	if srvRaceEnabled {
		t.Skip("allocations are counted differently under -race")
	}
	m, _ := testDirectory()
	s := &Server{Directory: m}
	r := searchResponder{port: 5064}
	req := wire.AppendVersionUDP(nil, 1)
	for i := range 20 {
		req = wire.AppendSearch(req, uint32(i), fmt.Sprintf("NOPE:%d", i))
	}
	req = wire.AppendSearch(req, 99, "T:AI")
	found := s.found
	r.respond(req, found)
	if n := testing.AllocsPerRun(100, func() { r.respond(req, found) }); n != 0 {
		t.Fatalf("%v allocations per datagram", n)
	}
}
