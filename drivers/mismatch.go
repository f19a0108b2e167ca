package drivers

import "errors"

// ErrMismatch: the device answered, but the reply does not match what the
// protocol expects (a serial instrument's garbled or unexpected line, a
// bad checksum). CALC alarm: the value could not be computed from the
// reply. The next matching reply clears it.
var ErrMismatch = errors.New("drivers: reply mismatch")
