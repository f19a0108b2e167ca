package serial_test

import (
	"bufio"
	"context"
	"fmt"
	"net"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/serial"
)

// A format formats a value into an output and parses the fields of a
// reply, checksums included.
func ExampleFormat() {
	out, _ := serial.ParseFormat("SET %.2f*%0<sum8>")
	b, _ := out.Append(nil, drivers.Floats{1.5}, ",")
	fmt.Printf("%s\n", b)

	in, _ := serial.ParseFormat("V=%f;I=%f;MODE=%{OFF|ON}")
	fields, err := in.Match([]byte("V=12.500;I=0.25;MODE=ON"), ",", 1, false)
	fmt.Println(fields[0].F, fields[1].F, fields[2].U, err)

	_, err = in.Match([]byte("V=12.500;I=oops"), ",", 1, false)
	fmt.Println(drivers.AlarmFor(drivers.OpRead, err))
	// Output:
	// SET 1.50*FA
	// 12.5 0.25 1 <nil>
	// CALC/INVALID
}

// A device on the raw TCP socket of a serial-device server: one query
// fills two points.
func ExampleNewDevice() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() { // the instrument
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for r := bufio.NewScanner(c); r.Scan(); {
			if r.Text() == "MEAS?" { // Scanner drops the CR of CRLF
				fmt.Fprint(c, "V=12.500;I=0.250\r\n")
			}
		}
	}()

	dev, err := serial.NewDevice("psu", serial.Config{
		TCP:          ln.Addr().String(),
		InTerminator: "CRLF",
		Settings:     serial.Settings{OutTerminator: "CRLF"},
		Protocols:    map[string]serial.Protocol{"meas": {Out: "MEAS?", In: "V=%f;I=%f"}},
	}, nil)
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
	v, _ := dev.ParsePoint(drivers.PointSpec{Address: "meas"})
	i, _ := dev.ParsePoint(drivers.PointSpec{Address: "meas", Options: map[string]string{"field": "1"}})
	ss, err := dev.Read(ctx, []drivers.Point{v, i})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range ss {
		fmt.Println(s.Point, s.Value, s.Err)
	}
	fmt.Println("requests:", dev.Stats().Requests)
	// Output:
	// meas [12.5] <nil>
	// meas#1 [0.25] <nil>
	// requests: 1
}
