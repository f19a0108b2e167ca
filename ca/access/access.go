// Package access implements EPICS access security: it reads an access
// security configuration file (ACF) and computes the Channel Access rights
// a client (user and host) has on a PV of a given access security group.
//
// The ACF subset read is the one sites use:
//
//	UAG(ops) {alice, bob}
//	HAG(consoles) {opi1, opi2}
//	ASG(DEFAULT) {
//		RULE(1, READ)
//		RULE(1, WRITE, TRAPWRITE) {
//			UAG(ops)
//			HAG(consoles)
//		}
//	}
//
// The semantics follow EPICS's asLib:
//
//   - A PV whose group is not defined in the file is in group DEFAULT. The
//     DEFAULT group always exists; if the file does not define it, it has no
//     rules and so grants no access at all.
//   - A client's rights are the highest access granted by any rule of the
//     group that applies to it; WRITE implies READ. A rule applies when the
//     user is in one of its UAGs (if it lists any) and the host is in one of
//     its HAGs (if it lists any); a rule with neither applies to everyone.
//   - A rule of level L applies to PVs whose access security level (ASL) is
//     at most L: RULE(1, ...) covers ASL 0 and 1 PVs, RULE(0, ...) only ASL 0.
//     Rights assumes ASL 0; Access takes the ASL.
//   - User names match exactly; host names match ignoring ASCII case (both
//     are lower-cased, as asLib does). Host names are compared as given by
//     the client (the CA host-name message): resolving HAG entries to IP
//     addresses (asCheckClientIP, EPICS_AS_...) is not done.
//   - UAG, HAG and ASG names must be unique (DEFAULT may be defined once);
//     a RULE may only name UAGs and HAGs defined before it.
//
// INPA..INPU and CALC (rules that depend on PV values), and the newer
// METHOD, AUTHORITY, PROTOCOL and RPC (pvAccess), are not supported: they
// are parsed and rejected with an error naming the line. Unknown keywords
// are errors too (newer asLib ignores them with a warning). Quoted strings
// are taken as asLib takes them: the quotes are removed and backslash
// escapes are kept as they are.
//
// A Config is immutable once parsed and safe for concurrent use. The Rules
// interface is what a server consults; Config implements it, and so can Go
// code (RulesFunc).
package access

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Rights is a set of Channel Access rights. Its bits are those of the CA
// ACCESS_RIGHTS message: Read is 1, Write is 2.
type Rights uint8

// The access rights.
const (
	// None grants nothing: the client sees the channel but cannot read it.
	None Rights = 0
	// Read allows gets and monitors.
	Read Rights = 1
	// Write allows puts.
	Write Rights = 2
	// ReadWrite is what an ACF WRITE rule grants.
	ReadWrite = Read | Write
)

// CanRead reports whether r includes Read.
func (r Rights) CanRead() bool { return r&Read != 0 }

// CanWrite reports whether r includes Write.
func (r Rights) CanWrite() bool { return r&Write != 0 }

// String returns "NONE", "READ", "WRITE" (write only, which no ACF rule
// grants) or "READ|WRITE".
func (r Rights) String() string {
	switch r {
	case None:
		return "NONE"
	case Read:
		return "READ"
	case Write:
		return "WRITE"
	case ReadWrite:
		return "READ|WRITE"
	}
	return fmt.Sprintf("Rights(%d)", uint8(r))
}

// Rules computes a client's rights on the PVs of an access security group.
// Implementations must be safe for concurrent use. *Config implements it;
// Go code may implement it too, to add rules an ACF cannot express.
type Rules interface {
	// Rights returns the rights of user on host for a PV in group.
	Rights(group, user, host string) Rights
}

// RulesFunc adapts a function to the Rules interface.
type RulesFunc func(group, user, host string) Rights

// Rights calls f.
func (f RulesFunc) Rights(group, user, host string) Rights { return f(group, user, host) }

// Interface guards.
var (
	_ Rules = (*Config)(nil)
	_ Rules = RulesFunc(nil)
)

// DefaultGroup is the group of PVs that name no group or an undefined one.
const DefaultGroup = "DEFAULT"

// Config is a parsed access security configuration. The zero value and a
// nil *Config have no rules and grant ReadWrite to everyone, as an IOC with
// access security not configured does. A Config is immutable and safe for
// concurrent use.
type Config struct {
	uags []uag
	hags []hag
	asgs []asg
	// parsed is false in the zero value, which grants everything.
	parsed bool
}

type uag struct {
	name  string
	users []string
	set   map[string]bool
}

type hag struct {
	name  string
	hosts []string // lower-cased
	set   map[string]bool
}

type asg struct {
	name  string
	rules []rule
}

type rule struct {
	level     int
	access    Rights // None, Read or ReadWrite
	trapWrite bool
	uags      []int // indexes in Config.uags
	hags      []int // indexes in Config.hags
}

// Load reads and parses the ACF at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	cfg, err := Parse(f, path)
	if cerr := f.Close(); err == nil && cerr != nil {
		return nil, fmt.Errorf("access: %w", cerr)
	}
	return cfg, err
}

// Rights returns the rights of user on host for a PV of access security
// level 0 in group. An undefined group is DEFAULT.
func (c *Config) Rights(group, user, host string) Rights {
	r, _ := c.Access(group, 0, user, host)
	return r
}

// Access returns the rights of user on host for a PV of access security
// level asl in group, and whether the rule that granted them asks for puts
// to be trapped (TRAPWRITE: logged by a put logger). An undefined group is
// DEFAULT. A nil Config grants ReadWrite.
func (c *Config) Access(group string, asl int, user, host string) (r Rights, trapWrite bool) {
	if c == nil || !c.parsed {
		return ReadWrite, false
	}
	g := c.group(group)
	if g == nil {
		return None, false
	}
	host = lower(host)
	for _, ru := range g.rules {
		if r == ReadWrite {
			break
		}
		if ru.access <= r || asl > ru.level {
			continue
		}
		if len(ru.uags) > 0 && !c.anyUAG(ru.uags, user) {
			continue
		}
		if len(ru.hags) > 0 && !c.anyHAG(ru.hags, host) {
			continue
		}
		r, trapWrite = ru.access, ru.trapWrite
	}
	return r, trapWrite
}

func (c *Config) anyUAG(idx []int, user string) bool {
	for _, i := range idx {
		if c.uags[i].set[user] {
			return true
		}
	}
	return false
}

func (c *Config) anyHAG(idx []int, host string) bool {
	for _, i := range idx {
		if c.hags[i].set[host] {
			return true
		}
	}
	return false
}

// group returns the ASG a PV of group belongs to, or nil for the implicit
// DEFAULT group with no rules.
func (c *Config) group(name string) *asg {
	if g := c.findASG(name); g != nil {
		return g
	}
	return c.findASG(DefaultGroup)
}

func (c *Config) findASG(name string) *asg {
	for i := range c.asgs {
		if c.asgs[i].name == name {
			return &c.asgs[i]
		}
	}
	return nil
}

// Resolve returns the group a PV naming group is in: group itself if the
// configuration defines it, DEFAULT otherwise.
func (c *Config) Resolve(group string) string {
	if c != nil && c.findASG(group) != nil {
		return group
	}
	return DefaultGroup
}

// Groups returns the names of the access security groups, sorted,
// DEFAULT included (it always exists).
func (c *Config) Groups() []string {
	names := []string{DefaultGroup}
	if c != nil {
		for _, g := range c.asgs {
			if g.name != DefaultGroup {
				names = append(names, g.name)
			}
		}
	}
	sort.Strings(names)
	return names
}

// UAGs returns the user access groups, name to members, in a new map.
func (c *Config) UAGs() map[string][]string {
	m := map[string][]string{}
	if c != nil {
		for _, u := range c.uags {
			m[u.name] = append([]string(nil), u.users...)
		}
	}
	return m
}

// HAGs returns the host access groups, name to lower-cased host names, in
// a new map.
func (c *Config) HAGs() map[string][]string {
	m := map[string][]string{}
	if c != nil {
		for _, h := range c.hags {
			m[h.name] = append([]string(nil), h.hosts...)
		}
	}
	return m
}

// String formats c as an ACF that Parse reads back into an equivalent
// Config: UAGs, then HAGs, then ASGs, in the order they were defined.
func (c *Config) String() string {
	var b strings.Builder
	_, _ = c.WriteTo(&b)
	return b.String()
}

// WriteTo writes c as an ACF to w, as String formats it.
func (c *Config) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	if c != nil {
		for _, u := range c.uags {
			writeGroup(&b, "UAG", u.name, u.users)
		}
		for _, h := range c.hags {
			writeGroup(&b, "HAG", h.name, h.hosts)
		}
		for _, g := range c.asgs {
			fmt.Fprintf(&b, "ASG(%s)", quote(g.name))
			if len(g.rules) == 0 {
				b.WriteString("\n")
				continue
			}
			b.WriteString(" {\n")
			for _, ru := range g.rules {
				c.writeRule(&b, ru)
			}
			b.WriteString("}\n")
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func writeGroup(b *strings.Builder, kw, name string, members []string) {
	fmt.Fprintf(b, "%s(%s)", kw, quote(name))
	if len(members) > 0 {
		b.WriteString(" {")
		for i, m := range members {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(m))
		}
		b.WriteString("}")
	}
	b.WriteString("\n")
}

func (c *Config) writeRule(b *strings.Builder, ru rule) {
	access := map[Rights]string{None: "NONE", Read: "READ", ReadWrite: "WRITE"}[ru.access]
	fmt.Fprintf(b, "\tRULE(%d, %s", ru.level, access)
	if ru.trapWrite {
		b.WriteString(", TRAPWRITE")
	}
	b.WriteString(")")
	if len(ru.uags) == 0 && len(ru.hags) == 0 {
		b.WriteString("\n")
		return
	}
	b.WriteString(" {\n")
	if len(ru.uags) > 0 {
		names := make([]string, len(ru.uags))
		for i, k := range ru.uags {
			names[i] = quote(c.uags[k].name)
		}
		fmt.Fprintf(b, "\t\tUAG(%s)\n", strings.Join(names, ", "))
	}
	if len(ru.hags) > 0 {
		names := make([]string, len(ru.hags))
		for i, k := range ru.hags {
			names[i] = quote(c.hags[k].name)
		}
		fmt.Fprintf(b, "\t\tHAG(%s)\n", strings.Join(names, ", "))
	}
	b.WriteString("\t}\n")
}

// quote returns s as a bare ACF word if the lexer reads it back as a
// name, and in double quotes otherwise. s never holds a newline or an
// unescaped quote (it came from the lexer), so quoting keeps it as it is.
func quote(s string) string {
	if s != "" && wordKind(s) == tokName {
		return s
	}
	return `"` + s + `"`
}

// lower lower-cases ASCII letters only, as C's tolower in the C locale.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
