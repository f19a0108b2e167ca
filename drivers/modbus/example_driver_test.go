package modbus_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/modbus"
	"github.com/cabridge/cabridge/drivers/modbus/modbustest"
)

// Two units behind one gateway share one connection.
func ExampleDriver() {
	srv, err := modbustest.Start(modbustest.Options{Units: []byte{1, 2}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.Set(1, modbustest.HoldingRegisters, 10, 1234)
	srv.Set(2, modbustest.HoldingRegisters, 10, 0x4049, 0x0FDB) // float32 3.1415927

	var dr modbus.Driver // one per daemon; its New is the drivers.Factory
	defer func() { _ = dr.Close() }()
	ctx := context.Background()
	specs := []drivers.PointSpec{{Address: "hr:10"}, {Address: "hr:10", Type: "float32"}}
	for i, spec := range specs {
		unit := i + 1
		js := fmt.Sprintf(`{"address": %q, "unit_id": %d, "timeout": "1s"}`, srv.Addr(), unit)
		dev, err := dr.New(drivers.Params{Name: fmt.Sprintf("unit%d", unit), Decode: drivers.DecodeJSON([]byte(js))})
		if err != nil {
			log.Fatal(err)
		}
		defer func() { _ = dev.Close() }()
		pt, err := dev.ParsePoint(spec)
		if err != nil {
			log.Fatal(err)
		}
		ss, err := dev.Read(ctx, []drivers.Point{pt})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("unit %d %v = %v\n", unit, pt, ss[0].Value)
	}
	fmt.Println("links:", dr.Links(), "connections seen by the gateway:", srv.Accepted())
	// Output:
	// unit 1 hr:10 uint16 = [1234]
	// unit 2 hr:10 float32 ABCD = [3.1415927410125732]
	// links: 1 connections seen by the gateway: 1
}
