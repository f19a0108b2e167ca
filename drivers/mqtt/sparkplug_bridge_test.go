package mqtt_test

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers/mqtt"
	"github.com/cabridge/cabridge/mapping"
)

// spbDouble encodes a Sparkplug B payload with one Double metric, named
// (with its alias and engineering-unit properties, as in a BIRTH) or by
// alias only (as in DATA).
func spbDouble(name string, alias uint64, v float64, unit string) []byte {
	var m []byte
	if name != "" {
		m = protowire.AppendTag(m, 1, protowire.BytesType)
		m = protowire.AppendString(m, name)
	}
	m = protowire.AppendTag(m, 2, protowire.VarintType)
	m = protowire.AppendVarint(m, alias)
	m = protowire.AppendTag(m, 4, protowire.VarintType)
	m = protowire.AppendVarint(m, 10) // Double
	if unit != "" {
		var pv []byte
		pv = protowire.AppendTag(pv, 1, protowire.VarintType)
		pv = protowire.AppendVarint(pv, 12) // String
		pv = protowire.AppendTag(pv, 8, protowire.BytesType)
		pv = protowire.AppendString(pv, unit)
		var ps []byte
		ps = protowire.AppendTag(ps, 1, protowire.BytesType)
		ps = protowire.AppendString(ps, "engUnit")
		ps = protowire.AppendTag(ps, 2, protowire.BytesType)
		ps = protowire.AppendBytes(ps, pv)
		m = protowire.AppendTag(m, 9, protowire.BytesType)
		m = protowire.AppendBytes(m, ps)
	}
	m = protowire.AppendTag(m, 13, protowire.Fixed64Type)
	m = protowire.AppendFixed64(m, math.Float64bits(v))
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1700000000000)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// TestSparkplugThroughBridge publishes Sparkplug B messages to mosquitto:
// the DBIRTH gives the value, the alias and the units (which become the
// PV's EGU), the DDATA that names the metric only by alias updates it,
// and a DDATA of another metric leaves it alone.
func TestSparkplugThroughBridge(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	br := startBridge(t, b, mqtt.Config{Subscriptions: []string{"spBv1.0/Plant/+/Edge1/Pump3"}}, []mapping.PVConfig{
		{Name: "SP:TEMP", Scan: mapping.ScanIOIntr, Binding: mapping.Binding{Device: "broker",
			Address: "spBv1.0/Plant/+/Edge1/Pump3", Options: map[string]string{"sparkplug": "Temperature"}}},
	})
	// Retained, so that the bridge gets it whenever it subscribes.
	p.pub("spBv1.0/Plant/DBIRTH/Edge1/Pump3", string(spbDouble("Temperature", 7, 21.5, "degC")), true)
	br.waitPV(t, "SP:TEMP", "21.5 with its units", func(s *ca.Snapshot) bool {
		return dbr.FirstFloat(s.Value) == 21.5 && s.Meta.Properties != nil && s.Meta.Properties.Units == "degC"
	})
	p.pub("spBv1.0/Plant/DDATA/Edge1/Pump3", string(spbDouble("", 8, 99, "")), false) // another metric
	p.pub("spBv1.0/Plant/DDATA/Edge1/Pump3", string(spbDouble("", 7, 22.25, "")), false)
	br.waitPV(t, "SP:TEMP", "22.25 by alias", is(22.25, noAlarm))
	p.pub("spBv1.0/Plant/DDATA/Edge1/Pump3", "not protobuf \xff", false)
	br.waitPV(t, "SP:TEMP", "INVALID/READ on a bad payload", is(22.25, readAlarm))
}

// spbMetricDouble returns the name and Double value of the first metric
// of a Sparkplug B payload.
func spbMetricDouble(t *testing.T, b []byte) (string, float64) {
	t.Helper()
	var name string
	var v float64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad payload")
		}
		b = b[n:]
		if num != 2 || typ != protowire.BytesType {
			b = b[protowire.ConsumeFieldValue(num, typ, b):]
			continue
		}
		m, _ := protowire.ConsumeBytes(b)
		for len(m) > 0 {
			num, typ, n := protowire.ConsumeTag(m)
			m = m[n:]
			switch num {
			case 1:
				s, n := protowire.ConsumeString(m)
				name, m = s, m[n:]
			case 13:
				x, n := protowire.ConsumeFixed64(m)
				v, m = math.Float64frombits(x), m[n:]
			default:
				m = m[protowire.ConsumeFieldValue(num, typ, m):]
			}
		}
		break
	}
	return name, v
}

// TestSparkplugCommand puts to a Sparkplug point with a DCMD command
// topic: the edge node gets a protobuf command setting the metric, and
// the put completes once its DDATA reports the value.
func TestSparkplugCommand(t *testing.T) {
	b := startBroker(t, nil)
	edge := newPeer(t, b, nil)
	edge.sub("spBv1.0/Plant/DCMD/Edge1/Pump3")
	edge.pub("spBv1.0/Plant/DBIRTH/Edge1/Pump3", string(spbDouble("Setpoint", 9, 10, "rpm")), true)
	br := startBridge(t, b, mqtt.Config{}, []mapping.PVConfig{
		{Name: "SP:SET", Direction: mapping.DirOutputReadback, Scan: mapping.ScanIOIntr, Binding: mapping.Binding{
			Device: "broker", Address: "spBv1.0/Plant/+/Edge1/Pump3", Options: map[string]string{
				"sparkplug": "Setpoint", "command": "spBv1.0/Plant/DCMD/Edge1/Pump3",
				"readback": "spBv1.0/Plant/DDATA/Edge1/Pump3"}}},
	})
	br.waitPV(t, "SP:SET", "the BIRTH's 10", is(10, noAlarm))
	put := make(chan error, 1)
	go func() { put <- br.pvs["SP:SET"].Put(t.Context(), dbr.Doubles{1500}) }()
	cmd, ok := edge.waitMsg("spBv1.0/Plant/DCMD/Edge1/Pump3", 10*time.Second, func(string) bool { return true })
	if !ok {
		t.Fatal("no DCMD")
	}
	if name, v := spbMetricDouble(t, []byte(cmd)); name != "Setpoint" || v != 1500 {
		t.Fatalf("DCMD sets %q to %v, want Setpoint 1500", name, v)
	}
	select {
	case err := <-put:
		t.Fatalf("put returned %v before the DDATA confirmed it", err)
	default:
	}
	edge.pub("spBv1.0/Plant/DDATA/Edge1/Pump3", string(spbDouble("", 9, 1500, "")), false)
	select {
	case err := <-put:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the put did not complete after the DDATA")
	}
	br.waitPV(t, "SP:SET", "1500", is(1500, noAlarm))
}

// TestSparkplugRebirth starts the bridge after the edge node's BIRTH: with
// sparkplug_rebirth it asks the node for a rebirth (an NCMD setting
// "Node Control/Rebirth"), and the BIRTH that answers gives the PV its
// value and units, so the DATA that follow, by alias only, are understood.
func TestSparkplugRebirth(t *testing.T) {
	b := startBroker(t, nil)
	edge := newPeer(t, b, nil)
	edge.sub("spBv1.0/Plant/NCMD/Edge1")
	br := startBridge(t, b, mqtt.Config{SparkplugRebirth: true}, []mapping.PVConfig{
		{Name: "SP:TEMP", Scan: mapping.ScanIOIntr, Binding: mapping.Binding{Device: "broker",
			Address: "spBv1.0/Plant/+/Edge1/Pump3", Options: map[string]string{"sparkplug": "Temperature"}}},
	})
	cmd, ok := edge.waitMsg("spBv1.0/Plant/NCMD/Edge1", 10*time.Second, func(string) bool { return true })
	if !ok {
		t.Fatal("no rebirth request")
	}
	if name := spbMetricName(t, []byte(cmd)); name != "Node Control/Rebirth" {
		t.Fatalf("NCMD sets %q, want Node Control/Rebirth", name)
	}
	edge.pub("spBv1.0/Plant/DBIRTH/Edge1/Pump3", string(spbDouble("Temperature", 4, 30, "degC")), false)
	br.waitPV(t, "SP:TEMP", "the rebirth's 30", is(30, noAlarm))
	edge.pub("spBv1.0/Plant/DDATA/Edge1/Pump3", string(spbDouble("", 4, 31.5, "")), false)
	br.waitPV(t, "SP:TEMP", "31.5 by alias", is(31.5, noAlarm))
}

// spbMetricName returns the name of the first metric of a payload.
func spbMetricName(t *testing.T, b []byte) string {
	name, _ := spbMetricDouble(t, b)
	return name
}
