package macro

import (
	"fmt"
	"strings"
)

// Parse reads macro definitions in the EPICS form "a=1,b=2", as given to
// msi -M, dbLoadRecords or an IOC's --macro flag.
//
// Definitions are separated by commas. White space around names and
// unquoted values is trimmed. A value may be quoted with "..." or '...'
// to hold commas, '=' or white space; the quotes are removed. A backslash
// takes the next character literally and is removed, except before '$',
// where it is kept so that the value holds a literal '$' when expanded.
// An empty value ("a=") is allowed; a name with no '=' is an error naming
// it, as is a definition with no name. Empty definitions (",,", a trailing
// comma) are ignored. A name defined twice takes its last value. Values are
// stored unexpanded: references in them are expanded when used.
func Parse(s string) (Set, error) {
	set := Set{}
	p := &defParser{s: s}
	for {
		p.spaces()
		if p.i >= len(s) {
			return set, nil
		}
		if s[p.i] == ',' {
			p.i++
			continue
		}
		start := p.i
		name, err := p.word("=,")
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, fmt.Errorf("macro: definition with no name at offset %d in %q", start, s)
		}
		if p.i >= len(s) || s[p.i] != '=' {
			return nil, fmt.Errorf("macro: %q has no value (want %s=value) in %q", name, name, s)
		}
		p.i++
		p.spaces()
		value, err := p.word(",")
		if err != nil {
			return nil, err
		}
		set[name] = value
	}
}

type defParser struct {
	s string
	i int
}

func (p *defParser) spaces() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// word reads up to a byte of term outside quotes, removing quotes and
// escapes and trimming unquoted white space at both ends.
func (p *defParser) word(term string) (string, error) {
	var b strings.Builder
	keep := 0 // length of b that trailing-space trimming must not cut
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case strings.IndexByte(term, c) >= 0:
			return trimRight(b.String(), keep), nil
		case c == '\\' && p.i+1 < len(p.s):
			if p.s[p.i+1] == '$' {
				b.WriteByte(c)
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			keep = b.Len()
		case c == '"' || c == '\'':
			start := p.i
			p.i++
			for {
				if p.i >= len(p.s) {
					return "", fmt.Errorf("macro: unterminated quote at offset %d in %q", start, p.s)
				}
				d := p.s[p.i]
				if d == c {
					p.i++
					break
				}
				if d == '\\' && p.i+1 < len(p.s) {
					if p.s[p.i+1] == '$' {
						b.WriteByte(d)
					}
					b.WriteByte(p.s[p.i+1])
					p.i += 2
					continue
				}
				b.WriteByte(d)
				p.i++
			}
			keep = b.Len()
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return trimRight(b.String(), keep), nil
}

func trimRight(s string, keep int) string {
	end := len(s)
	for end > keep && isSpace(s[end-1]) {
		end--
	}
	return s[:end]
}

// String formats s in the form Parse reads, sorted by name, quoting values
// (and names) that need it, so that Parse(s.String()) gives s back.
func (s Set) String() string {
	var b strings.Builder
	for i, name := range s.Names() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(name))
		b.WriteByte('=')
		b.WriteString(quote(s[name]))
	}
	return b.String()
}

// quote returns v as Parse reads it back.
func quote(v string) string {
	plain := v != "" && !isSpace(v[0]) && !isSpace(v[len(v)-1]) &&
		!strings.ContainsAny(v, `,="'\`)
	if plain {
		return v
	}
	if v == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && v[i+1] == '$':
			// Parse keeps a backslash before '$' as it is.
			b.WriteString(`\$`)
			i++
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
