// Package mapping binds driver points to Channel Access PVs: it declares
// the PVs of a configuration in an ioc.Group, polls and subscribes to the
// devices, routes CA puts to device writes, and turns device failures into
// alarms and health PVs.
package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/macro"
	"github.com/cabridge/cabridge/drivers"
)

// Config is the mapping configuration: devices and the PVs bound to them.
type Config struct {
	// Macros are expanded in PV names and health prefixes.
	Macros map[string]string `json:"macros"`
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
	// "cabridge:NAME:".
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

// PVConfig is one PV and its binding.
type PVConfig struct {
	// Name is the PV name; EPICS macros are expanded.
	Name string `json:"name"`
	// Type is the PV type: double, float, long, short, enum, string; empty
	// picks one from the point's type.
	Type string `json:"type"`
	// Record is the record type (ai, ao, longin, ...); empty means none,
	// "auto" lets the ioc package pick.
	Record string `json:"record"`
	// Desc is the DESC field.
	Desc string `json:"desc"`
	// EGU are the engineering units.
	EGU string `json:"egu"`
	// Prec is the display precision.
	Prec int16 `json:"prec"`
	// HOPR and LOPR are the display limits.
	HOPR float64 `json:"hopr"`
	LOPR float64 `json:"lopr"` // LOPR, see HOPR
	// HIHI, HIGH, LOW, LOLO are the alarm limits.
	HIHI float64 `json:"hihi"`
	HIGH float64 `json:"high"` // see HIHI
	LOW  float64 `json:"low"`  // see HIHI
	LOLO float64 `json:"lolo"` // see HIHI
	// HHSV, HSV, LSV, LLSV are the alarm severities (NO_ALARM, MINOR,
	// MAJOR, INVALID).
	HHSV string `json:"hhsv"`
	HSV  string `json:"hsv"`  // see HHSV
	LSV  string `json:"lsv"`  // see HHSV
	LLSV string `json:"llsv"` // see HHSV
	// DRVH and DRVL are the control limits.
	DRVH float64 `json:"drvh"`
	DRVL float64 `json:"drvl"` // see DRVH
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
		return 0, fmt.Errorf("want a positive duration or %q", ScanIOIntr)
	}
	return d, nil
}

// pvTypes are the accepted PV types.
//
//nolint:gochecknoglobals // read-only lookup table
var pvTypes = map[string]bool{"double": true, "float": true, "long": true, "short": true, "enum": true, "string": true}

// FieldError is one problem of a Config at a key path.
type FieldError struct {
	Path string // e.g. `pvs[3] "TEMP:RB": binding.address`
	Err  error  // what is wrong
}

// Error returns "path: err".
func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }

// errs collects FieldErrors.
type errs []error

func (e *errs) add(path string, format string, args ...any) {
	*e = append(*e, &FieldError{Path: path, Err: fmt.Errorf(format, args...)})
}

// pvName returns the expanded name of p.
func (c *Config) pvName(p PVConfig) (string, error) {
	return macro.Set(c.Macros).Expand(p.Name)
}

// Validate checks c against the devices by name (for their ParsePoint)
// without I/O and reports every problem as FieldErrors joined with
// errors.Join. A nil devs skips the checks that need the devices.
func (c *Config) Validate(devs map[string]drivers.Device) error {
	var es errs
	devNames := map[string]bool{}
	for i, d := range c.Devices {
		path := fmt.Sprintf("devices[%d] %q", i, d.Name)
		switch {
		case d.Name == "":
			es.add(path+": name", "missing")
		case devNames[d.Name]:
			es.add(path+": name", "duplicate device name")
		}
		devNames[d.Name] = true
		if d.Driver == "" {
			es.add(path+": driver", "missing")
		}
		if d.Backoff < 0 || d.MaxBackoff < 0 || d.Timeout < 0 {
			es.add(path, "negative timeout or back-off")
		}
	}
	seen := map[string]int{}
	for i, p := range c.PVs {
		name, err := c.pvName(p)
		path := fmt.Sprintf("pvs[%d] %q", i, name)
		if err != nil {
			es.add(path+": name", "%v", err)
		} else if name == "" {
			es.add(path+": name", "missing")
		} else if j, dup := seen[name]; dup {
			es.add(path+": name", "duplicate PV name (also pvs[%d])", j)
		} else {
			seen[name] = i
		}
		if p.Type != "" && !pvTypes[p.Type] {
			es.add(path+": type", "unknown PV type %q", p.Type)
		}
		if len(p.EnumStrings) > 0 && p.Type != "enum" {
			es.add(path+": enum_strings", "only for type enum")
		}
		for k, s := range map[string]string{"hhsv": p.HHSV, "hsv": p.HSV, "lsv": p.LSV, "llsv": p.LLSV} {
			if s != "" && !validSeverity(s) {
				es.add(path+": "+k, "unknown severity %q", s)
			}
		}
		dir := p.Direction
		switch dir {
		case "":
			dir = DirInput
		case DirInput, DirOutput, DirOutputReadback:
		default:
			es.add(path+": direction", "%q: want input, output or output_readback", dir)
		}
		if _, err := scanPeriod(p.Scan); err != nil {
			es.add(path+": scan", "%q: %v", p.Scan, err)
		}
		if p.Binding.Scale != nil && *p.Binding.Scale == 0 {
			es.add(path+": binding.scale", "must not be 0")
		}
		if p.Binding.Device == "" {
			es.add(path+": binding.device", "missing")
			continue
		}
		if !devNames[p.Binding.Device] {
			es.add(path+": binding.device", "unknown device %q", p.Binding.Device)
			continue
		}
		dev := devs[p.Binding.Device]
		if dev == nil {
			continue
		}
		pt, err := dev.ParsePoint(p.Binding.PointSpec())
		if err != nil {
			es.add(path+": binding", "%v", err)
			continue
		}
		for _, msg := range checkPoint(p, dir, pt.Type()) {
			es.add(path, "%s", msg)
		}
	}
	return errors.Join(es...)
}

// checkPoint returns the mismatches between a PV and its point's type.
func checkPoint(p PVConfig, dir string, t drivers.Type) []string {
	var out []string
	if (dir == DirInput || dir == DirOutputReadback) && !t.Access.CanRead() {
		out = append(out, fmt.Sprintf("direction %s: point %s cannot be read", dir, t))
	}
	if (dir == DirOutput || dir == DirOutputReadback) && !t.Access.CanWrite() {
		out = append(out, fmt.Sprintf("direction %s: point %s cannot be written", dir, t))
	}
	typ := pvType(p.Type, t)
	if t.Kind == drivers.KindString && typ != "string" {
		out = append(out, fmt.Sprintf("type %s: string point %s", typ, t))
	}
	if t.Kind != drivers.KindString && typ == "string" {
		out = append(out, fmt.Sprintf("type string: point %s is not a string", t))
	}
	if p.Binding.linear() && (t.Kind == drivers.KindString || t.Kind == drivers.KindBool) {
		out = append(out, fmt.Sprintf("binding.scale/offset: point %s is not numeric", t))
	}
	if t.Len != 1 {
		out = append(out, fmt.Sprintf("binding.len: arrays (%s) are not supported yet", t))
	}
	return out
}

// pvType returns the PV type of p with a point of type t.
func pvType(typ string, t drivers.Type) string {
	if typ != "" {
		return typ
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
	return "double"
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
