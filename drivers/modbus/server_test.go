package modbus

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// testServer is a tiny in-process Modbus server over TCP, with MBAP or
// RTU framing, for the device and transport tests.
type testServer struct {
	t       testing.TB
	framing Framing

	mu       sync.Mutex
	regs     map[Table][]uint16 // registers of hr and ir; coils and di as 0/1
	bad      map[Table]map[int]bool
	requests int
	// onWire, when set, chooses the bytes sent for request n (1-based)
	// whose normal reply is reply; nil sends nothing.
	onWire func(n int, reply []byte) [][]byte
	ln     net.Listener
	addr   string
	conns  map[net.Conn]bool

	wg sync.WaitGroup
}

// newTestServer starts a server on 127.0.0.1 and stops it at cleanup.
func newTestServer(t testing.TB, f Framing) *testServer {
	t.Helper()
	s := &testServer{t: t, framing: f, regs: map[Table][]uint16{}, bad: map[Table]map[int]bool{}, conns: map[net.Conn]bool{}}
	for tb := Coil; tb <= HoldingRegister; tb++ {
		s.regs[tb] = make([]uint16, AddressSpace)
		s.bad[tb] = map[int]bool{}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.handle(c)
			}()
		}
	}()
}

// disconnect closes the listener and every connection.
func (s *testServer) disconnect() {
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		_ = c.Close()
		delete(s.conns, c)
	}
	s.mu.Unlock()
}

// reconnect listens again on the same address.
func (s *testServer) reconnect() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

func (s *testServer) stop() {
	s.disconnect()
	s.wg.Wait()
}

// set sets register (or bit) a of table tb.
func (s *testServer) set(tb Table, a int, v uint16) {
	s.mu.Lock()
	s.regs[tb][a] = v
	s.mu.Unlock()
}

// get returns register (or bit) a of table tb.
func (s *testServer) get(tb Table, a int) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.regs[tb][a]
}

// refuse makes reads and writes touching address a of tb fail with
// ILLEGAL DATA ADDRESS.
func (s *testServer) refuse(tb Table, a int) {
	s.mu.Lock()
	s.bad[tb][a] = true
	s.mu.Unlock()
}

// count returns the number of requests received.
func (s *testServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// setWire installs an onWire hook.
func (s *testServer) setWire(f func(n int, reply []byte) [][]byte) {
	s.mu.Lock()
	s.onWire = f
	s.mu.Unlock()
}

func (s *testServer) handle(c net.Conn) {
	defer func() { _ = c.Close() }()
	for {
		unit, pdu, hdr, err := s.readRequest(c)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.requests++
		n := s.requests
		resp := s.process(pdu)
		hook := s.onWire
		s.mu.Unlock()
		reply := s.frame(hdr, unit, resp)
		chunks := [][]byte{reply}
		if hook != nil {
			chunks = hook(n, reply)
		}
		for _, ch := range chunks {
			if _, err := c.Write(ch); err != nil {
				return
			}
		}
	}
}

// readRequest reads one request frame.
func (s *testServer) readRequest(c net.Conn) (unit byte, pdu []byte, tid uint16, err error) {
	if s.framing == FramingMBAP {
		var h [7]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return 0, nil, 0, err
		}
		l := int(binary.BigEndian.Uint16(h[4:]))
		if l < 2 || l > 254 {
			return 0, nil, 0, errors.New("bad length")
		}
		pdu = make([]byte, l-1)
		if _, err := io.ReadFull(c, pdu); err != nil {
			return 0, nil, 0, err
		}
		return h[6], pdu, binary.BigEndian.Uint16(h[:]), nil
	}
	var h [6]byte // unit, function, 4 bytes
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return 0, nil, 0, err
	}
	rest := 2 // CRC
	if fc := h[1]; fc == 15 || fc == 16 {
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return 0, nil, 0, err
		}
		rest += 1 + int(n[0])
		buf := make([]byte, rest-1)
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, nil, 0, err
		}
		frame := append(append(h[:], n[0]), buf...)
		return h[0], frame[1 : len(frame)-2], 0, nil
	} else if fc == 22 {
		rest += 2
	}
	buf := make([]byte, rest)
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, nil, 0, err
	}
	frame := append(h[:], buf...)
	if crc16(frame[:len(frame)-2]) != binary.LittleEndian.Uint16(frame[len(frame)-2:]) {
		return 0, nil, 0, errors.New("bad crc")
	}
	return h[0], frame[1 : len(frame)-2], 0, nil
}

// frame wraps a reply PDU.
func (s *testServer) frame(tid uint16, unit byte, pdu []byte) []byte {
	if s.framing == FramingMBAP {
		b := binary.BigEndian.AppendUint16(nil, tid)
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(len(pdu)+1))
		b = append(b, unit)
		return append(b, pdu...)
	}
	b := append([]byte{unit}, pdu...)
	return binary.LittleEndian.AppendUint16(b, crc16(b))
}

// process executes a request PDU against the tables; s.mu is held.
func (s *testServer) process(pdu []byte) []byte {
	fc := pdu[0]
	exc := func(code byte) []byte { return []byte{fc | 0x80, code} }
	if len(pdu) < 5 {
		return exc(3)
	}
	addr := int(binary.BigEndian.Uint16(pdu[1:]))
	qty := int(binary.BigEndian.Uint16(pdu[3:]))
	check := func(tb Table, n int) bool {
		if addr+n > AddressSpace {
			return false
		}
		for a := addr; a < addr+n; a++ {
			if s.bad[tb][a] {
				return false
			}
		}
		return true
	}
	switch fc {
	case 1, 2:
		tb := Coil
		if fc == 2 {
			tb = DiscreteInput
		}
		if !check(tb, qty) {
			return exc(2)
		}
		out := make([]byte, 2+(qty+7)/8)
		out[0], out[1] = fc, byte((qty+7)/8)
		for i := range qty {
			if s.regs[tb][addr+i] != 0 {
				out[2+i/8] |= 1 << (i % 8)
			}
		}
		return out
	case 3, 4:
		tb := HoldingRegister
		if fc == 4 {
			tb = InputRegister
		}
		if !check(tb, qty) {
			return exc(2)
		}
		out := []byte{fc, byte(2 * qty)}
		for i := range qty {
			out = binary.BigEndian.AppendUint16(out, s.regs[tb][addr+i])
		}
		return out
	case 5:
		if !check(Coil, 1) {
			return exc(2)
		}
		s.regs[Coil][addr] = 0
		if qty == 0xFF00 {
			s.regs[Coil][addr] = 1
		}
		return pdu[:5]
	case 6:
		if !check(HoldingRegister, 1) {
			return exc(2)
		}
		s.regs[HoldingRegister][addr] = uint16(qty)
		return pdu[:5]
	case 15:
		if !check(Coil, qty) {
			return exc(2)
		}
		for i := range qty {
			s.regs[Coil][addr+i] = uint16(pdu[6+i/8] >> (i % 8) & 1)
		}
		return pdu[:5]
	case 16:
		if !check(HoldingRegister, qty) {
			return exc(2)
		}
		for i := range qty {
			s.regs[HoldingRegister][addr+i] = binary.BigEndian.Uint16(pdu[6+2*i:])
		}
		return pdu[:5]
	case 22:
		if !check(HoldingRegister, 1) || len(pdu) < 7 {
			return exc(2)
		}
		and, or := uint16(qty), binary.BigEndian.Uint16(pdu[5:])
		cur := s.regs[HoldingRegister][addr]
		s.regs[HoldingRegister][addr] = cur&and | or&^and
		return pdu[:7]
	}
	return exc(1)
}
