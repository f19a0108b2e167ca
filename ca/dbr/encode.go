package dbr

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// errNegativeCount is returned for a negative element count.
var errNegativeCount = errors.New("dbr: negative element count")

// grLayout describes where the graphic and control metadata of a GR or
// CTRL structure lives. All offsets are relative to the start of the
// structure; a zero offset means "not present".
type grLayout struct {
	prec   int // offset of the precision (FLOAT and DOUBLE only)
	units  int // offset of the 8-byte units slot
	limits int // offset of the first limit
	lsize  int // size of one limit in the value's own type
}

// grLayouts is indexed by base type; String and Enum have no limits.
//
//nolint:gochecknoglobals // read-only lookup table, never written
var grLayouts = [...]grLayout{
	Short:  {units: 4, limits: 12, lsize: 2},
	Float:  {prec: 4, units: 8, limits: 16, lsize: 4},
	Char:   {units: 4, limits: 12, lsize: 1},
	Long:   {units: 4, limits: 12, lsize: 4},
	Double: {prec: 4, units: 8, limits: 16, lsize: 8},
	String: {},
	Enum:   {},
}

// limitList returns the limits in wire order.
func limitList(l *Limits) [8]float64 {
	return [8]float64{l.DisplayHigh, l.DisplayLow, l.AlarmHigh, l.WarningHigh,
		l.WarningLow, l.AlarmLow, l.ControlHigh, l.ControlLow}
}

// setLimit stores the i-th limit (wire order) into l.
func setLimit(l *Limits, i int, f float64) {
	switch i {
	case 0:
		l.DisplayHigh = f
	case 1:
		l.DisplayLow = f
	case 2:
		l.AlarmHigh = f
	case 3:
		l.WarningHigh = f
	case 4:
		l.WarningLow = f
	case 5:
		l.AlarmLow = f
	case 6:
		l.ControlHigh = f
	case 7:
		l.ControlLow = f
	}
}

// limitToInt32 converts a limit to an integer the way dbAccess.c does for
// the integer metadata types: non-finite values (and values outside the
// int64 range) give 0, others are truncated toward zero and narrowed
// modularly to 32 bits.
func limitToInt32(f float64) int32 { return int32(floatToInt64(f)) }

// floatToInt64 truncates f toward zero; NaN, ±Inf and values outside the
// int64 range give 0.
func floatToInt64(f float64) int64 {
	if f != f || f >= 9223372036854775808.0 || f < -9223372036854775808.0 {
		return 0
	}
	return int64(f)
}

// putString copies s into the slot b, truncated to len(b)-1 bytes. The slot
// must already be zero.
func putString(b []byte, s string) {
	if len(s) > len(b)-1 {
		s = s[:len(b)-1]
	}
	copy(b, s)
}

func appendData(dst []byte, t Type, count int, v Value, md *Metadata) ([]byte, error) {
	if !t.Valid() {
		return dst, ErrBadType
	}
	if count < 0 {
		return dst, errNegativeCount
	}
	var zero Metadata
	if md == nil {
		md = &zero
	}
	base := t.Base()
	if t == ClassName {
		v = nil // the class name comes from the metadata
	}
	if v != nil && v.Type() != base {
		cv, err := convert(sliceValue(v, min(count, v.Len())), base, md.Properties)
		if err != nil {
			return dst, err
		}
		v = cv
	}

	off := len(dst)
	size := PaddedSize(t, count)
	dst = slices.Grow(dst, size)[:off+size]
	b := dst[off : off+size]

	// Zero everything except the bytes putValues overwrites anyway, so
	// that large arrays are written once.
	voff := t.ValueOffset()
	clear(b[:voff])
	written := 0
	if v != nil && base != String && t != ClassName {
		written = min(count, v.Len()) * t.ValueSize()
	}
	clear(b[voff+written:])

	putMeta(b, t, md)
	if t == ClassName {
		if count > 0 && md.Properties != nil {
			putString(b[:MaxStringSize], md.Properties.ClassName)
		}
		return dst, nil
	}
	if v != nil {
		putValues(b[voff:], count, v)
	}
	return dst, nil
}

// putMeta writes the metadata part of a structure of type t into b, which
// is zeroed and at least t.ValueOffset() long.
func putMeta(b []byte, t Type, md *Metadata) {
	be := binary.BigEndian
	fam := t.Family()
	switch fam {
	case FamilyPlain:
		return
	case FamilySpecial:
		if t == StsAckString {
			be.PutUint16(b[0:], uint16(md.Status))
			be.PutUint16(b[2:], uint16(md.Severity))
			if md.AckT {
				be.PutUint16(b[4:], 1)
			}
			be.PutUint16(b[6:], uint16(md.AckS))
		}
		return
	}
	be.PutUint16(b[0:], uint16(md.Status))
	be.PutUint16(b[2:], uint16(md.Severity))
	if fam == FamilyTime {
		be.PutUint32(b[4:], md.Stamp.Sec)
		be.PutUint32(b[8:], md.Stamp.Nsec)
		return
	}
	if fam == FamilySts || md.Properties == nil {
		return
	}
	p := md.Properties
	base := t.Base()
	if base == Enum {
		n := min(len(p.EnumStrings), MaxEnumStates)
		be.PutUint16(b[4:], uint16(n))
		for i, s := range p.EnumStrings[:n] {
			o := 6 + i*MaxEnumStringSize
			putString(b[o:o+MaxEnumStringSize], s)
		}
		return
	}
	lay := grLayouts[base]
	if lay.lsize == 0 {
		return // GR/CTRL_STRING: same as STS_STRING
	}
	if lay.prec != 0 {
		be.PutUint16(b[lay.prec:], uint16(p.Precision))
	}
	putString(b[lay.units:lay.units+MaxUnitsSize], p.Units)
	nlim := 6
	if fam == FamilyCtrl {
		nlim = 8
	}
	lims := limitList(&p.Limits)
	for i, f := range lims[:nlim] {
		o := lay.limits + i*lay.lsize
		switch base {
		case Short:
			be.PutUint16(b[o:], uint16(limitToInt32(f)))
		case Float:
			be.PutUint32(b[o:], math.Float32bits(float32(f)))
		case Char:
			b[o] = uint8(limitToInt32(f))
		case Long:
			be.PutUint32(b[o:], uint32(limitToInt32(f)))
		case Double:
			be.PutUint64(b[o:], math.Float64bits(f))
		}
	}
}

// putValues writes min(count, v.Len()) elements of v into b. String slots
// must already be zero; numeric elements overwrite whatever b holds.
func putValues(b []byte, count int, v Value) {
	be := binary.BigEndian
	switch x := v.(type) {
	case Strings:
		x = x[:min(count, len(x))]
		for i, s := range x {
			putString(b[i*MaxStringSize:(i+1)*MaxStringSize], s)
		}
	case Shorts:
		x = x[:min(count, len(x))]
		b = b[:2*len(x)]
		for _, e := range x {
			be.PutUint16(b, uint16(e))
			b = b[2:]
		}
	case Floats:
		x = x[:min(count, len(x))]
		b = b[:4*len(x)]
		for _, e := range x {
			be.PutUint32(b, math.Float32bits(e))
			b = b[4:]
		}
	case Enums:
		x = x[:min(count, len(x))]
		b = b[:2*len(x)]
		for _, e := range x {
			be.PutUint16(b, e)
			b = b[2:]
		}
	case Chars:
		copy(b, x[:min(count, len(x))])
	case Longs:
		x = x[:min(count, len(x))]
		b = b[:4*len(x)]
		for _, e := range x {
			be.PutUint32(b, uint32(e))
			b = b[4:]
		}
	case Doubles:
		x = x[:min(count, len(x))]
		b = b[:8*len(x)]
		for _, e := range x {
			be.PutUint64(b, math.Float64bits(e))
			b = b[8:]
		}
	}
}

// sliceValue returns the first n elements of v (n <= v.Len()).
func sliceValue(v Value, n int) Value {
	switch x := v.(type) {
	case Strings:
		return x[:n]
	case Shorts:
		return x[:n]
	case Floats:
		return x[:n]
	case Enums:
		return x[:n]
	case Chars:
		return x[:n]
	case Longs:
		return x[:n]
	case Doubles:
		return x[:n]
	}
	return v
}
