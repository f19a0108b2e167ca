// Package mapping binds driver points to Channel Access PVs: it declares
// the PVs of a configuration in an ioc.Group, polls and subscribes to the
// devices, routes CA puts to device writes, and turns device failures into
// alarms and health PVs.
package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/macro"
	"github.com/cabridge/cabridge/ca/record"
	"github.com/cabridge/cabridge/drivers"
)

// Config is the mapping configuration: devices and the PVs bound to them.
type Config struct {
	// Macros are EPICS macro definitions ("P=LAB:,SYS=VAC") expanded in
	// PV names and health prefixes. A string rather than a map, so that
	// config loaders that fold map keys to lower case keep macro names.
	Macros string `json:"macros"`
	// Devices are the configured devices.
	Devices []DeviceConfig `json:"devices"`
	// PVs are the PVs, a list so that names are never map keys.
	PVs []PVConfig `json:"pvs"`
}

// DeviceConfig is one device.
type DeviceConfig struct {
	// Name identifies the device in bindings, logs and health PV names.
	Name string `json:"name"`
	// Driver is the registry name of the driver ("modbus", "sim").
	Driver string `json:"driver"`
	// Config is the driver's section, decoded strictly by the driver.
	Config json.RawMessage `json:"config"`
	// HealthPrefix is the prefix of the device's health PVs; empty means
	// "cabridge:NAME:". Macros are expanded.
	HealthPrefix string `json:"health_prefix"`
	// Timeout bounds each Read, Write and Open; 0 means DefaultTimeout.
	Timeout drivers.Duration `json:"timeout"`
	// Backoff is the first reconnect delay; 0 means DefaultBackoff.
	Backoff drivers.Duration `json:"backoff"`
	// MaxBackoff caps the reconnect delay; 0 means DefaultMaxBackoff.
	MaxBackoff drivers.Duration `json:"max_backoff"`
}

// Defaults of DeviceConfig.
const (
	DefaultTimeout    = 2 * time.Second
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// The directions of a PV.
const (
	DirInput          = "input"           // read from the device; read-only PV
	DirOutput         = "output"          // written to the device; initialised from it
	DirOutputReadback = "output_readback" // written, and scanned like an input
)

// ScanIOIntr is the Scan value for pushed (event-driven) values.
const ScanIOIntr = "I/O Intr"

// RecordNone as PVConfig.Record serves a plain PV without record fields.
const RecordNone = "none"

// PVConfig is one PV and its binding.
type PVConfig struct {
	// Name is the PV name; EPICS macros are expanded.
	Name string `json:"name"`
	// Type is the PV type: double, float, long, short, enum, string; empty
	// picks one from the point's type.
	Type string `json:"type"`
	// Record is the record type (ai, ao, longin, bi, mbbo, waveform, ...);
	// empty picks one from the PV type and direction (ai for a read-only
	// double, ao for a writable one, ...); "none" serves a plain PV.
	Record string `json:"record"`
	// Desc is the DESC field.
	Desc string `json:"desc"`
	// EGU are the engineering units.
	EGU string `json:"egu"`
	// Prec is the display precision.
	Prec int16 `json:"prec"`
	// HOPR and LOPR are the display limits; unset means none.
	HOPR *float64 `json:"hopr"`
	LOPR *float64 `json:"lopr"` // LOPR, see HOPR
	// HIHI, HIGH, LOW, LOLO are the alarm limits; unset means none. Their
	// severities default to MAJOR (HIHI, LOLO) and MINOR (HIGH, LOW).
	HIHI *float64 `json:"hihi"`
	HIGH *float64 `json:"high"` // see HIHI
	LOW  *float64 `json:"low"`  // see HIHI
	LOLO *float64 `json:"lolo"` // see HIHI
	// HHSV, HSV, LSV, LLSV are the alarm severities (NO_ALARM, MINOR,
	// MAJOR, INVALID) of the alarm limits.
	HHSV string `json:"hhsv"`
	HSV  string `json:"hsv"`  // see HHSV
	LSV  string `json:"lsv"`  // see HHSV
	LLSV string `json:"llsv"` // see HHSV
	// HYST is the alarm hysteresis.
	HYST float64 `json:"hyst"`
	// DRVH and DRVL are the control limits, which clamp puts.
	DRVH *float64 `json:"drvh"`
	DRVL *float64 `json:"drvl"` // see DRVH
	// EnumStrings are the states of an enum PV.
	EnumStrings []string `json:"enum_strings"`
	// MDEL and ADEL are the monitor and archive deadbands.
	MDEL float64 `json:"mdel"`
	ADEL float64 `json:"adel"` // see MDEL
	// Direction is input (the default), output or output_readback.
	Direction string `json:"direction"`
	// Scan is a period ("1s", "100ms") or "I/O Intr"; empty means 1s for
	// scanned PVs.
	Scan string `json:"scan"`
	// ReadAfterWrite reads the point back right after each confirmed
	// write and posts what the device holds (which may differ from what
	// was written: a clamped or rounded setpoint).
	ReadAfterWrite bool `json:"read_after_write"`
	// Binding is the device point.
	Binding Binding `json:"binding"`
}

// Binding ties a PV to a device point.
type Binding struct {
	Device  string            `json:"device"`  // the device's name
	Address string            `json:"address"` // see drivers.PointSpec
	Type    string            `json:"type"`    // the driver's data type
	Order   string            `json:"order"`   // byte and word order
	Bit     *int              `json:"bit"`     // a bit of a register
	Len     int               `json:"len"`     // elements or string length
	Options map[string]string `json:"options"` // driver extras
	// Scale and Offset are a linear conversion: PV = raw*Scale + Offset.
	// A nil Scale means 1.
	Scale  *float64 `json:"scale"`
	Offset float64  `json:"offset"` // see Scale
}

// PointSpec returns the driver's view of b.
func (b Binding) PointSpec() drivers.PointSpec {
	return drivers.PointSpec{Address: b.Address, Type: b.Type, Order: b.Order, Bit: b.Bit, Len: b.Len, Options: b.Options}
}

// scale returns the scale factor, 1 when unset.
func (b Binding) scale() float64 {
	if b.Scale == nil {
		return 1
	}
	return *b.Scale
}

// linear reports whether b converts values.
func (b Binding) linear() bool { return b.scale() != 1 || b.Offset != 0 }

// direction returns the direction, input when empty.
func (p *PVConfig) direction() string {
	if p.Direction == "" {
		return DirInput
	}
	return p.Direction
}

// limits returns the display, alarm and control limits, NaN where unset.
func (p *PVConfig) limits() dbr.Limits {
	f := func(v *float64) float64 {
		if v == nil {
			return math.NaN()
		}
		return *v
	}
	return dbr.Limits{DisplayHigh: f(p.HOPR), DisplayLow: f(p.LOPR), AlarmHigh: f(p.HIHI), WarningHigh: f(p.HIGH),
		WarningLow: f(p.LOW), AlarmLow: f(p.LOLO), ControlHigh: f(p.DRVH), ControlLow: f(p.DRVL)}
}

// severities returns the record fields that set alarm severities and
// hysteresis, by field name, for the record's field puts.
func (p *PVConfig) severities() map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"HHSV": p.HHSV, "HSV": p.HSV, "LSV": p.LSV, "LLSV": p.LLSV} {
		if v != "" {
			out[k] = strings.ToUpper(v)
		}
	}
	if p.HYST != 0 {
		out["HYST"] = fmt.Sprint(p.HYST)
	}
	return out
}

// DefaultScan is the scan period of PVs without a Scan.
const DefaultScan = time.Second

// scanPeriod parses s: 0 for I/O Intr.
func scanPeriod(s string) (time.Duration, error) {
	switch s {
	case "":
		return DefaultScan, nil
	case ScanIOIntr:
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive duration (\"500ms\", \"1s\") or %q", ScanIOIntr)
	}
	return d, nil
}

// pvTypes are the accepted PV types.
//
//nolint:gochecknoglobals // read-only lookup table
var pvTypes = []string{"double", "float", "long", "short", "enum", "string"}

// FieldError is one problem of a Config: the list entry it concerns, the
// key inside it, what is wrong and how to fix it.
type FieldError struct {
	// Entry is the list entry, e.g. "pvs[3]" or "devices[0]"; empty for
	// top-level keys.
	Entry string
	// Name is the entry's PV or device name, for the message.
	Name string
	// Key is the key path inside the entry, e.g. "binding.address".
	Key string
	// Err says what is wrong.
	Err error
	// Hint says how to fix it; may be empty.
	Hint string
}

// Path returns the key path from the top of the config, e.g.
// "pvs[3].binding.address", for finding the line in a file.
func (e *FieldError) Path() string {
	switch {
	case e.Entry == "":
		return e.Key
	case e.Key == "":
		return e.Entry
	}
	return e.Entry + "." + e.Key
}

// Error returns `pvs[3] "TEMP:RB": binding.address: what (hint)`.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Entry)
	if e.Name != "" {
		fmt.Fprintf(&b, " %q", e.Name)
	}
	if e.Key != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Key)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.Hint != "" {
		fmt.Fprintf(&b, " (%s)", e.Hint)
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }

// errs collects FieldErrors.
type errs []error

func (e *errs) add(entry, name, key, hint, format string, args ...any) {
	*e = append(*e, &FieldError{Entry: entry, Name: name, Key: key, Err: fmt.Errorf(format, args...), Hint: hint})
}

// macros returns the parsed macro definitions.
func (c *Config) macros() (macro.Set, error) { return macro.Parse(c.Macros) }

// pvName returns the expanded name of p.
func (c *Config) pvName(p PVConfig) (string, error) {
	m, err := c.macros()
	if err != nil {
		return "", err
	}
	return m.Expand(p.Name)
}

// healthPrefix returns the expanded health PV prefix of d.
func (c *Config) healthPrefix(d DeviceConfig) (string, error) {
	if d.HealthPrefix == "" {
		return "cabridge:" + d.Name + ":", nil
	}
	m, err := c.macros()
	if err != nil {
		return "", err
	}
	return m.Expand(d.HealthPrefix)
}

// Validate checks c against the devices by name (for their ParsePoint)
// without I/O and reports every problem as FieldErrors joined with
// errors.Join. A nil devs skips the checks that need the devices.
func (c *Config) Validate(devs map[string]drivers.Device) error {
	var es errs
	if _, err := c.macros(); err != nil {
		es.add("", "", "macros", `write them as "NAME=value,NAME2=value2"`, "%v", err)
	}
	devNames := map[string]bool{}
	for i, d := range c.Devices {
		entry := fmt.Sprintf("devices[%d]", i)
		switch {
		case d.Name == "":
			es.add(entry, "", "name", "every device needs a unique name", "missing")
		case devNames[d.Name]:
			es.add(entry, d.Name, "name", "rename one of them", "duplicate device name")
		}
		devNames[d.Name] = true
		if d.Driver == "" {
			es.add(entry, d.Name, "driver", "e.g. driver: modbus", "missing")
		}
		if d.Backoff < 0 || d.MaxBackoff < 0 || d.Timeout < 0 {
			es.add(entry, d.Name, "", "", "negative timeout or back-off")
		}
		if _, err := c.healthPrefix(d); err != nil {
			es.add(entry, d.Name, "health_prefix", "", "%v", err)
		}
	}
	known := slices.Sorted(func(yield func(string) bool) {
		for n := range devNames {
			if n != "" && !yield(n) {
				return
			}
		}
	})
	seen := map[string]int{}
	var spans []boundSpan
	for i, p := range c.PVs {
		entry := fmt.Sprintf("pvs[%d]", i)
		name, err := c.pvName(p)
		if err != nil {
			name = p.Name
			es.add(entry, name, "name", "define the macro under macros:", "%v", err)
		} else if name == "" {
			es.add(entry, "", "name", "every PV needs a name", "missing")
		} else if j, dup := seen[name]; dup {
			es.add(entry, name, "name", fmt.Sprintf("also pvs[%d]; PV names must be unique", j), "duplicate PV name")
		} else {
			seen[name] = i
		}
		add := func(key, hint, format string, args ...any) { es.add(entry, name, key, hint, format, args...) }
		if p.Type != "" && !slices.Contains(pvTypes, p.Type) {
			add("type", "want one of "+strings.Join(pvTypes, ", "), "unknown PV type %q", p.Type)
		}
		if len(p.EnumStrings) > 0 && p.Type != "enum" {
			add("enum_strings", "set type: enum", "only for type enum")
		}
		if len(p.EnumStrings) > dbr.MaxEnumStates {
			add("enum_strings", "", "%d states: at most %d", len(p.EnumStrings), dbr.MaxEnumStates)
		}
		for k, s := range map[string]string{"hhsv": p.HHSV, "hsv": p.HSV, "lsv": p.LSV, "llsv": p.LLSV} {
			if s != "" && !validSeverity(s) {
				add(k, "want NO_ALARM, MINOR, MAJOR or INVALID", "unknown severity %q", s)
			}
		}
		if p.Record != "" && p.Record != RecordNone && p.Record != "auto" && !knownRecord(p.Record) {
			add("record", "want "+strings.Join(record.TypeNames(), ", ")+" or none",
				"unknown record type %q", p.Record)
		}
		dir := p.direction()
		if !slices.Contains([]string{DirInput, DirOutput, DirOutputReadback}, dir) {
			add("direction", "want input, output or output_readback", "%q", dir)
		}
		if _, err := scanPeriod(p.Scan); err != nil {
			add("scan", "", "%q: %v", p.Scan, err)
		}
		if p.ReadAfterWrite && dir == DirInput {
			add("read_after_write", "set direction: output or output_readback", "only for outputs")
		}
		if p.Binding.Scale != nil && *p.Binding.Scale == 0 {
			add("binding.scale", "a scale of 0 loses the value; leave it out for 1", "must not be 0")
		}
		switch {
		case p.Binding.Device == "":
			add("binding.device", "name one of: "+strings.Join(known, ", "), "missing")
			continue
		case !devNames[p.Binding.Device]:
			add("binding.device", "known devices: "+strings.Join(known, ", "), "unknown device %q", p.Binding.Device)
			continue
		}
		dev := devs[p.Binding.Device]
		if dev == nil {
			continue
		}
		pt, err := dev.ParsePoint(p.Binding.PointSpec())
		if err != nil {
			add("binding", "", "%v", err)
			continue
		}
		for _, m := range checkPoint(p, dir, pt.Type()) {
			add(m.key, m.hint, "%s", m.msg)
		}
		if sp, ok := pt.(drivers.Spanner); ok {
			spans = append(spans, boundSpan{i: i, name: name, dev: p.Binding.Device, pt: pt, span: sp.Span(), dir: dir})
		}
	}
	for _, o := range overlaps(spans) {
		es.add(fmt.Sprintf("pvs[%d]", o.b.i), o.b.name, "binding.address",
			"check the address and the length of the data type", "%s overlaps pvs[%d] %q (%s)",
			o.b.span, o.a.i, o.a.name, o.a.span)
	}
	return errors.Join(es...)
}

// boundSpan is the address range of one PV's point.
type boundSpan struct {
	i         int
	name, dev string
	pt        drivers.Point
	span      drivers.Span
	dir       string
}

// overlap is a pair of PVs whose points overlap; a comes first.
type overlap struct{ a, b boundSpan }

// overlaps returns the pairs of PVs of one device whose points share
// addresses without being the same point. Two PVs on the very same point
// (a value and its readback, two views of one register) are fine.
func overlaps(spans []boundSpan) []overlap {
	slices.SortStableFunc(spans, func(x, y boundSpan) int {
		if c := strings.Compare(x.dev+"\x00"+x.span.Space, y.dev+"\x00"+y.span.Space); c != 0 {
			return c
		}
		return x.span.Start - y.span.Start
	})
	var out []overlap
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if b.dev != a.dev || b.span.Space != a.span.Space || b.span.Start >= a.span.Start+a.span.Count {
				break
			}
			if a.pt.String() == b.pt.String() || !a.span.Overlaps(b.span) {
				continue
			}
			if a.i > b.i {
				out = append(out, overlap{b, a})
			} else {
				out = append(out, overlap{a, b})
			}
		}
	}
	slices.SortFunc(out, func(x, y overlap) int { return x.b.i - y.b.i })
	return out
}

// pointProblem is one mismatch between a PV and its point.
type pointProblem struct{ key, msg, hint string }

// checkPoint returns the mismatches between a PV and its point's type.
func checkPoint(p PVConfig, dir string, t drivers.Type) []pointProblem {
	var out []pointProblem
	if (dir == DirInput || dir == DirOutputReadback) && !t.Access.CanRead() {
		out = append(out, pointProblem{"direction", fmt.Sprintf("%s: point %s cannot be read", dir, t), "use direction: output"})
	}
	if (dir == DirOutput || dir == DirOutputReadback) && !t.Access.CanWrite() {
		out = append(out, pointProblem{"direction", fmt.Sprintf("%s: point %s cannot be written", dir, t),
			"use direction: input, or a writable address"})
	}
	typ := pvType(p, t)
	if t.Kind == drivers.KindString && typ != "string" {
		out = append(out, pointProblem{"type", fmt.Sprintf("%s: the point holds a string (%s)", typ, t), "use type: string"})
	}
	if t.Kind != drivers.KindString && typ == "string" {
		out = append(out, pointProblem{"type", fmt.Sprintf("string: point %s is not a string", t),
			"leave type out, or bind a string point"})
	}
	if p.Binding.linear() && (t.Kind == drivers.KindString || t.Kind == drivers.KindBool) {
		out = append(out, pointProblem{"binding.scale", fmt.Sprintf("point %s is not numeric", t), "remove scale and offset"})
	}
	if t.Len > 1 && typ == "enum" {
		out = append(out, pointProblem{"type", fmt.Sprintf("enum: point %s is an array", t), "use a numeric type"})
	}
	if t.Len > 1 && t.Kind == drivers.KindString {
		out = append(out, pointProblem{"binding.len", fmt.Sprintf("point %s is an array of strings", t), "bind one string per PV"})
	}
	if t.Len > 1 && p.Record != "" && p.Record != RecordNone && p.Record != "auto" && p.Record != "waveform" {
		out = append(out, pointProblem{"record", fmt.Sprintf("%s: point %s is an array", p.Record, t), "use record: waveform"})
	}
	if len(p.EnumStrings) > 0 && t.Kind == drivers.KindBool && len(p.EnumStrings) > 2 {
		out = append(out, pointProblem{"enum_strings", fmt.Sprintf("%d states for a bool point", len(p.EnumStrings)),
			"a bool has two states"})
	}
	return out
}

// pvType returns the PV type of p with a point of type t: its Type, or
// one that holds every value of the point: double for scaled values.
func pvType(p PVConfig, t drivers.Type) string {
	if p.Type != "" {
		return p.Type
	}
	if p.Binding.linear() && t.Kind != drivers.KindString && t.Kind != drivers.KindBool {
		return "double"
	}
	switch t.Kind {
	case drivers.KindString:
		return "string"
	case drivers.KindBool:
		return "enum"
	case drivers.KindInt, drivers.KindUint:
		if t.Bits <= 16 && t.Kind == drivers.KindInt {
			return "short"
		}
		if t.Bits < 32 || (t.Bits == 32 && t.Kind == drivers.KindInt) {
			return "long"
		}
		return "double"
	}
	if t.Bits == 32 {
		return "float"
	}
	return "double"
}

// knownRecord reports whether rtyp is a record type package record has.
func knownRecord(rtyp string) bool {
	_, ok := record.LookupType(rtyp)
	return ok
}

// validSeverity reports whether s names an alarm severity.
func validSeverity(s string) bool {
	for _, n := range dbr.SeverityNames() {
		if strings.EqualFold(n, s) {
			return true
		}
	}
	return false
}
