package modbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
)

// newTestDevice builds an opened device for s with extra JSON config.
func newTestDevice(t *testing.T, s *testServer, extra string) *Device {
	t.Helper()
	transport := "tcp"
	if s.framing == FramingRTU {
		transport = "rtu_over_tcp"
	}
	js := fmt.Sprintf(`{"transport": %q, "address": %q, "timeout": "2s"%s}`, transport, s.addr, extra)
	dev, err := New(drivers.Params{Name: "plc", Decode: drivers.DecodeJSON([]byte(js))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	d := dev.(*Device)
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	return d
}

func parse(t *testing.T, d *Device, specs ...string) []drivers.Point {
	t.Helper()
	var pts []drivers.Point
	for _, s := range specs {
		f := strings.Fields(s)
		spec := drivers.PointSpec{Address: f[0]}
		if len(f) > 1 {
			spec.Type = f[1]
		}
		if len(f) > 2 {
			spec.Order = f[2]
		}
		p, err := d.ParsePoint(spec)
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, p)
	}
	return pts
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestConfigValidate(t *testing.T) {
	bad := -1
	tests := []struct {
		name string
		c    Config
		want []string // substrings, one per expected error
	}{
		{"ok tcp", Config{Address: "127.0.0.1:502"}, nil},
		{"ok rtu", Config{Transport: TransportRTU, Device: "/dev/ttyUSB0", Parity: "none", StopBits: 2}, nil},
		{"missing address", Config{}, []string{"address: missing"}},
		{"unknown transport", Config{Transport: "udp"}, []string{"transport: udp: unknown"}},
		{"serial needs device", Config{Transport: TransportASCII, Address: "x:1"}, []string{"device: missing", "address: x:1"}},
		{"everything wrong", Config{
			Address: "nohost", DataBits: 6, StopBits: 3, Parity: "mark", UnitID: &bad, Timeout: -1,
			MaxRegisters: 126, MaxBits: 2001, MaxGap: -1, MaxBitGap: -1, BitWrite: "x", SingleWrite: "y",
		}, []string{"address: nohost", "data_bits", "stop_bits", "parity", "unit_id", "timeout", "max_registers", "max_bits", "max_gap", "max_bit_gap", "bit_write", "single_write"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors lack %q:\n%v", w, err)
				}
			}
			var ce *drivers.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("no ConfigError in %v", err)
			}
		})
	}
}

func TestNewStrictDecode(t *testing.T) {
	_, err := New(drivers.Params{Name: "x", Decode: drivers.DecodeJSON([]byte(`{"address":"a:1","bogus":1}`))})
	if err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestReadCoalesced(t *testing.T) {
	s := newTestServer(t, FramingMBAP)
	s.set(HoldingRegister, 0, 7)
	s.set(HoldingRegister, 2, 0x4049) // 3.140625 as float32 ABCD
	s.set(HoldingRegister, 3, 0x0000)
	s.set(HoldingRegister, 12, 0xFFFF)
	s.set(Coil, 3, 1)
	s.set(InputRegister, 5, 42)
	d := newTestDevice(t, s, `, "max_gap": 10`)
	pts := parse(t, d, "hr:0", "hr:2 float32", "hr:12 int16", "hr:12.15", "coil:3", "coil:4", "ir:5")
	want := []drivers.Value{drivers.Uints{7}, drivers.Floats{3.140625}, drivers.Ints{-1}, drivers.Bools{true}, drivers.Bools{true}, drivers.Bools{false}, drivers.Uints{42}}
	for cycle := range 2 {
		before := s.count()
		ss, err := d.Read(t.Context(), pts)
		if err != nil {
			t.Fatal(err)
		}
		for i, smp := range ss {
			if smp.Err != nil || !drivers.Equal(smp.Value, want[i]) || smp.Time.IsZero() {
				t.Errorf("cycle %d: %v = %v, %v; want %v", cycle, pts[i], smp.Value, smp.Err, want[i])
			}
		}
		if n := s.count() - before; n != 3 {
			t.Errorf("cycle %d: %d requests, want 3 (hr, coil, ir)", cycle, n)
		}
	}
	if st := d.Stats(); st.Requests != 6 || !st.Connected || st.Errors != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestReadExceptionLearnsHole(t *testing.T) {
	s := newTestServer(t, FramingMBAP)
	for a := range 10 {
		s.set(HoldingRegister, a, uint16(100+a))
	}
	s.refuse(HoldingRegister, 5)
	d := newTestDevice(t, s, "")
	var specs []string
	for a := range 10 {
		specs = append(specs, fmt.Sprintf("hr:%d", a))
	}
	pts := parse(t, d, specs...)
	for cycle := range 3 {
		before := s.count()
		ss, err := d.Read(t.Context(), pts)
		if err != nil {
			t.Fatal(err)
		}
		for i, smp := range ss {
			if i == 5 {
				code, ok := drivers.ExceptionCode(smp.Err)
				if !errors.Is(smp.Err, drivers.ErrDevice) || !ok || code != 2 {
					t.Errorf("cycle %d: hr:5 err = %v; want exception 2", cycle, smp.Err)
				}
				continue
			}
			if smp.Err != nil || !drivers.Equal(smp.Value, drivers.Uints{uint64(100 + i)}) {
				t.Errorf("cycle %d: %v = %v, %v", cycle, pts[i], smp.Value, smp.Err)
			}
		}
		n := s.count() - before
		if cycle > 0 && n != 2 {
			t.Errorf("cycle %d: %d requests, want 2 (around the hole)", cycle, n)
		}
	}
	if st := d.Stats(); st.LastException != 2 {
		t.Errorf("Stats.LastException = %d", st.LastException)
	}
}

func TestWriteFunctionCodes(t *testing.T) {
	tests := []struct {
		extra, spec string
		v           drivers.Value
		check       func(s *testServer) error
	}{
		{"", "coil:1", drivers.Bools{true}, func(s *testServer) error { return expect(s.get(Coil, 1), 1) }},
		{`, "single_write": "multiple"`, "coil:2", drivers.Bools{true}, func(s *testServer) error { return expect(s.get(Coil, 2), 1) }},
		{"", "hr:1 int16", drivers.Ints{-2}, func(s *testServer) error { return expect(s.get(HoldingRegister, 1), 0xFFFE) }},
		{`, "single_write": "multiple"`, "hr:1", drivers.Uints{9}, func(s *testServer) error { return expect(s.get(HoldingRegister, 1), 9) }},
		{"", "hr:4 float32 CDAB", drivers.Floats{1}, func(s *testServer) error {
			b := math.Float32bits(1)
			return errors.Join(expect(s.get(HoldingRegister, 4), uint16(b)), expect(s.get(HoldingRegister, 5), uint16(b>>16)))
		}},
		{"", "hr:8.3", drivers.Bools{true}, func(s *testServer) error { return expect(s.get(HoldingRegister, 8), 0x0109) }},
		{`, "bit_write": "read_modify_write"`, "hr:8.0", drivers.Bools{false}, func(s *testServer) error { return expect(s.get(HoldingRegister, 8), 0x0100) }},
		{"", "hr:10 string", drivers.Strings{"AB"}, nil}, // len 0: rejected at parse
	}
	for _, tc := range tests {
		t.Run(tc.spec+tc.extra, func(t *testing.T) {
			s := newTestServer(t, FramingMBAP)
			s.set(HoldingRegister, 8, 0x0101)
			d := newTestDevice(t, s, tc.extra)
			f := strings.Fields(tc.spec)
			spec := drivers.PointSpec{Address: f[0]}
			if len(f) > 1 {
				spec.Type = f[1]
			}
			if len(f) > 2 {
				spec.Order = f[2]
			}
			pt, err := d.ParsePoint(spec)
			if tc.check == nil {
				if !errors.Is(err, drivers.ErrBadPoint) {
					t.Fatalf("ParsePoint = %v; want ErrBadPoint", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			before := s.count()
			if err := d.Write(t.Context(), pt, tc.v); err != nil {
				t.Fatal(err)
			}
			if err := tc.check(s); err != nil {
				t.Error(err)
			}
			if n := s.count() - before; n < 1 || n > 2 {
				t.Errorf("%d requests", n)
			}
		})
	}
}

func expect(got, want uint16) error {
	if got != want {
		return fmt.Errorf("register = %#04x, want %#04x", got, want)
	}
	return nil
}

func TestWriteErrors(t *testing.T) {
	s := newTestServer(t, FramingMBAP)
	s.refuse(HoldingRegister, 3)
	d := newTestDevice(t, s, `, "bit_write": "refuse"`)
	pts := parse(t, d, "ir:1", "hr:2.1", "hr:3", "hr:4 int16")
	if err := d.Write(t.Context(), pts[0], drivers.Uints{1}); !errors.Is(err, drivers.ErrReadOnly) {
		t.Errorf("write input register: %v", err)
	}
	if err := d.Write(t.Context(), pts[1], drivers.Bools{true}); !errors.Is(err, drivers.ErrReadOnly) {
		t.Errorf("write refused bit: %v", err)
	}
	err := d.Write(t.Context(), pts[2], drivers.Uints{1})
	if code, ok := drivers.ExceptionCode(err); !ok || code != 2 {
		t.Errorf("write refused address: %v", err)
	}
	if err := d.Write(t.Context(), pts[3], drivers.Ints{40000}); !errors.Is(err, drivers.ErrBadValue) {
		t.Errorf("write out of range: %v", err)
	}
}

// TestLateReplyMBAP: a reply that arrives after its request timed out is
// dropped by transaction id, and the connection keeps working.
func TestLateReplyMBAP(t *testing.T) {
	s := newTestServer(t, FramingMBAP)
	d := newTestDevice(t, s, "")
	pts := parse(t, d, "hr:0")
	var held []byte
	s.setWire(func(n int, reply []byte) [][]byte {
		if n == 1 {
			held = reply
			return nil
		}
		if n == 2 {
			return [][]byte{held, reply}
		}
		return [][]byte{reply}
	})
	s.set(HoldingRegister, 0, 1)
	_, err := d.Read(ctxTimeout(t, 100*time.Millisecond), pts)
	if a := drivers.AlarmFor(drivers.OpRead, err); err == nil || a.Status != 10 /* TIMEOUT */ {
		t.Fatalf("first read: %v (alarm %v); want a timeout", err, a)
	}
	s.set(HoldingRegister, 0, 2)
	for i := range 2 {
		ss, err := d.Read(t.Context(), pts)
		if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, drivers.Uints{2}) {
			t.Fatalf("read %d after the late reply: %v, %v", i, ss, err)
		}
	}
	if conns := s.Accepted(); conns != 1 {
		t.Errorf("%d connections; the late reply should not force a reconnect", conns)
	}
}

// TestBadReplies: garbage and short replies fail the request (the
// connection is dropped), and the next request works on a new one.
func TestBadReplies(t *testing.T) {
	tests := []struct {
		name    string
		framing Framing
		wire    func(reply []byte) [][]byte
		want    error
	}{
		{"mbap garbage", FramingMBAP, func([]byte) [][]byte { return [][]byte{[]byte("HTTP/1.1 400 Bad\r\n")} }, drivers.ErrDisconnected},
		{"mbap short", FramingMBAP, func(r []byte) [][]byte { return [][]byte{r[:len(r)-1]} }, drivers.ErrTimeout},
		{"mbap bad length", FramingMBAP, func(r []byte) [][]byte {
			b := append([]byte(nil), r...)
			b[5] = 3 // header says 2 bytes of PDU: a short PDU for FC3
			return [][]byte{b[:9]}
		}, drivers.ErrDisconnected},
		{"rtu garbage", FramingRTU, func([]byte) [][]byte { return [][]byte{[]byte("garbage!")} }, drivers.ErrDisconnected},
		{"rtu bad crc", FramingRTU, func(r []byte) [][]byte {
			b := append([]byte(nil), r...)
			b[len(b)-1] ^= 0xFF
			return [][]byte{b}
		}, drivers.ErrDisconnected},
		{"rtu short", FramingRTU, func(r []byte) [][]byte { return [][]byte{r[:len(r)-2]} }, drivers.ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, tc.framing)
			s.set(HoldingRegister, 0, 5)
			d := newTestDevice(t, s, "")
			pts := parse(t, d, "hr:0")
			s.setWire(func(n int, reply []byte) [][]byte {
				if n == 1 {
					return tc.wire(reply)
				}
				return [][]byte{reply}
			})
			_, err := d.Read(ctxTimeout(t, 200*time.Millisecond), pts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("bad reply: %v; want %v", err, tc.want)
			}
			ss, err := d.Read(t.Context(), pts)
			if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, drivers.Uints{5}) {
				t.Fatalf("read after the bad reply: %v, %v", ss, err)
			}
		})
	}
}

// TestLateReplyRTUOverTCP: RTU has no transaction id, so a timeout drops
// the connection; the late reply goes nowhere and the next read is right.
func TestLateReplyRTUOverTCP(t *testing.T) {
	s := newTestServer(t, FramingRTU)
	d := newTestDevice(t, s, "")
	pts := parse(t, d, "hr:0")
	s.setWire(func(n int, reply []byte) [][]byte {
		if n == 1 {
			return nil
		}
		return [][]byte{reply}
	})
	s.set(HoldingRegister, 0, 1)
	if _, err := d.Read(ctxTimeout(t, 100*time.Millisecond), pts); !errors.Is(err, drivers.ErrTimeout) {
		t.Fatalf("first read: %v; want a timeout", err)
	}
	s.set(HoldingRegister, 0, 2)
	ss, err := d.Read(t.Context(), pts)
	if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, drivers.Uints{2}) {
		t.Fatalf("read after the timeout: %v, %v", ss, err)
	}
}

func TestRTUOverTCPReadWrite(t *testing.T) {
	s := newTestServer(t, FramingRTU)
	s.useUnit(17)
	s.refuse(HoldingRegister, 9)
	s.set(Coil, 7, 1)
	d := newTestDevice(t, s, `, "unit_id": 17`)
	pts := parse(t, d, "hr:0 float64", "coil:7", "hr:9", "hr:6.2")
	for _, w := range []struct {
		p int
		v drivers.Value
	}{{0, drivers.Floats{-2.5}}, {3, drivers.Bools{true}}} {
		if err := d.Write(t.Context(), pts[w.p], w.v); err != nil {
			t.Fatal(err)
		}
	}
	ss, err := d.Read(t.Context(), pts)
	if err != nil {
		t.Fatal(err)
	}
	want := []drivers.Value{drivers.Floats{-2.5}, drivers.Bools{true}, nil, drivers.Bools{true}}
	for i, smp := range ss {
		if i == 2 {
			if code, _ := drivers.ExceptionCode(smp.Err); code != 2 {
				t.Errorf("hr:9: %v", smp.Err)
			}
			continue
		}
		if smp.Err != nil || !drivers.Equal(smp.Value, want[i]) {
			t.Errorf("%v = %v, %v; want %v", pts[i], smp.Value, smp.Err, want[i])
		}
	}
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      Framing
		shared bool // a device of a Driver, beside another unit on its link
	}{{"tcp", FramingMBAP, false}, {"rtu_over_tcp", FramingRTU, false}, {"shared tcp", FramingMBAP, true}, {"shared rtu_over_tcp", FramingRTU, true}} {
		f := tc.f
		t.Run(tc.name, func(t *testing.T) {
			drivertest.Run(t, func(t *testing.T) (drivers.Device, drivertest.Fixture) {
				s := newTestServer(t, f)
				s.refuse(HoldingRegister, 50)
				s.set(DiscreteInput, 1, 1)
				transport := "tcp"
				if f == FramingRTU {
					transport = "rtu_over_tcp"
				}
				js := fmt.Sprintf(`{"transport": %q, "address": %q, "timeout": "1s"}`, transport, s.addr)
				factory := New
				if tc.shared {
					dr := &Driver{ProbeBackoff: 50 * time.Millisecond, MaxProbeBackoff: 100 * time.Millisecond}
					factory = dr.New
					s.AddUnit(2)
					other, err := dr.New(drivers.Params{Name: "other", Decode: drivers.DecodeJSON(fmt.Appendf(nil,
						`{"transport": %q, "address": %q, "unit_id": 2, "timeout": "1s"}`, transport, s.addr))})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = other.Close() })
				}
				dev, err := factory(drivers.Params{Name: "plc", Decode: drivers.DecodeJSON([]byte(js))})
				if err != nil {
					t.Fatal(err)
				}
				return dev, drivertest.Fixture{
					Read: []drivers.PointSpec{
						{Address: "hr:0"}, {Address: "hr:1", Type: "float32", Order: "CDAB"},
						{Address: "coil:0"}, {Address: "di:1"}, {Address: "ir:3", Type: "int32"},
						{Address: "hr:60", Type: "string", Len: 6},
					},
					Bad:     []drivers.PointSpec{{Address: "hr:50"}, {Address: "hr:49", Type: "int32"}},
					Invalid: []drivers.PointSpec{{Address: "hr:70000"}, {Address: "coil:1", Type: "float32"}, {Address: "hr:1", Options: map[string]string{"x": "y"}}},
					Writes: []drivertest.WriteCase{
						{Point: drivers.PointSpec{Address: "hr:10", Type: "int16"}, Value: drivers.Ints{-5}},
						{Point: drivers.PointSpec{Address: "hr:12", Type: "float64", Order: "DCBA"}, Value: drivers.Floats{1.25}},
						{Point: drivers.PointSpec{Address: "coil:4"}, Value: drivers.Bools{true}},
						{Point: drivers.PointSpec{Address: "hr:20", Bit: new(3)}, Value: drivers.Bools{true}},
						{Point: drivers.PointSpec{Address: "hr:30", Type: "string", Len: 4}, Value: drivers.Strings{"abc"}},
					},
					ReadOnly:   []drivers.PointSpec{{Address: "ir:0"}, {Address: "di:0"}},
					Stall:      func() { s.setWire(func(int, []byte) [][]byte { return nil }) },
					Disconnect: s.disconnect,
					Reconnect:  s.reconnect,
				}
			})
		})
	}
}

func TestSerialOpenFails(t *testing.T) {
	for _, tr := range []string{"rtu", "ascii"} {
		t.Run(tr, func(t *testing.T) {
			js := fmt.Sprintf(`{"transport": %q, "device": "/dev/cabridge-no-such-tty", "baud_rate": 9600, "parity": "none", "stop_bits": 2}`, tr)
			dev, err := New(drivers.Params{Name: "line", Decode: drivers.DecodeJSON([]byte(js))})
			if err != nil {
				t.Fatal(err)
			}
			d := dev.(*Device)
			err = d.Open(t.Context())
			if !errors.Is(err, drivers.ErrDisconnected) || !drivers.Retryable(err) {
				t.Errorf("Open = %v; want ErrDisconnected and ErrNotSent", err)
			}
			pt := parse(t, d, "hr:1")[0]
			if err := d.Write(t.Context(), pt, drivers.Uints{1}); !drivers.Retryable(err) {
				t.Errorf("Write without a line = %v; want ErrNotSent", err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			if st := d.Stats(); st.Connected || st.Errors == 0 {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
}

// TestCancelMidRequest: cancelling a request in flight ends it at once
// with context.Canceled (COMM), and the connection keeps working.
func TestCancelMidRequest(t *testing.T) {
	s := newTestServer(t, FramingMBAP)
	s.set(HoldingRegister, 0, 3)
	d := newTestDevice(t, s, `, "timeout": "10s"`)
	pts := parse(t, d, "hr:0")
	got := make(chan struct{})
	s.setWire(func(n int, reply []byte) [][]byte {
		if n == 1 {
			close(got)
			return nil
		}
		return [][]byte{reply}
	})
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	go func() {
		_, err := d.Read(ctx, pts)
		res <- err
	}()
	<-got
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) || errors.Is(err, drivers.ErrTimeout) {
			t.Fatalf("cancelled read = %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled read did not return")
	}
	ss, err := d.Read(t.Context(), pts)
	if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, drivers.Uints{3}) {
		t.Fatalf("read after cancel: %v, %v", ss, err)
	}
}
