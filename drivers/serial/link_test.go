package serial_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
	"github.com/cabridge/cabridge/drivers/serial"
)

// sharedDevice builds a device named name on dr for the instrument at
// addr.
func sharedDevice(t *testing.T, dr *serial.Driver, name, addr string, mutate func(*serial.Config)) (drivers.Device, error) {
	t.Helper()
	cfg := psuConfig()
	cfg.TCP = addr
	if mutate != nil {
		mutate(&cfg)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dr.New(drivers.Params{Name: name, Decode: drivers.DecodeJSON(js)})
}

// TestConformanceShared runs the suite on a device whose port is shared
// with another, open device.
func TestConformanceShared(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (drivers.Device, drivertest.Fixture) {
		dev := newPSU()
		srv := newTCPInstrument(t, dev)
		dr := serial.NewDriver(nil)
		other, err := sharedDevice(t, dr, "other", srv.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = other.Close() })
		if err := other.(drivers.Opener).Open(ctx5(t)); err != nil {
			t.Fatal(err)
		}
		d, err := sharedDevice(t, dr, "psu1", srv.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d, drivertest.Fixture{
			Read:       []drivers.PointSpec{{Address: "volt"}, {Address: "meas"}, {Address: "meas", Options: map[string]string{"field": "1"}}},
			Bad:        []drivers.PointSpec{{Address: "junk"}},
			Writes:     []drivertest.WriteCase{{Point: drivers.PointSpec{Address: "curr"}, Value: drivers.Floats{1.5}}},
			Subscribe:  []drivers.PointSpec{{Address: "event"}},
			Push:       func() { srv.pushes <- "EVT 5" },
			Stall:      func() { dev.stalled.Store(true) },
			Disconnect: srv.Stop,
			Reconnect:  srv.Start,
			Timeout:    3 * time.Second,
		}
	})
}

// TestSharedPort: three devices on one instrument share one connection;
// their concurrent reads and writes take turns and all succeed; a device
// with other line settings is refused; the connection closes with the
// last device.
func TestSharedPort(t *testing.T) {
	dev := newPSU()
	srv := newTCPInstrument(t, dev)
	dr := serial.NewDriver(nil)
	var devs []drivers.Device
	for i := range 3 {
		d, err := sharedDevice(t, dr, fmt.Sprintf("psu%d", i), srv.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
		if err := d.(drivers.Opener).Open(ctx5(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sharedDevice(t, dr, "odd", srv.addr, func(c *serial.Config) { c.InTerminator = "LF" }); err == nil {
		t.Error("a device with another in_terminator was accepted on the shared port")
	} else if ce := (*drivers.ConfigError)(nil); !errors.As(err, &ce) || ce.Path != "in_terminator" {
		t.Errorf("refusal = %v; want a ConfigError at in_terminator", err)
	}
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Go(func() {
			pts := make([]drivers.Point, 2)
			for j, s := range []drivers.PointSpec{{Address: "meas"}, {Address: "curr"}} {
				p, err := d.ParsePoint(s)
				if err != nil {
					t.Error(err)
					return
				}
				pts[j] = p
			}
			for k := range 20 {
				if ss, err := d.Read(ctx5(t), pts[:1]); err != nil || ss[0].Err != nil {
					t.Errorf("device %d read %d: %v, %v", i, k, ss, err)
					return
				}
				if i == 0 {
					if err := d.Write(ctx5(t), pts[1], drivers.Floats{float64(k)}); err != nil {
						t.Errorf("write %d: %v", k, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if n := srv.accepts.Load(); n != 1 {
		t.Errorf("%d connections for three devices on one port, want 1", n)
	}
	if n := dev.count("*IDN?"); n != 3 {
		t.Errorf("init ran %d times, want once per device", n)
	}
	for _, d := range devs[:2] {
		_ = d.Close()
	}
	if ss, err := devs[2].Read(ctx5(t), []drivers.Point{mustParse(t, devs[2], "volt")}); err != nil || ss[0].Err != nil {
		t.Errorf("the last device lost the port when the others closed: %v, %v", ss, err)
	}
	_ = devs[2].Close()
}

// mustParse parses a point of d by address.
func mustParse(t *testing.T, d drivers.Device, addr string) drivers.Point {
	t.Helper()
	p, err := d.ParsePoint(drivers.PointSpec{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
