package sim

import (
	"fmt"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// SignalKind names what a signal does.
type SignalKind string

// The signal kinds.
const (
	Ramp     SignalKind = "ramp"     // from min to max over each period, then back to min
	Sine     SignalKind = "sine"     // offset + amplitude·sin(2π·t/period)
	Noise    SignalKind = "noise"    // offset + amplitude·u, u uniform in [-1, 1), seeded
	Counter  SignalKind = "counter"  // value + step·(whole periods elapsed); integers wrap at their width
	Constant SignalKind = "constant" // value (or text for a string)
	Setpoint SignalKind = "setpoint" // a writable value, echoed into an optional readback point
)

// FailMode is how a failing device fails.
type FailMode string

// The failure modes.
const (
	// FailDisconnect: every call fails at once with an error wrapping
	// drivers.ErrDisconnected, and the device must be opened again.
	FailDisconnect FailMode = "disconnect"
	// FailTimeout: calls get no answer; they end with an error wrapping
	// drivers.ErrTimeout when their context ends or Config.Timeout passes.
	FailTimeout FailMode = "timeout"
)

// Config is the config section of a sim device.
//
//	signals:
//	  - {name: temp, kind: sine, period: 60s, amplitude: 5, offset: 20}
//	  - {name: heater_sp, kind: setpoint, value: 20, readback: heater_rb, slew_rate: 0.5}
//	push_period: 500ms
//	outage: {every: 5m, for: 20s, mode: disconnect}
type Config struct {
	// Signals are the device's points; at least one.
	Signals []Signal `json:"signals"`
	// Seed seeds the noise signals; the same seed and the same sequence
	// of reads give the same values.
	Seed uint64 `json:"seed"`
	// PushPeriod is the period at which Subscribe pushes every subscribed
	// point; default 1s.
	PushPeriod drivers.Duration `json:"push_period"`
	// Timeout is how long a call waits for an answer in FailTimeout mode
	// when its context has no earlier deadline; default 1s.
	Timeout drivers.Duration `json:"timeout"`
	// Outage, when set, makes the device fail on a schedule.
	Outage *Outage `json:"outage"`

	// Clock returns the current time; nil means time.Now. Signals are
	// functions of the time since the device was constructed, so a test
	// clock makes every value deterministic.
	Clock func() time.Time `json:"-"`
}

// Signal is one simulated signal, read through the point whose address
// is its Name.
type Signal struct {
	// Name is the point address; unique in the device.
	Name string `json:"name"`
	// Kind is what the signal does.
	Kind SignalKind `json:"kind"`
	// Type is the point's data type: float64 (the default), float32,
	// int16, int32, int64, uint16, uint32, uint64, bool (constant,
	// counter, setpoint: true when the integer part is odd) or string
	// (constant, setpoint).
	Type string `json:"type"`
	// Len is the number of elements, default 1; element i of a periodic
	// signal is sampled i/Len periods later, so an array is a waveform.
	Len int `json:"len"`
	// Period of a ramp, sine or counter.
	Period drivers.Duration `json:"period"`
	// Min and Max bound a ramp.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Amplitude and Offset shape a sine or noise.
	Amplitude float64 `json:"amplitude"`
	Offset    float64 `json:"offset"`
	// Step is a counter's increment per period; default 1.
	Step float64 `json:"step"`
	// Value is a constant's value, a counter's start or a setpoint's
	// initial value.
	Value float64 `json:"value"`
	// Text is the value of a string constant or setpoint.
	Text string `json:"text"`
	// Readback names a read-only point that follows a setpoint.
	Readback string `json:"readback"`
	// SlewRate is how fast the readback follows, in units per second;
	// 0 means at once.
	SlewRate float64 `json:"slew_rate"`
}

// Outage schedules failures: the device fails for For at the end of
// every Every (first at Every, counted from construction).
type Outage struct {
	Every drivers.Duration `json:"every"`
	For   drivers.Duration `json:"for"`
	Mode  FailMode         `json:"mode"`
}

// typeInfo maps a type name to its kind and width.
func typeInfo(name string) (drivers.Kind, int, bool) {
	switch name {
	case "bool":
		return drivers.KindBool, 1, true
	case "int16":
		return drivers.KindInt, 16, true
	case "int32":
		return drivers.KindInt, 32, true
	case "int64":
		return drivers.KindInt, 64, true
	case "uint16":
		return drivers.KindUint, 16, true
	case "uint32":
		return drivers.KindUint, 32, true
	case "uint64":
		return drivers.KindUint, 64, true
	case "float32":
		return drivers.KindFloat, 32, true
	case "", "float64":
		return drivers.KindFloat, 64, true
	case "string":
		return drivers.KindString, 0, true
	}
	return drivers.KindInvalid, 0, false
}

// Validate checks c without I/O and reports every problem, as
// drivers.ConfigErrors joined.
func (c *Config) Validate() error {
	var errs drivers.ConfigErrors
	if len(c.Signals) == 0 {
		errs.Add("signals", nil, "at least one signal is required")
	}
	names := map[string]string{}
	claim := func(path, name string) {
		switch prev, dup := names[name]; {
		case name == "":
			errs.Add(path, nil, "missing name")
		case dup:
			errs.Add(path, name, "duplicate name (also %s)", prev)
		default:
			names[name] = path
		}
	}
	for i, s := range c.Signals {
		p := fmt.Sprintf("signals[%d]", i)
		claim(p+".name", s.Name)
		kind, _, ok := typeInfo(s.Type)
		if !ok {
			errs.Add(p+".type", s.Type, "unknown type (want float64, float32, int16, int32, int64, uint16, uint32, uint64, bool or string)")
		}
		periodic := false
		switch s.Kind {
		case Ramp, Sine, Counter:
			periodic = true
		case Noise, Constant, Setpoint:
		default:
			errs.Add(p+".kind", string(s.Kind), "unknown kind (want ramp, sine, noise, counter, constant or setpoint)")
		}
		switch {
		case periodic && s.Period <= 0:
			errs.Add(p+".period", s.Period, "must be positive for a %s", s.Kind)
		case !periodic && s.Period != 0:
			errs.Add(p+".period", s.Period, "only ramp, sine and counter have a period")
		}
		if kind == drivers.KindBool && s.Kind != Constant && s.Kind != Counter && s.Kind != Setpoint {
			errs.Add(p+".type", s.Type, "bool needs a constant, counter or setpoint")
		}
		if kind == drivers.KindString && s.Kind != Constant && s.Kind != Setpoint {
			errs.Add(p+".type", s.Type, "string needs a constant or setpoint")
		}
		if s.Text != "" && kind != drivers.KindString {
			errs.Add(p+".text", s.Text, "only string signals have a text")
		}
		if s.Len < 0 || (s.Kind == Setpoint && s.Len > 1) || (kind == drivers.KindString && s.Len > 1) {
			errs.Add(p+".len", s.Len, "must be 0 or 1 for setpoints and strings, and not negative")
		}
		if s.Kind == Ramp && s.Min == s.Max {
			errs.Add(p+".max", s.Max, "a ramp needs max different from min")
		}
		if s.Amplitude < 0 {
			errs.Add(p+".amplitude", s.Amplitude, "must not be negative")
		}
		if s.Kind != Setpoint && (s.Readback != "" || s.SlewRate != 0) {
			errs.Add(p+".readback", s.Readback, "only setpoints have a readback and a slew_rate")
		}
		if s.Readback != "" {
			claim(p+".readback", s.Readback)
		}
		if s.SlewRate < 0 || (s.SlewRate > 0 && kind == drivers.KindString) {
			errs.Add(p+".slew_rate", s.SlewRate, "must not be negative, nor set for a string")
		}
	}
	if c.PushPeriod < 0 {
		errs.Add("push_period", c.PushPeriod, "must not be negative")
	}
	if c.Timeout < 0 {
		errs.Add("timeout", c.Timeout, "must not be negative")
	}
	if o := c.Outage; o != nil {
		if o.Every <= 0 || o.For <= 0 || o.For >= o.Every {
			errs.Add("outage", fmt.Sprintf("every %v for %v", o.Every, o.For), "want 0 < for < every")
		}
		if o.Mode != FailDisconnect && o.Mode != FailTimeout {
			errs.Add("outage.mode", string(o.Mode), "unknown mode (want disconnect or timeout)")
		}
	}
	return errs.Err()
}
