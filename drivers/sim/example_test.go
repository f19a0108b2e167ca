package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/sim"
)

// A setpoint echoes into its readback at the slew rate; time comes from
// an injected clock, so the values are exact.
func Example() {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := sim.Config{
		Signals: []sim.Signal{
			{Name: "heater_sp", Kind: sim.Setpoint, Value: 20, Readback: "heater_rb", SlewRate: 0.5},
			{Name: "temp", Kind: sim.Ramp, Period: drivers.Duration(time.Minute), Min: 15, Max: 25},
		},
		Clock: func() time.Time { return now },
	}
	dev, err := sim.NewDevice("oven", cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	ctx := context.Background()
	if err := dev.Open(ctx); err != nil {
		fmt.Println(err)
		return
	}
	sp, _ := dev.ParsePoint(drivers.PointSpec{Address: "heater_sp"})
	rb, _ := dev.ParsePoint(drivers.PointSpec{Address: "heater_rb"})
	temp, _ := dev.ParsePoint(drivers.PointSpec{Address: "temp"})

	if err := dev.Write(ctx, sp, drivers.Floats{25}); err != nil {
		fmt.Println(err)
		return
	}
	now = now.Add(6 * time.Second)
	ss, _ := dev.Read(ctx, []drivers.Point{sp, rb, temp})
	for _, s := range ss {
		fmt.Println(s.Point, s.Value)
	}

	dev.Fail(sim.FailDisconnect, 0)
	_, err = dev.Read(ctx, []drivers.Point{rb})
	fmt.Println(drivers.AlarmFor(drivers.OpRead, err))
	// Output:
	// heater_sp [25]
	// heater_rb [23]
	// temp [16]
	// COMM/INVALID
}
