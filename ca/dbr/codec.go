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
// It returns ErrBadType for an invalid or write-only type (PUT_ACKT,
// PUT_ACKS) and a conversion error (ErrSyntax, ErrRange, ErrNoConvert) if
// v cannot be converted; dst is then returned unchanged.
//
// AppendData does not allocate when v.Type() == t.Base() and dst has room.
func AppendData(dst []byte, t Type, count int, v Value, md *Metadata) ([]byte, error) {
	return appendData(dst, t, count, v, md)
}

// DecodeData decodes a payload holding count elements of type t. Trailing
// bytes (padding) are ignored; a payload shorter than DataSize(t, count)
// gives ErrShort. The returned Value and Metadata do not alias b. For
// PUT_ACKT and PUT_ACKS the Value is Enums.
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
//     decimal index below len(p.EnumStrings);
//   - enums to strings: the state string, or the decimal index if the PV has
//     no string for it;
//   - chars to strings: each element as a number (no text conversion).
//
// p may be nil. Convert returns v itself when no conversion is needed.
func Convert(v Value, to Type, p *Properties) (Value, error) {
	return convert(v, to, p)
}
