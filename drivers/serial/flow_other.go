//go:build !linux

package serial

import "errors"

// rtsctsSupported tells Validate that setRTSCTS does not work here.
const rtsctsSupported = false

// setRTSCTS is not available: only Linux termios is supported.
func setRTSCTS(string, bool) error {
	return errors.New("serial: RTS/CTS flow control is only supported on Linux")
}

// rtsctsOn is not available either.
func rtsctsOn(string) (bool, error) { return false, errors.ErrUnsupported }
