package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Decode decodes a value of t from exactly t.Registers() registers as
// they came off the wire (each register's high byte first). It fails for
// a wrong register count, an invalid BCD digit and for Bool, which needs a
// bit or a coil (see Point.DecodeRegisters).
func (t Type) Decode(regs []uint16) (Value, error) {
	if err := t.Validate(); err != nil {
		return Value{}, err
	}
	if t.Format == Bool {
		return Value{}, fmt.Errorf("modbus: a bool is one coil, discrete input or register bit; decode it with Point")
	}
	if n := t.Registers(); len(regs) != n {
		return Value{}, fmt.Errorf("modbus: %v needs %d registers, got %d", t, n, len(regs))
	}
	switch t.Format {
	case Int16:
		return IntValue(int64(int16(getOrdered(regs, t.Order)))), nil
	case Uint16:
		return UintValue(getOrdered(regs, t.Order)), nil
	case Int32:
		return IntValue(int64(int32(getOrdered(regs, t.Order)))), nil
	case Uint32:
		return UintValue(getOrdered(regs, t.Order)), nil
	case Int64:
		return IntValue(int64(getOrdered(regs, t.Order))), nil
	case Uint64:
		return UintValue(getOrdered(regs, t.Order)), nil
	case Float32:
		return FloatValue(float64(math.Float32frombits(uint32(getOrdered(regs, t.Order))))), nil
	case Float64:
		return FloatValue(math.Float64frombits(getOrdered(regs, t.Order))), nil
	case BCD:
		n, err := decodeBCD(uint16(getOrdered(regs, t.Order)), 0xFFFF)
		return UintValue(uint64(n)), err
	case BCDSigned:
		r := uint16(getOrdered(regs, t.Order))
		n, err := decodeBCD(r, 0x7FFF)
		if r&0x8000 != 0 {
			n = -n
		}
		return IntValue(int64(n)), err
	case Int16SM:
		r := uint16(getOrdered(regs, t.Order))
		n := int64(r & 0x7FFF)
		if r&0x8000 != 0 {
			n = -n
		}
		return IntValue(n), nil
	case String, StringHigh, StringLow:
		return StringValue(t.decodeString(regs)), nil
	}
	return Value{}, fmt.Errorf("modbus: cannot decode %v", t)
}

// Encode appends the t.Registers() registers that hold v in type t to dst
// and returns the extended slice; on error dst is returned unchanged.
// Conversions are exact or fail, never wrap or saturate:
//
//   - integer, BCD and sign-magnitude formats take an int, uint, bool
//     (0/1) or finite float (rounded to the nearest integer, halves away
//     from zero) that is in the format's range; NaN and ±Inf fail;
//   - float formats take any number or bool; a finite value too large for
//     float32 fails instead of becoming ±Inf;
//   - string formats take a string that fits the field (one byte less
//     with NULTerminated) and contains no NUL.
//
// Bool is encoded by Point.PlanWrite, which knows the coil or bit.
func (t Type) Encode(dst []uint16, v Value) ([]uint16, error) {
	if err := t.Validate(); err != nil {
		return dst, err
	}
	n := t.Registers()
	switch t.Format {
	case Bool:
		return dst, fmt.Errorf("modbus: a bool is one coil, discrete input or register bit; encode it with Point")
	case Float32:
		f, err := toFloat(v, t)
		if err != nil {
			return dst, err
		}
		f32 := float32(f)
		if math.IsInf(float64(f32), 0) && !math.IsInf(f, 0) {
			return dst, fmt.Errorf("modbus: value %v out of range for float32", v)
		}
		return putOrdered(dst, uint64(math.Float32bits(f32)), n, t.Order), nil
	case Float64:
		f, err := toFloat(v, t)
		if err != nil {
			return dst, err
		}
		return putOrdered(dst, math.Float64bits(f), n, t.Order), nil
	case String, StringHigh, StringLow:
		if v.kind != KindString {
			return dst, fmt.Errorf("modbus: cannot write %v value %v to %v", v.kind, v, t)
		}
		return t.encodeString(dst, v.str)
	}
	// Integer formats.
	lo, hi, unsigned := t.Format.intRange()
	if unsigned {
		u, err := toUint(v, t, hi)
		if err != nil {
			return dst, err
		}
		if t.Format == BCD {
			u = uint64(encodeBCD(int(u)))
		}
		return putOrdered(dst, u, n, t.Order), nil
	}
	i, err := toInt(v, t, lo, hi)
	if err != nil {
		return dst, err
	}
	var raw uint64
	switch t.Format {
	case BCDSigned, Int16SM:
		m := i
		if m < 0 {
			m = -m
		}
		r := uint16(m)
		if t.Format == BCDSigned {
			r = encodeBCD(int(m))
		}
		if i < 0 {
			r |= 0x8000
		}
		raw = uint64(r)
	default:
		raw = uint64(i) // putOrdered keeps the low 16n bits
	}
	return putOrdered(dst, raw, n, t.Order), nil
}

// intRange returns the range of an integer format; for unsigned formats
// lo is 0 and hi fits a uint64, for signed ones both fit an int64.
func (f Format) intRange() (lo int64, hi uint64, unsigned bool) {
	switch f {
	case Int16:
		return math.MinInt16, math.MaxInt16, false
	case Uint16:
		return 0, math.MaxUint16, true
	case Int32:
		return math.MinInt32, math.MaxInt32, false
	case Uint32:
		return 0, math.MaxUint32, true
	case Int64:
		return math.MinInt64, math.MaxInt64, false
	case Uint64:
		return 0, math.MaxUint64, true
	case BCD:
		return 0, 9999, true
	case BCDSigned:
		return -7999, 7999, false
	case Int16SM:
		return -32767, 32767, false
	}
	return 0, 0, false
}

func rangeError(v Value, t Type) error {
	lo, hi, unsigned := t.Format.intRange()
	if unsigned {
		return fmt.Errorf("modbus: value %v out of range for %v (0..%d)", v, t.Format, hi)
	}
	return fmt.Errorf("modbus: value %v out of range for %v (%d..%d)", v, t.Format, lo, hi)
}

// roundFloat checks that f is finite and rounds it half away from zero.
func roundFloat(v Value, t Type) (float64, error) {
	f := v.Float()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("modbus: cannot write %v to integer type %v", v, t.Format)
	}
	return math.Round(f), nil
}

func toInt(v Value, t Type, lo int64, hi uint64) (int64, error) {
	var i int64
	switch v.kind {
	case KindBool:
		i = int64(v.num)
	case KindInt:
		i = int64(v.num)
	case KindUint:
		if v.num > hi {
			return 0, rangeError(v, t)
		}
		i = int64(v.num)
	case KindFloat:
		f, err := roundFloat(v, t)
		if err != nil {
			return 0, err
		}
		if f < -(1<<63) || f >= 1<<63 {
			return 0, rangeError(v, t)
		}
		i = int64(f)
	default:
		return 0, fmt.Errorf("modbus: cannot write %v value %q to %v", v.kind, v.String(), t.Format)
	}
	if i < lo || (i > 0 && uint64(i) > hi) {
		return 0, rangeError(v, t)
	}
	return i, nil
}

func toUint(v Value, t Type, hi uint64) (uint64, error) {
	var u uint64
	switch v.kind {
	case KindBool, KindUint:
		u = v.num
	case KindInt:
		if int64(v.num) < 0 {
			return 0, rangeError(v, t)
		}
		u = v.num
	case KindFloat:
		f, err := roundFloat(v, t)
		if err != nil {
			return 0, err
		}
		if f < 0 || f >= 1<<64 {
			return 0, rangeError(v, t)
		}
		u = uint64(f)
	default:
		return 0, fmt.Errorf("modbus: cannot write %v value %q to %v", v.kind, v.String(), t.Format)
	}
	if u > hi {
		return 0, rangeError(v, t)
	}
	return u, nil
}

func toFloat(v Value, t Type) (float64, error) {
	switch v.kind {
	case KindBool, KindInt, KindUint, KindFloat:
		return v.AsFloat(), nil
	}
	return 0, fmt.Errorf("modbus: cannot write %v value %q to %v", v.kind, v.String(), t.Format)
}

// decodeBCD decodes the four nibbles of r&mask as decimal digits.
func decodeBCD(r, mask uint16) (int, error) {
	d := r & mask
	n := 0
	for shift := 12; shift >= 0; shift -= 4 {
		digit := int(d>>uint(shift)) & 0xF
		if digit > 9 {
			return 0, fmt.Errorf("modbus: invalid BCD digit 0x%X in register 0x%04X", digit, r)
		}
		n = n*10 + digit
	}
	return n, nil
}

// encodeBCD encodes 0 <= n <= 9999 as four BCD digits.
func encodeBCD(n int) uint16 {
	var r uint16
	for shift := 0; shift <= 12; shift += 4 {
		r |= uint16(n%10) << uint(shift)
		n /= 10
	}
	return r
}

// putOrdered appends the n registers of the big-endian integer v (its
// low 16n bits) in order o.
func putOrdered(dst []uint16, v uint64, n int, o Order) []uint16 {
	base := len(dst)
	dst = append(dst, make([]uint16, n)...)
	for i := range n {
		w := uint16(v >> (16 * uint(n-1-i)))
		if o.byteSwap() {
			w = bits.ReverseBytes16(w)
		}
		j := i
		if o.wordSwap() {
			j = n - 1 - i
		}
		dst[base+j] = w
	}
	return dst
}

// getOrdered is the inverse of putOrdered.
func getOrdered(regs []uint16, o Order) uint64 {
	n := len(regs)
	var v uint64
	for i := range n {
		j := i
		if o.wordSwap() {
			j = n - 1 - i
		}
		w := regs[j]
		if o.byteSwap() {
			w = bits.ReverseBytes16(w)
		}
		v = v<<16 | uint64(w)
	}
	return v
}

// stringBytes returns the field's bytes in character order.
func (t Type) stringBytes(regs []uint16) []byte {
	b := make([]byte, 0, t.Length)
	for _, r := range regs {
		hi, lo := byte(r>>8), byte(r)
		switch {
		case t.Format == StringHigh:
			b = append(b, hi)
		case t.Format == StringLow:
			b = append(b, lo)
		case t.Order.byteSwap():
			b = append(b, lo, hi)
		default:
			b = append(b, hi, lo)
		}
	}
	return b[:t.Length]
}

func (t Type) decodeString(regs []uint16) string {
	b := t.stringBytes(regs)
	if t.Padding == NULTerminated {
		b = b[:t.Length-1] // the last byte is the terminator
	}
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	if t.Padding == SpacePadded {
		for len(b) > 0 && b[len(b)-1] == ' ' {
			b = b[:len(b)-1]
		}
	}
	return string(b)
}

func (t Type) encodeString(dst []uint16, s string) ([]uint16, error) {
	max := t.Length
	if t.Padding == NULTerminated {
		max--
	}
	if len(s) > max {
		return dst, fmt.Errorf("modbus: string of %d bytes too long for %v (at most %d)", len(s), t, max)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return dst, fmt.Errorf("modbus: string contains a NUL byte")
	}
	pad := byte(0)
	if t.Padding == SpacePadded {
		pad = ' '
	}
	b := make([]byte, t.Registers()*2)
	copy(b, s)
	for i := len(s); i < t.Length; i++ {
		b[i] = pad
	}
	switch t.Format {
	case StringHigh:
		for i := range t.Length {
			dst = append(dst, uint16(b[i])<<8)
		}
	case StringLow:
		for i := range t.Length {
			dst = append(dst, uint16(b[i]))
		}
	default:
		// An odd length leaves the last register's second byte zero.
		for i := 0; i < len(b); i += 2 {
			first, second := uint16(b[i]), uint16(b[i+1])
			if t.Order.byteSwap() {
				dst = append(dst, second<<8|first)
			} else {
				dst = append(dst, first<<8|second)
			}
		}
	}
	return dst, nil
}

// Point is a configured value in a device: where it is and how it is
// encoded. Points are comparable and safe for concurrent use.
type Point struct {
	// Address is the table, offset and, for a bit of a register, the bit.
	Address Address
	// Type is the encoding.
	Type Type
}

// PointSpec is a point as configuration states it, field for field like
// the driver contract's drivers.PointSpec, plus the string padding (which
// the contract carries in its Options).
type PointSpec struct {
	// Address in ParseAddress syntax: "hr:100", "400101", "hr:100.3".
	Address string
	// Type is a ParseType name; empty means bool for coils, discrete
	// inputs and register bits, uint16 for registers.
	Type string
	// Order is a ParseOrder name; empty means ABCD or what Type implies.
	Order string
	// Bit selects one bit of a register; nil selects the whole register.
	// It may also be written in Address ("hr:100.3"), but not in both.
	Bit *int
	// Len is the length of a string in characters; 0 for other types.
	Len int
	// Padding is a ParsePadding name for strings; empty means nul (or
	// nul_terminated for the EPICS ZSTRING_ names).
	Padding string
}

// ParsePoint parses and validates a point. Its errors name the offending
// text and what is wrong, e.g. `modbus: address "hr:70000": offset 70000
// out of range 0..65535`.
func ParsePoint(s PointSpec) (Point, error) {
	a, err := ParseAddress(s.Address)
	if err != nil {
		return Point{}, err
	}
	if s.Bit != nil {
		if _, ok := a.Bit(); ok {
			return Point{}, fmt.Errorf("modbus: address %q already selects a bit; do not also give bit %d", s.Address, *s.Bit)
		}
		if a, err = a.WithBit(*s.Bit); err != nil {
			return Point{}, err
		}
	}
	name := s.Type
	if strings.TrimSpace(name) == "" {
		name = "uint16"
		if _, isBit := a.Bit(); isBit || a.Table.IsBits() {
			name = "bool"
		}
	}
	t, err := ParseType(name, s.Order)
	if err != nil {
		return Point{}, err
	}
	if t.Format.IsString() {
		t.Length = s.Len
		if strings.TrimSpace(s.Padding) != "" {
			if t.Padding, err = ParsePadding(s.Padding); err != nil {
				return Point{}, err
			}
		}
	} else {
		if s.Len != 0 {
			return Point{}, fmt.Errorf("modbus: length %d applies only to strings, not %v", s.Len, t.Format)
		}
		if strings.TrimSpace(s.Padding) != "" {
			return Point{}, fmt.Errorf("modbus: padding %q applies only to strings, not %v", s.Padding, t.Format)
		}
	}
	p := Point{Address: a, Type: t}
	if err := p.Validate(); err != nil {
		return Point{}, err
	}
	return p, nil
}

// Validate checks the point: a valid type that suits the table (Bool for
// coils and discrete inputs; a bit only with Bool; no Bool on a register
// without a bit) and a value that ends inside the address space.
func (p Point) Validate() error {
	a, t := p.Address, p.Type
	if !a.Table.Valid() {
		return fmt.Errorf("modbus: point %v: invalid table", a)
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%w (at %v)", err, a)
	}
	_, hasBit := a.Bit()
	switch {
	case a.Table.IsBits() && t.Format != Bool:
		return fmt.Errorf("modbus: %v: a %s holds one bit, so its type is bool, not %v", a, a.Table, t)
	case a.Table.IsBits() && hasBit:
		return fmt.Errorf("modbus: %v: a %s has no bits to select", a, a.Table)
	case !a.Table.IsBits() && t.Format == Bool && !hasBit:
		return fmt.Errorf("modbus: %v: a bool in a register needs a bit (0..15), e.g. %v.0", a, a)
	case hasBit && t.Format != Bool:
		return fmt.Errorf("modbus: %v: a register bit is a bool, not %v", a, t)
	}
	if end := int(a.Offset) + t.Registers(); end > AddressSpace {
		return fmt.Errorf("modbus: %v: %v needs %d registers and would end at %d, past the last address 65535", a, t, t.Registers(), end-1)
	}
	return nil
}

// String returns the canonical form "hr:100 float32 CDAB", "coil:3 bool",
// "hr:7.3 bool", "hr:10 string(16)".
func (p Point) String() string { return p.Address.String() + " " + p.Type.String() }

// Range returns the addresses the point occupies, for NewPlan.
func (p Point) Range() Range {
	return Range{Table: p.Address.Table, Start: p.Address.Offset, Count: p.Type.Registers()}
}

// Writable reports whether the point's table can be written.
func (p Point) Writable() bool { return p.Address.Table.Writable() }

// DecodeRegisters decodes the point from its registers (exactly
// p.Type.Registers() of them; one for a register bit). For a coil or
// discrete input, regs holds one element, zero for off and non-zero for
// on.
func (p Point) DecodeRegisters(regs []uint16) (Value, error) {
	if p.Type.Format != Bool {
		return p.Type.Decode(regs)
	}
	if len(regs) != 1 {
		return Value{}, fmt.Errorf("modbus: %v needs 1 register, got %d", p, len(regs))
	}
	if b, ok := p.Address.Bit(); ok {
		return BoolValue(regs[0]>>uint(b)&1 != 0), nil
	}
	return BoolValue(regs[0] != 0), nil
}

// DecodeReply decodes the point from the data of a read reply as the
// goburrow client returns it, index being the point's position in the
// reply (Member.Index): for register tables raw holds big-endian
// registers and the point starts at register index; for coils and
// discrete inputs raw holds packed bits, least significant bit first, and
// the point is bit index. A reply too short for the point is an error.
func (p Point) DecodeReply(raw []byte, index int) (Value, error) {
	if index < 0 {
		return Value{}, fmt.Errorf("modbus: %v: negative reply index %d", p, index)
	}
	if p.Address.Table.IsBits() {
		if index/8 >= len(raw) {
			return Value{}, fmt.Errorf("modbus: %v: reply of %d bytes has no bit %d", p, len(raw), index)
		}
		return BoolValue(raw[index/8]>>(uint(index)%8)&1 != 0), nil
	}
	n := p.Type.Registers()
	if end := 2 * (index + n); end > len(raw) {
		return Value{}, fmt.Errorf("modbus: %v: reply of %d bytes is too short for registers %d..%d", p, len(raw), index, index+n-1)
	}
	var buf [4]uint16
	regs := buf[:0]
	if n > len(buf) {
		regs = make([]uint16, 0, n)
	}
	for i := range n {
		regs = append(regs, binary.BigEndian.Uint16(raw[2*(index+i):]))
	}
	return p.DecodeRegisters(regs)
}

// RegistersFromBytes appends the big-endian registers in b (a register
// read reply's data as goburrow returns it) to dst. b must have an even
// length.
func RegistersFromBytes(dst []uint16, b []byte) ([]uint16, error) {
	if len(b)%2 != 0 {
		return dst, fmt.Errorf("modbus: register data of odd length %d", len(b))
	}
	for i := 0; i < len(b); i += 2 {
		dst = append(dst, binary.BigEndian.Uint16(b[i:]))
	}
	return dst, nil
}

// AppendRegisterBytes appends regs to dst as big-endian bytes, the
// payload of an FC16 write.
func AppendRegisterBytes(dst []byte, regs []uint16) []byte {
	for _, r := range regs {
		dst = binary.BigEndian.AppendUint16(dst, r)
	}
	return dst
}

// BitWriteMode is how a device writes one bit of a holding register.
type BitWriteMode uint8

// The bit write modes. A per-device option; the default is FC22.
const (
	// BitWriteMask writes the bit atomically with FC22 (mask write
	// register). The zero value.
	BitWriteMask BitWriteMode = iota
	// BitWriteReadModifyWrite reads the register with FC3 and writes it
	// back with FC6 (see Write.Apply). It is not atomic: a change the
	// device makes to the other bits between the two requests is lost. Only
	// for devices without FC22, and only when configured explicitly.
	BitWriteReadModifyWrite
	// BitWriteRefuse rejects writes to register bits.
	BitWriteRefuse
)

// String returns "mask", "read_modify_write" or "refuse".
func (m BitWriteMode) String() string {
	switch m {
	case BitWriteMask:
		return "mask"
	case BitWriteReadModifyWrite:
		return "read_modify_write"
	case BitWriteRefuse:
		return "refuse"
	}
	return fmt.Sprintf("BitWriteMode(%d)", uint8(m))
}

// ParseBitWriteMode parses "mask" (or ""), "read_modify_write" or
// "refuse".
func ParseBitWriteMode(s string) (BitWriteMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "mask", "fc22":
		return BitWriteMask, nil
	case "read_modify_write", "rmw":
		return BitWriteReadModifyWrite, nil
	case "refuse", "none":
		return BitWriteRefuse, nil
	}
	return 0, fmt.Errorf("modbus: unknown bit write mode %q (want mask, read_modify_write or refuse)", s)
}

// SingleWriteMode chooses the function code for a value that fits one
// register or one coil.
type SingleWriteMode uint8

// The single write modes. A per-device option.
const (
	// WriteSingle uses FC6 for one register and FC5 for one coil. The
	// zero value.
	WriteSingle SingleWriteMode = iota
	// WriteMultiple uses FC16 and FC15 even for one register or coil, for
	// devices that implement only those.
	WriteMultiple
)

// String returns "single" or "multiple".
func (m SingleWriteMode) String() string {
	if m == WriteMultiple {
		return "multiple"
	}
	return "single"
}

// WriteOptions are a device's choices of write function codes.
type WriteOptions struct {
	// Bits is how a register bit is written.
	Bits BitWriteMode
	// Single is how a one-register or one-coil value is written.
	Single SingleWriteMode
}

// Write is one write request, planned by Point.PlanWrite.
type Write struct {
	// Function is FC5, FC6, FC15, FC16 or FC22.
	Function FunctionCode
	// Address is the coil or first register.
	Address uint16
	// Registers holds the values for FC6 (one) and FC16.
	Registers []uint16
	// Coil is the value for FC5 and FC15 (one coil).
	Coil bool
	// AndMask and OrMask are the FC22 masks, and the update Apply makes
	// in a read-modify-write.
	AndMask, OrMask uint16
	// ReadModifyWrite is set for a register bit on a device configured
	// with BitWriteReadModifyWrite: read the register at Address with FC3,
	// then write Apply(current) with FC6 (Function).
	ReadModifyWrite bool
}

// Quantity returns the number of registers or coils written.
func (w Write) Quantity() int {
	switch w.Function {
	case FuncWriteSingleCoil, FuncWriteMultipleCoils, FuncMaskWriteRegister:
		return 1
	}
	if w.ReadModifyWrite {
		return 1
	}
	return len(w.Registers)
}

// Apply returns the register current after the mask update of FC22:
// (current AND AndMask) OR (OrMask AND NOT AndMask).
func (w Write) Apply(current uint16) uint16 {
	return current&w.AndMask | w.OrMask&^w.AndMask
}

// CoilValue returns the FC5 value for Coil: 0xFF00 for on, 0x0000 for
// off.
func (w Write) CoilValue() uint16 {
	if w.Coil {
		return 0xFF00
	}
	return 0
}

// Bytes returns the data of an FC15 (the packed coil) or FC16 (the
// big-endian registers) request, as goburrow's WriteMultipleCoils and
// WriteMultipleRegisters take it; nil for other functions.
func (w Write) Bytes() []byte {
	switch w.Function {
	case FuncWriteMultipleCoils:
		if w.Coil {
			return []byte{1}
		}
		return []byte{0}
	case FuncWriteMultipleRegisters:
		return AppendRegisterBytes(nil, w.Registers)
	}
	return nil
}

// String describes the request, e.g. "FC16 hr:100 x2".
func (w Write) String() string {
	t := HoldingRegister
	if w.Function == FuncWriteSingleCoil || w.Function == FuncWriteMultipleCoils {
		t = Coil
	}
	s := fmt.Sprintf("%v %s:%d x%d", w.Function, t.prefix(), w.Address, w.Quantity())
	if w.ReadModifyWrite {
		s = "FC3+" + s
	}
	return s
}

// PlanWrite encodes v for the point and chooses the function code: FC5
// (or FC15) for a coil; FC6 (or FC16) for a one-register value; always
// FC16 for a multi-register value; FC22 for a register bit, or an FC3+FC6
// read-modify-write if opt says so. Discrete inputs and input registers
// are read-only. v converts as in Type.Encode; a bool takes a bool or the
// number 0 or 1.
func (p Point) PlanWrite(v Value, opt WriteOptions) (Write, error) {
	if err := p.Validate(); err != nil {
		return Write{}, err
	}
	a := p.Address
	if !a.Table.Writable() {
		return Write{}, fmt.Errorf("modbus: %v is read-only (%s)", a, a.Table)
	}
	if p.Type.Format == Bool {
		b, err := toBool(v)
		if err != nil {
			return Write{}, fmt.Errorf("%w (writing %v)", err, a)
		}
		if a.Table == Coil {
			f := FuncWriteSingleCoil
			if opt.Single == WriteMultiple {
				f = FuncWriteMultipleCoils
			}
			return Write{Function: f, Address: a.Offset, Coil: b}, nil
		}
		bit, _ := a.Bit()
		w := Write{Function: FuncMaskWriteRegister, Address: a.Offset, AndMask: ^uint16(1 << uint(bit))}
		if b {
			w.OrMask = 1 << uint(bit)
		}
		switch opt.Bits {
		case BitWriteMask:
		case BitWriteReadModifyWrite:
			w.Function = FuncWriteSingleRegister
			w.ReadModifyWrite = true
		default:
			return Write{}, fmt.Errorf("modbus: %v: the device is configured to refuse writes to register bits (bit_write: refuse)", a)
		}
		return w, nil
	}
	regs, err := p.Type.Encode(nil, v)
	if err != nil {
		return Write{}, fmt.Errorf("%w (writing %v)", err, a)
	}
	if len(regs) > MaxWriteRegisters {
		return Write{}, fmt.Errorf("modbus: %v: %d registers are more than one FC16 write allows (%d)", p, len(regs), MaxWriteRegisters)
	}
	f := FuncWriteMultipleRegisters
	if len(regs) == 1 && opt.Single == WriteSingle {
		f = FuncWriteSingleRegister
	}
	return Write{Function: f, Address: a.Offset, Registers: regs}, nil
}

func toBool(v Value) (bool, error) {
	switch v.kind {
	case KindBool:
		return v.num != 0, nil
	case KindInt, KindUint:
		if v.num <= 1 {
			return v.num == 1, nil
		}
	case KindFloat:
		if f := v.Float(); f == 0 || f == 1 {
			return f == 1, nil
		}
	}
	return false, fmt.Errorf("modbus: cannot write %v value %q to a bool (want 0 or 1)", v.kind, v.String())
}
