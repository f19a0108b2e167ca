package main

import (
	"context"
	"fmt"

	"github.com/cabridge/cabridge/drivers/serial"
)

// runPorts is the ports command: it lists the host's serial ports with
// the USB vendor, product and serial number of USB adapters, so that a
// serial device can be named by a serial number that survives re-plugging
// (usb_serial in its config).
func runPorts(_ context.Context, a *app, args []string) error {
	fs := a.newFlagSet("ports", "Lists the serial ports with the USB vendor:product and serial number of USB\n"+
		"adapters; a serial device may name its port by serial number (usb_serial: A12345).")
	if err := parse(fs, args); err != nil {
		return err
	}
	ports, err := serial.Ports()
	if err != nil {
		return err
	}
	if len(ports) == 0 {
		fmt.Fprintln(a.stderr, "no serial ports found")
		return nil
	}
	for _, p := range ports {
		if _, err := fmt.Fprintln(a.stdout, p); err != nil {
			return err
		}
	}
	return nil
}
