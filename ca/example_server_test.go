package ca_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/cabridge/cabridge/ca"
)

// A server with one double, configured from the EPICS environment. It
// runs until interrupted.
func ExampleServer() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	temp := ca.NewDouble(ca.Options{Units: "degC", Precision: 2}, 21.5)
	var pvs ca.Map
	if err := pvs.Add("demo:temp", temp); err != nil {
		log.Fatal(err)
	}
	cfg, err := ca.ConfigFromEnv(nil)
	if err != nil {
		log.Fatal(err)
	}
	srv := &ca.Server{Directory: &pvs, Config: cfg, Logger: slog.Default()}
	if err := srv.ListenAndServe(ctx); !errors.Is(err, ca.ErrServerClosed) {
		log.Fatal(err)
	}
}

// A Map serves PVs by name; names are listed in order.
func ExampleMap() {
	var m ca.Map
	_ = m.Add("b:x", ca.NewLong(ca.Options{}, 1))
	_ = m.Add("a:x", ca.NewDouble(ca.Options{}, 2))
	err := m.Add("a:x", ca.NewDouble(ca.Options{}, 3))
	fmt.Println(m.Names(), err)
	// Output: [a:x b:x] ca: PV "a:x" already exists
}
