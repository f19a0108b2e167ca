package dbr

// Value is an array of elements of one of the seven plain DBR types. A
// scalar is an array of length 1. The concrete types are Strings, Shorts,
// Floats, Enums, Chars, Longs and Doubles; no other type implements Value.
//
// Values handed to or returned by the server are treated as immutable:
// whoever publishes a Value must not modify its elements afterwards.
type Value interface {
	// Type returns the plain DBR type of the elements (String..Double).
	Type() Type
	// Len returns the number of elements.
	Len() int
	isValue()
}

// Strings is a DBR_STRING array; each element is at most 39 bytes on the wire.
type Strings []string

// Shorts is a DBR_SHORT (16-bit signed) array.
type Shorts []int16

// Floats is a DBR_FLOAT (32-bit IEEE) array.
type Floats []float32

// Enums is a DBR_ENUM array of state indices.
type Enums []uint16

// Chars is a DBR_CHAR (8-bit unsigned) array, also used for long strings.
type Chars []byte

// Longs is a DBR_LONG (32-bit signed) array.
type Longs []int32

// Doubles is a DBR_DOUBLE (64-bit IEEE) array.
type Doubles []float64

// Type returns String.
func (Strings) Type() Type { return String }

// Type returns Short.
func (Shorts) Type() Type { return Short }

// Type returns Float.
func (Floats) Type() Type { return Float }

// Type returns Enum.
func (Enums) Type() Type { return Enum }

// Type returns Char.
func (Chars) Type() Type { return Char }

// Type returns Long.
func (Longs) Type() Type { return Long }

// Type returns Double.
func (Doubles) Type() Type { return Double }

// Len returns the number of elements.
func (v Strings) Len() int { return len(v) }

// Len returns the number of elements.
func (v Shorts) Len() int { return len(v) }

// Len returns the number of elements.
func (v Floats) Len() int { return len(v) }

// Len returns the number of elements.
func (v Enums) Len() int { return len(v) }

// Len returns the number of elements.
func (v Chars) Len() int { return len(v) }

// Len returns the number of elements.
func (v Longs) Len() int { return len(v) }

// Len returns the number of elements.
func (v Doubles) Len() int { return len(v) }

func (Strings) isValue() {}
func (Shorts) isValue()  {}
func (Floats) isValue()  {}
func (Enums) isValue()   {}
func (Chars) isValue()   {}
func (Longs) isValue()   {}
func (Doubles) isValue() {}

// MakeValue returns a zeroed Value of plain type t with n elements.
func MakeValue(t Type, n int) Value {
	switch t.Base() {
	case String:
		return make(Strings, n)
	case Short:
		return make(Shorts, n)
	case Float:
		return make(Floats, n)
	case Enum:
		return make(Enums, n)
	case Char:
		return make(Chars, n)
	case Long:
		return make(Longs, n)
	default:
		return make(Doubles, n)
	}
}

// Elements returns the elements of v as a []E, without copying, if E is
// v's Go element type (float64 for Doubles, string for Strings, uint8 for
// Chars, uint16 for Enums, ...); otherwise, or for a nil v, it returns nil.
func Elements[E any](v Value) []E {
	var r any
	switch x := v.(type) {
	case Doubles:
		r = []float64(x)
	case Floats:
		r = []float32(x)
	case Longs:
		r = []int32(x)
	case Shorts:
		r = []int16(x)
	case Chars:
		r = []uint8(x)
	case Enums:
		r = []uint16(x)
	case Strings:
		r = []string(x)
	}
	e, _ := r.([]E)
	return e
}

// FirstFloat returns the first element of a numeric v as a float64, and 0
// for an empty, nil or DBR_STRING value.
func FirstFloat(v Value) float64 {
	if v == nil || v.Len() == 0 {
		return 0
	}
	switch x := v.(type) {
	case Doubles:
		return x[0]
	case Floats:
		return float64(x[0])
	case Longs:
		return float64(x[0])
	case Shorts:
		return float64(x[0])
	case Chars:
		return float64(x[0])
	case Enums:
		return float64(x[0])
	}
	return 0
}
