package serial

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/cabridge/cabridge/drivers"
)

// errFormat is wrapped by every error of ParseFormat.
var errFormat = errors.New("serial: bad format")

// Format is a parsed StreamDevice-style format string: literal text with
// backslash escapes (\r \n \t \e \0 \\ \xHH, and \% or %% for a percent
// sign) and conversions of the form
//
//	%[*][flags][width][.precision]conversion
//
// where conversion is one of f e g (floating point), d i u x X o
// (integers), s c (strings), [set] (input: a string of the characters
// of a scanf set such as [a-z_] or [^,]), {a|b|c} (an enum: the index of
// the text),
// /regexp/ (input only: the first submatch, or the whole match, as a
// string) and <checksum> (sum8, xor8, crc16-modbus, crc-ccitt, lrc:
// appended on output, verified on input; raw bytes by default, hex text
// with the 0 flag, as StreamDevice does). The * flag skips a field on
// input. Flags are - + space 0 #. A Format is immutable and safe for
// concurrent use.
type Format struct {
	src   string
	items []item
	// fields is the number of value conversions (not skipped, not
	// checksums).
	fields int
}

// convKind is what a conversion produces.
type convKind uint8

const (
	convLiteral convKind = iota
	convFloat
	convInt
	convUint // x X o
	convString
	convEnum
	convRegexp
	convSum
)

// item is one literal run or one conversion.
type item struct {
	kind  convKind
	lit   []byte // convLiteral
	verb  byte   // f e g d i u x X o s c
	skip  bool
	flags string
	width int // -1 when absent
	prec  int // -1 when absent
	enum  []string
	re    *regexp.Regexp
	sum   *checksum
	set   *[256]bool // %[...]: the bytes a string may hold
}

// parseCharset parses the body of a %[...] conversion.
func parseCharset(body string) (*[256]bool, error) {
	var set [256]bool
	negate := strings.HasPrefix(body, "^")
	if negate {
		body = body[1:]
	}
	var raw []byte
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' {
			c, n, err := unescape(body[i:])
			if err != nil {
				return nil, err
			}
			raw = append(raw, c)
			i += n - 1
			continue
		}
		raw = append(raw, body[i])
	}
	body = string(raw)
	if body == "" {
		return nil, errors.New("%[] with an empty set")
	}
	for i := 0; i < len(body); i++ {
		lo := body[i]
		if i+2 < len(body) && body[i+1] == '-' {
			hi := body[i+2]
			if hi < lo {
				return nil, fmt.Errorf("%%[ range %c-%c is backwards", lo, hi)
			}
			for c := int(lo); c <= int(hi); c++ {
				set[c] = true
			}
			i += 2
			continue
		}
		set[lo] = true
	}
	if negate {
		for c := range set {
			set[c] = !set[c]
		}
	}
	return &set, nil
}

// String returns the source of f.
func (f *Format) String() string { return f.src }

// Fields returns the number of values f formats or parses.
func (f *Format) Fields() int { return f.fields }

// FieldKind returns the kind of value field i holds: KindFloat, KindInt,
// KindUint or KindString.
func (f *Format) FieldKind(i int) drivers.Kind {
	n := 0
	for _, it := range f.items {
		if !it.isValue() {
			continue
		}
		if n == i {
			switch it.kind {
			case convFloat:
				return drivers.KindFloat
			case convInt:
				return drivers.KindInt
			case convUint, convEnum:
				return drivers.KindUint
			}
			return drivers.KindString
		}
		n++
	}
	return drivers.KindInvalid
}

// isEnum reports whether value field i is an enum conversion.
func (f *Format) isEnum(i int) bool {
	n := 0
	for _, it := range f.items {
		if it.isValue() {
			if n == i {
				return it.kind == convEnum
			}
			n++
		}
	}
	return false
}

// isValue reports whether it yields or consumes a value.
func (it *item) isValue() bool {
	return it.kind != convLiteral && it.kind != convSum && !it.skip
}

// maxFormatLen bounds a format string.
const maxFormatLen = 4096

// ParseFormat parses a format string. Errors wrap errFormat and give the
// byte offset of the problem.
func ParseFormat(s string) (*Format, error) {
	if len(s) > maxFormatLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", errFormat, maxFormatLen)
	}
	f := &Format{src: s}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			f.items = append(f.items, item{kind: convLiteral, lit: lit})
			lit = nil
		}
	}
	bad := func(at int, msg string, args ...any) error {
		return fmt.Errorf("%w %q at offset %d: %s", errFormat, s, at, fmt.Sprintf(msg, args...))
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			b, n, err := unescape(s[i:])
			if err != nil {
				return nil, bad(i, "%v", err)
			}
			lit = append(lit, b)
			i += n
		case c == '%' && i+1 < len(s) && s[i+1] == '%':
			lit = append(lit, '%')
			i += 2
		case c == '%':
			it, n, err := parseConv(s[i:])
			if err != nil {
				return nil, bad(i, "%v", err)
			}
			flush()
			f.items = append(f.items, it)
			if it.isValue() {
				f.fields++
			}
			i += n
		default:
			lit = append(lit, c)
			i++
		}
	}
	flush()
	return f, nil
}

// unescape decodes one backslash escape at the start of s and returns the
// byte and the length of the escape.
func unescape(s string) (byte, int, error) {
	if len(s) < 2 {
		return 0, 0, errors.New("lone backslash at the end")
	}
	switch s[1] {
	case 'r':
		return '\r', 2, nil
	case 'n':
		return '\n', 2, nil
	case 't':
		return '\t', 2, nil
	case 'e':
		return 0x1b, 2, nil
	case '0':
		return 0, 2, nil
	case 'x':
		if len(s) < 4 {
			return 0, 0, errors.New(`\x needs two hex digits`)
		}
		v, err := strconv.ParseUint(s[2:4], 16, 8)
		if err != nil {
			return 0, 0, errors.New(`\x needs two hex digits`)
		}
		return byte(v), 4, nil
	case '\\', '%', '"', '\'', '$', '/', '|', '}':
		return s[1], 2, nil
	}
	return 0, 0, fmt.Errorf("unknown escape \\%c", s[1])
}

// parseConv parses one conversion at the start of s (which begins with
// '%') and returns it and its length.
func parseConv(s string) (item, int, error) {
	it := item{width: -1, prec: -1}
	i := 1
	for i < len(s) && strings.IndexByte("*-+ 0#", s[i]) >= 0 {
		if s[i] == '*' {
			it.skip = true
		} else {
			it.flags += string(s[i])
		}
		i++
	}
	num := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-start < 4 {
			i++
		}
		if i == start {
			return -1
		}
		v, _ := strconv.Atoi(s[start:i])
		return v
	}
	it.width = num()
	if i < len(s) && s[i] == '.' {
		i++
		it.prec = max(num(), 0)
	}
	if i >= len(s) {
		return it, 0, errors.New("conversion without a verb")
	}
	verb := s[i]
	i++
	switch verb {
	case 'f', 'e', 'g', 'E', 'G':
		it.kind = convFloat
	case 'd', 'i', 'u':
		it.kind = convInt
	case 'x', 'X', 'o':
		it.kind = convUint
	case 's', 'c':
		it.kind = convString
	case '[':
		// A scanf character set: %[a-z0-9_] or %[^,]; a ] right after
		// [ or [^ belongs to the set.
		j := i
		if j < len(s) && s[j] == '^' {
			j++
		}
		if j < len(s) && s[j] == ']' {
			j++
		}
		end := strings.IndexByte(s[j:], ']')
		if end < 0 {
			return it, 0, errors.New("%[ without a closing ]")
		}
		set, err := parseCharset(s[i : j+end])
		if err != nil {
			return it, 0, err
		}
		it.set = set
		it.kind = convString
		i = j + end + 1
	case '{':
		end := closing(s[i:], '}')
		if end < 0 {
			return it, 0, errors.New("%{ without a closing }")
		}
		body := s[i : i+end]
		i += end + 1
		for alt := range strings.SplitSeq(body, "|") {
			var b []byte
			for j := 0; j < len(alt); {
				if alt[j] == '\\' {
					c, n, err := unescape(alt[j:])
					if err != nil {
						return it, 0, err
					}
					b = append(b, c)
					j += n
					continue
				}
				b = append(b, alt[j])
				j++
			}
			it.enum = append(it.enum, string(b))
		}
		it.kind = convEnum
	case '/':
		end := closing(s[i:], '/')
		if end < 0 {
			return it, 0, errors.New("%/ without a closing /")
		}
		re, err := regexp.Compile(`^(?:` + strings.ReplaceAll(s[i:i+end], `\/`, `/`) + `)`)
		if err != nil {
			return it, 0, fmt.Errorf("regexp: %w", err)
		}
		it.re = re
		it.kind = convRegexp
		i += end + 1
	case '<':
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			return it, 0, errors.New("%< without a closing >")
		}
		sum, ok := checksumByName(s[i : i+end])
		if !ok {
			return it, 0, fmt.Errorf("unknown checksum %q (want %s)", s[i:i+end], checksumNames())
		}
		it.sum = sum
		it.kind = convSum
		i += end + 1
	default:
		return it, 0, fmt.Errorf("unknown conversion %%%c", verb)
	}
	it.verb = verb
	return it, i, nil
}

// closing returns the index in s of the first unescaped c, or -1.
func closing(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case c:
			return i
		}
	}
	return -1
}

// Append formats v into dst following f and returns the extended slice.
// Every value conversion formats element 0 of v, except that the first
// value conversion of a format with a single one formats all of v's
// elements joined by sep (an array). Checksums cover the bytes appended
// since the start of the message (dst[start:]). A regexp conversion or a
// value that does not fit a conversion gives an error wrapping
// drivers.ErrBadValue.
func (f *Format) Append(dst []byte, v drivers.Value, sep string) ([]byte, error) {
	start := len(dst)
	for _, it := range f.items {
		switch it.kind {
		case convLiteral:
			dst = append(dst, it.lit...)
			continue
		case convSum:
			dst = it.sum.append(dst, dst[start:], it.flags)
			continue
		case convRegexp:
			return nil, fmt.Errorf("%w: %%/regexp/ cannot format output", drivers.ErrBadValue)
		}
		if it.skip {
			continue
		}
		if v == nil || v.Len() == 0 {
			return nil, fmt.Errorf("%w: no value for %s", drivers.ErrBadValue, f.src)
		}
		n := 1
		if f.fields == 1 {
			n = v.Len()
		}
		for e := range n {
			if e > 0 {
				dst = append(dst, sep...)
			}
			var err error
			if dst, err = it.appendElem(dst, v, e); err != nil {
				return nil, err
			}
		}
	}
	return dst, nil
}

// appendElem formats element e of v with it.
func (it *item) appendElem(dst []byte, v drivers.Value, e int) ([]byte, error) {
	spec := "%" + it.flags
	if it.width >= 0 {
		spec += strconv.Itoa(it.width)
	}
	if it.prec >= 0 && it.kind != convEnum {
		spec += "." + strconv.Itoa(it.prec)
	}
	switch it.kind {
	case convFloat:
		fv, err := elem[drivers.Floats](v, drivers.KindFloat, e)
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(dst, spec+string(it.verb), fv), nil
	case convInt:
		iv, err := elem[drivers.Ints](v, drivers.KindInt, e)
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(dst, spec+"d", iv), nil
	case convUint:
		uv, err := elem[drivers.Uints](v, drivers.KindUint, e)
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(dst, spec+string(it.verb), uv), nil
	case convEnum:
		uv, err := elem[drivers.Uints](v, drivers.KindUint, e)
		if err != nil {
			return nil, err
		}
		if uv >= uint64(len(it.enum)) {
			return nil, fmt.Errorf("%w: %d is not an index of %v", drivers.ErrBadValue, uv, it.enum)
		}
		return append(dst, it.enum[uv]...), nil
	}
	sv, err := elem[drivers.Strings](v, drivers.KindString, e)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(sv, "\x00") {
		return nil, fmt.Errorf("%w: NUL in a string", drivers.ErrBadValue)
	}
	return fmt.Appendf(dst, spec+"s", sv), nil
}

// elem converts v to kind k and returns element e.
func elem[S ~[]E, E any](v drivers.Value, k drivers.Kind, e int) (E, error) {
	var zero E
	if e >= v.Len() {
		return zero, fmt.Errorf("%w: no element %d", drivers.ErrBadValue, e)
	}
	c, err := drivers.Convert(v, k)
	if err != nil {
		return zero, err
	}
	s, ok := c.(S)
	if !ok {
		return zero, fmt.Errorf("%w: cannot convert to %s", drivers.ErrBadValue, k)
	}
	return s[e], nil
}

// Field is one value parsed from a reply: a float, a signed or unsigned
// integer or a string, by the conversion's kind.
type Field struct {
	Kind drivers.Kind
	F    float64
	I    int64
	U    uint64
	S    string
}

// Value returns the field as a one-element Value.
func (fd Field) Value() drivers.Value {
	switch fd.Kind {
	case drivers.KindFloat:
		return drivers.Floats{fd.F}
	case drivers.KindInt:
		return drivers.Ints{fd.I}
	case drivers.KindUint:
		return drivers.Uints{fd.U}
	}
	return drivers.Strings{fd.S}
}

// MismatchError tells where a reply stopped matching its format. It wraps
// drivers.ErrMismatch.
type MismatchError struct {
	Format string // the format's source
	Offset int    // byte offset in the reply
	Reason string
}

// Error returns "serial: reply does not match "V=%f": at byte 2: want a number: drivers: reply mismatch".
func (e *MismatchError) Error() string {
	return fmt.Sprintf("serial: reply does not match %q: at byte %d: %s: %v", e.Format, e.Offset, e.Reason, drivers.ErrMismatch)
}

// Unwrap returns drivers.ErrMismatch.
func (e *MismatchError) Unwrap() error { return drivers.ErrMismatch }

// Match parses line against f and returns the value fields in order. A
// conversion of a format with a single value field repeats, separated by
// sep, up to n times (an array of n elements; n <= 1 means a scalar).
// Input left after the format is an error unless ignoreExtra. Errors are
// *MismatchError.
func (f *Format) Match(line []byte, sep string, n int, ignoreExtra bool) ([]Field, error) {
	var out []Field
	pos := 0
	fail := func(reason string, args ...any) ([]Field, error) {
		return nil, &MismatchError{Format: f.src, Offset: pos, Reason: fmt.Sprintf(reason, args...)}
	}
	for _, it := range f.items {
		switch it.kind {
		case convLiteral:
			if !bytes.HasPrefix(line[pos:], it.lit) {
				return fail("want %q", it.lit)
			}
			pos += len(it.lit)
			continue
		case convSum:
			m, ok := it.sum.verify(line[:pos], line[pos:], it.flags)
			if !ok {
				return fail("bad %s checksum", it.sum.name)
			}
			pos += m
			continue
		}
		reps := 1
		if f.fields == 1 && !it.skip && n > 1 {
			reps = n
		}
		for r := range reps {
			if r > 0 {
				if !bytes.HasPrefix(line[pos:], []byte(sep)) {
					return fail("want separator %q before element %d", sep, r)
				}
				pos += len(sep)
			}
			fd, m, err := it.scan(line[pos:])
			if err != nil {
				return fail("%v", err)
			}
			pos += m
			if !it.skip {
				out = append(out, fd)
			}
		}
	}
	if pos < len(line) && !ignoreExtra {
		return fail("%d bytes of extra input", len(line)-pos)
	}
	return out, nil
}

// scan parses one field at the start of b and returns it and the number
// of bytes it used.
func (it *item) scan(b []byte) (Field, int, error) {
	limit := len(b)
	if it.width > 0 {
		limit = min(limit, it.width)
	}
	pos := 0
	// Numbers and %s skip leading white space, as scanf does.
	if it.kind == convFloat || it.kind == convInt || it.kind == convUint || (it.kind == convString && it.verb == 's') {
		for pos < len(b) && (b[pos] == ' ' || b[pos] == '\t') {
			pos++
		}
		limit = min(len(b), pos+limit)
		if it.width <= 0 {
			limit = len(b)
		}
	}
	w := b[pos:limit]
	switch it.kind {
	case convFloat:
		m := floatLen(w)
		if m == 0 {
			return Field{}, 0, errors.New("want a number")
		}
		v, err := strconv.ParseFloat(string(w[:m]), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return Field{}, 0, errors.New("want a number")
		}
		return Field{Kind: drivers.KindFloat, F: v}, pos + m, nil
	case convInt:
		base := 10
		if it.verb == 'i' {
			base = 0
		}
		m := intLen(w, base)
		if m == 0 {
			return Field{}, 0, errors.New("want an integer")
		}
		v, err := strconv.ParseInt(string(w[:m]), base, 64)
		if err != nil {
			return Field{}, 0, errors.New("want an integer in range")
		}
		return Field{Kind: drivers.KindInt, I: v}, pos + m, nil
	case convUint:
		base := 16
		if it.verb == 'o' {
			base = 8
		}
		m := digitsLen(w, base)
		if m == 0 {
			return Field{}, 0, fmt.Errorf("want base-%d digits", base)
		}
		v, err := strconv.ParseUint(string(w[:m]), base, 64)
		if err != nil {
			return Field{}, 0, errors.New("want an integer in range")
		}
		return Field{Kind: drivers.KindUint, U: v}, pos + m, nil
	case convString:
		m := 0
		if it.set != nil {
			for m < len(w) && it.set[w[m]] {
				m++
			}
			if m == 0 {
				return Field{}, 0, errors.New("want a character of the %[set]")
			}
			return Field{Kind: drivers.KindString, S: string(w[:m])}, pos + m, nil
		}
		if it.verb == 'c' {
			m = min(len(w), max(it.width, 1))
			if m < max(it.width, 1) {
				return Field{}, 0, errors.New("too few characters")
			}
		} else {
			for m < len(w) && w[m] != ' ' && w[m] != '\t' {
				m++
			}
			if m == 0 {
				return Field{}, 0, errors.New("want a string")
			}
		}
		return Field{Kind: drivers.KindString, S: string(w[:m])}, pos + m, nil
	case convEnum:
		best, bestLen := -1, -1
		for i, alt := range it.enum {
			if bytes.HasPrefix(b, []byte(alt)) && len(alt) > bestLen {
				best, bestLen = i, len(alt)
			}
		}
		if best < 0 {
			return Field{}, 0, fmt.Errorf("want one of %q", it.enum)
		}
		return Field{Kind: drivers.KindUint, U: uint64(best)}, bestLen, nil
	case convRegexp:
		m := it.re.FindSubmatchIndex(b)
		if m == nil {
			return Field{}, 0, fmt.Errorf("want a match of /%s/", it.re.String())
		}
		s := b[m[0]:m[1]]
		if len(m) >= 4 && m[2] >= 0 {
			s = b[m[2]:m[3]]
		}
		return Field{Kind: drivers.KindString, S: string(s)}, m[1], nil
	}
	return Field{}, 0, errors.New("not a value conversion")
}

// floatLen returns the length of the longest float at the start of b.
func floatLen(b []byte) int {
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	for _, word := range []string{"nan", "inf"} {
		if len(b) >= i+3 && strings.EqualFold(string(b[i:i+3]), word) {
			return i + 3
		}
	}
	d := digitsLen(b[i:], 10)
	i += d
	if i < len(b) && b[i] == '.' {
		f := digitsLen(b[i+1:], 10)
		if d == 0 && f == 0 {
			return 0
		}
		i += 1 + f
		d += f
	}
	if d == 0 {
		return 0
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if e := digitsLen(b[j:], 10); e > 0 {
			i = j + e
		}
	}
	return i
}

// intLen returns the length of the integer at the start of b in base
// (0: with a 0x or 0 prefix as strconv does).
func intLen(b []byte, base int) int {
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	if base == 0 {
		base = 10
		if len(b) > i+1 && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') {
			if d := digitsLen(b[i+2:], 16); d > 0 {
				return i + 2 + d
			}
			return i + 1
		}
	}
	d := digitsLen(b[i:], base)
	if d == 0 {
		return 0
	}
	return i + d
}

// digitsLen returns the number of digits of base at the start of b.
func digitsLen(b []byte, base int) int {
	i := 0
	for i < len(b) && i < 64 {
		c := b[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'a' && c <= 'f':
			v = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v = int(c-'A') + 10
		default:
			return i
		}
		if v >= base {
			return i
		}
		i++
	}
	return i
}

// fieldValue converts field fd to a Value of kind k (the point's kind).
func fieldValue(fd Field, k drivers.Kind) (drivers.Value, error) {
	v := fd.Value()
	if fd.Kind == drivers.KindFloat && (k == drivers.KindInt || k == drivers.KindUint) && (math.IsNaN(fd.F) || math.IsInf(fd.F, 0)) {
		return nil, fmt.Errorf("%w: %v does not fit an integer", drivers.ErrMismatch, fd.F)
	}
	c, err := drivers.Convert(v, k)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", drivers.ErrMismatch, err)
	}
	return c, nil
}
