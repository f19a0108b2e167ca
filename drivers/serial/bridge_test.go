package serial_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/serial"
	"github.com/cabridge/cabridge/mapping"
)

// waitPV waits, up to 10 s, until cond holds for the PV's snapshot.
func waitPV(t *testing.T, pv ca.PV, what string, cond func(*ca.Snapshot) bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond(pv.Snapshot()) {
		select {
		case <-deadline.C:
			s := pv.Snapshot()
			t.Fatalf("%s: not within 10s (value %v, alarm %v)", what, s.Value, s.Meta.Alarm)
		case <-tick.C:
		}
	}
}

// TestBridgeReconnect bridges the power supply over a socat pty pair,
// kills socat (the port vanishes: the PV goes INVALID/COMM), starts it
// again on the same link paths (the PV recovers, the init sequence ran
// again), and checks that the reopening backed off rather than looping.
func TestBridgeReconnect(t *testing.T) {
	dev := newPSU()
	p := newPTY(t, dev)
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	d, err := serial.NewDriver(log).New(drivers.Params{Name: "psu", Logger: log,
		Decode: drivers.DecodeJSON(fmt.Appendf(nil, psuDeviceJSON, p.A))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg := &mapping.Config{
		Devices: []mapping.DeviceConfig{{Name: "psu", Driver: "serial", HealthPrefix: "PSU:",
			Backoff: drivers.Duration(50 * time.Millisecond), MaxBackoff: drivers.Duration(400 * time.Millisecond)}},
		PVs: []mapping.PVConfig{{Name: "PSU:VOLT", Scan: "100ms", Binding: mapping.Binding{Device: "psu", Address: "meas"}}},
	}
	g := ioc.NewGroup("", nil)
	br, err := mapping.New(cfg, map[string]drivers.Device{"psu": d}, g, mapping.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	pvs, err := g.PVs()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { _ = br.Run(ctx) })

	volt := pvs["PSU:VOLT"]
	good := func(s *ca.Snapshot) bool {
		v, err := dbr.Convert(s.Value, dbr.Double, nil)
		return err == nil && v.(dbr.Doubles)[0] == 12.5 && s.Meta.Alarm == dbr.Alarm{}
	}
	waitPV(t, volt, "PSU:VOLT reads 12.5", good)

	p.Stop()
	outage := time.Now()
	waitPV(t, volt, "PSU:VOLT goes INVALID/COMM", func(s *ca.Snapshot) bool {
		return s.Meta.Alarm == dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityInvalid}
	})
	before := d.(drivers.StatsReporter).Stats().Errors
	// Let the reopening fail for a second (a span to count attempts in, not
	// a wait for an event), then give the port back.
	select {
	case <-time.After(time.Second):
	case <-t.Context().Done():
	}
	failed := d.(drivers.StatsReporter).Stats().Errors - before
	p.Start()
	waitPV(t, volt, "PSU:VOLT recovers", good)
	t.Logf("outage of %v, %d failed opens while the port was gone", time.Since(outage).Round(time.Millisecond), failed)
	// Back-off 50ms doubling to 400ms: about 5 attempts in a second; a
	// tight loop would make thousands.
	if failed > 12 {
		t.Errorf("%d failed opens in 1 s: not backing off", failed)
	}
	if n := dev.count("*IDN?"); n != 2 {
		t.Errorf("init ran %d times, want 2 (connect and reconnect); the instrument got %q", n, dev.commands())
	}
}
