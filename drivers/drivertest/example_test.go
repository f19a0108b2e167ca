package drivertest_test

import (
	"context"
	"fmt"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
)

// A Fake stands in for a device in the tests of the mapping layer: set
// values, inject failures, inspect writes.
func ExampleFake() {
	ctx := context.Background()
	f := drivertest.NewFake(nil)
	f.Set("temp", drivers.Floats{21.5})
	temp, _ := f.ParsePoint(drivers.PointSpec{Address: "temp"})
	sp, _ := f.ParsePoint(drivers.PointSpec{Address: "sp", Type: "int16"})

	ss, _ := f.Read(ctx, []drivers.Point{temp})
	fmt.Println(ss[0].Point, ss[0].Value)

	_ = f.Write(ctx, sp, drivers.Ints{7})
	fmt.Println(f.Writes())

	f.SetError(fmt.Errorf("plc gone: %w", drivers.ErrDisconnected))
	_, err := f.Read(ctx, []drivers.Point{temp})
	fmt.Println(err, drivers.AlarmFor(drivers.OpRead, err))
	// Output:
	// temp/float64[1]/rw [21.5]
	// [{sp [7]}]
	// plc gone: drivers: disconnected COMM/INVALID
}
