package drivers

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cabridge/cabridge/ca/dbr"
)

// Sentinel errors. Drivers wrap them with %w and the what and where
// ("modbus: plc1 unit 3: read hr:100+4: drivers: timeout"); callers test
// them with errors.Is. AlarmFor turns them into alarms.
var (
	// ErrTimeout: the device did not answer in time. TIMEOUT alarm.
	ErrTimeout = errors.New("drivers: timeout")
	// ErrDisconnected: there is no connection to the device, or it broke.
	// COMM alarm; the caller reopens the device with a back-off.
	ErrDisconnected = errors.New("drivers: disconnected")
	// ErrNotSent: the request certainly did not reach the device, so a
	// write may be retried. Only ever wrapped together with another error.
	ErrNotSent = errors.New("drivers: request not sent")
	// ErrBadPoint: the point's address or type is invalid, or the device
	// rejects the address. READ or WRITE alarm.
	ErrBadPoint = errors.New("drivers: bad point")
	// ErrBadValue: the value cannot be written to the point (kind,
	// length, range). WRITE alarm.
	ErrBadValue = errors.New("drivers: bad value")
	// ErrReadOnly: the point cannot be written. WRITE alarm.
	ErrReadOnly = errors.New("drivers: read-only point")
	// ErrDevice: the device answered with an error (a Modbus exception,
	// an instrument's error reply). READ or WRITE alarm. See DeviceError.
	ErrDevice = errors.New("drivers: device error")
	// ErrClosed: the device was closed. COMM alarm.
	ErrClosed = errors.New("drivers: device closed")
	// ErrUnsupported: the device cannot do what was asked (subscribe to a
	// point that is never pushed). READ or WRITE alarm.
	ErrUnsupported = errors.New("drivers: not supported")
	// ErrUnknownDriver: a Registry has no factory of that name.
	ErrUnknownDriver = errors.New("drivers: unknown driver")
	// ErrDuplicate: a Registry already has a factory of that name.
	ErrDuplicate = errors.New("drivers: driver already registered")
)

// DeviceError is an error reply of a device, with its protocol exception
// code. It wraps ErrDevice.
type DeviceError struct {
	Code int    // protocol exception or error code, e.g. 2 for Modbus ILLEGAL DATA ADDRESS
	Text string // the protocol's name or the device's text for it
}

// Error returns "drivers: device error: exception 2 (illegal data address)".
func (e *DeviceError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("%v: exception %d", ErrDevice, e.Code)
	}
	return fmt.Sprintf("%v: exception %d (%s)", ErrDevice, e.Code, e.Text)
}

// Unwrap returns ErrDevice.
func (e *DeviceError) Unwrap() error { return ErrDevice }

// ExceptionCode returns e.Code.
func (e *DeviceError) ExceptionCode() int { return e.Code }

// ExceptionCode returns the protocol exception code carried by err: that
// of the first error in its tree with an ExceptionCode() int method (such
// as *DeviceError; a driver's own exception type may implement it too).
func ExceptionCode(err error) (int, bool) {
	var e interface{ ExceptionCode() int }
	if errors.As(err, &e) {
		return e.ExceptionCode(), true
	}
	return 0, false
}

// Op says whether an operation read or wrote, for AlarmFor.
type Op uint8

// The operations.
const (
	OpRead  Op = iota // Read or Subscribe
	OpWrite           // Write
)

// String returns "read" or "write".
func (o Op) String() string {
	if o == OpWrite {
		return "write"
	}
	return "read"
}

// AlarmFor returns the alarm a PV gets when op failed with err: no alarm
// for nil; TIMEOUT/INVALID for ErrTimeout, a context deadline or any error
// with a true Timeout() method; COMM/INVALID for ErrDisconnected and
// ErrClosed; CALC/INVALID for ErrMismatch; otherwise READ/INVALID or WRITE/INVALID by op (bad points,
// bad values, device errors and errors of unknown origin). A cancelled
// context is COMM: the value was not obtained for reasons outside the
// point.
func AlarmFor(op Op, err error) dbr.Alarm {
	if err == nil {
		return dbr.Alarm{}
	}
	invalid := func(s dbr.Status) dbr.Alarm { return dbr.Alarm{Status: s, Severity: dbr.SeverityInvalid} }
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &te) && te.Timeout():
		return invalid(dbr.StatusTimeout)
	case errors.Is(err, ErrDisconnected), errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		return invalid(dbr.StatusComm)
	case errors.Is(err, ErrMismatch):
		return invalid(dbr.StatusCalc)
	case op == OpWrite:
		return invalid(dbr.StatusWrite)
	}
	return invalid(dbr.StatusRead)
}

// Retryable reports whether a failed Write may be sent again: only when
// its error wraps ErrNotSent. Reads may always be retried.
func Retryable(err error) bool { return errors.Is(err, ErrNotSent) }

// ConfigError is one problem in a driver's config section, at a key path
// relative to the section ("timeout", "signals[2].period"). A Validate
// method returns all of them joined with errors.Join; the daemon prefixes
// the device's own path and finds the file and line.
type ConfigError struct {
	Path  string // key path in the section, with snake_case keys and [i] indices
	Value any    // the offending value, or nil when the key is missing
	Err   error  // what is wrong with it
}

// Error returns "signals[2].period: 0s: must be positive", or
// "path: message" when Value is nil.
func (e *ConfigError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("%s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("%s: %v: %v", e.Path, e.Value, e.Err)
}

// Unwrap returns e.Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// ConfigErrors collects ConfigErrors for a Validate method. The zero
// value is ready to use.
type ConfigErrors struct {
	errs []error
}

// Add records a problem at path. msg is formatted with args by
// fmt.Errorf, so it may wrap an error with %w.
func (c *ConfigErrors) Add(path string, value any, msg string, args ...any) {
	c.errs = append(c.errs, &ConfigError{Path: path, Value: value, Err: fmt.Errorf(msg, args...)})
}

// Err returns every recorded problem joined with errors.Join, or nil.
func (c *ConfigErrors) Err() error { return errors.Join(c.errs...) }
