package modbus

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Format is how a value is stored in the device, apart from its byte
// order: a bit, an integer or float of some width, BCD, sign-magnitude or
// a string packed into registers.
type Format uint8

// The formats. The zero Format is invalid.
const (
	// Bool is a coil, a discrete input or one bit of a register.
	Bool Format = iota + 1
	// Int16 is a two's-complement 16-bit integer in one register.
	Int16
	// Uint16 is an unsigned 16-bit integer in one register.
	Uint16
	// Int32 is a two's-complement 32-bit integer in two registers.
	Int32
	// Uint32 is an unsigned 32-bit integer in two registers.
	Uint32
	// Int64 is a two's-complement 64-bit integer in four registers.
	Int64
	// Uint64 is an unsigned 64-bit integer in four registers.
	Uint64
	// Float32 is an IEEE 754 binary32 number in two registers.
	Float32
	// Float64 is an IEEE 754 binary64 number in four registers.
	Float64
	// BCD is an unsigned 4-digit binary-coded decimal in one register,
	// 0..9999; 0x1234 is 1234. (EPICS: BCD_UNSIGNED.)
	BCD
	// BCDSigned is a 4-digit BCD whose bit 15 is the sign, so the top
	// digit is 0..7 and the range is -7999..7999; 0x8123 is -123. (EPICS:
	// BCD_SIGNED.)
	BCDSigned
	// Int16SM is a 16-bit sign-magnitude integer: bit 15 is the sign, bits
	// 0..14 the magnitude, range -32767..32767; 0x8005 is -5. (EPICS:
	// INT16SM.)
	Int16SM
	// String packs two characters per register. With order ABCD (the
	// default; EPICS STRING_HIGH_LOW) the first character is in the high
	// byte; with BADC (EPICS STRING_LOW_HIGH) it is in the low byte.
	String
	// StringHigh stores one character per register, in the high byte; the
	// low byte is written as zero and ignored on read. (EPICS: STRING_HIGH.)
	StringHigh
	// StringLow stores one character per register, in the low byte; the
	// high byte is written as zero and ignored on read. (EPICS: STRING_LOW.)
	StringLow
)

// String returns the format's config name, as ParseType accepts it:
// "bool", "int16", ..., "float64", "bcd", "bcd_signed", "int16_sm",
// "string", "string_high", "string_low".
func (f Format) String() string {
	switch f {
	case Bool:
		return "bool"
	case Int16:
		return "int16"
	case Uint16:
		return "uint16"
	case Int32:
		return "int32"
	case Uint32:
		return "uint32"
	case Int64:
		return "int64"
	case Uint64:
		return "uint64"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case BCD:
		return "bcd"
	case BCDSigned:
		return "bcd_signed"
	case Int16SM:
		return "int16_sm"
	case String:
		return "string"
	case StringHigh:
		return "string_high"
	case StringLow:
		return "string_low"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Valid reports whether f is one of the formats.
func (f Format) Valid() bool { return f >= Bool && f <= StringLow }

// Numeric reports whether f is an integer, float, BCD or sign-magnitude
// format: the formats a device-wide default byte order applies to.
func (f Format) Numeric() bool { return f >= Int16 && f <= Int16SM }

// IsString reports whether f is String, StringHigh or StringLow.
func (f Format) IsString() bool { return f >= String && f <= StringLow }

// Kind returns the kind of the values of f: KindBool, KindInt (signed
// integers, BCDSigned, Int16SM), KindUint (unsigned integers, BCD),
// KindFloat or KindString.
func (f Format) Kind() Kind {
	switch f {
	case Bool:
		return KindBool
	case Int16, Int32, Int64, BCDSigned, Int16SM:
		return KindInt
	case Uint16, Uint32, Uint64, BCD:
		return KindUint
	case Float32, Float64:
		return KindFloat
	case String, StringHigh, StringLow:
		return KindString
	}
	return KindInvalid
}

// Bits returns the width of a value of f in the device: 1 for Bool, 16,
// 32 or 64 for numbers, 0 for strings.
func (f Format) Bits() int {
	switch f {
	case Bool:
		return 1
	case Int16, Uint16, BCD, BCDSigned, Int16SM:
		return 16
	case Int32, Uint32, Float32:
		return 32
	case Int64, Uint64, Float64:
		return 64
	}
	return 0
}

// Order is the byte and word order of a numeric value in its registers.
// It is two independent swaps of the big-endian (ABCD) layout: a byte
// swap inside every register and a reversal of the register order. For a
// one-register format only the byte swap matters (ABCD and CDAB are both
// AB; BADC and DCBA are both BA). For a 64-bit format the word swap
// reverses all four registers, so CDAB is GHEFCDAB and DCBA is HGFEDCBA.
type Order uint8

// The orders, named by the bytes of a 32-bit value 0xAABBCCDD as they
// arrive in the registers, A being the most significant byte.
const (
	// ABCD is big-endian, the Modbus convention and the zero value.
	// 64-bit: ABCDEFGH. EPICS: *_BE.
	ABCD Order = 0
	// BADC swaps the bytes of every register. 64-bit: BADCFEHG. EPICS:
	// *_BE_BS.
	BADC Order = 1
	// CDAB reverses the registers (least significant word first).
	// 64-bit: GHEFCDAB. EPICS: *_LE.
	CDAB Order = 2
	// DCBA is little-endian. 64-bit: HGFEDCBA. EPICS: *_LE_BS.
	DCBA Order = 3
)

func (o Order) byteSwap() bool { return o&1 != 0 }
func (o Order) wordSwap() bool { return o&2 != 0 }

// String returns the four-letter name: "ABCD", "BADC", "CDAB" or "DCBA".
func (o Order) String() string { return o.Name(4) }

// Name returns the name of o for a value of n bytes: for n = 2 "AB" or
// "BA", for n = 8 the eight-letter names ("GHEFCDAB" for CDAB), else the
// four-letter name.
func (o Order) Name(n int) string {
	if o > DCBA {
		return fmt.Sprintf("Order(%d)", uint8(o))
	}
	switch n {
	case 2:
		if o.byteSwap() {
			return "BA"
		}
		return "AB"
	case 8:
		return [...]string{"ABCDEFGH", "BADCFEHG", "GHEFCDAB", "HGFEDCBA"}[o]
	}
	return [...]string{"ABCD", "BADC", "CDAB", "DCBA"}[o]
}

// ParseOrder parses an order name, ignoring case: ABCD, BADC, CDAB, DCBA;
// the 64-bit names ABCDEFGH, BADCFEHG, GHEFCDAB, HGFEDCBA; and the 16-bit
// names AB and BA. ParseType checks that the name's width suits the type.
func ParseOrder(s string) (Order, error) {
	o, _, err := parseOrder(s)
	return o, err
}

// parseOrder returns the order and the number of bytes its name spells.
func parseOrder(s string) (Order, int, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "AB":
		return ABCD, 2, nil
	case "BA":
		return BADC, 2, nil
	case "ABCD":
		return ABCD, 4, nil
	case "BADC":
		return BADC, 4, nil
	case "CDAB":
		return CDAB, 4, nil
	case "DCBA":
		return DCBA, 4, nil
	case "ABCDEFGH":
		return ABCD, 8, nil
	case "BADCFEHG":
		return BADC, 8, nil
	case "GHEFCDAB":
		return CDAB, 8, nil
	case "HGFEDCBA":
		return DCBA, 8, nil
	}
	return 0, 0, fmt.Errorf("modbus: unknown byte order %q (want ABCD, BADC, CDAB or DCBA; ABCDEFGH, BADCFEHG, GHEFCDAB or HGFEDCBA for 64-bit types)", s)
}

// Padding is how a string shorter than its field is stored.
type Padding uint8

// The paddings. On read a string ends at its first NUL byte in every
// padding; SpacePadded also drops trailing spaces.
const (
	// NULPadded fills the rest of the field with NUL bytes; a string may
	// fill the whole field. The zero value. (EPICS: STRING_*.)
	NULPadded Padding = iota
	// SpacePadded fills the rest of the field with spaces.
	SpacePadded
	// NULTerminated is NULPadded with room for at least one NUL, so the
	// longest string is one byte shorter than the field; on read the last
	// byte is ignored. (EPICS: ZSTRING_*.)
	NULTerminated
)

// String returns "nul", "space" or "nul_terminated".
func (p Padding) String() string {
	switch p {
	case NULPadded:
		return "nul"
	case SpacePadded:
		return "space"
	case NULTerminated:
		return "nul_terminated"
	}
	return fmt.Sprintf("Padding(%d)", uint8(p))
}

// ParsePadding parses "nul" (or ""), "space" or "nul_terminated",
// ignoring case.
func ParsePadding(s string) (Padding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "nul", "null", "zero":
		return NULPadded, nil
	case "space", "spaces":
		return SpacePadded, nil
	case "nul_terminated", "terminated", "z":
		return NULTerminated, nil
	}
	return 0, fmt.Errorf("modbus: unknown string padding %q (want nul, space or nul_terminated)", s)
}

// Type is the complete encoding of a point's value: format, order and,
// for strings, length and padding. The zero Type is invalid; build one
// with ParseType or as a literal checked by Validate. Types are
// comparable.
type Type struct {
	// Format is the value's format.
	Format Format
	// Order is the byte and word order; for String ABCD puts the first
	// character in the high byte, BADC in the low byte. Must be ABCD for
	// Bool, StringHigh and StringLow.
	Order Order
	// Length is the size of a string field in characters (bytes), at
	// least 1; 0 for other formats.
	Length int
	// Padding is how a string field is filled; NULPadded for other
	// formats.
	Padding Padding
}

// Registers returns the number of registers a value of t occupies: 1 for
// Bool (one coil, discrete input or register) and the 16-bit formats, 2
// or 4 for 32- and 64-bit formats, Length/2 rounded up for String and
// Length for StringHigh and StringLow.
func (t Type) Registers() int {
	switch t.Format {
	case String:
		return (t.Length + 1) / 2
	case StringHigh, StringLow:
		return t.Length
	}
	if b := t.Format.Bits(); b > 16 {
		return b / 16
	}
	return 1
}

// Kind returns the kind of the values of t.
func (t Type) Kind() Kind { return t.Format.Kind() }

// Validate checks that t is a complete, consistent type.
func (t Type) Validate() error {
	if !t.Format.Valid() {
		return fmt.Errorf("modbus: invalid format %v", t.Format)
	}
	if t.Order > DCBA {
		return fmt.Errorf("modbus: invalid order %v", t.Order)
	}
	switch t.Format {
	case Bool, StringHigh, StringLow:
		if t.Order != ABCD {
			return fmt.Errorf("modbus: byte order %v has no meaning for %v", t.Order, t.Format)
		}
	case String:
		if t.Order.wordSwap() {
			return fmt.Errorf("modbus: byte order %v has no meaning for string (want ABCD: first character in the high byte, or BADC: in the low byte)", t.Order)
		}
	}
	if !t.Format.IsString() {
		if t.Length != 0 {
			return fmt.Errorf("modbus: length %d applies only to strings, not %v", t.Length, t.Format)
		}
		if t.Padding != NULPadded {
			return fmt.Errorf("modbus: padding %v applies only to strings, not %v", t.Padding, t.Format)
		}
		return nil
	}
	if t.Padding > NULTerminated {
		return fmt.Errorf("modbus: invalid padding %v", t.Padding)
	}
	min := 1
	if t.Padding == NULTerminated {
		min = 2
	}
	if t.Length < min {
		return fmt.Errorf("modbus: %v needs a length of at least %d characters, got %d", t.Format, min, t.Length)
	}
	if n := t.Registers(); n > MaxReadRegisters {
		return fmt.Errorf("modbus: %v of %d characters needs %d registers, more than the %d one read can return", t.Format, t.Length, n, MaxReadRegisters)
	}
	return nil
}

// String formats t as "float32 CDAB", "int64 GHEFCDAB", "uint16",
// "int16 BA", "bool", "string(20)", "string(20) BA space".
func (t Type) String() string {
	s := t.Format.String()
	if t.Format.IsString() {
		s += "(" + strconv.Itoa(t.Length) + ")"
	}
	switch {
	case t.Format.Numeric() && t.Format.Bits() > 16:
		s += " " + t.Order.Name(t.Format.Bits()/8)
	case t.Order.byteSwap():
		s += " " + t.Order.Name(2)
	}
	if t.Format.IsString() && t.Padding != NULPadded {
		s += " " + t.Padding.String()
	}
	return s
}

// ParseType parses a type name and an optional order name (empty: ABCD,
// or what the name implies). Names, ignoring case:
//
//	bool int16 uint16 int32 uint32 int64 uint64 float32 float64
//	bcd bcd_signed int16_sm string string_high string_low
//
// and the EPICS modbus names: INT16, UINT16, INT16SM, BCD_UNSIGNED,
// BCD_SIGNED; {INT,UINT}{32,64}_{LE,BE}[_BS] and FLOAT{32,64}_{LE,BE}[_BS]
// (BE = ABCD, BE_BS = BADC, LE = CDAB, LE_BS = DCBA); STRING_HIGH,
// STRING_LOW, STRING_HIGH_LOW, STRING_LOW_HIGH and their ZSTRING_ forms
// (NULTerminated). An EPICS name that implies an order conflicts with a
// different explicit order. Eight-letter orders need a 64-bit type and
// AB/BA a 16-bit one or a string. For strings the caller sets Length (and
// Padding, unless a ZSTRING name set it) and calls Validate.
func ParseType(name, order string) (Type, error) {
	t, implied, err := parseTypeName(name)
	if err != nil {
		return Type{}, err
	}
	if strings.TrimSpace(order) == "" {
		return t, nil
	}
	o, width, err := parseOrder(order)
	if err != nil {
		return Type{}, err
	}
	if implied && o != t.Order {
		return Type{}, fmt.Errorf("modbus: type %q implies byte order %s, which conflicts with order %q", name, t.Order.Name(t.Format.Bits()/8), order)
	}
	bytes := t.Format.Bits() / 8
	switch {
	case width == 8 && bytes != 8:
		return Type{}, fmt.Errorf("modbus: order %q is for 64-bit types, not %v", order, t.Format)
	case width == 2 && bytes > 2:
		return Type{}, fmt.Errorf("modbus: order %q is for 16-bit types, not %v (use ABCD, BADC, CDAB or DCBA)", order, t.Format)
	}
	t.Order = o
	// Check the order against the format now; Length is the caller's.
	probe := t
	if probe.Format.IsString() {
		probe.Length = 2
	}
	if err := probe.Validate(); err != nil {
		return Type{}, err
	}
	return t, nil
}

// parseTypeName returns the type a name denotes and whether the name
// implies an order (the EPICS multi-register names).
func parseTypeName(name string) (Type, bool, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	switch n {
	case "BOOL":
		return Type{Format: Bool}, false, nil
	case "INT16":
		return Type{Format: Int16}, false, nil
	case "UINT16":
		return Type{Format: Uint16}, false, nil
	case "INT32":
		return Type{Format: Int32}, false, nil
	case "UINT32":
		return Type{Format: Uint32}, false, nil
	case "INT64":
		return Type{Format: Int64}, false, nil
	case "UINT64":
		return Type{Format: Uint64}, false, nil
	case "FLOAT32":
		return Type{Format: Float32}, false, nil
	case "FLOAT64":
		return Type{Format: Float64}, false, nil
	case "BCD", "BCD_UNSIGNED":
		return Type{Format: BCD}, false, nil
	case "BCD_SIGNED":
		return Type{Format: BCDSigned}, false, nil
	case "INT16_SM", "INT16SM":
		return Type{Format: Int16SM}, false, nil
	case "STRING", "STRING_HIGH_LOW":
		return Type{Format: String}, false, nil
	case "STRING_LOW_HIGH":
		return Type{Format: String, Order: BADC}, false, nil
	case "STRING_HIGH":
		return Type{Format: StringHigh}, false, nil
	case "STRING_LOW":
		return Type{Format: StringLow}, false, nil
	case "ZSTRING_HIGH_LOW":
		return Type{Format: String, Padding: NULTerminated}, false, nil
	case "ZSTRING_LOW_HIGH":
		return Type{Format: String, Order: BADC, Padding: NULTerminated}, false, nil
	case "ZSTRING_HIGH":
		return Type{Format: StringHigh, Padding: NULTerminated}, false, nil
	case "ZSTRING_LOW":
		return Type{Format: StringLow, Padding: NULTerminated}, false, nil
	}
	// EPICS multi-register names: BASE_{LE,BE}[_BS].
	base, suffix, ok := strings.Cut(n, "_")
	if ok {
		var f Format
		switch base {
		case "INT32":
			f = Int32
		case "UINT32":
			f = Uint32
		case "INT64":
			f = Int64
		case "UINT64":
			f = Uint64
		case "FLOAT32":
			f = Float32
		case "FLOAT64":
			f = Float64
		}
		var o Order
		switch suffix {
		case "BE":
			o = ABCD
		case "BE_BS":
			o = BADC
		case "LE":
			o = CDAB
		case "LE_BS":
			o = DCBA
		default:
			f = 0
		}
		if f != 0 {
			return Type{Format: f, Order: o}, true, nil
		}
	}
	return Type{}, false, fmt.Errorf("modbus: unknown data type %q (want bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, bcd, bcd_signed, int16_sm, string, string_high, string_low, or an EPICS modbus name such as FLOAT32_LE)", name)
}

// Kind is the kind of a Value. Its constants have the same names and
// order as the driver contract's drivers.Kind.
type Kind uint8

// The kinds.
const (
	KindInvalid Kind = iota // the zero Value
	KindBool                // bool
	KindInt                 // int64
	KindUint                // uint64
	KindFloat               // float64
	KindString              // string
)

// String returns "invalid", "bool", "int", "uint", "float" or "string".
func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindBool:
		return "bool"
	case KindInt:
		return "int"
	case KindUint:
		return "uint"
	case KindFloat:
		return "float"
	case KindString:
		return "string"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is one decoded value: a bool, int64, uint64, float64 or string,
// told apart by Kind. Decoding returns the kind of the point's format;
// encoding accepts any kind that converts exactly (see Point.Encode).
// Values are small, immutable and comparable (floats compare by bits, so
// a NaN equals itself).
type Value struct {
	kind Kind
	num  uint64 // bool 0/1, int64 and float64 bits, uint64
	str  string
}

// BoolValue returns a Value of kind KindBool.
func BoolValue(b bool) Value {
	if b {
		return Value{kind: KindBool, num: 1}
	}
	return Value{kind: KindBool}
}

// IntValue returns a Value of kind KindInt.
func IntValue(i int64) Value { return Value{kind: KindInt, num: uint64(i)} }

// UintValue returns a Value of kind KindUint.
func UintValue(u uint64) Value { return Value{kind: KindUint, num: u} }

// FloatValue returns a Value of kind KindFloat.
func FloatValue(f float64) Value { return Value{kind: KindFloat, num: math.Float64bits(f)} }

// StringValue returns a Value of kind KindString.
func StringValue(s string) Value { return Value{kind: KindString, str: s} }

// Kind returns v's kind; KindInvalid for the zero Value.
func (v Value) Kind() Kind { return v.kind }

// Bool returns v's bool; false unless v is KindBool.
func (v Value) Bool() bool { return v.kind == KindBool && v.num != 0 }

// Int returns v's int64; 0 unless v is KindInt.
func (v Value) Int() int64 {
	if v.kind != KindInt {
		return 0
	}
	return int64(v.num)
}

// Uint returns v's uint64; 0 unless v is KindUint.
func (v Value) Uint() uint64 {
	if v.kind != KindUint {
		return 0
	}
	return v.num
}

// Float returns v's float64; 0 unless v is KindFloat.
func (v Value) Float() float64 {
	if v.kind != KindFloat {
		return 0
	}
	return math.Float64frombits(v.num)
}

// Str returns v's string; "" unless v is KindString.
func (v Value) Str() string { return v.str }

// AsFloat converts a bool (0 or 1), integer or float to float64 (large
// integers round); it returns NaN for a string or the zero Value.
func (v Value) AsFloat() float64 {
	switch v.kind {
	case KindBool:
		return float64(v.num)
	case KindInt:
		return float64(int64(v.num))
	case KindUint:
		return float64(v.num)
	case KindFloat:
		return math.Float64frombits(v.num)
	}
	return math.NaN()
}

// Any returns v as a bool, int64, uint64, float64 or string, or nil for
// the zero Value.
func (v Value) Any() any {
	switch v.kind {
	case KindBool:
		return v.num != 0
	case KindInt:
		return int64(v.num)
	case KindUint:
		return v.num
	case KindFloat:
		return math.Float64frombits(v.num)
	case KindString:
		return v.str
	}
	return nil
}

// String formats v: the string itself for KindString, "true"/"false",
// decimal numbers (floats in the shortest form that reads back exactly),
// or "<invalid>".
func (v Value) String() string {
	switch v.kind {
	case KindBool:
		return strconv.FormatBool(v.num != 0)
	case KindInt:
		return strconv.FormatInt(int64(v.num), 10)
	case KindUint:
		return strconv.FormatUint(v.num, 10)
	case KindFloat:
		return strconv.FormatFloat(math.Float64frombits(v.num), 'g', -1, 64)
	case KindString:
		return v.str
	}
	return "<invalid>"
}
