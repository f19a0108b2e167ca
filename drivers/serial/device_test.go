package serial_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
	"github.com/cabridge/cabridge/drivers/serial"
)

// psuConfig is the config of the simulated power supply, without its
// transport.
func psuConfig() serial.Config {
	return serial.Config{
		InTerminator: "CRLF",
		Settings: serial.Settings{
			OutTerminator: "CRLF",
			// Long enough for a loaded machine running -race; each expected
			// timeout of the tests costs this much.
			ReplyTimeout: drivers.Duration(time.Second),
			ReadTimeout:  drivers.Duration(50 * time.Millisecond),
		},
		Protocols: map[string]serial.Protocol{
			"idn":   {Out: "*IDN?", In: "%s"},
			"volt":  {Out: "VOLT?", In: "%f", Write: &serial.Exchange{Out: "VOLT %.3f"}},
			"curr":  {Out: "CURR?", In: "%f", Write: &serial.Exchange{Out: "CURR %.3f", In: "OK"}},
			"meas":  {Out: "MEAS?", In: "V=%f;I=%f"},
			"stat":  {Out: "STAT?", In: "STAT=%d*%0<sum8>", Write: &serial.Exchange{Out: "SET %d*%0<sum8>", In: "OK"}},
			"mode":  {Out: "MODE?", In: "%{OFF|ON|STANDBY}", Write: &serial.Exchange{Out: "MODE %{OFF|ON|STANDBY}", In: "OK"}},
			"junk":  {Out: "GARBAGE?", In: "%f"},
			"part":  {Out: "PARTIAL?", In: "%f"},
			"wave":  {Out: "WAVE?", In: "%f"},
			"event": {In: "EVT %d"},
		},
		Init: []serial.Exchange{{Out: "*IDN?", In: "CABRIDGE,%*s"}},
	}
}

// tcpDevice builds an unopened device on the TCP instrument.
func tcpDevice(t *testing.T, addr string, logger *slog.Logger) *serial.Device {
	t.Helper()
	cfg := psuConfig()
	cfg.TCP = addr
	d, err := serial.NewDevice("psu1", cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (drivers.Device, drivertest.Fixture) {
		dev := newPSU()
		srv := newTCPInstrument(t, dev)
		d := tcpDevice(t, srv.addr, nil)
		return d, drivertest.Fixture{
			Read: []drivers.PointSpec{{Address: "volt"}, {Address: "meas"}, {Address: "meas", Options: map[string]string{"field": "1"}},
				{Address: "idn"}, {Address: "stat"}, {Address: "MEAS:VOLT?", Options: map[string]string{"in": "%f"}}, {Address: "wave", Len: 3}},
			Bad: []drivers.PointSpec{{Address: "junk"}},
			Invalid: []drivers.PointSpec{{Address: "nope"}, {Address: "meas", Options: map[string]string{"field": "2"}},
				{Address: "volt", Options: map[string]string{"colour": "red"}}, {Address: "volt", Type: "complex"},
				{Address: "X?", Options: map[string]string{"in": "%q"}}, {Address: "meas", Len: 2},
				{Address: "volt", Options: map[string]string{"write_in": "OK"}}, {Address: "volt", Options: map[string]string{"in": "%f"}},
				{Address: "X?", Options: map[string]string{"in": "%f", "write": "X %f", "field": "1"}}, {Address: "volt", Order: "ABCD"}},
			Writes: []drivertest.WriteCase{
				{Point: drivers.PointSpec{Address: "curr"}, Value: drivers.Floats{1.5}},
				{Point: drivers.PointSpec{Address: "stat"}, Value: drivers.Ints{7}},
				{Point: drivers.PointSpec{Address: "mode"}, Value: drivers.Uints{2}},
				{Point: drivers.PointSpec{Address: "CURR?", Options: map[string]string{"in": "%f", "write": "CURR %.3f", "write_in": "OK"}},
					Value: drivers.Floats{0.5}},
				{Point: drivers.PointSpec{Address: "VOLT?", Options: map[string]string{"write": "VOLT %.2f"}}, Value: drivers.Floats{3.25},
					ReadBack: drivers.PointSpec{Address: "volt"}},
			},
			ReadOnly:   []drivers.PointSpec{{Address: "meas"}, {Address: "idn"}},
			Subscribe:  []drivers.PointSpec{{Address: "event"}},
			Push:       func() { srv.pushes <- "EVT 5" },
			Stall:      func() { dev.stalled.Store(true) },
			Disconnect: srv.Stop,
			Reconnect:  srv.Start,
			Timeout:    3 * time.Second,
		}
	})
}

// parse parses specs on d.
func parse(t *testing.T, d *serial.Device, specs ...drivers.PointSpec) []drivers.Point {
	t.Helper()
	out := make([]drivers.Point, len(specs))
	for i, s := range specs {
		p, err := d.ParsePoint(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

// ctx5 returns a context with a 5 s deadline.
func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// transports runs f over TCP and over a socat pty pair.
func transports(t *testing.T, f func(t *testing.T, dev *psu, d *serial.Device, push chan<- string)) {
	t.Run("tcp", func(t *testing.T) {
		dev := newPSU()
		srv := newTCPInstrument(t, dev)
		f(t, dev, tcpDevice(t, srv.addr, slog.New(slog.NewTextHandler(t.Output(), nil))), srv.pushes)
	})
	t.Run("pty", func(t *testing.T) {
		dev := newPSU()
		p := newPTY(t, dev)
		cfg := psuConfig()
		cfg.Port = p.A
		cfg.Baud = 115200
		cfg.FlowControl = "rtscts" // a pty keeps the flag and ignores the lines
		d, err := serial.NewDevice("psu1", cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		f(t, dev, d, p.pushes)
	})
}

func TestTransactions(t *testing.T) {
	transports(t, func(t *testing.T, dev *psu, d *serial.Device, push chan<- string) {
		if err := d.Open(ctx5(t)); err != nil {
			t.Fatal(err)
		}
		if n := dev.count("*IDN?"); n != 1 {
			t.Errorf("init sent *IDN? %d times", n)
		}
		pts := parse(t, d,
			drivers.PointSpec{Address: "meas"},
			drivers.PointSpec{Address: "meas", Options: map[string]string{"field": "1"}},
			drivers.PointSpec{Address: "volt"},
			drivers.PointSpec{Address: "stat"},
			drivers.PointSpec{Address: "mode"},
			drivers.PointSpec{Address: "junk"},
			drivers.PointSpec{Address: "wave", Len: 3},
			drivers.PointSpec{Address: "idn", Len: 8},
		)
		ss, err := d.Read(ctx5(t), pts)
		if err != nil {
			t.Fatal(err)
		}
		want := []drivers.Value{drivers.Floats{12.5}, drivers.Floats{0.25}, drivers.Floats{12.5}, drivers.Ints{42},
			drivers.Uints{0}, nil, drivers.Floats{1.5, 2.5, 3.5}, drivers.Strings{"CABRIDGE"}}
		for i, s := range ss {
			if want[i] != nil && (s.Err != nil || !drivers.Equal(s.Value, want[i])) {
				t.Errorf("%v = %v, %v; want %v", pts[i], s.Value, s.Err, want[i])
			}
		}
		if n := dev.count("MEAS?"); n != 1 {
			t.Errorf("MEAS? sent %d times for two points of one reply", n)
		}
		if a := drivers.AlarmFor(drivers.OpRead, ss[5].Err); a.Status != dbr.StatusCalc || !strings.Contains(ss[5].Err.Error(), `"##garbage##"`) {
			t.Errorf("garbage reply: %v (alarm %v); want CALC naming the bytes", ss[5].Err, a)
		}

		// Writes: without a reply, with one, with a checksum, an enum.
		w := parse(t, d, drivers.PointSpec{Address: "volt"}, drivers.PointSpec{Address: "curr"},
			drivers.PointSpec{Address: "stat"}, drivers.PointSpec{Address: "mode"})
		for i, v := range []drivers.Value{drivers.Floats{5.25}, drivers.Floats{1.125}, drivers.Ints{9}, drivers.Uints{1}} {
			if err := d.Write(ctx5(t), w[i], v); err != nil {
				t.Errorf("Write %v %v: %v", w[i], v, err)
			}
		}
		ss, err = d.Read(ctx5(t), w)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []drivers.Value{drivers.Floats{5.25}, drivers.Floats{1.125}, drivers.Ints{9}, drivers.Uints{1}} {
			if ss[i].Err != nil || !drivers.Equal(ss[i].Value, want) {
				t.Errorf("after write, %v = %v, %v; want %v", w[i], ss[i].Value, ss[i].Err, want)
			}
		}
		if got := dev.commands(); !contains(got, "SET 9*"+sum8hex("SET 9*")) {
			t.Errorf("checksummed write not seen: %q", got)
		}

		// A timeout, then recovery.
		dev.stalled.Store(true)
		ss, err = d.Read(ctx5(t), pts[2:3])
		if err != nil || drivers.AlarmFor(drivers.OpRead, ss[0].Err).Status != dbr.StatusTimeout {
			t.Errorf("stalled read = %v, %v; want a TIMEOUT sample", ss, err)
		}
		dev.stalled.Store(false)
		if ss, err = d.Read(ctx5(t), pts[2:3]); err != nil || ss[0].Err != nil {
			t.Errorf("read after the stall = %v, %v", ss, err)
		}

		// A partial line (no terminator) is a timeout, and the device
		// works on. (On a loaded machine the partial may come so late that
		// it merges with the next reply: allow one more try.)
		part := parse(t, d, drivers.PointSpec{Address: "part"})
		ss, err = d.Read(ctx5(t), part)
		if err != nil || drivers.AlarmFor(drivers.OpRead, ss[0].Err).Status != dbr.StatusTimeout {
			t.Errorf("partial reply = %v, %v; want a TIMEOUT sample", ss, err)
		}
		for try := 1; ; try++ {
			ss, err = d.Read(ctx5(t), pts[2:3])
			if err == nil && ss[0].Err == nil {
				break
			}
			if try == 2 {
				t.Errorf("read after a partial line = %v, %v", ss, err)
				break
			}
		}

		// Unsolicited lines reach a subscription, also while a
		// transaction waits for its reply.
		ev := parse(t, d, drivers.PointSpec{Address: "event"})
		got := make(chan drivers.Sample, 16)
		sctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Subscribe(sctx, ev, func(s drivers.Sample) { got <- s }) }()
		// Subscribe has no readiness signal: push until a line arrives.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(5 * time.Second)
		for i := 1; i <= 3; {
			select {
			case s := <-got:
				if s.Err != nil || s.Value.Kind() != drivers.KindInt {
					t.Errorf("unsolicited sample %v, %v", s.Value, s.Err)
				}
				i++
				if _, err := d.Read(ctx5(t), pts[2:3]); err != nil {
					t.Error(err)
				}
			case <-tick.C:
				select {
				case push <- "EVT 1":
				default:
				}
			case <-deadline:
				t.Fatal("fewer than 3 unsolicited samples within 5s")
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe = %v", err)
		}
	})
}

// contains reports whether ss holds s.
func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestFlushBeforeOutput: the rest of a line that never ended (the read
// timeout is longer than the reply timeout here, so it is still pending)
// does not prefix the reply of the next transaction.
func TestFlushBeforeOutput(t *testing.T) {
	dev := newPSU()
	srv := newTCPInstrument(t, dev)
	cfg := psuConfig()
	cfg.TCP = srv.addr
	cfg.ReadTimeout = drivers.Duration(5 * time.Second)
	cfg.ReplyTimeout = drivers.Duration(200 * time.Millisecond)
	d, err := serial.NewDevice("psu1", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Open(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	pts := parse(t, d, drivers.PointSpec{Address: "part"}, drivers.PointSpec{Address: "volt"})
	ss, err := d.Read(ctx5(t), pts[:1])
	if err != nil || !errors.Is(ss[0].Err, drivers.ErrTimeout) {
		t.Fatalf("partial reply = %v, %v; want a timeout", ss, err)
	}
	ss, err = d.Read(ctx5(t), pts[1:])
	if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, drivers.Floats{12.5}) {
		t.Errorf("read after a pending partial line = %v, %v; want 12.5", ss, err)
	}
}

// TestTCPReset: a serial-device server that resets the connection fails
// the calls with ErrDisconnected; Open connects again.
func TestTCPReset(t *testing.T) {
	dev := newPSU()
	srv := newTCPInstrument(t, dev)
	d := tcpDevice(t, srv.addr, nil)
	if err := d.Open(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	pts := parse(t, d, drivers.PointSpec{Address: "volt"})
	srv.Reset()
	_, err := d.Read(ctx5(t), pts)
	if !errors.Is(err, drivers.ErrDisconnected) {
		t.Fatalf("read after a reset = %v; want ErrDisconnected", err)
	}
	if err := d.Open(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if ss, err := d.Read(ctx5(t), pts); err != nil || ss[0].Err != nil {
		t.Errorf("read after reopening = %v, %v", ss, err)
	}
	if n := srv.accepts.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// TestPortVanishes kills socat under an open device: calls fail with
// ErrDisconnected, Open fails while the port is gone, and works (init
// included) once socat is back on the same link paths.
func TestPortVanishes(t *testing.T) {
	dev := newPSU()
	p := newPTY(t, dev)
	cfg := psuConfig()
	cfg.Port = p.A
	d, err := serial.NewDevice("psu1", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Open(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	pts := parse(t, d, drivers.PointSpec{Address: "volt"})
	ctx, cancel := context.WithCancel(t.Context())
	subDone := make(chan error, 1)
	go func() {
		subDone <- d.Subscribe(ctx, parse(t, d, drivers.PointSpec{Address: "event"}), func(drivers.Sample) {})
	}()
	defer cancel()
	p.Stop()
	_, err = d.Read(ctx5(t), pts)
	if a := drivers.AlarmFor(drivers.OpRead, err); a.Status != dbr.StatusComm {
		t.Fatalf("read of a vanished port = %v (alarm %v); want COMM", err, a)
	}
	select {
	case err := <-subDone:
		if !errors.Is(err, drivers.ErrDisconnected) {
			t.Errorf("Subscribe on a vanished port = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Subscribe did not end when the port vanished")
	}
	if err := d.Open(ctx5(t)); !errors.Is(err, drivers.ErrDisconnected) {
		t.Errorf("Open of a missing port = %v", err)
	}
	p.Start()
	if err := d.Open(ctx5(t)); err != nil {
		t.Fatalf("Open after the port came back: %v", err)
	}
	if n := dev.count("*IDN?"); n != 2 {
		t.Errorf("init ran %d times, want 2 (connect and reconnect)", n)
	}
	if ss, err := d.Read(ctx5(t), pts); err != nil || ss[0].Err != nil {
		t.Errorf("read after reconnect = %v, %v", ss, err)
	}
}

// TestGauge reads a streaming gauge that prints a reading every 20 ms
// unasked, through Subscribe, and polls it at the same time; the
// checksummed variant spoils every third line, which must not come
// through.
func TestGauge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sum    bool
		format string
	}{{"plain", false, "P=%e mbar"}, {"checksum", true, "P=%e mbar*%0<xor8>"}} {
		t.Run(tc.name, func(t *testing.T) {
			dev := newPSU()
			dev.gauge = 20 * time.Millisecond
			dev.gaugeSum = tc.sum
			p := newPTY(t, dev)
			cfg := psuConfig()
			cfg.Port = p.A
			cfg.Protocols["pressure"] = serial.Protocol{In: tc.format}
			d, err := serial.NewDevice("gauge", cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.Open(ctx5(t)); err != nil {
				t.Fatal(err)
			}
			pts := parse(t, d, drivers.PointSpec{Address: "pressure"})
			var n int
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			enough := make(chan struct{})
			go func() {
				done <- d.Subscribe(ctx, pts, func(s drivers.Sample) {
					if s.Err != nil {
						t.Errorf("gauge sample: %v", s.Err)
						return
					}
					if i := math.Round(s.Value.(drivers.Floats)[0] / 1e-6); tc.sum && int(i)%3 == 0 {
						t.Errorf("the spoilt line %v came through", s.Value)
					}
					if n++; n == 5 {
						close(enough)
					}
				})
			}()
			volt := parse(t, d, drivers.PointSpec{Address: "volt"})
			for range 10 {
				if ss, err := d.Read(ctx5(t), volt); err != nil || ss[0].Err != nil {
					t.Errorf("poll between gauge lines = %v, %v", ss, err)
				}
			}
			// Read of an input-only protocol waits for its next good line.
			if ss, err := d.Read(ctx5(t), pts); err != nil || ss[0].Err != nil {
				t.Errorf("read of the gauge = %v, %v", ss, err)
			}
			select {
			case <-enough:
			case <-time.After(5 * time.Second):
				t.Error("fewer than 5 gauge lines in 5 s")
			}
			cancel()
			<-done
		})
	}
}
