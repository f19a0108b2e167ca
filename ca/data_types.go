package ca

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cabridge/cabridge/ca/dbr"
)

// The typed data containers. Each is created by its New function, which
// takes Options and the initial value, and is safe for concurrent use from
// any goroutine: a driver may Set, SetArray or Post at any time while the
// server reads snapshots and applies CA puts. The zero value of a container
// is not usable.
//
// Methods shared by all containers (promoted from the common core):
//
//	Native() (dbr.Type, int)          // PV
//	Access() Access                   // PV
//	Snapshot() *Snapshot              // PV; immutable, lock-free
//	Put(ctx, dbr.Value) error         // PV; a CA put
//	Subscribe(Subscriber) func()      // PV
//	Alarm() dbr.Alarm
//	SetAlarm(dbr.Alarm)
//	SetUnits(string); SetPrecision(int16); SetLimits(dbr.Limits)
//	SetDeadbands(value, archive float64); Deadbands() (value, archive float64)
//	SetClassName(string)
//	SetProcessor(Processor); Reprocess()  // record processing hooks
//	AckT(bool); AckS(dbr.Severity)    // Acknowledger
//
// Double, Float, Long, Short, Byte and Enum also have the value methods
// Set(E), SetArray([]E) error, Post(Post[E]) error, Value() E and
// Values() []E, where E is the Go element type named in the type's
// documentation. String and Char have their own, text-aware ones.

// Interface guards.
var (
	_ PV           = (*Double)(nil)
	_ PV           = (*Float)(nil)
	_ PV           = (*Long)(nil)
	_ PV           = (*Short)(nil)
	_ PV           = (*Byte)(nil)
	_ PV           = (*Enum)(nil)
	_ PV           = (*String)(nil)
	_ PV           = (*Char)(nil)
	_ Acknowledger = (*Double)(nil)
	_ Acknowledger = (*Float)(nil)
	_ Acknowledger = (*Long)(nil)
	_ Acknowledger = (*Short)(nil)
	_ Acknowledger = (*Byte)(nil)
	_ Acknowledger = (*Enum)(nil)
	_ Acknowledger = (*String)(nil)
	_ Acknowledger = (*Char)(nil)
)

// Double is a DBR_DOUBLE PV, like an ai/ao record or a double waveform.
// Its element type E is float64.
type Double struct{ typedCore[float64] }

// Float is a DBR_FLOAT PV. Its element type E is float32.
type Float struct{ typedCore[float32] }

// Long is a DBR_LONG PV, like a longin/longout record. Its element type E
// is int32.
type Long struct{ typedCore[int32] }

// Short is a DBR_SHORT PV. Its element type E is int16.
type Short struct{ typedCore[int16] }

// Byte is a DBR_CHAR PV holding raw 8-bit unsigned numbers (deadbands
// apply as for any number). For text stored as DBR_CHAR use Char. Its
// element type E is uint8.
type Byte struct{ typedCore[uint8] }

// Enum is a DBR_ENUM PV, like an mbbi/mbbo record: a state index with at
// most 16 state strings of at most 25 bytes each. Its element type E is
// uint16. A CA put selects a state by its exact name, by a decimal index
// in a string, or by a number, and is rejected (ErrInvalid) if the index
// has no state string; an Enum without state strings takes any index.
// The driver's Set and SetArray are not checked against the states.
type Enum struct{ typedCore[uint16] }

// String is a DBR_STRING PV, like a stringin/stringout record: elements of
// at most 39 bytes in the wire encoding (Options.Encoding).
type String struct{ dataCore }

// Char is a long string stored as a DBR_CHAR array, like a NAME$ channel or
// caproto's ChannelChar: the value is the text in the wire encoding
// followed by one NUL, so a count-0 read returns strlen+1 elements.
// MaxLength (default 256) includes the NUL. A CA put of DBR_CHAR stores the
// bytes up to the first NUL; a put of one DBR_STRING element stores it as
// text (an IOC rejects those; caproto accepts them); text longer than
// MaxLength-1 bytes is rejected with ErrInvalid.
type Char struct{ dataCore }

// defaultClassName returns the default record type name: "waveform" for arrays,
// else in for read-only and out for writable PVs.
func defaultClassName(o Options, maxLen int, in, out string) string {
	switch {
	case maxLen > 1:
		return "waveform"
	case o.ReadOnly:
		return in
	}
	return out
}

// initTyped sets up t with native type native and initial values vs; see
// Options.MaxLength.
func initTyped[E dataElem](t *typedCore[E], o Options, native dbr.Type, k dataKind, vs []E, in, out string, states []string) {
	maxLen := max(o.MaxLength, len(vs), 1)
	if maxLen == 1 && len(vs) == 0 {
		vs = make([]E, 1)
	}
	v := wrapValue(append(make([]E, 0, len(vs)), vs...))
	t.init(o, native, k, maxLen, v, defaultClassName(o, maxLen, in, out), states)
}

// NewDouble returns a Double holding v: no value is the scalar 0 (or an
// empty array if o.MaxLength > 1), one value a scalar, more an array.
func NewDouble(o Options, v ...float64) *Double {
	d := new(Double)
	initTyped(&d.typedCore, o, dbr.Double, kindNumeric, v, "ai", "ao", nil)
	return d
}

// NewFloat returns a Float holding v, as NewDouble does.
func NewFloat(o Options, v ...float32) *Float {
	f := new(Float)
	initTyped(&f.typedCore, o, dbr.Float, kindNumeric, v, "ai", "ao", nil)
	return f
}

// NewLong returns a Long holding v, as NewDouble does.
func NewLong(o Options, v ...int32) *Long {
	l := new(Long)
	initTyped(&l.typedCore, o, dbr.Long, kindNumeric, v, "longin", "longout", nil)
	return l
}

// NewShort returns a Short holding v, as NewDouble does.
func NewShort(o Options, v ...int16) *Short {
	s := new(Short)
	initTyped(&s.typedCore, o, dbr.Short, kindNumeric, v, "longin", "longout", nil)
	return s
}

// NewByte returns a Byte holding v, as NewDouble does.
func NewByte(o Options, v ...uint8) *Byte {
	b := new(Byte)
	initTyped(&b.typedCore, o, dbr.Char, kindNumeric, v, "longin", "longout", nil)
	return b
}

// NewEnum returns an Enum with the state strings states holding v, as
// NewDouble does. Only the first 16 states are kept, each cut to 25 bytes.
func NewEnum(o Options, states []string, v ...uint16) *Enum {
	st := make([]string, 0, min(len(states), dbr.MaxEnumStates))
	for _, s := range states[:min(len(states), dbr.MaxEnumStates)] {
		st = append(st, truncateText(s, dbr.MaxEnumStringSize-1, UTF8))
	}
	e := new(Enum)
	initTyped(&e.typedCore, o, dbr.Enum, kindEnum, v, "mbbi", "mbbo", st)
	return e
}

// EnumStrings returns a copy of the state strings.
func (e *Enum) EnumStrings() []string {
	return append([]string(nil), e.snap.Load().Meta.Properties.EnumStrings...)
}

// SetEnumStrings replaces the state strings, raising DBE_PROPERTY if they
// changed. It returns an error wrapping ErrInvalid, and changes nothing, if
// there are more than 16 or one is longer than 25 bytes. The current index
// is kept even if it no longer has a string.
func (e *Enum) SetEnumStrings(states []string) error {
	if len(states) > dbr.MaxEnumStates {
		return fmt.Errorf("%w: %d enum states, maximum %d", ErrInvalid, len(states), dbr.MaxEnumStates)
	}
	for _, s := range states {
		if len(s) > dbr.MaxEnumStringSize-1 {
			return fmt.Errorf("%w: enum state %q longer than %d bytes", ErrInvalid, s, dbr.MaxEnumStringSize-1)
		}
	}
	st := append([]string(nil), states...)
	return e.setProps(func(p *dbr.Properties) error { p.EnumStrings = st; return nil })
}

// NewString returns a String holding v, as NewDouble does. Elements longer
// than 39 bytes in the wire encoding are cut (at a character boundary).
func NewString(o Options, v ...string) *String {
	s := new(String)
	maxLen := max(o.MaxLength, len(v), 1)
	n := len(v)
	if maxLen == 1 && n == 0 {
		n = 1
	}
	vs := make(dbr.Strings, n)
	for i, x := range v {
		vs[i] = truncateText(o.Encoding.encode(x), maxStringBytes, o.Encoding)
	}
	s.init(o, dbr.String, kindString, maxLen, vs, defaultClassName(o, maxLen, "stringin", "stringout"), nil)
	return s
}

// Set publishes the single string v with the timestamp set to now and the
// alarm unchanged. It returns an error wrapping ErrInvalid, and changes
// nothing, if v is longer than 39 bytes in the wire encoding.
func (s *String) Set(v string) error { return s.Post(Post[string]{Values: []string{v}}) }

// SetArray publishes vs with the timestamp set to now and the alarm
// unchanged. It fails like Set, or if vs is longer than MaxLength or the
// String is a scalar and vs does not hold exactly one element.
func (s *String) SetArray(vs []string) error { return s.Post(Post[string]{Values: vs}) }

// Post publishes value, alarm and timestamp together; see Post. It fails
// like SetArray, changing nothing.
func (s *String) Post(p Post[string]) error {
	c := dataChange{alarm: p.Alarm, stamp: p.Stamp, touch: true}
	if p.Values != nil {
		if err := s.checkLen(len(p.Values)); err != nil {
			return err
		}
		vs := make(dbr.Strings, len(p.Values))
		for i, x := range p.Values {
			vs[i] = s.enc.encode(x)
			if len(vs[i]) > maxStringBytes {
				return fmt.Errorf("%w: string of %d bytes, maximum %d", ErrInvalid, len(vs[i]), maxStringBytes)
			}
		}
		c.value = vs
	}
	s.commit(c)
	return nil
}

// Value returns the first element of the current value, or "" if the
// array is empty.
func (s *String) Value() string {
	vs := s.snap.Load().Value.(dbr.Strings)
	if len(vs) == 0 {
		return ""
	}
	return s.enc.decode(vs[0])
}

// Values returns a copy of the current elements.
func (s *String) Values() []string {
	vs := s.snap.Load().Value.(dbr.Strings)
	out := make([]string, len(vs))
	for i, x := range vs {
		out[i] = s.enc.decode(x)
	}
	return out
}

// NewChar returns a Char holding text, cut at its first NUL. MaxLength
// defaults to 256 and grows to fit text and its NUL.
func NewChar(o Options, text string) *Char {
	c := new(Char)
	b := o.Encoding.encode(text)
	if i := strings.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	maxLen := o.MaxLength
	if maxLen <= 0 {
		maxLen = defaultCharLength
	}
	maxLen = max(maxLen, len(b)+1)
	v := make(dbr.Chars, len(b)+1)
	copy(v, b)
	c.init(o, dbr.Char, kindChar, maxLen, v, "waveform", nil)
	return c
}

// Set publishes text with the timestamp set to now and the alarm
// unchanged. It returns an error wrapping ErrInvalid, and changes nothing,
// if text contains a NUL or is longer than MaxLength-1 bytes in the wire
// encoding.
func (c *Char) Set(text string) error { return c.Post(Post[string]{Values: []string{text}}) }

// Post publishes text, alarm and timestamp together; see Post. Values must
// be nil (keep the text) or hold exactly one string, the new text. It fails
// like Set, changing nothing.
func (c *Char) Post(p Post[string]) error {
	ch := dataChange{alarm: p.Alarm, stamp: p.Stamp, touch: true}
	if p.Values != nil {
		if len(p.Values) != 1 {
			return fmt.Errorf("%w: %d strings to a long string", ErrInvalid, len(p.Values))
		}
		b := c.enc.encode(p.Values[0])
		if strings.IndexByte(b, 0) >= 0 {
			return fmt.Errorf("%w: long string contains a NUL", ErrInvalid)
		}
		if len(b) > int(c.maxLen)-1 {
			return fmt.Errorf("%w: text of %d bytes, maximum %d", ErrInvalid, len(b), c.maxLen-1)
		}
		v := make(dbr.Chars, len(b)+1)
		copy(v, b)
		ch.value = v
	}
	c.commit(ch)
	return nil
}

// Value returns the current text (without its NUL).
func (c *Char) Value() string {
	v := c.snap.Load().Value.(dbr.Chars)
	return c.enc.decode(string(v[:charTextLen(v)]))
}

// encode converts a Go string to the wire bytes of e.
func (e Encoding) encode(s string) string {
	if e != Latin1 || isASCIIText(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// decode converts wire bytes of e to a Go string.
func (e Encoding) decode(s string) string {
	if e != Latin1 || isASCIIText(s) {
		return s
	}
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = utf8.AppendRune(b, rune(s[i]))
	}
	return string(b)
}

func isASCIIText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// truncateText cuts s to at most n bytes; for UTF-8 it backs off to the start
// of a character so that valid UTF-8 stays valid.
func truncateText(s string, n int, e Encoding) string {
	if len(s) <= n {
		return s
	}
	if e != UTF8 {
		return s[:n]
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if i == 0 {
		i = n
	}
	return s[:i]
}
