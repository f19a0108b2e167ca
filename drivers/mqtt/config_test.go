package mqtt_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
	"github.com/cabridge/cabridge/drivers/sim"
	"github.com/cabridge/cabridge/mapping"
)

// loadExample decodes a YAML config as the daemon does (strictly, through
// the drivers' factories), expands it with ExpandPVs and validates it.
func loadExample(t *testing.T, text string) (*mapping.Config, map[string]drivers.Device, error) {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var cfg mapping.Config
	if err := drivers.DecodeJSON(js)(&cfg); err != nil {
		t.Fatal(err)
	}
	var reg drivers.Registry
	_ = reg.Register("mqtt", mqtt.New)
	_ = reg.Register("sim", sim.New)
	devs := map[string]drivers.Device{}
	for _, dc := range cfg.Devices {
		d, err := reg.New(dc.Driver, drivers.Params{Name: dc.Name, Decode: drivers.DecodeJSON(dc.Config)})
		if err != nil {
			return nil, nil, err
		}
		t.Cleanup(func() { d.Close() })
		devs[dc.Name] = d
	}
	if cfg.PVs, err = mqtt.ExpandPVs(cfg.PVs); err != nil {
		return nil, nil, err
	}
	return &cfg, devs, cfg.Validate(devs)
}

// TestExampleConfig validates configs/mqtt.yaml, whose humidity entry
// ExpandPVs turns into two PVs.
func TestExampleConfig(t *testing.T) {
	text, err := os.ReadFile("../../configs/mqtt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := loadExample(t, string(text))
	if err != nil {
		t.Fatalf("configs/mqtt.yaml: %v", err)
	}
	var names []string
	for _, pv := range cfg.PVs {
		if strings.HasSuffix(pv.Name, ":HUM") {
			names = append(names, pv.Name+" "+pv.Binding.Address+" "+pv.Desc)
		}
	}
	if strings.Join(names, ", ") != "$(P)boiler:HUM plant/boiler/hum boiler humidity, $(P)chiller:HUM plant/chiller/hum chiller humidity" {
		t.Errorf("expanded PVs: %v", names)
	}
}
