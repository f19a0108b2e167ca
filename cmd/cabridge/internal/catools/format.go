package catools

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// Base is the radix integers are printed in (the -0 and -l options).
type Base uint8

// The bases.
const (
	Decimal Base = iota // %d
	Binary              // -0b, -lb: binary digits without a prefix
	Octal               // -0o, -lo: "0o" then octal digits
	Hex                 // -0x, -lx: "0x" then upper-case hex digits
)

// FloatFormat is a C printf conversion for floating-point values.
type FloatFormat struct {
	// Verb is 'e', 'f' or 'g'; 0 means C's plain "%g".
	Verb byte
	// Precision is the number of digits (-e, -f, -g <nr>).
	Precision int
}

// Format holds how the tools print values, the options EPICS base keeps in
// tool_lib's globals. The zero Format prints as caget does by default.
type Format struct {
	// Float is the conversion for FLOAT and DOUBLE values (-e, -f, -g).
	Float FloatFormat
	// IntBase prints SHORT and LONG values in another base (-0x, -0o, -0b).
	IntBase Base
	// FloatBase rounds FLOAT and DOUBLE values to integers and prints
	// them in another base (-lx, -lo, -lb).
	FloatBase Base
	// EnumAsNumber reads ENUM channels as numbers (-n).
	EnumAsNumber bool
	// CharAsString prints CHAR arrays as one escaped string (-S).
	CharAsString bool
	// Separator separates the fields (-F); 0 means a space.
	Separator byte
	// Location is the time zone of printed timestamps; nil means
	// time.Local, as EPICS base prints local time.
	Location *time.Location
}

func (f *Format) sep() byte {
	if f.Separator == 0 {
		return ' '
	}
	return f.Separator
}

// timeLayout is EPICS base's "%Y-%m-%d %H:%M:%S.%06f".
const timeLayout = "2006-01-02 15:04:05.000000"

// stamp formats t as the tools do: local time to the microsecond, the
// fraction truncated.
func (f *Format) stamp(t time.Time) string {
	loc := f.Location
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Truncate(time.Microsecond).Format(timeLayout)
}

// cFloat formats v like C's printf with conversion verb ('e', 'f' or 'g')
// and precision prec.
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
	if verb != 'g' {
		return strconv.FormatFloat(v, verb, prec, 64)
	}
	p := prec
	if p == 0 {
		p = 1
	}
	e := strconv.FormatFloat(v, 'e', p-1, 64)
	x, _ := strconv.Atoi(e[strings.LastIndexByte(e, 'e')+1:])
	if x < -4 || x >= p {
		mant, exp, _ := strings.Cut(e, "e")
		return trimZeros(mant) + "e" + exp
	}
	return trimZeros(strconv.FormatFloat(v, 'f', p-1-x, 64))
}

// trimZeros drops trailing zeros of a fraction, and its point.
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// formatInt prints n in base b as tool_lib's sprint_long does.
func formatInt(n int32, b Base) string {
	switch b {
	case Hex:
		return "0x" + strings.ToUpper(strconv.FormatUint(uint64(uint32(n)), 16))
	case Octal:
		return "0o" + strconv.FormatUint(uint64(uint32(n)), 8)
	case Binary:
		return strconv.FormatUint(uint64(uint32(n)), 2)
	}
	return strconv.Itoa(int(n))
}

// formatReal prints a FLOAT or DOUBLE element.
func (f *Format) formatReal(v float64) string {
	if f.FloatBase != Decimal {
		var n int32
		if v > 0 {
			n = int32(int64(v + 0.5))
		} else if !math.IsNaN(v) {
			n = int32(int64(v - 0.5))
		}
		return formatInt(n, f.FloatBase)
	}
	if f.Float.Verb == 0 {
		return cFloat(v, 'g', 6)
	}
	return cFloat(v, f.Float.Verb, f.Float.Precision)
}

// element formats element i of v, read as type t with metadata md, as
// tool_lib's val2str does.
func (f *Format) element(v dbr.Value, t dbr.Type, md *dbr.Metadata, i int) string {
	switch x := v.(type) {
	case dbr.Strings:
		return escape(x[i])
	case dbr.Floats:
		return f.formatReal(float64(x[i]))
	case dbr.Doubles:
		return f.formatReal(x[i])
	case dbr.Chars:
		return strconv.Itoa(int(int8(x[i]))) // C's char is signed
	case dbr.Shorts:
		return formatInt(int32(x[i]), f.IntBase)
	case dbr.Longs:
		return formatInt(x[i], f.IntBase)
	case dbr.Enums:
		fam := t.Family()
		if (fam == dbr.FamilyGr || fam == dbr.FamilyCtrl) && !f.EnumAsNumber {
			var states []string
			if md != nil && md.Properties != nil {
				states = md.Properties.EnumStrings
			}
			switch {
			case x[i] >= dbr.MaxEnumStates:
				return "Illegal Value (" + strconv.Itoa(int(x[i])) + ")"
			case int(x[i]) >= len(states):
				return "Enum Index Overflow (" + strconv.Itoa(int(x[i])) + ")"
			}
			return states[x[i]]
		}
		return strconv.Itoa(int(x[i]))
	}
	return "!!!"
}

// charString returns the escaped text of a CHAR array up to its first NUL
// and at most n bytes.
func charString(v dbr.Value, n int) string {
	b, _ := v.(dbr.Chars)
	if n < len(b) {
		b = b[:n]
	}
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return escape(string(b))
}

// escape quotes the bytes of s as epicsStrnEscapedFromRaw does: C escapes
// for control characters, quotes and backslash, \xhh for other bytes that
// are not printable ASCII.
func escape(s string) string {
	var b strings.Builder
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case 0:
			b.WriteString(`\0`)
		default:
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			}
		}
	}
	return b.String()
}

// unescape turns the C escapes of s into bytes, as EPICS 7's
// epicsStrnRawFromEscaped does: \a \b \f \n \r \t \v \\ \' \" \0 (NUL) and
// \xh or \xhh; a backslash before any other character is dropped (so
// there are no octal escapes).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			if c != '\\' {
				b.WriteByte(c)
			}
			continue
		}
		i++
		c = s[i]
		switch c {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		case 'x':
			u, j := 0, i+1
			for ; j < len(s) && j < i+3 && isHex(s[j]); j++ {
				u = u<<4 | hexVal(s[j])
			}
			if j == i+1 {
				continue // "\x" without digits
			}
			b.WriteByte(byte(u))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c <= '9':
		return int(c - '0')
	case c >= 'a':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// statusText is tool_lib's stat_to_str: "??" beyond the known conditions.
func statusText(s dbr.Status) string {
	if s > dbr.StatusWriteAccess {
		return "??"
	}
	return s.String()
}

// severityText is tool_lib's sevr_to_str.
func severityText(s dbr.Severity) string {
	if s > dbr.SeverityInvalid {
		return "??"
	}
	return s.String()
}

// fieldTypeText is dbf_type_to_text for a native (plain) DBR type.
func fieldTypeText(t dbr.Type) string {
	if t > dbr.Double {
		return "DBF_NO_ACCESS"
	}
	return "DBF_" + strings.TrimPrefix(t.String(), "DBR_")
}

// caMessage is ca_message for the status err carries, in libca's words
// (capitalised).
func caMessage(err error) string {
	code := eca.Of(err, 0)
	if code == 0 {
		return err.Error()
	}
	s := code.String()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// statusOf returns the CA status of err: ECA_NORMAL for nil, ECA_TIMEOUT
// for a deadline, ECA_DISCONN for a lost channel.
func statusOf(err error) eca.Code {
	switch {
	case err == nil:
		return eca.Normal
	case errors.Is(err, client.ErrDisconnected), errors.Is(err, client.ErrClosed):
		return eca.Disconn
	}
	return eca.Of(err, eca.Internal)
}
