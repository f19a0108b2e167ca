package dbr

import (
	"encoding/binary"
	"math"
)

// getString returns the text of the slot b: up to the first NUL and at
// most len(b)-1 bytes, as the C structure always ends the slot with a NUL.
// The result does not alias b.
func getString(b []byte) string {
	if len(b) > 0 {
		b = b[:len(b)-1]
	}
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func decodeData(t Type, count int, b []byte) (Value, Metadata, error) {
	var md Metadata
	if !t.Valid() {
		return nil, md, ErrBadType
	}
	if count < 0 {
		return nil, md, errNegativeCount
	}
	if t == String && count == 1 && len(b) < MaxStringSize {
		// libca sends a scalar DBR_STRING put as strlen+1 bytes padded to 8.
		s := b
		for i, c := range s {
			if c == 0 {
				s = s[:i]
				break
			}
		}
		return Strings{string(s)}, md, nil
	}
	if len(b) < DataSize(t, count) {
		return nil, md, ErrShort
	}
	getMeta(b, t, &md)
	if t == ClassName {
		v := make(Strings, count)
		if count > 0 {
			v[0] = getString(b[:MaxStringSize])
		}
		md.Properties = &Properties{}
		if count > 0 {
			md.Properties.ClassName = v[0]
		}
		return v, md, nil
	}
	return getValues(b[t.ValueOffset():], t.Base(), count), md, nil
}

// getMeta decodes the metadata of a structure of type t from b, which is
// at least t.ValueOffset() long.
func getMeta(b []byte, t Type, md *Metadata) {
	be := binary.BigEndian
	fam := t.Family()
	switch fam {
	case FamilyPlain:
		return
	case FamilySpecial:
		if t == StsAckString {
			md.Status = Status(be.Uint16(b[0:]))
			md.Severity = Severity(be.Uint16(b[2:]))
			md.AckT = be.Uint16(b[4:]) != 0
			md.AckS = Severity(be.Uint16(b[6:]))
		}
		return
	}
	md.Status = Status(be.Uint16(b[0:]))
	md.Severity = Severity(be.Uint16(b[2:]))
	if fam == FamilyTime {
		md.Stamp = Timestamp{Sec: be.Uint32(b[4:]), Nsec: be.Uint32(b[8:])}
		return
	}
	base := t.Base()
	if fam == FamilySts || base == String {
		return
	}
	p := &Properties{}
	md.Properties = p
	if base == Enum {
		n := int(int16(be.Uint16(b[4:])))
		n = max(0, min(n, MaxEnumStates))
		if n > 0 {
			p.EnumStrings = make([]string, n)
			for i := range p.EnumStrings {
				o := 6 + i*MaxEnumStringSize
				p.EnumStrings[i] = getString(b[o : o+MaxEnumStringSize])
			}
		}
		return
	}
	lay := grLayouts[base]
	if lay.prec != 0 {
		p.Precision = int16(be.Uint16(b[lay.prec:]))
	}
	p.Units = getString(b[lay.units : lay.units+MaxUnitsSize])
	nlim := 6
	if fam == FamilyCtrl {
		nlim = 8
	}
	for i := range nlim {
		o := lay.limits + i*lay.lsize
		var f float64
		switch base {
		case Short:
			f = float64(int16(be.Uint16(b[o:])))
		case Float:
			f = float64(math.Float32frombits(be.Uint32(b[o:])))
		case Char:
			f = float64(b[o])
		case Long:
			f = float64(int32(be.Uint32(b[o:])))
		case Double:
			f = math.Float64frombits(be.Uint64(b[o:]))
		}
		setLimit(&p.Limits, i, f)
	}
}

// getValues decodes n elements of plain type base from b, which holds at
// least n*base.ValueSize() bytes.
func getValues(b []byte, base Type, n int) Value {
	be := binary.BigEndian
	switch base {
	case String:
		v := make(Strings, n)
		for i := range v {
			v[i] = getString(b[i*MaxStringSize : (i+1)*MaxStringSize])
		}
		return v
	case Short:
		v := make(Shorts, n)
		b = b[:2*n]
		for i := range v {
			v[i] = int16(be.Uint16(b[2*i:]))
		}
		return v
	case Float:
		v := make(Floats, n)
		b = b[:4*n]
		for i := range v {
			v[i] = math.Float32frombits(be.Uint32(b[4*i:]))
		}
		return v
	case Enum:
		v := make(Enums, n)
		b = b[:2*n]
		for i := range v {
			v[i] = be.Uint16(b[2*i:])
		}
		return v
	case Char:
		v := make(Chars, n)
		copy(v, b[:n])
		return v
	case Long:
		v := make(Longs, n)
		b = b[:4*n]
		for i := range v {
			v[i] = int32(be.Uint32(b[4*i:]))
		}
		return v
	default:
		v := make(Doubles, n)
		b = b[:8*n]
		for i := range v {
			v[i] = math.Float64frombits(be.Uint64(b[8*i:]))
		}
		return v
	}
}
