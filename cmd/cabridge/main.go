// Command cabridge bridges field devices (Modbus PLCs, serial instruments,
// MQTT, simulated devices) to EPICS Channel Access: it serves the PVs a
// configuration file declares and reads, writes and monitors the devices
// behind them. Other subcommands validate configurations, serve a demo
// IOC and the benchmark database (see run.go).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // run reloads its configuration
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, hup)
	signal.Stop(hup)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
