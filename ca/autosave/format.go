package autosave

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cabridge/cabridge/ca/dbr"
)

// Header is the first line of every file a Saver writes.
const Header = "# cabridge autosave 1"

// EndMarker is the last line of every complete file. A file without it was
// cut short (or edited by hand); Restore reports that as an error.
const EndMarker = "<END>"

// The element type names of the file format, one per plain DBR type, plus
// typeText for a DBR_CHAR array written as one quoted string.
const (
	typeString = "string"
	typeShort  = "short"
	typeFloat  = "float"
	typeEnum   = "enum"
	typeChar   = "char"
	typeLong   = "long"
	typeDouble = "double"
	typeText   = "text"
)

// AppendLine appends the line for name and v (with its final newline) to b
// and returns the extended buffer. states, if not nil, are the enum state
// strings used for a human-readable comment after a scalar enum; they are
// not read back. AppendLine fails if name is not a valid saved name (see
// ValidName) or v is nil.
func AppendLine(b []byte, name string, v dbr.Value, states []string) ([]byte, error) {
	if err := ValidName(name); err != nil {
		return b, err
	}
	if v == nil {
		return b, fmt.Errorf("autosave: %s: no value", name)
	}
	b = append(b, name...)
	b = append(b, ' ')
	switch x := v.(type) {
	case dbr.Strings:
		b = append(b, typeString...)
		for _, s := range x {
			b = append(b, ' ')
			b = strconv.AppendQuote(b, s)
		}
	case dbr.Shorts:
		b = append(b, typeShort...)
		for _, e := range x {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(e), 10)
		}
	case dbr.Longs:
		b = append(b, typeLong...)
		for _, e := range x {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(e), 10)
		}
	case dbr.Enums:
		b = append(b, typeEnum...)
		for _, e := range x {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(e), 10)
		}
		if len(x) == 1 && int(x[0]) < len(states) {
			b = append(b, " # "...)
			b = strconv.AppendQuote(b, states[x[0]])
		}
	case dbr.Chars:
		if isText(x) {
			b = append(b, typeText...)
			b = append(b, ' ')
			b = strconv.AppendQuote(b, string(x[:len(x)-1]))
			break
		}
		b = append(b, typeChar...)
		for _, e := range x {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(e), 10)
		}
	case dbr.Floats:
		b = append(b, typeFloat...)
		for _, e := range x {
			b = append(b, ' ')
			b = appendFloat(b, float64(e), uint64(math.Float32bits(e)), canonicalNaN32(), 32)
		}
	case dbr.Doubles:
		b = append(b, typeDouble...)
		for _, e := range x {
			b = append(b, ' ')
			b = appendFloat(b, e, math.Float64bits(e), canonicalNaN64(), 64)
		}
	default:
		return b, fmt.Errorf("autosave: %s: unsupported value type %T", name, v)
	}
	return append(b, '\n'), nil
}

// isText reports whether chars are best written as one quoted string: at
// least two bytes, exactly one NUL, at the end. The text form stores the
// bytes exactly, so the choice only affects readability.
func isText(c dbr.Chars) bool {
	if len(c) < 2 || c[len(c)-1] != 0 {
		return false
	}
	for _, e := range c[:len(c)-1] {
		if e == 0 {
			return false
		}
	}
	return true
}

// appendFloat writes f in the shortest form that reads back to the same
// value; a NaN whose bits differ from what "NaN" parses to is written as
// NaN(0x<bits>) so that its payload survives.
func appendFloat(b []byte, f float64, bits, canonical uint64, size int) []byte {
	if math.IsNaN(f) && bits != canonical {
		b = append(b, "NaN(0x"...)
		b = strconv.AppendUint(b, bits, 16)
		return append(b, ')')
	}
	return strconv.AppendFloat(b, f, 'g', -1, size)
}

// canonicalNaN64 returns the bits of the float64 that "NaN" parses to.
func canonicalNaN64() uint64 {
	f, _ := strconv.ParseFloat("NaN", 64)
	return math.Float64bits(f)
}

// canonicalNaN32 returns the bits of the float32 that "NaN" parses to.
func canonicalNaN32() uint64 {
	f, _ := strconv.ParseFloat("NaN", 32)
	return uint64(math.Float32bits(float32(f)))
}

// ValidName reports whether name can be saved: it must be non-empty valid
// UTF-8 without spaces, control characters or double quotes, and must not
// start with '#' or '<' (which begin comments and the end marker).
func ValidName(name string) error {
	if name == "" {
		return errors.New("autosave: empty PV name")
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("autosave: PV name %q is not valid UTF-8", name)
	}
	if name[0] == '#' || name[0] == '<' {
		return fmt.Errorf("autosave: PV name %q starts with %q", name, name[0])
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' {
			return fmt.Errorf("autosave: PV name %q contains %q", name, r)
		}
	}
	return nil
}

// ParseLine parses one line of a saved file, without its newline. It
// returns the name and value, or ok false for a blank line, a comment or
// the end marker. The error says what is wrong with the line, without the
// file name and line number.
func ParseLine(line string) (name string, v dbr.Value, ok bool, err error) {
	line = strings.TrimRight(line, "\r")
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || trimmed[0] == '#' || trimmed == EndMarker {
		return "", nil, false, nil
	}
	toks, err := tokenize(trimmed)
	if err != nil {
		return "", nil, false, err
	}
	if len(toks) < 2 {
		return "", nil, false, fmt.Errorf("want NAME TYPE VALUE..., got %d fields", len(toks))
	}
	name, typ, vals := toks[0].text, toks[1].text, toks[2:]
	if toks[0].quoted || toks[1].quoted {
		return "", nil, false, errors.New("quoted name or type")
	}
	if err := ValidName(name); err != nil {
		return "", nil, false, err
	}
	v, err = parseValues(typ, vals)
	if err != nil {
		return "", nil, false, fmt.Errorf("%s: %w", name, err)
	}
	return name, v, true, nil
}

// token is one field of a line: a bare word or a quoted string (unquoted).
type token struct {
	text   string
	quoted bool
}

// tokenize splits a line into fields separated by white space; a field
// starting with a double quote runs to the matching unescaped quote and is
// unquoted with Go's rules; a bare '#' field starts a comment that runs to
// the end of the line.
func tokenize(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		switch c := s[i]; c {
		case ' ', '\t':
			i++
		case '#':
			return toks, nil
		case '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated quoted string at column %d", i+1)
			}
			u, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, fmt.Errorf("bad quoted string at column %d: %w", i+1, err)
			}
			if j+1 < len(s) && s[j+1] != ' ' && s[j+1] != '\t' {
				return nil, fmt.Errorf("no space after quoted string at column %d", j+2)
			}
			toks = append(toks, token{u, true})
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' {
				if s[j] == '"' {
					return nil, fmt.Errorf("stray quote at column %d", j+1)
				}
				j++
			}
			toks = append(toks, token{s[i:j], false})
			i = j
		}
	}
	return toks, nil
}

// parseValues converts the value fields of a line of type typ.
func parseValues(typ string, vals []token) (dbr.Value, error) {
	if typ == typeString || typ == typeText {
		for i, t := range vals {
			if !t.quoted {
				return nil, fmt.Errorf("value %d: %s values must be quoted", i+1, typ)
			}
		}
	} else {
		for i, t := range vals {
			if t.quoted {
				return nil, fmt.Errorf("value %d: quoted %s value", i+1, typ)
			}
		}
	}
	switch typ {
	case typeString:
		out := make(dbr.Strings, len(vals))
		for i, t := range vals {
			out[i] = t.text
		}
		return out, nil
	case typeText:
		if len(vals) != 1 {
			return nil, fmt.Errorf("text takes one quoted string, got %d values", len(vals))
		}
		out := make(dbr.Chars, len(vals[0].text)+1)
		copy(out, vals[0].text)
		return out, nil
	case typeShort:
		return parseInts(vals, func(s string) (int16, error) {
			n, err := strconv.ParseInt(s, 10, 16)
			return int16(n), err
		}, func(x []int16) dbr.Value { return dbr.Shorts(x) })
	case typeLong:
		return parseInts(vals, func(s string) (int32, error) {
			n, err := strconv.ParseInt(s, 10, 32)
			return int32(n), err
		}, func(x []int32) dbr.Value { return dbr.Longs(x) })
	case typeEnum:
		return parseInts(vals, func(s string) (uint16, error) {
			n, err := strconv.ParseUint(s, 10, 16)
			return uint16(n), err
		}, func(x []uint16) dbr.Value { return dbr.Enums(x) })
	case typeChar:
		return parseInts(vals, func(s string) (uint8, error) {
			n, err := strconv.ParseUint(s, 10, 8)
			return uint8(n), err
		}, func(x []uint8) dbr.Value { return dbr.Chars(x) })
	case typeFloat:
		return parseInts(vals, func(s string) (float32, error) {
			if bits, ok, err := parseNaNBits(s, 32); ok {
				return math.Float32frombits(uint32(bits)), err
			}
			f, err := strconv.ParseFloat(s, 32)
			return float32(f), err
		}, func(x []float32) dbr.Value { return dbr.Floats(x) })
	case typeDouble:
		return parseInts(vals, func(s string) (float64, error) {
			if bits, ok, err := parseNaNBits(s, 64); ok {
				return math.Float64frombits(bits), err
			}
			return strconv.ParseFloat(s, 64)
		}, func(x []float64) dbr.Value { return dbr.Doubles(x) })
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

// parseInts parses each field with parse (numbers of any kind) and wraps
// the result with wrap.
func parseInts[E any](vals []token, parse func(string) (E, error), wrap func([]E) dbr.Value) (dbr.Value, error) {
	out := make([]E, len(vals))
	for i, t := range vals {
		e, err := parse(t.text)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) {
				err = ne.Err
			}
			return nil, fmt.Errorf("value %d %q: %w", i+1, t.text, err)
		}
		out[i] = e
	}
	return wrap(out), nil
}

// parseNaNBits parses NaN(0x<hex bits>); ok is false if s does not have
// that form. The bits must be a NaN of the given size.
func parseNaNBits(s string, size int) (bits uint64, ok bool, err error) {
	hex, found := strings.CutPrefix(s, "NaN(0x")
	if !found {
		return 0, false, nil
	}
	hex, found = strings.CutSuffix(hex, ")")
	if !found {
		return 0, true, errors.New("unterminated NaN(0x...)")
	}
	bits, err = strconv.ParseUint(hex, 16, size)
	if err != nil {
		return 0, true, err
	}
	isNaN := math.IsNaN(math.Float64frombits(bits))
	if size == 32 {
		isNaN = math.IsNaN(float64(math.Float32frombits(uint32(bits))))
	}
	if !isNaN {
		return 0, true, fmt.Errorf("0x%x is not a NaN", bits)
	}
	return bits, true, nil
}
