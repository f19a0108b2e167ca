package drivers

import (
	"context"
	"log/slog"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
)

// Device is one configured connection to a piece of field hardware: a PLC
// unit, a serial instrument, a broker topic tree. Every driver implements
// it; the optional interfaces Opener, Subscriber and StatsReporter add
// connection set-up, pushed values and health counters.
//
// Lifecycle: a Factory constructs the Device from its decoded and
// validated config without doing I/O. The caller then parses its bindings
// with ParsePoint, calls Open (when the device is an Opener) before the
// first Read, Write or Subscribe, and calls Close once it is done.
//
// Concurrency: ParsePoint and (for a StatsReporter) Stats may be called
// from any goroutine at any time. Read and Write are never called
// concurrently with each other: the caller serializes them per device,
// from one goroutine at a time. Subscribe runs in a goroutine of its own,
// concurrently with Read and Write. Open is never called concurrently with
// Read, Write or Subscribe. Close is called after every other call has
// returned; it may be called more than once.
//
// Contexts passed to a Device bound the call they are passed to and are
// never stored. A call whose context is already done on entry returns an
// error wrapping ctx.Err() without doing any I/O.
type Device interface {
	// ParsePoint parses and validates one binding into a Point of this
	// device, without I/O. An invalid spec gives an error wrapping
	// ErrBadPoint that names the offending field.
	ParsePoint(spec PointSpec) (Point, error)

	// Read reads pts in as few round trips as the protocol allows and
	// returns one Sample per point, in the order of pts, with
	// Sample.Point == pts[i]. A failure that concerns single points (an
	// address the device rejects, a value it cannot decode) goes into that
	// Sample's Err and does not fail the other points. A failure of the
	// whole device (no connection, a timeout) is returned as the error,
	// with nil samples. Read with no points returns no samples and no error.
	//
	// The caller owns pts and does not modify it during the call; it
	// tends to pass the same slice every scan period, so a driver may
	// memoise a request plan per distinct set of points. A driver may
	// retry a read internally, within ctx.
	Read(ctx context.Context, pts []Point) ([]Sample, error)

	// Write writes v to pt. v has the Kind and length of pt.Type() (use
	// Convert); a mismatch gives an error wrapping ErrBadValue.
	//
	// A write is applied at most once. The driver never retries a request
	// that may have reached the device, and the caller never retries a
	// failed Write either, unless its error wraps ErrNotSent, which a driver
	// returns only when it knows that nothing left for the device. This is
	// the rule database/sql/driver states for ErrBadConn: a device may
	// already have acted on a request whose reply was lost, and acting
	// twice (a pulse, a counter, a motor move) is worse than an error.
	//
	// Write returns once the device confirmed the write, or with an error.
	Write(ctx context.Context, pt Point, v Value) error

	// Close releases the connection and every resource of the device and
	// stops its goroutines before it returns. It is safe after a failed or
	// missing Open, and a second Close returns nil. Calls after Close
	// return errors wrapping ErrClosed.
	Close() error
}

// Opener is implemented by devices that set up a connection. The caller
// calls Open before the first Read, Write or Subscribe, and again (with
// an exponential back-off) after any call failed with an error wrapping
// ErrDisconnected: Open then discards what is left of the old connection
// first. Outputs are re-initialised from the device after every
// successful Open. Devices that are not Openers connect lazily or have
// nothing to connect.
type Opener interface {
	// Open connects within ctx. It does not start goroutines that outlive
	// Close.
	Open(ctx context.Context) error
}

// Subscriber is implemented by devices that push values (MQTT topics,
// unsolicited lines of a serial instrument, a simulator's timer).
type Subscriber interface {
	// Subscribe delivers values of pts as the device pushes them, by
	// calling emit, until ctx is done; it then returns an error wrapping
	// ctx.Err(). It returns earlier, with an error wrapping
	// ErrDisconnected, when the connection is lost; the caller then opens
	// the device again and subscribes anew. An error in a pushed value of
	// one point is a Sample with Err set, not a return.
	//
	// emit is called from one goroutine at a time, never after Subscribe
	// returned, and must not block for long; it owns nothing in the Sample
	// it is handed except the Value, which the driver does not touch again.
	// Subscribe may run concurrently with Read and Write.
	Subscribe(ctx context.Context, pts []Point, emit func(Sample)) error
}

// StatsReporter is implemented by devices that count their requests and
// errors. The mapping layer turns Stats into health PVs.
type StatsReporter interface {
	// Stats returns a snapshot of the counters. It is safe for concurrent
	// use with every other method, Close included.
	Stats() Stats
}

// Sample is the value of one point at one time, or why there is none.
type Sample struct {
	Point Point     // the point read or pushed
	Value Value     // nil when Err is set
	Time  time.Time // when the device sampled the value, or when it was read
	Err   error     // a per-point failure; see AlarmFor
	// Alarm is an alarm the device reported together with a good Value
	// (an MQTT payload's severity, an instrument's out-of-range flag);
	// nil means none. The PV's own alarm limits still apply on top.
	Alarm *dbr.Alarm
	// Meta is metadata the device reported for the point (a Sparkplug
	// BIRTH's engineering units); nil means none. The mapping layer
	// applies it to the PV where the configuration leaves it open.
	Meta *Meta
}

// Meta is metadata of a point as a device describes it. Empty and nil
// fields are unknown.
type Meta struct {
	Units       string   // engineering units
	Desc        string   // a description
	DisplayLow  *float64 // the lower display limit
	DisplayHigh *float64 // the upper display limit
}

// Params is what a Factory receives to construct one device.
type Params struct {
	// Name is the device's name in the configuration, for logs and errors.
	Name string
	// Decode strictly decodes the device's config section into the
	// driver's config struct (a pointer): unknown keys and values of the
	// wrong type are errors. The daemon builds it from its config file;
	// tests use DecodeJSON. Keys are snake_case json struct tags, and
	// durations are written as Duration strings ("250ms").
	Decode func(into any) error
	// Logger receives the device's logs; nil discards them. Drivers name
	// the device in every line (Logger.With("device", Name)).
	Logger *slog.Logger
}

// A Factory constructs a Device from its config section: it decodes the
// section with p.Decode into the driver's own Config struct, validates it
// (reporting every problem, see ConfigError) and builds the Device. It
// does no I/O and starts no goroutines.
type Factory func(p Params) (Device, error)

// DiscardLogger returns l, or a logger that discards everything when l is
// nil.
func DiscardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Validator is implemented by driver config structs. Validate checks the
// decoded config without I/O and reports every problem at once, as
// ConfigErrors joined with errors.Join (see ConfigErrors).
type Validator interface {
	Validate() error
}

// Build is the body of a typical Factory: it decodes p's section strictly
// into a new C with p.Decode and constructs the device with newDevice,
// which validates the config (reporting every problem) and does no I/O:
//
//	func New(p drivers.Params) (drivers.Device, error) { return drivers.Build(p, NewDevice) }
func Build[C any, D Device](p Params, newDevice func(name string, cfg C, logger *slog.Logger) (D, error)) (Device, error) {
	var cfg C
	if p.Decode != nil {
		if err := p.Decode(&cfg); err != nil {
			return nil, err
		}
	}
	d, err := newDevice(p.Name, cfg, p.Logger)
	if err != nil {
		return nil, err
	}
	return d, nil
}
