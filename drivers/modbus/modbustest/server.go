// Package modbustest provides an in-process Modbus server for tests and
// benchmarks: Modbus TCP (MBAP framing) or RTU over TCP on 127.0.0.1,
// with coils, discrete inputs, holding and input registers per unit id,
// request counts per function code, and fault injection (delays, no
// answer, late answers, garbage, short frames, exceptions for chosen
// addresses, killed connections and a refusing listener to play a PLC
// that restarts).
//
//	s := modbustest.NewServer(t, modbustest.Options{Units: []byte{1, 2}})
//	s.Set(1, modbustest.HoldingRegisters, 100, 42)
//	// point a Modbus client at s.Addr()
//
// A request for a unit id the server does not serve gets no answer, as
// from a gateway whose unit is absent. A Server is safe for concurrent
// use; Close stops it and waits for its goroutines.
package modbustest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers/internal/crc"
)

// Table is one of the four Modbus tables.
type Table uint8

// The tables.
const (
	Coils            Table = iota // FC1 read, FC5/FC15 write
	DiscreteInputs                // FC2 read
	HoldingRegisters              // FC3 read, FC6/FC16/FC22 write
	InputRegisters                // FC4 read
	numTables
)

// String returns the table's short name (coil, di, hr, ir).
func (t Table) String() string {
	switch t {
	case Coils:
		return "coil"
	case DiscreteInputs:
		return "di"
	case HoldingRegisters:
		return "hr"
	case InputRegisters:
		return "ir"
	}
	return fmt.Sprintf("table(%d)", uint8(t))
}

// Framing is how the server frames requests and replies on TCP.
type Framing uint8

// The framings.
const (
	// MBAP is Modbus TCP: 7-byte header with a transaction id.
	MBAP Framing = iota
	// RTU is RTU framing (unit id, PDU, CRC) over TCP.
	RTU
)

// addressSpace is the number of addresses of each table.
const addressSpace = 65536

// Options configure a Server.
type Options struct {
	// Framing is MBAP (the default) or RTU.
	Framing Framing
	// Units are the unit ids served; nil means unit 1 only.
	Units []byte
}

// Fault changes how the server answers requests for one unit.
type Fault struct {
	// Delay is waited before the answer (longer than the client's
	// timeout, it makes a late answer).
	Delay time.Duration
	// NoAnswer drops requests without a reply.
	NoAnswer bool
	// Garbage, when set, is sent instead of the reply.
	Garbage []byte
	// Short cuts this many bytes from the end of the reply.
	Short int
	// Hangup closes the connection instead of answering.
	Hangup bool
}

// ReplyHook chooses the bytes sent for request number n (1-based, over
// all connections) whose normal reply is reply; nil sends nothing. It
// runs after any Fault of the unit.
type ReplyHook func(n int, unit byte, reply []byte) [][]byte

// unitData holds one unit's tables.
type unitData struct {
	regs  [numTables][]uint16     // bits are 0 or 1
	exc   [numTables]map[int]byte // exception code per address
	fault Fault
}

func newUnit() *unitData {
	u := &unitData{}
	for t := range numTables {
		u.regs[t] = make([]uint16, addressSpace)
		u.exc[t] = map[int]byte{}
	}
	return u
}

// Server is an in-process Modbus server on 127.0.0.1. Build it with
// NewServer or Start.
type Server struct {
	framing Framing
	addr    string
	done    chan struct{}

	mu       sync.Mutex // guards the fields below
	units    map[byte]*unitData
	counts   map[byte]int // requests per function code
	perUnit  map[byte]int // requests per unit id
	total    int
	hook     ReplyHook
	ln       net.Listener
	conns    map[net.Conn]struct{}
	accepted int
	closed   bool

	wg sync.WaitGroup
}

// NewServer starts a server and closes it when tb's test ends; it fails
// tb if it cannot listen.
func NewServer(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server on 127.0.0.1 on a free port. The caller must
// Close it.
func Start(o Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("modbustest: listen: %w", err)
	}
	s := &Server{
		framing: o.Framing, addr: ln.Addr().String(), done: make(chan struct{}),
		units: map[byte]*unitData{}, counts: map[byte]int{}, perUnit: map[byte]int{}, conns: map[net.Conn]struct{}{},
	}
	units := o.Units
	if units == nil {
		units = []byte{1}
	}
	for _, u := range units {
		s.units[u] = newUnit()
	}
	s.ln = ln
	s.wg.Go(func() { s.accept(ln) })
	return s, nil
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Close stops the server: it closes the listener and every connection
// and waits for the server's goroutines. It may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.Stop()
	s.wg.Wait()
}

// Stop closes the listener and every connection, as a PLC that goes
// down: new connections are refused until Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	s.killLocked()
}

// Restart listens again on the same address after Stop.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("modbustest: restart: server closed")
	}
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("modbustest: restart on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.wg.Go(func() { s.accept(ln) })
	return nil
}

// KillConnections closes every open connection; the listener stays.
func (s *Server) KillConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	for c := range s.conns {
		_ = c.Close()
		delete(s.conns, c)
	}
}

// Connections returns the number of open connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Accepted returns the number of connections accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// AddUnit makes the server answer for unit u (with zeroed tables).
func (s *Server) AddUnit(u byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.units[u] == nil {
		s.units[u] = newUnit()
	}
}

// RemoveUnit makes the server ignore requests for unit u.
func (s *Server) RemoveUnit(u byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.units, u)
}

// Set sets consecutive values of table t of unit u from address addr
// (bits: nonzero is on). Values past the end of the table, and units not
// served, are ignored.
func (s *Server) Set(u byte, t Table, addr int, vals ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.units[u]
	if d == nil || t >= numTables {
		return
	}
	for i, v := range vals {
		if a := addr + i; a >= 0 && a < addressSpace {
			if t == Coils || t == DiscreteInputs {
				v = min(v, 1)
			}
			d.regs[t][a] = v
		}
	}
}

// Get returns the value at address addr of table t of unit u (0 for
// units not served).
func (s *Server) Get(u byte, t Table, addr int) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.units[u]
	if d == nil || t >= numTables || addr < 0 || addr >= addressSpace {
		return 0
	}
	return d.regs[t][addr]
}

// SetException makes every request touching address addr of table t of
// unit u fail with the exception code; code 0 clears it.
func (s *Server) SetException(u byte, t Table, addr int, code byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.units[u]
	if d == nil || t >= numTables {
		return
	}
	if code == 0 {
		delete(d.exc[t], addr)
		return
	}
	d.exc[t][addr] = code
}

// SetFault sets the fault of unit u; the zero Fault clears it.
func (s *Server) SetFault(u byte, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.units[u]; d != nil {
		d.fault = f
	}
}

// SetReplyHook installs h (nil removes it).
func (s *Server) SetReplyHook(h ReplyHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// Requests returns the number of requests seen with function code fc,
// answered or not.
func (s *Server) Requests(fc byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[fc]
}

// UnitRequests returns the number of requests seen for unit u, served
// or not.
func (s *Server) UnitRequests(u byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perUnit[u]
}

// Total returns the number of requests seen.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *Server) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed || s.ln != ln {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.accepted++
		s.mu.Unlock()
		s.wg.Go(func() { s.handle(c) })
	}
}

func (s *Server) handle(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	for {
		unit, pdu, tid, err := readRequest(c, s.framing)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.total++
		n := s.total
		s.counts[pdu[0]]++
		s.perUnit[unit]++
		d := s.units[unit]
		var (
			resp  []byte
			fault Fault
		)
		if d != nil {
			resp = process(d, pdu)
			fault = d.fault
		}
		hook := s.hook
		s.mu.Unlock()
		if d == nil || fault.NoAnswer {
			continue
		}
		if fault.Delay > 0 {
			tm := time.NewTimer(fault.Delay)
			select {
			case <-tm.C:
			case <-s.done:
				tm.Stop()
				return
			}
		}
		if fault.Hangup {
			return
		}
		reply := frame(s.framing, tid, unit, resp)
		if fault.Garbage != nil {
			reply = fault.Garbage
		} else if fault.Short > 0 {
			reply = reply[:max(0, len(reply)-fault.Short)]
		}
		chunks := [][]byte{reply}
		if hook != nil {
			chunks = hook(n, unit, reply)
		}
		for _, ch := range chunks {
			if _, err := c.Write(ch); err != nil {
				return
			}
		}
	}
}

// readRequest reads one request frame and returns its unit, PDU and
// transaction id (0 for RTU).
func readRequest(c io.Reader, f Framing) (unit byte, pdu []byte, tid uint16, err error) {
	if f == MBAP {
		var h [7]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return 0, nil, 0, err
		}
		l := int(binary.BigEndian.Uint16(h[4:]))
		if l < 2 || l > 254 || binary.BigEndian.Uint16(h[2:]) != 0 {
			return 0, nil, 0, errors.New("modbustest: bad MBAP header")
		}
		pdu = make([]byte, l-1)
		if _, err := io.ReadFull(c, pdu); err != nil {
			return 0, nil, 0, err
		}
		return h[6], pdu, binary.BigEndian.Uint16(h[:]), nil
	}
	frame, err := ReadRTURequest(c)
	if err != nil {
		return 0, nil, 0, err
	}
	return frame[0], frame[1 : len(frame)-2], 0, nil
}

// ReadRTURequest reads one RTU request frame (unit id, PDU, CRC) of a
// read or write function code from r and checks its CRC.
func ReadRTURequest(r io.Reader) ([]byte, error) {
	frame := make([]byte, 6, 16) // unit, function, 4 bytes
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	rest := 2 // CRC
	switch frame[1] {
	case 1, 2, 3, 4, 5, 6:
	case 15, 16:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, err
		}
		frame = append(frame, n[0])
		rest += int(n[0])
	case 22:
		rest += 2
	default:
		return nil, fmt.Errorf("modbustest: RTU function %d not supported", frame[1])
	}
	frame = append(frame, make([]byte, rest)...)
	if _, err := io.ReadFull(r, frame[len(frame)-rest:]); err != nil {
		return nil, err
	}
	if crc.Modbus(frame[:len(frame)-2]) != binary.LittleEndian.Uint16(frame[len(frame)-2:]) {
		return nil, errors.New("modbustest: bad CRC")
	}
	return frame, nil
}

// frame wraps a reply PDU.
func frame(f Framing, tid uint16, unit byte, pdu []byte) []byte {
	if f == MBAP {
		b := binary.BigEndian.AppendUint16(make([]byte, 0, 7+len(pdu)), tid)
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(len(pdu)+1))
		b = append(b, unit)
		return append(b, pdu...)
	}
	b := append([]byte{unit}, pdu...)
	return binary.LittleEndian.AppendUint16(b, crc.Modbus(b))
}

// process executes a request PDU against d; the server's lock is held.
func process(d *unitData, pdu []byte) []byte {
	fc := pdu[0]
	exc := func(code byte) []byte { return []byte{fc | 0x80, code} }
	if len(pdu) < 5 {
		return exc(3)
	}
	addr := int(binary.BigEndian.Uint16(pdu[1:]))
	qty := int(binary.BigEndian.Uint16(pdu[3:]))
	check := func(t Table, n int) byte {
		if n < 1 || addr+n > addressSpace {
			return 2
		}
		if len(d.exc[t]) == 0 {
			return 0
		}
		for a := addr; a < addr+n; a++ {
			if c := d.exc[t][a]; c != 0 {
				return c
			}
		}
		return 0
	}
	switch fc {
	case 1, 2:
		t := Coils
		if fc == 2 {
			t = DiscreteInputs
		}
		if qty > 2000 {
			return exc(3)
		}
		if c := check(t, qty); c != 0 {
			return exc(c)
		}
		out := make([]byte, 2+(qty+7)/8)
		out[0], out[1] = fc, byte((qty+7)/8)
		for i := range qty {
			if d.regs[t][addr+i] != 0 {
				out[2+i/8] |= 1 << (i % 8)
			}
		}
		return out
	case 3, 4:
		t := HoldingRegisters
		if fc == 4 {
			t = InputRegisters
		}
		if qty > 125 {
			return exc(3)
		}
		if c := check(t, qty); c != 0 {
			return exc(c)
		}
		out := make([]byte, 2, 2+2*qty)
		out[0], out[1] = fc, byte(2*qty)
		for i := range qty {
			out = binary.BigEndian.AppendUint16(out, d.regs[t][addr+i])
		}
		return out
	case 5:
		if c := check(Coils, 1); c != 0 {
			return exc(c)
		}
		switch qty {
		case 0xFF00:
			d.regs[Coils][addr] = 1
		case 0:
			d.regs[Coils][addr] = 0
		default:
			return exc(3)
		}
		return pdu[:5]
	case 6:
		if c := check(HoldingRegisters, 1); c != 0 {
			return exc(c)
		}
		d.regs[HoldingRegisters][addr] = uint16(qty)
		return pdu[:5]
	case 15:
		if len(pdu) < 6 || len(pdu) < 6+(qty+7)/8 {
			return exc(3)
		}
		if c := check(Coils, qty); c != 0 {
			return exc(c)
		}
		for i := range qty {
			d.regs[Coils][addr+i] = uint16(pdu[6+i/8] >> (i % 8) & 1)
		}
		return pdu[:5]
	case 16:
		if len(pdu) < 6+2*qty {
			return exc(3)
		}
		if c := check(HoldingRegisters, qty); c != 0 {
			return exc(c)
		}
		for i := range qty {
			d.regs[HoldingRegisters][addr+i] = binary.BigEndian.Uint16(pdu[6+2*i:])
		}
		return pdu[:5]
	case 22:
		if len(pdu) < 7 {
			return exc(3)
		}
		if c := check(HoldingRegisters, 1); c != 0 {
			return exc(c)
		}
		and, or := uint16(qty), binary.BigEndian.Uint16(pdu[5:])
		cur := d.regs[HoldingRegisters][addr]
		d.regs[HoldingRegisters][addr] = cur&and | or&^and
		return pdu[:7]
	}
	return exc(1)
}
