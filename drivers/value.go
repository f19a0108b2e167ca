package drivers

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Kind is the kind of the elements of a Value.
type Kind uint8

// The kinds. Numbers are widened to 64 bits; Type.Bits keeps the device's
// width.
const (
	KindInvalid Kind = iota // the kind of no value
	KindBool                // Bools
	KindInt                 // Ints, signed integers
	KindUint                // Uints, unsigned integers
	KindFloat               // Floats, IEEE floating point
	KindString              // Strings
)

//nolint:gochecknoglobals // read-only lookup table, never written
var kindNames = [...]string{"invalid", "bool", "int", "uint", "float", "string"}

// String returns the kind's name: "bool", "int", "uint", "float",
// "string" or "invalid".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is an array of elements of one kind that a driver reads or
// writes; a scalar has one element. The concrete types are Bools, Ints,
// Uints, Floats and Strings; no other type implements Value. Values are
// raw device values: scaling, offsets and conversion to PV types happen in
// the mapping layer. Whoever hands a Value over gives up the right to
// modify it.
type Value interface {
	// Kind returns the kind of the elements.
	Kind() Kind
	// Len returns the number of elements.
	Len() int
	isValue()
}

// Bools is a Value of booleans (coils, discrete inputs, bits).
type Bools []bool

// Ints is a Value of signed integers.
type Ints []int64

// Uints is a Value of unsigned integers.
type Uints []uint64

// Floats is a Value of floating-point numbers.
type Floats []float64

// Strings is a Value of strings.
type Strings []string

// Kind returns KindBool.
func (Bools) Kind() Kind { return KindBool }

// Kind returns KindInt.
func (Ints) Kind() Kind { return KindInt }

// Kind returns KindUint.
func (Uints) Kind() Kind { return KindUint }

// Kind returns KindFloat.
func (Floats) Kind() Kind { return KindFloat }

// Kind returns KindString.
func (Strings) Kind() Kind { return KindString }

// Len returns the number of elements.
func (v Bools) Len() int { return len(v) }

// Len returns the number of elements.
func (v Ints) Len() int { return len(v) }

// Len returns the number of elements.
func (v Uints) Len() int { return len(v) }

// Len returns the number of elements.
func (v Floats) Len() int { return len(v) }

// Len returns the number of elements.
func (v Strings) Len() int { return len(v) }

func (Bools) isValue()   {}
func (Ints) isValue()    {}
func (Uints) isValue()   {}
func (Floats) isValue()  {}
func (Strings) isValue() {}

// MakeValue returns a zeroed Value of kind k with n elements, or nil for
// KindInvalid.
func MakeValue(k Kind, n int) Value {
	switch k {
	case KindBool:
		return make(Bools, n)
	case KindInt:
		return make(Ints, n)
	case KindUint:
		return make(Uints, n)
	case KindFloat:
		return make(Floats, n)
	case KindString:
		return make(Strings, n)
	}
	return nil
}

// Equal reports whether a and b have the same kind and elements. NaNs
// are equal to each other; nil equals only nil.
func Equal(a, b Value) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch a := a.(type) {
	case Bools:
		b, ok := b.(Bools)
		return ok && slices.Equal(a, b)
	case Ints:
		b, ok := b.(Ints)
		return ok && slices.Equal(a, b)
	case Uints:
		b, ok := b.(Uints)
		return ok && slices.Equal(a, b)
	case Floats:
		b, ok := b.(Floats)
		return ok && slices.EqualFunc(a, b, func(x, y float64) bool {
			return x == y || (math.IsNaN(x) && math.IsNaN(y))
		})
	case Strings:
		b, ok := b.(Strings)
		return ok && slices.Equal(a, b)
	}
	return false
}

// Convert returns v converted element by element to kind k. Floats are
// rounded to the nearest integer for KindInt and KindUint; numbers become
// booleans by comparison with zero and booleans become 0 or 1; strings
// are parsed with strconv and numbers formatted with it. A value out of
// the range of k (a negative number for KindUint, NaN for an integer) or
// an unparsable string gives an error wrapping ErrBadValue. A v of kind k
// is returned as is.
func Convert(v Value, k Kind) (Value, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: no value", ErrBadValue)
	}
	if v.Kind() == k {
		return v, nil
	}
	n := v.Len()
	out := MakeValue(k, n)
	if out == nil {
		return nil, fmt.Errorf("%w: cannot convert to kind %s", ErrBadValue, k)
	}
	for i := range n {
		if err := convertElem(v, i, out); err != nil {
			return nil, fmt.Errorf("%w: element %d: %w", ErrBadValue, i, err)
		}
	}
	return out, nil
}

// convertElem converts v[i] into out[i].
func convertElem(v Value, i int, out Value) error {
	if s, ok := v.(Strings); ok {
		return parseElem(s[i], i, out)
	}
	var (
		f             float64 // the element as a float
		iv            int64   // exact signed value when isInt
		uv            uint64  // exact unsigned value when isUint
		isInt, isUint bool
	)
	switch v := v.(type) {
	case Bools:
		if v[i] {
			f, iv, uv = 1, 1, 1
		}
		isInt, isUint = true, true
	case Ints:
		f, iv, isInt = float64(v[i]), v[i], true
		if v[i] >= 0 {
			uv, isUint = uint64(v[i]), true
		}
	case Uints:
		f, uv, isUint = float64(v[i]), v[i], true
		if v[i] <= math.MaxInt64 {
			iv, isInt = int64(v[i]), true
		}
	case Floats:
		f = v[i]
	}
	switch out := out.(type) {
	case Bools:
		out[i] = f != 0 || iv != 0 || uv != 0
	case Floats:
		out[i] = f
	case Strings:
		switch v.(type) {
		case Bools, Ints:
			out[i] = strconv.FormatInt(iv, 10)
		case Uints:
			out[i] = strconv.FormatUint(uv, 10)
		default:
			out[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
	case Ints:
		switch {
		case isInt:
			out[i] = iv
		case isUint:
			return fmt.Errorf("%d out of range", uv)
		default:
			r := math.Round(f)
			if math.IsNaN(r) || r < math.MinInt64 || r >= math.MaxInt64 {
				return fmt.Errorf("%g out of range", f)
			}
			out[i] = int64(r)
		}
	case Uints:
		switch {
		case isUint:
			out[i] = uv
		case isInt:
			return fmt.Errorf("%d out of range", iv)
		default:
			r := math.Round(f)
			if math.IsNaN(r) || r < 0 || r >= math.MaxUint64 {
				return fmt.Errorf("%g out of range", f)
			}
			out[i] = uint64(r)
		}
	}
	return nil
}

// parseElem parses s into out[i].
func parseElem(s string, i int, out Value) error {
	var err error
	switch out := out.(type) {
	case Bools:
		out[i], err = strconv.ParseBool(s)
	case Ints:
		out[i], err = strconv.ParseInt(s, 0, 64)
	case Uints:
		out[i], err = strconv.ParseUint(s, 0, 64)
	case Floats:
		out[i], err = strconv.ParseFloat(s, 64)
	}
	if err != nil {
		return fmt.Errorf("cannot parse %q", s)
	}
	return nil
}
