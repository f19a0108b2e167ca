package serial

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cabridge/cabridge/drivers"
)

// exchange is a compiled Exchange: out is nil for input only, in is nil
// when no reply is expected.
type exchange struct {
	out, in *Format
}

// compileExchange parses out and in. valueOut says that out formats a
// value (a write); otherwise out must have no value field.
func compileExchange(out, in string, valueOut bool) (*exchange, error) {
	x := &exchange{}
	var err error
	if out != "" {
		if x.out, err = ParseFormat(out); err != nil {
			return nil, fmt.Errorf("out: %w", err)
		}
		for _, it := range x.out.items {
			if it.kind == convRegexp {
				return nil, fmt.Errorf("out: %w: %%/regexp/ is for input only", errFormat)
			}
		}
		switch {
		case valueOut && x.out.fields == 0:
			return nil, fmt.Errorf("out %q: %w: a write needs a conversion for the value", out, errFormat)
		case !valueOut && x.out.fields > 0:
			return nil, fmt.Errorf("out %q: %w: a query or init output has no value to format (use a write)", out, errFormat)
		}
	}
	if in != "" {
		if x.in, err = ParseFormat(in); err != nil {
			return nil, fmt.Errorf("in: %w", err)
		}
	}
	return x, nil
}

// protocol is a compiled Protocol.
type protocol struct {
	key   string    // name, or the inline form
	read  *exchange // nil: not readable
	write *exchange // nil: not writable
	set   resolved
}

// compileProtocol compiles p with the device's settings dev.
func compileProtocol(key string, p *Protocol, dev *Settings) (*protocol, error) {
	pr := &protocol{key: key, set: resolve(&p.Settings, dev)}
	if p.Out != "" || p.In != "" {
		x, err := compileExchange(p.Out, p.In, false)
		if err != nil {
			return nil, err
		}
		if x.in == nil || x.in.fields == 0 {
			return nil, fmt.Errorf("in %q: %w: a read needs a reply with at least one value conversion", p.In, errFormat)
		}
		pr.read = x
	}
	if p.Write != nil {
		x, err := compileExchange(p.Write.Out, p.Write.In, true)
		if err != nil {
			return nil, fmt.Errorf("write: %w", err)
		}
		if x.out == nil {
			return nil, fmt.Errorf("write: %w: out is required", errFormat)
		}
		pr.write = x
	}
	if pr.read == nil && pr.write == nil {
		return nil, fmt.Errorf("%w: a protocol needs in (a read) or write", errFormat)
	}
	return pr, nil
}

// point is a serial Point: one value field of a protocol's reply (and
// the value its write formats).
type point struct {
	proto *protocol
	field int // index of the value field in the reply
	name  string
	typ   drivers.Type
}

// String returns the protocol name, with "#field" for fields after the
// first: "meas", "meas#1", or an inline "MEAS:VOLT? -> %f".
func (p *point) String() string { return p.name }

// Type returns the point's type.
func (p *point) Type() drivers.Type { return p.typ }

//nolint:gochecknoglobals // read-only table of the point type names
var typeNames = map[string]struct {
	kind drivers.Kind
	bits int
}{
	"float64": {drivers.KindFloat, 64}, "float32": {drivers.KindFloat, 32},
	"int16": {drivers.KindInt, 16}, "int32": {drivers.KindInt, 32}, "int64": {drivers.KindInt, 64},
	"uint16": {drivers.KindUint, 16}, "uint32": {drivers.KindUint, 32}, "uint64": {drivers.KindUint, 64},
	"bool": {drivers.KindBool, 1}, "string": {drivers.KindString, 0},
}

// Option keys of a binding.
const (
	OptField   = "field"    // which value field of the reply, from 0
	OptIn      = "in"       // inline protocol: the reply format of the query in Address
	OptWrite   = "write"    // inline protocol: the write output format
	OptWriteIn = "write_in" // inline protocol: the reply to a write
)

// newPoint builds the point of spec on protocol pr.
func newPoint(pr *protocol, name string, spec drivers.PointSpec) (*point, error) {
	for _, k := range slices.Sorted(maps.Keys(spec.Options)) {
		switch k {
		case OptField, OptIn, OptWrite, OptWriteIn:
		default:
			return nil, fmt.Errorf("unknown option %q (want field, in, write, write_in)", k)
		}
	}
	if spec.Order != "" || spec.Bit != nil {
		return nil, fmt.Errorf("order and bit are not supported")
	}
	p := &point{proto: pr, name: name}
	if f, ok := spec.Options[OptField]; ok {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("field %q: want an index from 0", f)
		}
		p.field = n
		if n > 0 {
			p.name += "#" + f
		}
	}
	var kind drivers.Kind
	switch {
	case pr.read != nil:
		if p.field >= pr.read.in.fields {
			return nil, fmt.Errorf("field %d: the reply %q has %d value fields", p.field, pr.read.in.src, pr.read.in.fields)
		}
		kind = pr.read.in.FieldKind(p.field)
	case p.field != 0:
		return nil, fmt.Errorf("field %d: a write-only protocol has no reply fields", p.field)
	default:
		kind = pr.write.out.FieldKind(0)
	}
	bits := 64
	switch {
	case kind == drivers.KindString:
		bits = 0
	case pr.read != nil && pr.read.in.isEnum(p.field), pr.read == nil && pr.write.out.isEnum(0):
		bits = 16 // an enum index: the mapping layer serves a 16-bit PV
	}
	if spec.Type != "" {
		tn, ok := typeNames[spec.Type]
		if !ok {
			return nil, fmt.Errorf("type %q: want one of %s", spec.Type, strings.Join(slices.Sorted(maps.Keys(typeNames)), ", "))
		}
		kind, bits = tn.kind, tn.bits
	}
	p.typ = drivers.Type{Kind: kind, Bits: bits, Len: 1}
	switch {
	case spec.Len < 0:
		return nil, fmt.Errorf("len %d: must not be negative", spec.Len)
	case kind == drivers.KindString:
		p.typ.MaxLen = spec.Len
	case spec.Len > 1:
		if pr.read != nil && pr.read.in.fields != 1 || pr.write != nil && pr.write.out.fields != 1 {
			return nil, fmt.Errorf("len %d: an array needs a format with exactly one value conversion", spec.Len)
		}
		p.typ.Len = spec.Len
	}
	if pr.read != nil {
		p.typ.Access |= drivers.AccessRead
	}
	if pr.write != nil {
		p.typ.Access |= drivers.AccessWrite
	}
	return p, nil
}
