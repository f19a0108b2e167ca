package access

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ParseError reports a syntax or semantic error in an ACF, with its place.
type ParseError struct {
	// File is the name given to Parse (the path for Load).
	File string
	// Line and Column are 1-based; Column counts bytes.
	Line, Column int
	// Token is the offending token as written in the file ("" at the end
	// of the file).
	Token string
	// Msg says what is wrong; it quotes Token.
	Msg string
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("access: %s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Parse reads an ACF from r. name is used in error messages (a file path,
// typically). Errors are *ParseError values naming name:line:column and
// the token, or wrap r's read error.
func Parse(r io.Reader, name string) (*Config, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("access: reading %s: %w", name, err)
	}
	p := &parser{lx: lexer{src: string(src), line: 1, col: 1, file: name}, cfg: &Config{parsed: true}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

type tokKind int

const (
	tokEOF     tokKind = iota
	tokName            // a bare word
	tokString          // a quoted string
	tokInt             // a bare integer
	tokFloat           // a bare floating-point number
	tokKeyword         // UAG, HAG, ASG, RULE, CALC, METHOD, AUTHORITY, PROTOCOL, INPA..INPU
	tokPunct           // ( ) { } ,
)

type token struct {
	kind      tokKind
	text      string // the name, the string's content, the keyword, the punctuation
	raw       string // as written
	line, col int
}

// desc describes t for an error message.
func (t token) desc() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokString:
		return "string " + t.raw
	}
	return strconv.Quote(t.raw)
}

type lexer struct {
	src       string
	i         int
	line, col int
	file      string
}

func (lx *lexer) errAt(line, col int, tok, format string, args ...any) *ParseError {
	return &ParseError{File: lx.file, Line: line, Column: col, Token: tok, Msg: fmt.Sprintf(format, args...)}
}

// isNameChar reports whether c may appear in a bare word, as in asLib's
// lexer.
func isNameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("_-+:.[]<>;", c) >= 0
}

func (lx *lexer) advance(n int) {
	for range n {
		if lx.src[lx.i] == '\n' {
			lx.line++
			lx.col = 1
		} else {
			lx.col++
		}
		lx.i++
	}
}

func (lx *lexer) next() (token, error) {
	for lx.i < len(lx.src) {
		switch lx.src[lx.i] {
		case ' ', '\t', '\r', '\n':
			lx.advance(1)
			continue
		case '#':
			for lx.i < len(lx.src) && lx.src[lx.i] != '\n' {
				lx.advance(1)
			}
			continue
		}
		break
	}
	t := token{line: lx.line, col: lx.col}
	if lx.i >= len(lx.src) {
		return t, nil
	}
	c := lx.src[lx.i]
	switch {
	case strings.IndexByte("(){},", c) >= 0:
		t.kind, t.text, t.raw = tokPunct, string(c), string(c)
		lx.advance(1)
	case isNameChar(c):
		j := lx.i
		for j < len(lx.src) && isNameChar(lx.src[j]) {
			j++
		}
		t.raw = lx.src[lx.i:j]
		t.text, t.kind = t.raw, wordKind(t.raw)
		lx.advance(j - lx.i)
	case c == '"':
		j := lx.i + 1
		for {
			if j >= len(lx.src) {
				return t, lx.errAt(t.line, t.col, lx.src[lx.i:j],
					"end of file in quoted string, closing quote missing")
			}
			d := lx.src[j]
			if d == '\n' || (d == '\\' && j+1 < len(lx.src) && lx.src[j+1] == '\n') {
				return t, lx.errAt(t.line, t.col, lx.src[lx.i:j],
					"newline in quoted string, closing quote missing")
			}
			if d == '"' {
				break
			}
			if d == '\\' && j+1 < len(lx.src) {
				j += 2
				continue
			}
			j++
		}
		t.kind, t.raw, t.text = tokString, lx.src[lx.i:j+1], lx.src[lx.i+1:j]
		lx.advance(j + 1 - lx.i)
	default:
		msg := fmt.Sprintf("invalid character %q", rune(c))
		if c < 0x20 || c >= 0x7f {
			msg = fmt.Sprintf("invalid character 0x%02x", c)
		}
		return t, lx.errAt(t.line, t.col, string(c), "%s", msg)
	}
	return t, nil
}

// wordKind classifies a word as asLib's lexer does: keywords, INPx,
// numbers, else a name. A word with characters a bare word cannot hold is
// a tokString (it needs quotes).
func wordKind(w string) tokKind {
	for i := 0; i < len(w); i++ {
		if !isNameChar(w[i]) {
			return tokString
		}
	}
	switch w {
	case "UAG", "HAG", "ASG", "RULE", "CALC", "METHOD", "AUTHORITY", "PROTOCOL":
		return tokKeyword
	}
	if len(w) == 4 && strings.HasPrefix(w, "INP") && 'A' <= w[3] && w[3] <= 'U' {
		return tokKeyword
	}
	if isInt(w) {
		return tokInt
	}
	if isFloat(w) {
		return tokFloat
	}
	return tokName
}

func skipSign(w string) string {
	if w != "" && (w[0] == '+' || w[0] == '-') {
		return w[1:]
	}
	return w
}

func digits(w string) int {
	n := 0
	for n < len(w) && '0' <= w[n] && w[n] <= '9' {
		n++
	}
	return n
}

// isInt matches [-+]?[0-9]+ .
func isInt(w string) bool {
	w = skipSign(w)
	return w != "" && digits(w) == len(w)
}

// isFloat matches [-+]?[0-9]*\.[0-9]+([eE][-+]?[0-9]+)? .
func isFloat(w string) bool {
	w = skipSign(w)
	w = w[digits(w):]
	if w == "" || w[0] != '.' {
		return false
	}
	w = w[1:]
	n := digits(w)
	if n == 0 {
		return false
	}
	w = w[n:]
	if w == "" {
		return true
	}
	if w[0] != 'e' && w[0] != 'E' {
		return false
	}
	w = skipSign(w[1:])
	return w != "" && digits(w) == len(w)
}

type parser struct {
	lx   lexer
	tok  token
	cfg  *Config
	defs map[string]int // "UAG name" etc. -> line of definition
}

func (p *parser) errf(t token, format string, args ...any) error {
	return p.lx.errAt(t.line, t.col, t.raw, format, args...)
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tokPunct && p.tok.text == s }

// expect consumes the punctuation s; ctx says where it belongs.
func (p *parser) expect(s, ctx string) error {
	if !p.isPunct(s) {
		return p.errf(p.tok, "expected %q %s, found %s", s, ctx, p.tok.desc())
	}
	return p.advance()
}

// name consumes a name (bare or quoted) and returns its text.
func (p *parser) name(what string) (token, error) {
	t := p.tok
	switch t.kind {
	case tokName, tokString:
		return t, p.advance()
	case tokInt, tokFloat, tokKeyword:
		return t, p.errf(t, "expected %s, found %s (quote it to use it as a name)", what, t.desc())
	}
	return t, p.errf(t, "expected %s, found %s", what, t.desc())
}

func (p *parser) parse() error {
	p.defs = map[string]int{}
	if err := p.advance(); err != nil {
		return err
	}
	if p.tok.kind == tokEOF {
		return p.errf(p.tok, "empty configuration: want UAG, HAG or ASG definitions")
	}
	for p.tok.kind != tokEOF {
		t := p.tok
		switch {
		case t.kind == tokKeyword && (t.text == "UAG" || t.text == "HAG"):
			if err := p.memberGroup(); err != nil {
				return err
			}
		case t.kind == tokKeyword && t.text == "ASG":
			if err := p.asg(); err != nil {
				return err
			}
		case t.kind == tokKeyword && t.text == "AUTHORITY":
			return p.unsupported(t)
		case t.kind == tokKeyword:
			return p.errf(t, "%s outside an ASG: want UAG, HAG or ASG", t.text)
		case t.kind == tokName || t.kind == tokString:
			return p.errf(t, "unknown keyword %s: want UAG, HAG or ASG", t.desc())
		default:
			return p.errf(t, "expected UAG, HAG or ASG, found %s", t.desc())
		}
	}
	return nil
}

func (p *parser) unsupported(t token) error {
	why := ""
	switch {
	case strings.HasPrefix(t.text, "INP"), t.text == "CALC":
		why = " (rules that depend on PV values)"
	case t.text == "RPC", t.text == "METHOD", t.text == "AUTHORITY", t.text == "PROTOCOL":
		why = " (pvAccess security)"
	}
	return p.errf(t, "%s is not supported%s", t.text, why)
}

// head parses "(name)" after kw.
func (p *parser) head(kw string) (token, error) {
	if err := p.expect("(", "after "+kw); err != nil {
		return token{}, err
	}
	n, err := p.name(kw + " name")
	if err != nil {
		return n, err
	}
	return n, p.expect(")", "after "+kw+" name")
}

// define records a group definition, rejecting a duplicate.
func (p *parser) define(kw string, n token) error {
	key := kw + " " + n.text
	if line, ok := p.defs[key]; ok {
		return p.errf(n, "duplicate %s %q (first defined at line %d)", kw, n.text, line)
	}
	p.defs[key] = n.line
	return nil
}

// memberGroup parses UAG(name) {user, ...} or HAG(name) {host, ...}.
func (p *parser) memberGroup() error {
	kw := p.tok.text
	if err := p.advance(); err != nil {
		return err
	}
	n, err := p.head(kw)
	if err != nil {
		return err
	}
	if err := p.define(kw, n); err != nil {
		return err
	}
	var members []string
	if p.isPunct("{") {
		if err := p.advance(); err != nil {
			return err
		}
		what := "a user name"
		if kw == "HAG" {
			what = "a host name"
		}
		for {
			m, err := p.name(what)
			if err != nil {
				return err
			}
			members = append(members, m.text)
			if p.isPunct("}") {
				break
			}
			if err := p.expect(",", "or \"}\" in "+kw+" "+strconv.Quote(n.text)); err != nil {
				return err
			}
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
	if kw == "UAG" {
		u := uag{name: n.text, users: members, set: map[string]bool{}}
		for _, m := range members {
			u.set[m] = true
		}
		p.cfg.uags = append(p.cfg.uags, u)
		return nil
	}
	h := hag{name: n.text, set: map[string]bool{}}
	for _, m := range members {
		m = lower(m)
		h.hosts = append(h.hosts, m)
		h.set[m] = true
	}
	p.cfg.hags = append(p.cfg.hags, h)
	return nil
}

// asg parses ASG(name) { RULE... }.
func (p *parser) asg() error {
	if err := p.advance(); err != nil {
		return err
	}
	n, err := p.head("ASG")
	if err != nil {
		return err
	}
	g := p.cfg.findASG(n.text)
	switch {
	case g != nil && n.text == DefaultGroup && len(g.rules) == 0:
		// asLib lets an empty DEFAULT be defined again.
	case g != nil:
		return p.errf(n, "duplicate ASG %q (first defined at line %d)", n.text, p.defs["ASG "+n.text])
	default:
		p.defs["ASG "+n.text] = n.line
		p.cfg.asgs = append(p.cfg.asgs, asg{name: n.text})
		g = &p.cfg.asgs[len(p.cfg.asgs)-1]
	}
	if !p.isPunct("{") {
		return nil
	}
	if err := p.advance(); err != nil {
		return err
	}
	for {
		t := p.tok
		switch {
		case t.kind == tokKeyword && t.text == "RULE":
			ru, err := p.rule()
			if err != nil {
				return err
			}
			g.rules = append(g.rules, ru)
		case t.kind == tokKeyword && strings.HasPrefix(t.text, "INP"):
			return p.unsupported(t)
		default:
			return p.errf(t, "expected RULE in ASG %q, found %s", n.text, t.desc())
		}
		if p.isPunct("}") {
			return p.advance()
		}
	}
}

// rule parses RULE(level, access[, option]) [{ UAG(...) HAG(...) }].
func (p *parser) rule() (rule, error) {
	var ru rule
	if err := p.advance(); err != nil {
		return ru, err
	}
	if err := p.expect("(", "after RULE"); err != nil {
		return ru, err
	}
	lv := p.tok
	if lv.kind != tokInt {
		return ru, p.errf(lv, "expected RULE level (0 or 1), found %s", lv.desc())
	}
	level, err := strconv.ParseInt(lv.text, 10, 64)
	switch {
	case err != nil || level > math.MaxInt32:
		return ru, p.errf(lv, "RULE level %s out of range", lv.desc())
	case level < 0:
		return ru, p.errf(lv, "RULE level must not be negative, found %s", lv.desc())
	}
	ru.level = int(level)
	if err := p.advance(); err != nil {
		return ru, err
	}
	if err := p.expect(",", "after RULE level"); err != nil {
		return ru, err
	}
	acc := p.tok
	if acc.kind != tokName && acc.kind != tokString {
		return ru, p.errf(acc, "expected NONE, READ or WRITE, found %s", acc.desc())
	}
	switch acc.text {
	case "NONE":
		ru.access = None
	case "READ":
		ru.access = Read
	case "WRITE":
		ru.access = ReadWrite
	case "RPC":
		return ru, p.unsupported(acc)
	default:
		return ru, p.errf(acc, "unknown access %s: want NONE, READ or WRITE", acc.desc())
	}
	if err := p.advance(); err != nil {
		return ru, err
	}
	if p.isPunct(",") {
		if err := p.advance(); err != nil {
			return ru, err
		}
		opt := p.tok
		switch {
		case (opt.kind == tokName || opt.kind == tokString) && opt.text == "TRAPWRITE":
			ru.trapWrite = true
		case (opt.kind == tokName || opt.kind == tokString) && opt.text == "NOTRAPWRITE":
		default:
			return ru, p.errf(opt, "log option must be TRAPWRITE or NOTRAPWRITE, found %s", opt.desc())
		}
		if err := p.advance(); err != nil {
			return ru, err
		}
	}
	if err := p.expect(")", "to close RULE"); err != nil {
		return ru, err
	}
	if !p.isPunct("{") {
		return ru, nil
	}
	if err := p.advance(); err != nil {
		return ru, err
	}
	for {
		t := p.tok
		switch {
		case t.kind == tokKeyword && (t.text == "UAG" || t.text == "HAG"):
			if err := p.ruleRefs(&ru, t.text); err != nil {
				return ru, err
			}
		case t.kind == tokKeyword && (t.text == "CALC" || t.text == "METHOD" ||
			t.text == "AUTHORITY" || t.text == "PROTOCOL"):
			return ru, p.unsupported(t)
		default:
			return ru, p.errf(t, "expected UAG or HAG in RULE, found %s", t.desc())
		}
		if p.isPunct("}") {
			return ru, p.advance()
		}
	}
}

// ruleRefs parses UAG(a, b) or HAG(a, b) in a RULE body.
func (p *parser) ruleRefs(ru *rule, kw string) error {
	if err := p.advance(); err != nil {
		return err
	}
	if err := p.expect("(", "after "+kw); err != nil {
		return err
	}
	for {
		n, err := p.name(kw + " name")
		if err != nil {
			return err
		}
		idx := -1
		if kw == "UAG" {
			for i, u := range p.cfg.uags {
				if u.name == n.text {
					idx = i
				}
			}
		} else {
			for i, h := range p.cfg.hags {
				if h.name == n.text {
					idx = i
				}
			}
		}
		if idx < 0 {
			return p.errf(n, "no %s named %q defined before this rule", kw, n.text)
		}
		if kw == "UAG" {
			ru.uags = append(ru.uags, idx)
		} else {
			ru.hags = append(ru.hags, idx)
		}
		if p.isPunct(")") {
			return p.advance()
		}
		if err := p.expect(",", "or \")\" in "+kw+" list"); err != nil {
			return err
		}
	}
}
