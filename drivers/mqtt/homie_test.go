package mqtt_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
	"github.com/cabridge/cabridge/mapping"
)

// homieTree is a Homie 4 device with a thermostat node, published
// retained as a Homie device would.
var homieTree = [][2]string{
	{"homie/th1/$homie", "4.0"},
	{"homie/th1/$name", "Thermostat"},
	{"homie/th1/$state", "ready"},
	{"homie/th1/$nodes", "room"},
	{"homie/th1/room/$name", "Living room"},
	{"homie/th1/room/$properties", "temp,target,mode,heating,label"},
	{"homie/th1/room/temp/$name", "Temperature"},
	{"homie/th1/room/temp/$datatype", "float"},
	{"homie/th1/room/temp/$unit", "°C"},
	{"homie/th1/room/temp", "21.5"},
	{"homie/th1/room/target/$name", "Target"},
	{"homie/th1/room/target/$datatype", "integer"},
	{"homie/th1/room/target/$format", "5:30"},
	{"homie/th1/room/target/$settable", "true"},
	{"homie/th1/room/target", "20"},
	{"homie/th1/room/mode/$datatype", "enum"},
	{"homie/th1/room/mode/$format", "off,heat,auto"},
	{"homie/th1/room/mode/$settable", "true"},
	{"homie/th1/room/mode", "auto"},
	{"homie/th1/room/heating/$datatype", "boolean"},
	{"homie/th1/room/heating", "true"},
	{"homie/th1/room/label/$datatype", "string"},
	{"homie/th1/room/label", "cosy"},
}

// TestDiscoverHomie reads a Homie device from mosquitto, checks the PVs
// it gives, validates them and reads every property through them.
func TestDiscoverHomie(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	for _, kv := range homieTree {
		p.pub(kv[0], kv[1], true)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	pvs, err := mqtt.DiscoverHomie(ctx, mqtt.Config{Broker: b.url()}, "broker", "", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pv := range pvs {
		lim := func(p *float64) string {
			if p == nil {
				return "-"
			}
			return fmt.Sprint(*p)
		}
		got = append(got, fmt.Sprintf("%s %s %s %q %q [%s,%s] %v %v", pv.Name, pv.Type, pv.Direction, pv.Desc, pv.EGU,
			lim(pv.DRVL), lim(pv.DRVH), pv.EnumStrings, pv.Binding.Options))
	}
	want := []string{
		`th1:room:temp double  "Temperature" "°C" [-,-] [] map[]`,
		`th1:room:target long output_readback "Target" "" [5,30] [] map[command:homie/th1/room/target/set readback:homie/th1/room/target]`,
		`th1:room:mode enum output_readback "" "" [-,-] [off heat auto] map[command:homie/th1/room/mode/set enum:off,heat,auto readback:homie/th1/room/mode]`,
		`th1:room:heating enum  "" "" [-,-] [false true] map[enum:false,true]`,
		`th1:room:label string  "" "" [-,-] [] map[]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("PVs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d := newDevice(t, b, mqtt.Config{}, nil)
	cfg := &mapping.Config{Devices: []mapping.DeviceConfig{{Name: "broker", Driver: "mqtt"}}, PVs: pvs}
	if err := cfg.Validate(map[string]drivers.Device{"broker": d}); err != nil {
		t.Fatalf("discovered PVs do not validate: %v", err)
	}
	pts := make([]drivers.Point, len(pvs))
	for i, pv := range pvs {
		pts[i] = parse(t, d, pv.Binding.PointSpec())
	}
	open(t, d)
	ss, err := d.Read(t.Context(), pts)
	if err != nil {
		t.Fatal(err)
	}
	wantVals := []drivers.Value{drivers.Floats{21.5}, drivers.Ints{20}, drivers.Uints{2}, drivers.Uints{1}, drivers.Strings{"cosy"}}
	for i, s := range ss {
		if s.Err != nil || !drivers.Equal(s.Value, wantVals[i]) {
			t.Errorf("%s = %v, %v; want %v", pvs[i].Name, s.Value, s.Err, wantVals[i])
		}
	}
	// A put on the enum publishes the state's name.
	p.sub("homie/th1/room/mode/set")
	wctx, wcancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer wcancel()
	_ = d.Write(wctx, pts[2], drivers.Uints{1}) // nobody confirms here: a timeout
	if _, ok := p.waitMsg("homie/th1/room/mode/set", 10*time.Second, func(s string) bool { return s == "heat" }); !ok {
		t.Error("enum put did not publish heat")
	}
}
