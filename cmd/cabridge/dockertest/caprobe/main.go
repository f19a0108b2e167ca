// Command caprobe reads PVs with the project's CA client, configured by
// the usual EPICS_CA_* variables, waiting for each to have a valid value:
//
//	caprobe [-w 10s] NAME...
//
// prints one "NAME VALUE" line per PV (the value as a double) and exits 0,
// or exits 1 naming the first PV without a valid value when -w ends. The
// Docker test runs it in a container to search by UDP broadcast.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/cmd/cabridge/dockertest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "caprobe: %v\n", err)
		os.Exit(1) //nolint:forbidigo // the tiny main of a command, as cmd/cabridge/main.go
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("caprobe", flag.ContinueOnError)
	wait := fs.Duration("w", 10*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("name at least one PV")
	}
	cfg, err := client.ConfigFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	cfg.ClientName = "caprobe"
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	vals, err := dockertest.ReadValid(ctx, c, fs.Args())
	if err != nil {
		return err
	}
	for i, name := range fs.Args() {
		fmt.Fprintf(stdout, "%s %s\n", name, strconv.FormatFloat(vals[i], 'g', -1, 64))
	}
	return nil
}
