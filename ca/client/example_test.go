package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

func Example() {
	// An in-process server for the example; normally the configuration
	// comes from client.ConfigFromEnv(os.LookupEnv).
	srv, err := startFakeServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.close()
	srv.add("DEMO:TEMP", dbr.Doubles{21.5})

	c, err := client.New(client.Config{AddrList: []string{srv.udpAddr()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = c.Close() }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := c.Connect(ctx, "DEMO:TEMP")
	if err != nil {
		fmt.Println(err)
		return
	}
	typ, count := ch.Native()
	fmt.Println(ch.Name(), typ, count, ch.Access())

	if err := ch.PutWait(ctx, dbr.Doubles{22.25}); err != nil {
		fmt.Println(err)
		return
	}
	v, md, err := ch.Get(ctx, dbr.TimeDouble, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v, md.Alarm)
	// Output:
	// DEMO:TEMP DBR_DOUBLE 1 read/write
	// [22.25] HIHI/MAJOR
}
