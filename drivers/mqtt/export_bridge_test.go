package mqtt_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
	"github.com/cabridge/cabridge/drivers/sim"
	"github.com/cabridge/cabridge/mapping"
)

// TestBridgeExport publishes a PV of another device (a simulated
// counter, standing in for a Modbus register) and a PV fed by MQTT itself
// to the broker through the mapping layer, with units, alarm and
// timestamp in the JSON.
func TestBridgeExport(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	p.sub("bridge/#")
	p.pub("in/t", "99", true)
	mq := newDevice(t, b, mqtt.Config{Export: &mqtt.ExportConfig{PVs: []string{"$(P)COUNT", "$(P)T"}, Topic: "bridge/{pv}",
		MinInterval: drivers.Duration(100 * time.Millisecond)}}, nil)
	counter, err := sim.NewDevice("plc", sim.Config{Signals: []sim.Signal{
		{Name: "count", Kind: sim.Counter, Type: "int32", Period: drivers.Duration(50 * time.Millisecond)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { counter.Close() })
	hihi := 90.0
	cfg := &mapping.Config{
		Macros:  "P=EX:",
		Devices: []mapping.DeviceConfig{{Name: "broker", Driver: "mqtt"}, {Name: "plc", Driver: "sim"}},
		PVs: []mapping.PVConfig{
			{Name: "$(P)COUNT", EGU: "counts", Scan: "50ms", Binding: mapping.Binding{Device: "plc", Address: "count"}},
			{Name: "$(P)T", Type: "double", HIHI: &hihi, HHSV: "MAJOR", Scan: mapping.ScanIOIntr, Binding: mapping.Binding{Device: "broker", Address: "in/t"}},
		},
	}
	g := ioc.NewGroup("", nil)
	br, err := mapping.New(cfg, map[string]drivers.Device{"broker": mq, "plc": counter}, g, mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = br.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	var first map[string]any
	if _, ok := p.waitMsg("bridge/EX:COUNT", 10*time.Second, func(s string) bool {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil || m["value"] == nil || m["value"].(float64) < 2 {
			return false
		}
		first = m
		return true
	}); !ok {
		t.Fatal("EX:COUNT not exported")
	}
	if first["units"] != "counts" || first["severity"] != "NO_ALARM" || first["timestamp"] == "" {
		t.Errorf("EX:COUNT export %v", first)
	}
	m, ok := p.waitMsg("bridge/EX:T", 10*time.Second, func(s string) bool {
		var m map[string]any
		return json.Unmarshal([]byte(s), &m) == nil && m["value"] == 99.0
	})
	if !ok {
		t.Fatal("EX:T not exported")
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(m), &got)
	if got["severity"] != "MAJOR" || got["status"] != "HIHI" {
		t.Errorf("EX:T export %s: want MAJOR HIHI", m)
	}
}
