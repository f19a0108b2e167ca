// Package macro expands EPICS macro references, as the EPICS macLib and
// msi tools do, for PV names, templates and access-security files.
//
// A reference is $(NAME) or ${NAME}. A default is given with
// $(NAME=default) and used when NAME is not defined; the default may itself
// hold references. A macro's value may hold references too: they are
// expanded, recursively, when the value is used, and a macro that refers
// to itself (A=$(A), or A=$(B) with B=$(A)) is reported as recursive. The
// name may be built from references ($(P$(N))). As in macLib, a reference
// may define scoped macros that hold only while it is expanded:
// $(NAME,X=1,Y=2).
//
// A '$' that is not followed by '(' or '{' is copied as it is. A backslash
// escapes the next character: "\$" gives a literal '$' that never starts
// a reference, and inside a reference an escaped ')', '}', '=' or ','
// does not end the part it is in. The backslash is dropped before '$' and
// kept before any other character, so a text with no '$' is never changed
// (and a backslash cannot be written just before a literal '$').
// Unlike macLib, quotes have no special meaning in the expanded text (macLib
// does not expand inside single quotes and drops quotes and backslashes from
// values); use \$ instead.
//
// The package is pure: it does no I/O and holds no global state. A Set is a
// plain map; concurrent Expand calls on one Set are safe as long as nobody
// writes to it.
package macro

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxLen is the longest expansion Expand produces; a longer one (a
// definition that doubles at each level, say) is an error.
const MaxLen = 1 << 20

// maxDepth bounds how many macro values may be expanded inside each other.
const maxDepth = 200

// Set holds macro definitions, name to raw (unexpanded) value. The zero
// value (nil) is an empty, usable Set for reading.
type Set map[string]string

// UnresolvedError reports the macros a text referred to that have no
// definition and no default. Use errors.As to get it from Expand's error.
type UnresolvedError struct {
	// Name is the first unresolved macro.
	Name string
	// Names lists every unresolved macro once, in order of first use.
	Names []string
	// Text is the text that was being expanded.
	Text string
}

// Error implements error.
func (e *UnresolvedError) Error() string {
	q := make([]string, len(e.Names))
	for i, n := range e.Names {
		q[i] = fmt.Sprintf("%q", n)
	}
	word := "macro"
	if len(q) > 1 {
		word = "macros"
	}
	return fmt.Sprintf("macro: undefined %s %s in %q", word, strings.Join(q, ", "), e.Text)
}

// RecursionError reports a macro whose value refers, directly or through
// other macros, to itself.
type RecursionError struct {
	// Name is the macro that was met again while being expanded.
	Name string
	// Chain is the path of macros that led back to Name, starting and
	// ending with it ("A", "B", "A").
	Chain []string
	// Text is the text that was being expanded.
	Text string
}

// Error implements error.
func (e *RecursionError) Error() string {
	return fmt.Sprintf("macro: recursive definition of %q (%s) in %q",
		e.Name, strings.Join(e.Chain, " -> "), e.Text)
}

// SyntaxError reports a malformed reference, such as "$(A" with no ")",
// in the text being expanded or in the value of a macro it uses.
type SyntaxError struct {
	// Text is the text that was being expanded or parsed.
	Text string
	// Macro is the macro whose value holds the error, or "" if the error
	// is in Text itself.
	Macro string
	// Offset is the byte offset, in Text or in Macro's value, where the
	// faulty construct starts.
	Offset int
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	if e.Macro != "" {
		return fmt.Sprintf("macro: %s at offset %d in the value of %q, expanding %q",
			e.Msg, e.Offset, e.Macro, e.Text)
	}
	return fmt.Sprintf("macro: %s at offset %d in %q", e.Msg, e.Offset, e.Text)
}

// ErrTooLong is returned (wrapped) when an expansion would exceed MaxLen
// bytes or nest more than a few hundred macro values.
var ErrTooLong = errors.New("macro: expansion too long or too deep")

// Expand replaces every macro reference in text. On success the error is
// nil. Otherwise the text is expanded as far as possible, each reference
// that could not be resolved is written back as $(NAME), and the error is
// an *UnresolvedError listing every undefined macro, a *RecursionError,
// both joined with errors.Join, a *SyntaxError, or wraps ErrTooLong.
func (s Set) Expand(text string) (string, error) {
	e := &expander{text: text}
	var b strings.Builder
	i, err := e.expand(&b, text, 0, "", &scope{vars: s})
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			se.Text = text
		}
		return b.String(), err
	}
	if i != len(text) {
		// Cannot happen with an empty terminator set; kept as a guard.
		return b.String(), &SyntaxError{Text: text, Offset: i, Msg: "unexpected character"}
	}
	var errs []error
	if len(e.unresolved) > 0 {
		errs = append(errs, &UnresolvedError{Name: e.unresolved[0], Names: e.unresolved, Text: text})
	}
	if e.recursion != nil {
		errs = append(errs, e.recursion)
	}
	return b.String(), errors.Join(errs...)
}

// With returns a new Set holding s's definitions overlaid by other's: a
// name defined in both takes other's value. Neither s nor other is
// modified. It suits nested groups whose macros extend their parent's.
func (s Set) With(other Set) Set {
	out := make(Set, len(s)+len(other))
	for k, v := range s {
		out[k] = v
	}
	for k, v := range other {
		out[k] = v
	}
	return out
}

// Names returns the defined macro names in sorted order.
func (s Set) Names() []string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// scope is a chain of definitions: a reference's scoped macros over the
// Set being expanded.
// Scoped macros are expanded where they are defined, so their values are
// used as they are.
type scope struct {
	vars     Set
	expanded bool
	parent   *scope
}

func (sc *scope) lookup(name string) (v string, expanded, ok bool) {
	for ; sc != nil; sc = sc.parent {
		if v, ok := sc.vars[name]; ok {
			return v, sc.expanded, true
		}
	}
	return "", false, false
}

type expander struct {
	text       string
	active     []string // macros whose values are being expanded, outermost first
	unresolved []string
	recursion  *RecursionError
}

// expand copies s from i to b, expanding references, until a byte of term
// outside any reference or the end of s; it returns the index it stopped at.
func (e *expander) expand(b *strings.Builder, s string, i int, term string, sc *scope) (int, error) {
	for i < len(s) {
		if b.Len() > MaxLen {
			return i, fmt.Errorf("%w: more than %d bytes from %q", ErrTooLong, MaxLen, e.text)
		}
		c := s[i]
		switch {
		case strings.IndexByte(term, c) >= 0:
			return i, nil
		case c == '\\' && i+1 < len(s):
			if s[i+1] != '$' {
				b.WriteByte(c)
			}
			b.WriteByte(s[i+1])
			i += 2
		case isRef(s, i):
			j, err := e.ref(b, s, i, sc)
			if err != nil {
				return j, err
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return i, nil
}

func isRef(s string, i int) bool {
	return s[i] == '$' && i+1 < len(s) && (s[i+1] == '(' || s[i+1] == '{')
}

func closer(open byte) byte {
	if open == '(' {
		return ')'
	}
	return '}'
}

// ref expands the reference starting at s[i] ("$(" or "${") into b and
// returns the index just past its closing bracket.
func (e *expander) ref(b *strings.Builder, s string, i int, sc *scope) (int, error) {
	start := i
	cl := closer(s[i+1])
	unterminated := func() error {
		return &SyntaxError{Offset: start, Msg: fmt.Sprintf("unterminated reference %q", s[start:])}
	}
	i += 2
	var nb strings.Builder
	i, err := e.expand(&nb, s, i, string([]byte{'=', ',', cl}), sc)
	if err != nil {
		return i, err
	}
	if i >= len(s) {
		return i, unterminated()
	}
	name := nb.String()
	def, hasDef := "", false
	if s[i] == '=' {
		i++
		end, err := skip(s, i, string([]byte{',', cl}))
		if err != nil {
			return end, err
		}
		if end >= len(s) {
			return end, unterminated()
		}
		def, hasDef = s[i:end], true
		i = end
	}
	inner := sc
	for i < len(s) && s[i] == ',' {
		i++
		var sb strings.Builder
		i, err = e.expand(&sb, s, i, string([]byte{'=', ',', cl}), sc)
		if err != nil {
			return i, err
		}
		if i < len(s) && s[i] == '=' {
			i++
			var vb strings.Builder
			i, err = e.expand(&vb, s, i, string([]byte{',', cl}), sc)
			if err != nil {
				return i, err
			}
			if inner == sc {
				inner = &scope{vars: Set{}, expanded: true, parent: sc}
			}
			inner.vars[sb.String()] = vb.String()
		}
	}
	if i >= len(s) || s[i] != cl {
		return i, unterminated()
	}
	i++
	if v, expanded, ok := inner.lookup(name); ok && expanded {
		b.WriteString(v)
		return i, nil
	} else if ok {
		for k, a := range e.active {
			if a == name {
				if e.recursion == nil {
					chain := append(append([]string(nil), e.active[k:]...), name)
					e.recursion = &RecursionError{Name: name, Chain: chain, Text: e.text}
				}
				b.WriteString("$(" + name + ")")
				return i, nil
			}
		}
		if len(e.active) >= maxDepth {
			return i, fmt.Errorf("%w: more than %d nested macros in %q", ErrTooLong, maxDepth, e.text)
		}
		e.active = append(e.active, name)
		_, err := e.expand(b, v, 0, "", inner)
		e.active = e.active[:len(e.active)-1]
		return i, valueErr(err, name)
	}
	if hasDef {
		_, err := e.expand(b, def, 0, "", inner)
		return i, err
	}
	e.addUnresolved(name)
	b.WriteString("$(" + name + ")")
	return i, nil
}

// valueErr names the innermost macro whose value holds a syntax error.
func valueErr(err error, name string) error {
	var se *SyntaxError
	if errors.As(err, &se) && se.Macro == "" {
		se.Macro = name
	}
	return err
}

func (e *expander) addUnresolved(name string) {
	for _, n := range e.unresolved {
		if n == name {
			return
		}
	}
	e.unresolved = append(e.unresolved, name)
}

// skip returns the index of the first byte of term in s at or after i
// that is outside any reference and not escaped, or len(s).
func skip(s string, i int, term string) (int, error) {
	for i < len(s) {
		c := s[i]
		switch {
		case strings.IndexByte(term, c) >= 0:
			return i, nil
		case c == '\\' && i+1 < len(s):
			i += 2
		case isRef(s, i):
			start := i
			cl := closer(s[i+1])
			j, err := skip(s, i+2, string(cl))
			if err != nil {
				return j, err
			}
			if j >= len(s) {
				return j, &SyntaxError{Offset: start,
					Msg: fmt.Sprintf("unterminated reference %q", s[start:])}
			}
			i = j + 1
		default:
			i++
		}
	}
	return i, nil
}
