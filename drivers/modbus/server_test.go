package modbus

import (
	"testing"

	"github.com/cabridge/cabridge/drivers/modbus/modbustest"
)

// testServer is a modbustest.Server serving unit 1, with helpers in this
// package's types for the device and transport tests.
type testServer struct {
	*modbustest.Server
	t       testing.TB
	framing Framing
	addr    string
	unit    byte // the unit the helpers act on
}

// newTestServer starts a server on 127.0.0.1 and stops it at cleanup.
func newTestServer(t testing.TB, f Framing) *testServer {
	t.Helper()
	o := modbustest.Options{Framing: modbustest.MBAP}
	if f == FramingRTU {
		o.Framing = modbustest.RTU
	}
	s := modbustest.NewServer(t, o)
	return &testServer{Server: s, t: t, framing: f, addr: s.Addr(), unit: 1}
}

// testTable maps a Table to the modbustest one.
func testTable(tb Table) modbustest.Table {
	switch tb {
	case Coil:
		return modbustest.Coils
	case DiscreteInput:
		return modbustest.DiscreteInputs
	case InputRegister:
		return modbustest.InputRegisters
	}
	return modbustest.HoldingRegisters
}

// set sets register (or bit) a of table tb of the helpers' unit.
func (s *testServer) set(tb Table, a int, v uint16) { s.Set(s.unit, testTable(tb), a, v) }

// get returns register (or bit) a of table tb of the helpers' unit.
func (s *testServer) get(tb Table, a int) uint16 { return s.Get(s.unit, testTable(tb), a) }

// refuse makes reads and writes touching address a of tb fail with
// ILLEGAL DATA ADDRESS.
func (s *testServer) refuse(tb Table, a int) { s.SetException(s.unit, testTable(tb), a, 2) }

// count returns the number of requests received.
func (s *testServer) count() int { return s.Total() }

// setWire installs a reply hook that ignores the unit.
func (s *testServer) setWire(f func(n int, reply []byte) [][]byte) {
	s.SetReplyHook(func(n int, _ byte, reply []byte) [][]byte { return f(n, reply) })
}

// disconnect closes the listener and every connection.
func (s *testServer) disconnect() { s.Stop() }

// reconnect listens again on the same address.
func (s *testServer) reconnect() {
	if err := s.Restart(); err != nil {
		s.t.Fatal(err)
	}
}

// useUnit serves unit u instead of unit 1, and the helpers act on it.
func (s *testServer) useUnit(u byte) {
	s.RemoveUnit(s.unit)
	s.AddUnit(u)
	s.unit = u
}
