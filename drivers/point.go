package drivers

import (
	"fmt"
	"strings"
)

// Point is a device-specific address (a register and its encoding, a
// topic and a field, a command) that the driver parsed and validated with
// Device.ParsePoint. It is opaque to the mapping layer, which only logs
// it, keys on its String and sizes its PV from its Type. A Point is
// immutable and safe for concurrent use; it is only valid with the device
// that parsed it.
type Point interface {
	// String returns the canonical form of the address. Two points of one
	// device with the same String are the same point, so the mapping
	// layer uses it as the point's key (e.g. to find overlaps or to share
	// one read between PVs).
	String() string
	// Type returns the kind and size of the values the point holds.
	Type() Type
}

// PointSpec is a binding as the mapping configuration states it, before
// the driver parsed it. Only Address is always required; which other
// fields a driver uses is up to the driver, which rejects fields it does
// not understand with ErrBadPoint.
type PointSpec struct {
	// Address in the driver's syntax: "hr:100" (Modbus), "plant/t1" (MQTT),
	// "MEAS:VOLT?" (serial), a signal name (sim).
	Address string
	// Type is the driver's name of the data type ("float32", "uint16",
	// "bool", "string"); empty means the driver's default for the address.
	Type string
	// Order is the byte and word order ("ABCD", "CDAB", ...); empty means
	// the driver's default.
	Order string
	// Bit selects one bit of a register-type address; nil selects the
	// whole value.
	Bit *int
	// Len is the number of elements for an array or the maximum length of
	// a string; 0 means a scalar or the driver's default string length.
	Len int
	// Options holds driver-specific extras (a JSON field of an MQTT
	// payload, a reply format). Drivers reject unknown keys.
	Options map[string]string
}

// String formats the spec for error messages, e.g.
// `hr:100 type=float32 order=CDAB`.
func (s PointSpec) String() string {
	var b strings.Builder
	b.WriteString(s.Address)
	if s.Type != "" {
		fmt.Fprintf(&b, " type=%s", s.Type)
	}
	if s.Order != "" {
		fmt.Fprintf(&b, " order=%s", s.Order)
	}
	if s.Bit != nil {
		fmt.Fprintf(&b, " bit=%d", *s.Bit)
	}
	if s.Len != 0 {
		fmt.Fprintf(&b, " len=%d", s.Len)
	}
	for _, k := range sortedKeys(s.Options) {
		fmt.Fprintf(&b, " %s=%s", k, s.Options[k])
	}
	return b.String()
}

// Type describes the values of a Point: what Read returns and Write
// accepts, and what the mapping layer needs to choose a PV type.
type Type struct {
	// Kind is the kind of the Value elements.
	Kind Kind
	// Bits is the width of one element on the device: 1 for a coil or a
	// bit, 16, 32 or 64 for numbers; 0 when unknown or for strings. The
	// mapping layer picks a default PV type from it (a 16-bit integer
	// fits DBR_SHORT, a 32-bit float DBR_FLOAT).
	Bits int
	// Len is the number of elements, at least 1. A string point has Len 1.
	Len int
	// MaxLen is the maximum length in bytes of a string element; 0 for
	// other kinds or when there is no limit.
	MaxLen int
	// Access tells whether the point can be read, written or both.
	Access Access
}

// String formats t, e.g. "float64[1] rw" or "string(16)[1] r".
func (t Type) String() string {
	s := t.Kind.String()
	if t.Bits != 0 && t.Kind != KindBool {
		s += fmt.Sprint(t.Bits)
	}
	if t.MaxLen != 0 {
		s += fmt.Sprintf("(%d)", t.MaxLen)
	}
	return fmt.Sprintf("%s[%d] %s", s, t.Len, t.Access)
}

// Access is what a caller may do with a point.
type Access uint8

// The access modes. AccessRead and AccessWrite are bits.
const (
	AccessRead      Access = 1 << iota // Read and Subscribe
	AccessWrite                        // Write
	AccessReadWrite = AccessRead | AccessWrite
)

// CanRead reports whether the point can be read or subscribed.
func (a Access) CanRead() bool { return a&AccessRead != 0 }

// CanWrite reports whether the point can be written.
func (a Access) CanWrite() bool { return a&AccessWrite != 0 }

// String returns "r", "w", "rw" or "none".
func (a Access) String() string {
	switch a & AccessReadWrite {
	case AccessRead:
		return "r"
	case AccessWrite:
		return "w"
	case AccessReadWrite:
		return "rw"
	}
	return "none"
}

// Spanner is implemented by points that occupy a range of a device's
// address space (Modbus registers and coils), so that the mapping layer
// can report bindings that overlap by mistake.
type Spanner interface {
	// Span returns the addresses the point occupies.
	Span() Span
}

// Span is a range of a device's address space.
type Span struct {
	// Space names the address space ("hr", "coil"); ranges of different
	// spaces never overlap.
	Space string
	// Start is the first address and Count the number of addresses.
	Start, Count int
	// Bit is the bit of a one-word span that the point uses, or -1 when
	// it uses whole words. Different bits of one word do not overlap.
	Bit int
}

// Overlaps reports whether s and o share an address (or, for bit spans
// of the same word, the same bit). A bit span never conflicts with a
// whole-word span of the same word: reading a status word and one of its
// bits is common and harmless.
func (s Span) Overlaps(o Span) bool {
	if s.Space != o.Space || s.Start >= o.Start+o.Count || o.Start >= s.Start+s.Count {
		return false
	}
	if s.Bit >= 0 || o.Bit >= 0 {
		return s.Bit == o.Bit
	}
	return true
}

// String formats s as "hr:100..101", "hr:7" or "hr:7.3".
func (s Span) String() string {
	out := fmt.Sprintf("%s:%d", s.Space, s.Start)
	if s.Count > 1 {
		out += fmt.Sprintf("..%d", s.Start+s.Count-1)
	}
	if s.Bit >= 0 {
		out += fmt.Sprintf(".%d", s.Bit)
	}
	return out
}
