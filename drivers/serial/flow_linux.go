package serial

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// rtsctsSupported tells Validate that setRTSCTS works here.
const rtsctsSupported = true

// setRTSCTS switches hardware (RTS/CTS) flow control on or off for the
// serial device at path. go.bug.st/serial has no setting for it, but the
// termios flags belong to the tty device rather than to one open file,
// so a second descriptor of the same device can set CRTSCTS for the port
// go.bug.st/serial opened.
func setRTSCTS(path string, on bool) error {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("serial: %s: flow control: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("serial: %s: flow control: %w", path, err)
	}
	if on {
		t.Cflag |= unix.CRTSCTS
	} else {
		t.Cflag &^= unix.CRTSCTS
	}
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("serial: %s: flow control: %w", path, err)
	}
	return nil
}

// rtsctsOn reports whether CRTSCTS is set on the device at path.
func rtsctsOn(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Close() }()
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return false, err
	}
	return t.Cflag&unix.CRTSCTS != 0, nil
}
