package dbr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// pow10i32 holds 10^0 .. 10^8 for the fixed-point formatter.
//
//nolint:gochecknoglobals // read-only lookup table, never written
var pow10i32 = [...]int32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// FormatFloat formats v with precision prec the way an IOC converts a
// floating-point value to DBR_STRING (libcom cvtDoubleToString):
//
//   - if v is NaN, prec > 8 or |v| > 1e7, then C's "%*.*e" with width
//     prec+7 and prec digits (prec capped at 17) when prec > 8 or
//     |v| > 1e16, else C's "%.*f" with prec capped at 3;
//   - otherwise fixed point with exactly prec decimals, rounded half up on
//     the last digit, "-" for negative values.
//
// A negative prec is treated as 0. Infinities and NaNs are written as C
// does ("inf", "-inf", "nan", "-nan").
func FormatFloat(v float64, prec int) string {
	if prec < 0 {
		prec = 0
	}
	if v != v || prec > 8 || v > 1e7 || v < -1e7 {
		if prec > 8 || v > 1e16 || v < -1e16 {
			prec = min(prec, 17)
			s := cFloat(v, 'e', prec)
			if w := prec + 7; len(s) < w {
				s = strings.Repeat(" ", w-len(s)) + s
			}
			return s
		}
		return cFloat(v, 'f', min(prec, 3))
	}
	var buf [32]byte
	b := buf[:0]
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	whole := int32(v)
	ftemp := v - float64(whole)
	fplace := pow10i32[prec]
	fraction := int32(float64(ftemp*float64(fplace)) * 10)
	fraction = (fraction + 5) / 10
	if fraction/fplace >= 1 {
		whole++
		fraction -= fplace
	}
	b = strconv.AppendInt(b, int64(whole), 10)
	if prec > 0 {
		b = append(b, '.')
		for fplace /= 10; fplace > 0; fplace /= 10 {
			d := fraction / fplace
			fraction -= d * fplace
			b = append(b, byte('0'+d))
		}
	}
	return string(b)
}

// cFloat formats v like C's printf %.*e / %.*f without a width.
func cFloat(v float64, verb byte, prec int) string {
	switch {
	case math.IsNaN(v):
		if math.Signbit(v) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, verb, prec, 64)
}

// isSpace reports whether c is white space for C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipNumberPrefix skips white space and an optional sign, returning the
// index of the first byte after them.
func skipNumberPrefix(s string) (start, afterSign int) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	return i, j
}

func skipDigits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// ParseInt parses a decimal integer the way an IOC parses text written to
// an integer field (epicsParseInt32 via dbConvert): leading white space
// and a sign are accepted, the number is base 10 ("0x10" is 0), parsing
// stops at the first non-digit ("1.5" and "1e3" give 1, "7 cnt" gives 7)
// and the rest is ignored. The empty string is 0. Text without digits
// gives an error wrapping ErrSyntax; a value outside the int64 range one
// wrapping ErrRange. Range checks for narrower types are the caller's.
func ParseInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	i, j := skipNumberPrefix(s)
	k := skipDigits(s, j)
	if k == j {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	n, err := strconv.ParseInt(s[i:k], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrRange, s)
	}
	return n, nil
}

// hasPrefixFold reports whether s begins with the lower-case ASCII prefix,
// ignoring letter case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// ParseFloat parses a decimal floating-point number the way an IOC parses
// text written to a floating-point field (epicsParseFloat64): leading
// white space and a sign are accepted, then digits with an optional
// fraction and exponent ("1e1" is 10), or "inf", "infinity" or "nan" in
// any letter case. Parsing stops at the first byte that cannot continue
// the number and the rest is ignored (" 3 V" is 3); hexadecimal is not
// recognised ("0x10" is 0). The empty string is 0. Text without a number
// gives an error wrapping ErrSyntax; a finite number too large for a
// float64 one wrapping ErrRange. Underflow gives 0 or a subnormal.
func ParseFloat(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	i, j := skipNumberPrefix(s)
	neg := j > i && s[i] == '-'
	rest := s[j:]
	switch {
	case hasPrefixFold(rest, "inf"):
		if neg {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	case hasPrefixFold(rest, "nan"):
		// The default quiet NaN, as C's strtod returns it.
		if neg {
			return math.Float64frombits(0xfff8000000000000), nil
		}
		return math.Float64frombits(0x7ff8000000000000), nil
	}
	k := skipDigits(s, j)
	nd := k - j
	if k < len(s) && s[k] == '.' {
		m := skipDigits(s, k+1)
		nd += m - (k + 1)
		k = m
	}
	if nd == 0 {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	if k < len(s) && (s[k] == 'e' || s[k] == 'E') {
		m := k + 1
		if m < len(s) && (s[m] == '+' || s[m] == '-') {
			m++
		}
		if e := skipDigits(s, m); e > m {
			k = e
		}
	}
	f, err := strconv.ParseFloat(s[i:k], 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrRange, s)
	}
	return f, nil
}

// ParseEnum converts text written to an ENUM PV to a state index, as an
// IOC does (put_enum_str, then epicsParseUInt16): an exact, case-sensitive
// match of one of states wins; otherwise s must be a decimal index below
// len(states) (with ParseInt's rules). It returns an error wrapping
// ErrRange for an index out of range and one wrapping ErrSyntax for text
// that is neither a state nor a number ("Zero " does not match "Zero").
func ParseEnum(s string, states []string) (uint16, error) {
	for i, st := range states {
		if st == s && i <= math.MaxUint16 {
			return uint16(i), nil
		}
	}
	if s == "" {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	n, err := ParseInt(s)
	if err != nil {
		return 0, err
	}
	if n < 0 || n >= int64(len(states)) || n > math.MaxUint16 {
		return 0, fmt.Errorf("%w: state %q of %d", ErrRange, s, len(states))
	}
	return uint16(n), nil
}

// FormatValue returns element i of v as text, the same text a DBR_STRING
// read of the PV gives before it is truncated to 39 bytes on the wire:
// strings as they are, integers in decimal, chars as unsigned numbers,
// floating-point values with FormatFloat and p.Precision, enums as their
// state string from p.EnumStrings or, beyond them, the decimal index. p may
// be nil (precision 0, no state strings). An index out of range gives "".
func FormatValue(v Value, i int, p *Properties) string {
	if v == nil || i < 0 || i >= v.Len() {
		return ""
	}
	prec := 0
	if p != nil {
		prec = int(p.Precision)
	}
	switch x := v.(type) {
	case Strings:
		return x[i]
	case Shorts:
		return strconv.Itoa(int(x[i]))
	case Floats:
		return FormatFloat(float64(x[i]), prec)
	case Enums:
		if p != nil && int(x[i]) < len(p.EnumStrings) {
			return p.EnumStrings[x[i]]
		}
		return strconv.Itoa(int(x[i]))
	case Chars:
		return strconv.Itoa(int(x[i]))
	case Longs:
		return strconv.Itoa(int(x[i]))
	case Doubles:
		return FormatFloat(x[i], prec)
	}
	return ""
}
