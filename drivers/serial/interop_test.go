package serial_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/serial"
	"github.com/cabridge/cabridge/mapping"
)

// peer gates the interop test on pyepics (catest.PyEpics).
var peer catest.PyEpics

// psuDeviceJSON is the device section of the bridged power supply, as
// the daemon hands it to the factory (after YAML → JSON); %s is the port.
const psuDeviceJSON = `{
	"port": %q, "baud": 115200,
	"in_terminator": "CRLF", "out_terminator": "CRLF",
	"reply_timeout": "1s", "read_timeout": "50ms",
	"init": [{"out": "*IDN?", "in": "CABRIDGE,%%*s"}],
	"protocols": {
		"meas":   {"out": "MEAS?", "in": "V=%%f;I=%%f"},
		"curr":   {"out": "CURR?", "in": "%%f", "write": {"out": "CURR %%.3f", "in": "OK"}},
		"silent": {"out": "SILENT?", "in": "%%f"},
		"junk":   {"out": "GARBAGE?", "in": "%%f"},
		"event":  {"in": "EVT %%d"}
	}
}`

// alarm is a PV's alarm as pyepics reports it.
type alarm struct {
	Severity int `json:"severity"`
	Status   int `json:"status"`
}

// TestInteropPyEpics serves the simulated power supply, reached through a
// socat pty pair, as PVs and drives them with libca through pyepics: a
// poll of a two-value reply, a put whose callback completes once the
// instrument acknowledged it, a TIMEOUT and a CALC alarm, and an
// unsolicited line seen by a monitor.
func TestInteropPyEpics(t *testing.T) {
	peer.Require(t)
	dev := newPSU()
	p := newPTY(t, dev)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := serial.New(drivers.Params{Name: "psu", Logger: log,
		Decode: drivers.DecodeJSON(fmt.Appendf(nil, psuDeviceJSON, p.A))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	bind := func(addr string, opts map[string]string) mapping.Binding {
		return mapping.Binding{Device: "psu", Address: addr, Options: opts}
	}
	cfg := &mapping.Config{
		// The device timeout bounds a whole scan: it must exceed the sum
		// of the reply timeouts of the queries that may time out in it.
		Devices: []mapping.DeviceConfig{{Name: "psu", Driver: "serial", HealthPrefix: "PSU:",
			Timeout: drivers.Duration(5 * time.Second), Backoff: drivers.Duration(100 * time.Millisecond)}},
		PVs: []mapping.PVConfig{
			{Name: "PSU:VOLT", EGU: "V", Prec: 3, Scan: "200ms", Binding: bind("meas", nil)},
			{Name: "PSU:CURR", EGU: "A", Prec: 3, Scan: "200ms", Binding: bind("meas", map[string]string{"field": "1"})},
			{Name: "PSU:CURR_SP", EGU: "A", Prec: 3, Direction: mapping.DirOutput, Binding: bind("curr", nil)},
			{Name: "PSU:SILENT", Scan: "500ms", Binding: bind("silent", nil)},
			{Name: "PSU:GARBLED", Scan: "700ms", Binding: bind("junk", nil)},
			{Name: "PSU:EVT", Type: "long", Scan: mapping.ScanIOIntr, Binding: bind("event", nil)},
		},
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
	srv := catest.NewServer(t, pvs)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { _ = br.Run(ctx) })
	// The instrument volunteers an event line every 100 ms.
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case p.pushes <- fmt.Sprintf("EVT %d", n):
				case <-ctx.Done():
					return
				}
			}
		}
	})

	sctx, scancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer scancel()
	cmd := catest.Command(sctx, srv.Env(), filepath.Join("testdata", "psu.py"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("psu.py: %v\nstderr:\n%s", err, stderr.String())
	}
	var res struct {
		Volt      *float64  `json:"volt"`
		Curr      *float64  `json:"curr"`
		CurrAfter *float64  `json:"curr_after"`
		Put       *int      `json:"put"`
		Silent    alarm     `json:"silent"`
		Garbled   alarm     `json:"garbled"`
		Events    []float64 `json:"events"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("psu.py output %q: %v\nstderr:\n%s", out, err, stderr.String())
	}
	t.Logf("pyepics saw %s", out)
	if res.Volt == nil || *res.Volt != 12.5 || res.Curr == nil || *res.Curr != 0.25 {
		t.Errorf("caget PSU:VOLT, PSU:CURR = %v, %v; want 12.5, 0.25", res.Volt, res.Curr)
	}
	if res.Put == nil || *res.Put != 1 {
		t.Errorf("caput PSU:CURR_SP wait=True = %v; want 1", res.Put)
	}
	if res.CurrAfter == nil || *res.CurrAfter != 1.75 {
		t.Errorf("PSU:CURR after the put = %v; want 1.75", res.CurrAfter)
	}
	if !contains(dev.commands(), "CURR 1.750") {
		t.Errorf("the instrument never got CURR 1.750: %q", dev.commands())
	}
	const invalid, timeout, calc = 3, 10, 12 // EPICS severity and status codes
	if res.Silent.Severity != invalid || res.Silent.Status != timeout {
		t.Errorf("PSU:SILENT alarm = %+v; want INVALID/TIMEOUT", res.Silent)
	}
	if res.Garbled.Severity != invalid || res.Garbled.Status != calc {
		t.Errorf("PSU:GARBLED alarm = %+v; want INVALID/CALC", res.Garbled)
	}
	if len(res.Events) < 3 {
		t.Errorf("monitor of PSU:EVT saw %v; want 3 unsolicited values", res.Events)
	}
}
