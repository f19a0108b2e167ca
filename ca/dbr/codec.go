package dbr

import "errors"

// Errors returned by the codec and the conversions. Callers map them to ECA
// status codes: ErrBadType to ECA_BADTYPE, ErrNoConvert to ECA_NOCONVERT
// (ECA_GETFAIL on reads, ECA_PUTFAIL on writes), ErrShort to a protocol
// error, ErrRange and ErrSyntax to ECA_PUTFAIL / ECA_GETFAIL.
var (
	ErrBadType   = errors.New("dbr: invalid DBR type")
	ErrNoConvert = errors.New("dbr: no conversion between these types")
	ErrShort     = errors.New("dbr: payload shorter than its type and count need")
	ErrRange     = errors.New("dbr: value out of range")
	ErrSyntax    = errors.New("dbr: not a number")
)

// AppendData appends to dst the payload of a DBR structure of type t with
// exactly count elements taken from v and converted to t.Base(): missing
// elements are zero, extra elements are dropped. Metadata comes from md (nil
// means zero metadata). The payload is zero-padded to a multiple of 8 bytes,
// so len(result)-len(dst) == PaddedSize(t, count). Interior pad bytes and the
// bytes after a string's NUL are zero.
//
// Strings are truncated to 39 bytes, units to 7 and enum state strings to
// 25; at most 16 state strings are sent. GR/CTRL limits are sent in the
// value's own type: for the SHORT, CHAR and LONG families they are
// truncated to int32 (non-finite limits give 0) and then narrowed by a C
// cast. Precision is sent only by the FLOAT and DOUBLE GR/CTRL types.
// DBR_STSACK_STRING takes its ackt and acks fields from md.AckT and md.AckS;
// DBR_CLASS_NAME ignores v and sends md.Properties.ClassName as its first
// element. PUT_ACKT and PUT_ACKS encode v as u16 values (clients send them;
// a server never reads them). A nil v encodes as count zero elements.
//
// It returns ErrBadType for an invalid type and a conversion error
// (ErrSyntax, ErrRange) if v cannot be converted; dst is then returned
// unchanged. Only the first count elements of v are converted.
//
// AppendData does not allocate when v.Type() == t.Base() and dst has room.
// It is safe for concurrent use as long as v and md are not modified.
func AppendData(dst []byte, t Type, count int, v Value, md *Metadata) ([]byte, error) {
	return appendData(dst, t, count, v, md)
}

// DecodeData decodes a payload holding count elements of type t. Trailing
// bytes (padding) are ignored; a payload shorter than DataSize(t, count)
// gives ErrShort, except for a plain DBR_STRING with count 1, which libca
// sends as strlen+1 bytes padded to 8: any length is accepted for it. The
// returned Value and Metadata do not alias b. For PUT_ACKT and PUT_ACKS the
// Value is Enums.
//
// Strings end at the first NUL and at the slot size minus one (39 bytes
// for values, 7 for units, 25 for state strings). GR and CTRL types give
// a non-nil Metadata.Properties (limits converted to float64; at most 16,
// and never a negative number of, state strings); the STS, TIME, plain and
// GR/CTRL_STRING types give nil Properties. DBR_CLASS_NAME gives the name
// as both the first element and Properties.ClassName; the slots after the
// first are returned as "".
func DecodeData(t Type, count int, b []byte) (Value, Metadata, error) {
	return decodeData(t, count, b)
}

// Convert converts v to the plain type to (any of String..Double, or a
// type whose Base() is one of them) following rsrv's rules:
//   - numbers to numbers: C casts (truncation toward zero, modular narrowing);
//   - numbers to strings: integers in decimal, floating values with
//     FormatFloat and p.Precision;
//   - strings to numbers: ParseInt / ParseFloat (leading blanks, trailing
//     text ignored, an empty string is 0);
//   - strings to enums: an exact match of one of p.EnumStrings, else a
//     decimal index below len(p.EnumStrings) (ParseEnum); with no state
//     strings at all, any decimal number that fits 16 bits;
//   - out-of-range text gives ErrRange for the target type (SHORT and
//     LONG their signed range; CHAR and ENUM -max..max, wrapped as C's
//     strtoul does; FLOAT a finite value beyond float32);
//   - enums to strings: the state string, or the decimal index if the PV has
//     no string for it;
//   - chars to strings: each element as a number (no text conversion).
//
// p may be nil. Convert returns v itself when no conversion is needed.
func Convert(v Value, to Type, p *Properties) (Value, error) {
	return convert(v, to, p)
}
