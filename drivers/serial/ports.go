package serial

import (
	"fmt"
	"slices"
	"strings"

	"go.bug.st/serial/enumerator"
)

// PortInfo describes one serial port of the host.
type PortInfo struct {
	Path         string // /dev/ttyUSB0, COM3
	IsUSB        bool
	VID, PID     string // USB vendor and product IDs, hex
	SerialNumber string // USB serial number; usable as Config.USBSerial
	Product      string // USB product string, when known
}

// String formats p for `cabridge ports`: "/dev/ttyUSB0 usb 0403:6001 serial A12345".
func (p PortInfo) String() string {
	if !p.IsUSB {
		return p.Path
	}
	s := fmt.Sprintf("%s usb %s:%s", p.Path, strings.ToLower(p.VID), strings.ToLower(p.PID))
	if p.SerialNumber != "" {
		s += " serial " + p.SerialNumber
	}
	if p.Product != "" {
		s += " (" + p.Product + ")"
	}
	return s
}

// Ports lists the serial ports of the host, sorted by path, with the USB
// vendor, product and serial number of USB adapters. It does no active
// USB probing.
func Ports() ([]PortInfo, error) {
	list, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("serial: list ports: %w", err)
	}
	out := make([]PortInfo, 0, len(list))
	for _, p := range list {
		out = append(out, PortInfo{Path: p.Name, IsUSB: p.IsUSB, VID: p.VID, PID: p.PID, SerialNumber: p.SerialNumber, Product: p.Product})
	}
	slices.SortFunc(out, func(a, b PortInfo) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// portBySerial returns the path of the USB serial adapter whose serial
// number is sn.
func portBySerial(sn string) (string, error) {
	ports, err := Ports()
	if err != nil {
		return "", err
	}
	return findSerial(ports, sn)
}

// findSerial picks the port with serial number sn out of ports.
func findSerial(ports []PortInfo, sn string) (string, error) {
	var found []string
	for _, p := range ports {
		if p.IsUSB && p.SerialNumber == sn {
			found = append(found, p.Path)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("serial: no USB serial port with serial number %q", sn)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("serial: %d USB serial ports with serial number %q: %s", len(found), sn, strings.Join(found, ", "))
}
