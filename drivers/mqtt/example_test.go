package mqtt_test

import (
	"fmt"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
	"github.com/cabridge/cabridge/mapping"
)

// A device is built from its config section without I/O; its points are
// topics with payload options.
func Example() {
	var reg drivers.Registry
	_ = reg.Register("mqtt", mqtt.New)
	section := `{"broker": "tcp://127.0.0.1:1883", "status_topic": "cabridge/status", "subscriptions": ["plant/+/temp"], "stale": "30s"}`
	dev, err := reg.New("mqtt", drivers.Params{Name: "plant", Decode: drivers.DecodeJSON([]byte(section))})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	for _, spec := range []drivers.PointSpec{
		{Address: "plant/boiler/temp", Options: map[string]string{"path": "t", "severity_path": "sev"}},
		{Address: "plant/boiler/sp", Type: "int32", Options: map[string]string{"command": "plant/boiler/sp/set", "template": `{"sp": {value}}`}},
		{Address: "plant/spectrum", Len: 256, Options: map[string]string{"path": "data.bins"}},
		{Address: "plant/#/temp"},
	} {
		pt, err := dev.ParsePoint(spec)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(pt, "→", pt.Type())
	}
	// Output:
	// plant/boiler/temp type=float64 path=t severity_path=sev → float64[1] r
	// plant/boiler/sp type=int32 command=plant/boiler/sp/set template={"sp": {value}} → int32[1] rw
	// plant/spectrum type=float64 len=256 path=data.bins → float64[256] r
	// plant: mqtt: point "plant/#/temp": drivers: bad point: address: '#' must be the last level of "plant/#/temp"
}

// ExpandPVs builds PV names from topic levels before the configuration
// is validated.
func ExampleExpandPVs() {
	pvs, err := mqtt.ExpandPVs([]mapping.PVConfig{{
		Name: "PLANT:{room}:TEMP",
		Scan: mapping.ScanIOIntr,
		Binding: mapping.Binding{Device: "plant", Address: "plant/{room}/temp",
			Options: map[string]string{"expand": "room=boiler,chiller", "path": "t"}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, pv := range pvs {
		fmt.Println(pv.Name, pv.Binding.Address, pv.Binding.Options)
	}
	// Output:
	// PLANT:boiler:TEMP plant/boiler/temp map[path:t]
	// PLANT:chiller:TEMP plant/chiller/temp map[path:t]
}
