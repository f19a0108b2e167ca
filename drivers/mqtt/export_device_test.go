package mqtt_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
)

// TestExport publishes exported PV updates to mosquitto as JSON with
// alarm, timestamp and units, coalescing a burst within the interval.
func TestExport(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	p.sub("exp/#")
	d := newDevice(t, b, mqtt.Config{Export: &mqtt.ExportConfig{PVs: []string{"A:TEMP", "A:MODE"}, Topic: "exp/{pv}",
		MinInterval: drivers.Duration(300 * time.Millisecond), Retain: true}}, nil)
	if got := d.Exports(); fmt.Sprint(got) != "[A:TEMP A:MODE]" {
		t.Errorf("Exports() = %v", got)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	// Updates before Open wait for the connection.
	d.Export(drivers.Export{PV: "A:TEMP", Value: drivers.Floats{21.5}, Time: at, Units: "degC",
		Alarm: dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor}})
	d.Export(drivers.Export{PV: "A:MODE", Value: drivers.Ints{1}, Enum: "On", Time: at})
	open(t, d)
	m, ok := p.waitMsg("exp/A:TEMP", 10*time.Second, nil)
	if !ok {
		t.Fatal("no export of A:TEMP")
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(m), &got); err != nil {
		t.Fatalf("%q: %v", m, err)
	}
	want := map[string]any{"value": 21.5, "severity": "MINOR", "status": "HIGH", "timestamp": "2026-01-02T03:04:05.6Z", "units": "degC"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("export payload %s, want %v", m, want)
	}
	if m, ok := p.waitMsg("exp/A:MODE", 10*time.Second, nil); !ok || m != `{"value":1,"enum":"On","severity":"NO_ALARM","status":"NO_ALARM","timestamp":"2026-01-02T03:04:05.6Z"}` {
		t.Errorf("A:MODE export %q, %v", m, ok)
	}
	// A burst: the rate limit publishes the last value, not all 50.
	for i := range 50 {
		d.Export(drivers.Export{PV: "A:TEMP", Value: drivers.Floats{float64(i)}, Time: at})
	}
	if _, ok := p.waitMsg("exp/A:TEMP", 10*time.Second, func(s string) bool { return strings.HasPrefix(s, `{"value":49,`) }); !ok {
		t.Fatal("the last value of the burst was not published")
	}
	if n := p.count("exp/A:TEMP"); n > 3 {
		t.Errorf("%d publishes of A:TEMP for 51 updates; want at most 3 (rate-limited)", n)
	}
	// Retained: a late subscriber gets the last values.
	late := newPeer(t, b, nil)
	late.sub("exp/A:TEMP")
	if _, ok := late.waitMsg("exp/A:TEMP", 10*time.Second, nil); !ok {
		t.Error("export not retained")
	}
}
