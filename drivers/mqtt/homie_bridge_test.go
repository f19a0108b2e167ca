package mqtt_test

import (
	"testing"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers/mqtt"
	"github.com/cabridge/cabridge/mapping"
)

// TestHomieMetadataThroughBridge binds a PV to a Homie property with
// option homie: the property's retained $unit, $name and $format become
// the PV's units, description and display limits, and a changed $unit
// reaches the PV while it runs.
func TestHomieMetadataThroughBridge(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	for topic, v := range map[string]string{
		"homie/boiler/water/temp/$unit":   "°C",
		"homie/boiler/water/temp/$name":   "water temperature",
		"homie/boiler/water/temp/$format": "0:100",
		"homie/boiler/water/temp":         "42.5",
	} {
		p.pub(topic, v, true)
	}
	br := startBridge(t, b, mqtt.Config{}, []mapping.PVConfig{
		{Name: "H:TEMP", Scan: mapping.ScanIOIntr, Binding: mapping.Binding{Device: "broker",
			Address: "homie/boiler/water/temp", Options: map[string]string{"homie": "true"}}},
	})
	br.waitPV(t, "H:TEMP", "42.5 with the Homie metadata", func(s *ca.Snapshot) bool {
		pr := s.Meta.Properties
		return dbr.FirstFloat(s.Value) == 42.5 && pr != nil && pr.Units == "°C" &&
			pr.Limits.DisplayLow == 0 && pr.Limits.DisplayHigh == 100
	})
	p.pub("homie/boiler/water/temp/$unit", "K", true)
	br.waitPV(t, "H:TEMP", "the new unit", func(s *ca.Snapshot) bool {
		return s.Meta.Properties != nil && s.Meta.Properties.Units == "K" && dbr.FirstFloat(s.Value) == 42.5
	})
}
