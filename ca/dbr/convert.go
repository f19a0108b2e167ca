package dbr

import (
	"fmt"
	"math"
)

func convert(v Value, to Type, p *Properties) (Value, error) {
	if !to.Valid() {
		return nil, ErrBadType
	}
	dst := to.Base()
	if v == nil {
		return MakeValue(dst, 0), nil
	}
	if v.Type() == dst {
		return v, nil
	}
	if dst == String {
		return toStrings(v, p), nil
	}
	switch x := v.(type) {
	case Strings:
		return fromStrings(x, dst, p)
	case Shorts:
		return fromInts(x, dst), nil
	case Enums:
		return fromInts(x, dst), nil
	case Chars:
		return fromInts(x, dst), nil
	case Longs:
		return fromInts(x, dst), nil
	case Floats:
		return fromFloats(x, dst), nil
	case Doubles:
		return fromFloats(x, dst), nil
	}
	return nil, ErrNoConvert
}

// toStrings formats every element of v with FormatValue.
func toStrings(v Value, p *Properties) Strings {
	out := make(Strings, v.Len())
	for i := range out {
		out[i] = FormatValue(v, i, p)
	}
	return out
}

// fromInts converts an integer array to the numeric type to with C casts
// (modular narrowing).
func fromInts[S ~[]E, E int16 | uint16 | uint8 | int32](x S, to Type) Value {
	switch to {
	case Short:
		out := make(Shorts, len(x))
		for i, e := range x {
			out[i] = int16(e)
		}
		return out
	case Float:
		out := make(Floats, len(x))
		for i, e := range x {
			out[i] = float32(e)
		}
		return out
	case Enum:
		out := make(Enums, len(x))
		for i, e := range x {
			out[i] = uint16(e)
		}
		return out
	case Char:
		out := make(Chars, len(x))
		for i, e := range x {
			out[i] = uint8(e)
		}
		return out
	case Long:
		out := make(Longs, len(x))
		for i, e := range x {
			out[i] = int32(e)
		}
		return out
	case Double:
		out := make(Doubles, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return out
	}
	return nil
}

// fromFloats converts a floating-point array to the numeric type to with
// C casts: truncation
// toward zero, then modular narrowing via int64 (NaN, ±Inf and values
// beyond the int64 range give 0).
func fromFloats[S ~[]E, E float32 | float64](x S, to Type) Value {
	switch to {
	case Short:
		out := make(Shorts, len(x))
		for i, e := range x {
			out[i] = int16(floatToInt64(float64(e)))
		}
		return out
	case Float:
		out := make(Floats, len(x))
		for i, e := range x {
			out[i] = float32(e)
		}
		return out
	case Enum:
		out := make(Enums, len(x))
		for i, e := range x {
			out[i] = uint16(floatToInt64(float64(e)))
		}
		return out
	case Char:
		out := make(Chars, len(x))
		for i, e := range x {
			out[i] = uint8(floatToInt64(float64(e)))
		}
		return out
	case Long:
		out := make(Longs, len(x))
		for i, e := range x {
			out[i] = int32(floatToInt64(float64(e)))
		}
		return out
	case Double:
		out := make(Doubles, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return out
	}
	return nil
}

// parseIntRange parses s with ParseInt and checks it against [lo, hi].
func parseIntRange(s string, lo, hi int64) (int64, error) {
	n, err := ParseInt(s)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w: %q", ErrRange, s)
	}
	return n, nil
}

// fromStrings parses every element of x as the IOC parses a put. Signed
// targets accept their own range; unsigned targets (CHAR, ENUM without
// state strings) accept -max..max and wrap negative values as strtoul does.
func fromStrings(x Strings, to Type, p *Properties) (Value, error) {
	var err error
	switch to {
	case Short:
		out := make(Shorts, len(x))
		for i, s := range x {
			var n int64
			if n, err = parseIntRange(s, math.MinInt16, math.MaxInt16); err != nil {
				return nil, err
			}
			out[i] = int16(n)
		}
		return out, nil
	case Float:
		out := make(Floats, len(x))
		for i, s := range x {
			var f float64
			if f, err = ParseFloat(s); err != nil {
				return nil, err
			}
			if !math.IsInf(f, 0) && math.IsInf(float64(float32(f)), 0) {
				return nil, fmt.Errorf("%w: %q", ErrRange, s)
			}
			out[i] = float32(f)
		}
		return out, nil
	case Enum:
		out := make(Enums, len(x))
		for i, s := range x {
			if p != nil && len(p.EnumStrings) > 0 {
				if out[i], err = ParseEnum(s, p.EnumStrings); err != nil {
					return nil, err
				}
				continue
			}
			var n int64
			if n, err = parseIntRange(s, -math.MaxUint16, math.MaxUint16); err != nil {
				return nil, err
			}
			out[i] = uint16(n)
		}
		return out, nil
	case Char:
		out := make(Chars, len(x))
		for i, s := range x {
			var n int64
			if n, err = parseIntRange(s, -math.MaxUint8, math.MaxUint8); err != nil {
				return nil, err
			}
			out[i] = uint8(n)
		}
		return out, nil
	case Long:
		out := make(Longs, len(x))
		for i, s := range x {
			var n int64
			if n, err = parseIntRange(s, math.MinInt32, math.MaxInt32); err != nil {
				return nil, err
			}
			out[i] = int32(n)
		}
		return out, nil
	case Double:
		out := make(Doubles, len(x))
		for i, s := range x {
			if out[i], err = ParseFloat(s); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return x, nil
}
