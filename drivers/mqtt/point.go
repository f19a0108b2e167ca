package mqtt

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// The binding options a point understands (drivers.PointSpec.Options).
const (
	OptPath         = "path"          // JSON path of the value ("sensors.temp", "values[2]", "$" for the root); unset: plain payload
	OptTimePath     = "time_path"     // JSON path of a timestamp (RFC 3339, or Unix seconds or milliseconds)
	OptSeverityPath = "severity_path" // JSON path of an alarm severity (0..3 or NO_ALARM, MINOR, MAJOR, INVALID)
	OptCommand      = "command"       // topic a write publishes to; makes the point writable
	OptTemplate     = "template"      // payload template of writes: "{value}" (default), `{"sp": {value}}`, ...
	OptRetain       = "retain"        // "true": writes are published retained
	OptQoS          = "qos"           // QoS of writes: 0, 1 or 2
	OptReadback     = "readback"      // topic whose message confirms a write (its value must equal the written one)
	OptReadbackPath = "readback_path" // JSON path of the value in readback messages; default the point's path
	OptTolerance    = "tolerance"     // relative tolerance of a float confirmation; default 1e-9
	OptStale        = "stale"         // staleness time, overriding Config.Stale; "0s" disables
	OptAccess       = "access"        // "w": write-only, the address is the command topic
	OptEnum         = "enum"          // "Off,On,Auto": payload strings of the states 0, 1, 2 (an enum PV)
	OptSparkplug    = "sparkplug"     // Sparkplug B metric name: the payload is a protobuf Payload (address spBv1.0/...)
	OptHomie        = "homie"         // "true": the address is a Homie property; its $unit, $name and $format become PV metadata
)

//nolint:gochecknoglobals // read-only set of the known option names
var knownOptions = map[string]bool{OptPath: true, OptTimePath: true, OptSeverityPath: true, OptCommand: true,
	OptTemplate: true, OptRetain: true, OptQoS: true, OptReadback: true, OptReadbackPath: true, OptTolerance: true,
	OptStale: true, OptAccess: true, OptEnum: true, OptSparkplug: true, OptHomie: true}

// point is an MQTT Point: a state topic filter with its payload decoder
// and, when writable, a command topic with its payload template.
type point struct {
	key       string
	filter    string // state topic filter; "" for write-only points
	dec       decoder
	command   string // "" for read-only points
	template  string
	qos       byte
	retain    bool
	readback  string // "" for no confirmation
	rbDec     decoder
	tolerance float64
	stale     time.Duration
	typ       drivers.Type
	homie     bool // read the property's Homie attributes
}

// String returns the canonical form, e.g. "plant/t1 type=float64 path=temp".
func (p *point) String() string { return p.key }

// Type returns the point's type.
func (p *point) Type() drivers.Type { return p.typ }

// typeInfo maps a type name to its kind and width.
func typeInfo(name string) (drivers.Kind, int, bool) {
	switch name {
	case "bool":
		return drivers.KindBool, 1, true
	case "int8":
		return drivers.KindInt, 8, true
	case "int16":
		return drivers.KindInt, 16, true
	case "int32":
		return drivers.KindInt, 32, true
	case "int64", "int":
		return drivers.KindInt, 64, true
	case "uint8":
		return drivers.KindUint, 8, true
	case "uint16":
		return drivers.KindUint, 16, true
	case "uint32":
		return drivers.KindUint, 32, true
	case "uint64", "uint":
		return drivers.KindUint, 64, true
	case "float32":
		return drivers.KindFloat, 32, true
	case "", "float64", "float", "double":
		return drivers.KindFloat, 64, true
	case "string":
		return drivers.KindString, 0, true
	}
	return drivers.KindInvalid, 0, false
}

// parsePoint parses spec into a point without I/O. defQoS and defStale
// are the device's defaults.
func parsePoint(spec drivers.PointSpec, defQoS byte, defStale time.Duration) (*point, error) {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	opts := spec.Options
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if !knownOptions[k] {
			bad("unknown option %q", k)
		}
	}
	var states []string
	if s, isEnum := opts[OptEnum]; isEnum {
		for st := range strings.SplitSeq(s, ",") {
			states = append(states, strings.TrimSpace(st))
		}
		if spec.Type == "" {
			spec.Type = "uint16"
		}
		if k, _, _ := typeInfo(spec.Type); k != drivers.KindUint && k != drivers.KindInt {
			bad("option enum needs an integer type, not %s", spec.Type)
		}
		if len(states) > 16 || slices.Contains(states, "") {
			bad("option enum %q: want 1..16 non-empty states", s)
		}
	}
	kind, bits, ok := typeInfo(spec.Type)
	if !ok {
		bad("unknown type %q (want float64, float32, int8..int64, uint8..uint64, bool or string)", spec.Type)
	}
	if spec.Order != "" || spec.Bit != nil {
		bad("order and bit are not supported")
	}
	if spec.Len < 0 {
		bad("negative len")
	}
	p := &point{qos: defQoS, stale: defStale, tolerance: 1e-9, template: "{value}"}
	p.typ = drivers.Type{Kind: kind, Bits: bits, Len: max(spec.Len, 1), Access: drivers.AccessRead}
	if kind == drivers.KindString {
		// len is the maximum string length; strings are scalars.
		p.typ.Len, p.typ.MaxLen = 1, spec.Len
	}
	if left := unexpanded(spec.Address); left != "" {
		bad("address %q has an unexpanded %s (see ExpandPVs)", spec.Address, left)
	}
	switch opts[OptAccess] {
	case "", "r", "rw":
		if err := validFilter(spec.Address); err != nil {
			bad("address: %v", err)
		}
		p.filter = spec.Address
		p.command = opts[OptCommand]
	case "w":
		p.command = spec.Address
		if opts[OptCommand] != "" {
			bad("access w takes the command topic from the address; drop option command")
		}
	default:
		bad("option access %q: want r, rw or w", opts[OptAccess])
	}
	if opts[OptAccess] == "rw" && p.command == "" {
		bad("access rw needs option command")
	}
	if p.command != "" {
		if err := validTopic(p.command); err != nil {
			bad("command topic: %v", err)
		}
		p.typ.Access |= drivers.AccessWrite
		if p.filter == "" {
			p.typ.Access = drivers.AccessWrite
		}
	}
	var err error
	mkDec := func(pathOpt string) decoder {
		d := decoder{typ: p.typ, enum: states}
		if s, ok := opts[pathOpt]; ok {
			d.json = true
			if d.path, err = parsePath(s); err != nil {
				bad("option %s: %v", pathOpt, err)
			}
		}
		return d
	}
	p.dec = mkDec(OptPath)
	if h, ok := opts[OptHomie]; ok {
		switch on, err := strconv.ParseBool(h); {
		case err != nil:
			bad("option homie %q: want true or false", h)
		case on && (p.filter == "" || strings.ContainsAny(p.filter, "+#")):
			bad("option homie: the address must be one Homie property topic, without wildcards")
		default:
			p.homie = on
		}
	}
	if name, ok := opts[OptSparkplug]; ok {
		switch {
		case name == "":
			bad("option sparkplug: want the metric's name")
		case p.dec.json || opts[OptEnum] != "":
			bad("option sparkplug: the payload is protobuf; drop options path and enum")
		case p.command != "" && !strings.Contains(p.command, "/DCMD/") && !strings.Contains(p.command, "/NCMD/"):
			bad("option sparkplug: the command topic must be the node's spBv1.0/GROUP/NCMD/NODE or the device's spBv1.0/GROUP/DCMD/NODE/DEVICE")
		case opts[OptTemplate] != "":
			bad("option sparkplug: commands are protobuf; drop option template")
		case !strings.HasPrefix(p.filter, "spBv1.0/"):
			bad("option sparkplug: the address must be a spBv1.0/GROUP/+/NODE[/DEVICE] topic")
		}
		p.dec.spb = &spbState{metric: name}
	}
	for _, o := range []struct {
		name string
		into *jsonPath
	}{{OptTimePath, &p.dec.timePath}, {OptSeverityPath, &p.dec.sevPath}} {
		s, ok := opts[o.name]
		if !ok {
			continue
		}
		if !p.dec.json {
			bad("option %s needs option path (a JSON payload)", o.name)
		}
		if *o.into, err = parsePath(s); err != nil {
			bad("option %s: %v", o.name, err)
		}
		if *o.into == nil {
			*o.into = jsonPath{} // the root, but set
		}
	}
	if s, ok := opts[OptTemplate]; ok {
		if !strings.Contains(s, "{value}") {
			bad("option template %q has no {value}", s)
		}
		p.template = s
	}
	if s, ok := opts[OptRetain]; ok {
		if p.retain, err = strconv.ParseBool(s); err != nil {
			bad("option retain %q: want true or false", s)
		}
	}
	if s, ok := opts[OptQoS]; ok {
		switch s {
		case "0", "1", "2":
			p.qos = s[0] - '0'
		default:
			bad("option qos %q: want 0, 1 or 2", s)
		}
	}
	if s, ok := opts[OptStale]; ok {
		if p.stale, err = time.ParseDuration(s); err != nil || p.stale < 0 {
			bad("option stale %q: want a duration", s)
		}
	}
	if s, ok := opts[OptTolerance]; ok {
		if p.tolerance, err = strconv.ParseFloat(s, 64); err != nil || p.tolerance < 0 {
			bad("option tolerance %q: want a number >= 0", s)
		}
	}
	if s, ok := opts[OptReadback]; ok {
		if err := validTopic(s); err != nil {
			bad("readback topic: %v", err)
		}
		p.readback = s
		p.rbDec = p.dec
		p.rbDec.timePath, p.rbDec.sevPath = nil, nil
		if _, ok := opts[OptReadbackPath]; ok {
			p.rbDec = mkDec(OptReadbackPath)
		}
	} else if _, ok := opts[OptReadbackPath]; ok {
		bad("option readback_path needs option readback")
	}
	if p.command == "" {
		for _, k := range []string{OptTemplate, OptRetain, OptReadback, OptTolerance} {
			if _, ok := opts[k]; ok {
				bad("option %s needs a command topic", k)
			}
		}
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("mqtt: point %q: %w: %s", spec.Address, drivers.ErrBadPoint, strings.Join(probs, "; "))
	}
	norm := spec
	norm.Type = kind.String()
	if bits != 0 && kind != drivers.KindBool && kind != drivers.KindString {
		norm.Type += strconv.Itoa(bits)
	}
	p.key = norm.String()
	return p, nil
}
