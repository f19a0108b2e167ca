package modbustest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// dial connects to s with a 5 s deadline on every I/O.
func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// mbap frames a request PDU.
func mbap(tid uint16, unit byte, pdu ...byte) []byte {
	return frame(MBAP, tid, unit, pdu)
}

// exchange sends req and reads n bytes back.
func exchange(t *testing.T, c net.Conn, req []byte, n int) []byte {
	t.Helper()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reply to % x: %v", req, err)
	}
	return buf
}

func TestServerTablesAndCounts(t *testing.T) {
	s := NewServer(t, Options{Units: []byte{1, 2}})
	s.Set(1, HoldingRegisters, 10, 0x1234, 0x5678)
	s.Set(2, Coils, 3, 1)
	s.SetException(1, InputRegisters, 7, 4)
	c := dial(t, s)
	tests := []struct {
		name string
		req  []byte
		want []byte
	}{
		{"fc3", mbap(1, 1, 3, 0, 10, 0, 2), mbap(1, 1, 3, 4, 0x12, 0x34, 0x56, 0x78)},
		{"fc1 other unit", mbap(2, 2, 1, 0, 0, 0, 8), mbap(2, 2, 1, 1, 0x08)},
		{"fc6", mbap(3, 1, 6, 0, 11, 0xAB, 0xCD), mbap(3, 1, 6, 0, 11, 0xAB, 0xCD)},
		{"fc4 exception", mbap(4, 1, 4, 0, 5, 0, 4), mbap(4, 1, 0x84, 4)},
		{"fc3 past the end", mbap(5, 1, 3, 0xFF, 0xFF, 0, 2), mbap(5, 1, 0x83, 2)},
		{"unknown function", mbap(6, 1, 43, 14, 1, 0, 0), mbap(6, 1, 0x80|43, 1)},
		{"fc22", mbap(7, 1, 22, 0, 10, 0xFF, 0x00, 0x00, 0x01), mbap(7, 1, 22, 0, 10, 0xFF, 0x00, 0x00, 0x01)},
	}
	for _, tc := range tests {
		if got := exchange(t, c, tc.req, len(tc.want)); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, got, tc.want)
		}
	}
	if v := s.Get(1, HoldingRegisters, 11); v != 0xABCD {
		t.Errorf("hr:11 = %#x after FC6", v)
	}
	if v := s.Get(1, HoldingRegisters, 10); v != 0x1201 {
		t.Errorf("hr:10 = %#x after FC22", v)
	}
	if s.Requests(3) != 2 || s.Requests(6) != 1 || s.Total() != len(tests) || s.UnitRequests(2) != 1 {
		t.Errorf("counts: fc3 %d, fc6 %d, total %d, unit 2 %d", s.Requests(3), s.Requests(6), s.Total(), s.UnitRequests(2))
	}
}

func TestServerFaults(t *testing.T) {
	s := NewServer(t, Options{Units: []byte{1, 2}})
	c := dial(t, s)
	req := mbap(1, 1, 3, 0, 0, 0, 1)
	full := len(mbap(1, 1, 3, 2, 0, 0))

	s.SetFault(1, Fault{Garbage: []byte("junk")})
	if got := exchange(t, c, req, 4); string(got) != "junk" {
		t.Errorf("garbage: %q", got)
	}
	s.SetFault(1, Fault{Short: 1})
	if got := exchange(t, c, req, full-1); got[7] != 3 {
		t.Errorf("short: % x", got)
	}
	// Unit 3 is not served and unit 1 drops its requests: no answer;
	// unit 2 still answers on the same connection, and in order.
	s.SetFault(1, Fault{NoAnswer: true})
	if _, err := c.Write(append(mbap(2, 3, 3, 0, 0, 0, 1), mbap(3, 1, 3, 0, 0, 0, 1)...)); err != nil {
		t.Fatal(err)
	}
	if got := exchange(t, c, mbap(4, 2, 3, 0, 0, 0, 1), full); binary.BigEndian.Uint16(got) != 4 {
		t.Errorf("answer after ignored requests: % x", got)
	}
	s.SetFault(1, Fault{Delay: 50 * time.Millisecond})
	start := time.Now()
	exchange(t, c, req, full)
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("delayed answer came after %v", el)
	}
	s.SetFault(1, Fault{Hangup: true})
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("hangup: read = %v, want EOF", err)
	}
	s.SetFault(1, Fault{})

	s.SetReplyHook(func(n int, unit byte, reply []byte) [][]byte { return [][]byte{reply[:3], reply[3:]} })
	c2 := dial(t, s)
	if got := exchange(t, c2, req, full); got[7] != 3 {
		t.Errorf("split reply: % x", got)
	}
	s.SetReplyHook(nil)

	s.Stop()
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("dial after Stop succeeded")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	c3 := dial(t, s)
	exchange(t, c3, req, full)
	if n := s.Accepted(); n != 3 {
		t.Errorf("accepted %d connections, want 3", n)
	}
	s.KillConnections()
	if _, err := c3.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("after KillConnections: read = %v, want EOF", err)
	}
}

func TestServerRTU(t *testing.T) {
	s := NewServer(t, Options{Framing: RTU, Units: []byte{9}})
	s.Set(9, HoldingRegisters, 0, 7, 8)
	c := dial(t, s)
	write := frame(RTU, 0, 9, []byte{16, 0, 2, 0, 1, 2, 0xBE, 0xEF})
	if got, want := exchange(t, c, write, 8), frame(RTU, 0, 9, []byte{16, 0, 2, 0, 1}); !bytes.Equal(got, want) {
		t.Errorf("fc16: % x, want % x", got, want)
	}
	read := frame(RTU, 0, 9, []byte{3, 0, 0, 0, 3})
	if got, want := exchange(t, c, read, 11), frame(RTU, 0, 9, []byte{3, 6, 0, 7, 0, 8, 0xBE, 0xEF}); !bytes.Equal(got, want) {
		t.Errorf("fc3: % x, want % x", got, want)
	}
	bad := frame(RTU, 0, 9, []byte{3, 0, 0, 0, 1})
	bad[len(bad)-1] ^= 0xFF
	if _, err := c.Write(bad); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("bad CRC: read = %v, want the connection closed", err)
	}
}

// FuzzReadRequest: any bytes give a request whose PDU the tables can
// process, or an error; never a panic.
func FuzzReadRequest(f *testing.F) {
	f.Add(mbap(1, 1, 3, 0, 0, 0, 1), false)
	f.Add(mbap(1, 1, 16, 0, 0, 0, 1, 2, 0, 5), false)
	f.Add(mbap(1, 1, 15, 0, 0, 0, 200, 1, 0), false)
	f.Add([]byte{0, 1, 0, 0, 0, 1, 1}, false)
	f.Add(frame(RTU, 0, 1, []byte{3, 0, 0, 0, 1}), true)
	f.Add(frame(RTU, 0, 1, []byte{16, 0, 0, 0, 1, 2, 0, 5}), true)
	f.Add(frame(RTU, 0, 1, []byte{22, 0, 0, 0xFF, 0, 0, 1}), true)
	f.Fuzz(func(t *testing.T, data []byte, rtu bool) {
		fr := MBAP
		if rtu {
			fr = RTU
		}
		_, pdu, _, err := readRequest(bytes.NewReader(data), fr)
		if err != nil {
			return
		}
		if len(pdu) == 0 {
			t.Fatalf("empty PDU from % x", data)
		}
		d := newUnit()
		if resp := process(d, pdu); len(resp) < 2 || resp[0]|0x80 != pdu[0]|0x80 {
			t.Fatalf("reply % x to PDU % x", resp, pdu)
		}
	})
}
