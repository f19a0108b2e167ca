// Package dbr is the Channel Access data type system: the DBR type codes 0..38,
// the native values a PV holds, the metadata that travels with them (alarm,
// timestamp, units, precision, limits, enum strings), their byte-exact wire
// layouts and the conversions an EPICS IOC (rsrv) performs between types.
//
// The package does no I/O. Encoders append to a caller's buffer; decoders
// read from a caller's buffer and copy what they keep.
package dbr

import "fmt"

// Type is a DBR type code as carried in the data_type field of a CA header.
type Type uint16

// The DBR type codes (db_access.h).
const (
	String Type = iota
	Short
	Float
	Enum
	Char
	Long
	Double
	StsString
	StsShort
	StsFloat
	StsEnum
	StsChar
	StsLong
	StsDouble
	TimeString
	TimeShort
	TimeFloat
	TimeEnum
	TimeChar
	TimeLong
	TimeDouble
	GrString
	GrShort
	GrFloat
	GrEnum
	GrChar
	GrLong
	GrDouble
	CtrlString
	CtrlShort
	CtrlFloat
	CtrlEnum
	CtrlChar
	CtrlLong
	CtrlDouble
	PutAckT
	PutAckS
	StsAckString
	ClassName
)

// LastType is the highest valid DBR type code.
const LastType = ClassName

// Family groups DBR types by the metadata that precedes the value.
type Family uint8

// The DBR families.
const (
	FamilyPlain   Family = iota // value only
	FamilySts                   // status, severity
	FamilyTime                  // status, severity, timestamp
	FamilyGr                    // status, severity, graphic metadata
	FamilyCtrl                  // status, severity, graphic and control metadata
	FamilySpecial               // PUT_ACKT, PUT_ACKS, STSACK_STRING, CLASS_NAME
)

//nolint:gochecknoglobals // read-only lookup table, never written
var familyNames = [...]string{"plain", "STS", "TIME", "GR", "CTRL", "special"}

// String returns the family's name as used in DBR type names.
func (f Family) String() string {
	if int(f) < len(familyNames) {
		return familyNames[f]
	}
	return fmt.Sprintf("Family(%d)", uint8(f))
}

//nolint:gochecknoglobals // read-only lookup table, never written
var typeNames = [...]string{
	"DBR_STRING", "DBR_SHORT", "DBR_FLOAT", "DBR_ENUM", "DBR_CHAR", "DBR_LONG", "DBR_DOUBLE",
	"DBR_STS_STRING", "DBR_STS_SHORT", "DBR_STS_FLOAT", "DBR_STS_ENUM", "DBR_STS_CHAR", "DBR_STS_LONG", "DBR_STS_DOUBLE",
	"DBR_TIME_STRING", "DBR_TIME_SHORT", "DBR_TIME_FLOAT", "DBR_TIME_ENUM", "DBR_TIME_CHAR", "DBR_TIME_LONG", "DBR_TIME_DOUBLE",
	"DBR_GR_STRING", "DBR_GR_SHORT", "DBR_GR_FLOAT", "DBR_GR_ENUM", "DBR_GR_CHAR", "DBR_GR_LONG", "DBR_GR_DOUBLE",
	"DBR_CTRL_STRING", "DBR_CTRL_SHORT", "DBR_CTRL_FLOAT", "DBR_CTRL_ENUM", "DBR_CTRL_CHAR", "DBR_CTRL_LONG", "DBR_CTRL_DOUBLE",
	"DBR_PUT_ACKT", "DBR_PUT_ACKS", "DBR_STSACK_STRING", "DBR_CLASS_NAME",
}

// String returns the EPICS name of t, e.g. "DBR_TIME_DOUBLE".
func (t Type) String() string {
	if t <= LastType {
		return typeNames[t]
	}
	return fmt.Sprintf("DBR_TYPE(%d)", uint16(t))
}

// ParseType returns the type whose EPICS name (with or without the "DBR_"
// prefix, any letter case) or decimal code is s.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if equalFold(s, n) || equalFold(s, n[4:]) {
			return Type(i), nil
		}
	}
	var code int
	if _, err := fmt.Sscanf(s, "%d", &code); err == nil && code >= 0 && code <= int(LastType) && fmt.Sprint(code) == s {
		return Type(code), nil
	}
	return 0, fmt.Errorf("dbr: unknown DBR type %q", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Valid reports whether t is one of the codes 0..38.
func (t Type) Valid() bool { return t <= LastType }

// Family returns t's family; codes 35..38 are FamilySpecial.
func (t Type) Family() Family {
	if t <= CtrlDouble {
		return Family(t / 7)
	}
	return FamilySpecial
}

// Base returns the type of t's value elements as one of the seven plain
// types: code%7 for 0..34, Enum for PUT_ACKT/PUT_ACKS (u16), String for
// STSACK_STRING and CLASS_NAME.
func (t Type) Base() Type {
	switch {
	case t <= CtrlDouble:
		return t % 7
	case t == PutAckT || t == PutAckS:
		return Enum
	default:
		return String
	}
}

// WithFamily returns the type of family f whose base type is t.Base().
// It is only meaningful for f in FamilyPlain..FamilyCtrl.
func (t Type) WithFamily(f Family) Type { return Type(f)*7 + t.Base()%7 }

// Wire sizes from db_access.h, indexed by type code.
//
//nolint:gochecknoglobals // read-only lookup tables, never written
var (
	structSize  = [...]uint16{40, 2, 4, 2, 1, 4, 8, 44, 6, 8, 6, 6, 8, 16, 52, 16, 16, 16, 16, 16, 24, 44, 26, 44, 424, 20, 40, 72, 44, 30, 52, 424, 22, 48, 88, 2, 2, 48, 40}
	valueSize   = [...]uint16{40, 2, 4, 2, 1, 4, 8, 40, 2, 4, 2, 1, 4, 8, 40, 2, 4, 2, 1, 4, 8, 40, 2, 4, 2, 1, 4, 8, 40, 2, 4, 2, 1, 4, 8, 2, 2, 40, 40}
	valueOffset = [...]uint16{0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 5, 4, 8, 12, 14, 12, 14, 15, 12, 16, 4, 24, 40, 422, 19, 36, 64, 4, 28, 48, 422, 21, 44, 80, 0, 0, 8, 0}
)

// Size returns the size in bytes of one element of t including its
// metadata (dbr_size). t must be valid.
func (t Type) Size() int { return int(structSize[t]) }

// ValueSize returns the size in bytes of one value element of t
// (dbr_value_size). t must be valid.
func (t Type) ValueSize() int { return int(valueSize[t]) }

// ValueOffset returns the offset of the first value element of t
// (dbr_value_offset). t must be valid.
func (t Type) ValueOffset() int { return int(valueOffset[t]) }

// DataSize returns the unpadded payload size of n elements of t
// (dbr_size_n): the metadata alone for n == 0. t must be valid.
func DataSize(t Type, n int) int {
	if n <= 0 {
		return t.ValueOffset()
	}
	return t.Size() + (n-1)*t.ValueSize()
}

// PaddedSize returns DataSize rounded up to the CA alignment of 8 bytes.
func PaddedSize(t Type, n int) int { return (DataSize(t, n) + 7) &^ 7 }

// Limits for string sizes on the wire (db_access.h).
const (
	MaxStringSize     = 40 // DBR_STRING slot, including the NUL
	MaxUnitsSize      = 8  // units slot, including the NUL
	MaxEnumStringSize = 26 // one enum state string slot, including the NUL
	MaxEnumStates     = 16 // enum state strings in GR/CTRL_ENUM
)

// EventMask is a set of DBE_* event bits (caeventmask.h).
type EventMask uint16

// The event bits a subscription can select.
const (
	EventValue    EventMask = 1 // DBE_VALUE: value changed by more than MDEL
	EventLog      EventMask = 2 // DBE_LOG (DBE_ARCHIVE): value changed by more than ADEL
	EventAlarm    EventMask = 4 // DBE_ALARM: status or severity changed
	EventProperty EventMask = 8 // DBE_PROPERTY: metadata changed
)

// String lists the set bits, e.g. "VALUE|ALARM".
func (m EventMask) String() string {
	if m == 0 {
		return "0"
	}
	names := [...]string{"VALUE", "LOG", "ALARM", "PROPERTY"}
	s := ""
	for i, n := range names {
		if m&(1<<i) != 0 {
			if s != "" {
				s += "|"
			}
			s += n
		}
	}
	if rest := m &^ 15; rest != 0 {
		if s != "" {
			s += "|"
		}
		s += fmt.Sprintf("0x%x", uint16(rest))
	}
	return s
}
