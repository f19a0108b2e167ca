package drivers_test

import (
	"context"
	"fmt"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/sim"
)

// The daemon fills a registry explicitly, builds a device from its config
// section, parses a binding and reads it; a failure becomes an alarm.
func Example() {
	var reg drivers.Registry
	if err := reg.Register("sim", sim.New); err != nil {
		fmt.Println(err)
		return
	}
	section := []byte(`{"signals": [{"name": "temp", "kind": "constant", "value": 21.5}]}`)
	dev, err := reg.New("sim", drivers.Params{Name: "sim1", Decode: drivers.DecodeJSON(section)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()

	pt, err := dev.ParsePoint(drivers.PointSpec{Address: "temp"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_, err = dev.Read(ctx, []drivers.Point{pt})
	fmt.Println("before Open:", drivers.AlarmFor(drivers.OpRead, err))

	if o, ok := dev.(drivers.Opener); ok {
		if err := o.Open(ctx); err != nil {
			fmt.Println(err)
			return
		}
	}
	samples, err := dev.Read(ctx, []drivers.Point{pt})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pt, pt.Type(), samples[0].Value)

	_, err = reg.New("sim", drivers.Params{Name: "sim2", Decode: drivers.DecodeJSON([]byte(`{"signals": [{"name": "x", "kind": "sine"}]}`))})
	fmt.Println(err)
	// Output:
	// before Open: COMM/INVALID
	// temp float64[1] r [21.5]
	// drivers: device "sim2" (sim): sim: invalid config: signals[0].period: 0s: must be positive for a sine
}

func ExampleConvert() {
	v, err := drivers.Convert(drivers.Floats{41.7}, drivers.KindUint)
	fmt.Println(v, err)
	_, err = drivers.Convert(drivers.Floats{-1}, drivers.KindUint)
	fmt.Println(err)
	// Output:
	// [42] <nil>
	// drivers: bad value: element 0: -1 out of range
}
