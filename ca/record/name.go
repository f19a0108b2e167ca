package record

import (
	"fmt"
	"strings"
)

// Name is a channel name split as an IOC's dbChannel splits it.
type Name struct {
	Record string // the record name: everything before the first '.'
	Field  string // the field name; "VAL" when the name gives none
	Dollar bool   // the field is followed by "$"
}

// String joins n back into the canonical channel name "REC.FIELD" or
// "REC.FIELD$".
func (n Name) String() string {
	s := n.Record + "." + n.Field
	if n.Dollar {
		s += "$"
	}
	return s
}

// ParseName splits a channel name following the rules of dbChannelCreate
// and dbStaticLib: the record name runs up to the first '.'; no '.' means
// the VAL field; after the '.' comes an optional field name (a C identifier;
// none means VAL, so "REC." and "REC.$" name VAL), then an optional "$".
// Field names are returned as written: lookup is case-sensitive, as in an
// IOC. An array slice "[...]" or a JSON filter "{...}" after the field gives
// ErrNotSupported; anything else after the field gives ErrInvalidName, as
// does an empty record name.
func ParseName(pvname string) (Name, error) {
	rec, rest, dot := strings.Cut(pvname, ".")
	if rec == "" {
		return Name{}, fmt.Errorf("%w: %q: empty record name", ErrInvalidName, pvname)
	}
	n := Name{Record: rec, Field: "VAL"}
	if !dot {
		return n, nil
	}
	if l := identLen(rest); l > 0 {
		n.Field, rest = rest[:l], rest[l:]
	}
	if strings.HasPrefix(rest, "$") {
		n.Dollar, rest = true, rest[1:]
	}
	switch {
	case rest == "":
		return n, nil
	case rest[0] == '[' || rest[0] == '{':
		return Name{}, fmt.Errorf("%w: %q", ErrNotSupported, pvname)
	}
	return Name{}, fmt.Errorf("%w: %q: unexpected %q after the field", ErrInvalidName, pvname, rest)
}

// SplitName splits pvname into record and field names and the "$" flag, as
// ParseName does. A name ParseName rejects gives an empty record.
func SplitName(pvname string) (record, field string, dollar bool) {
	n, err := ParseName(pvname)
	if err != nil {
		return "", "", false
	}
	return n.Record, n.Field, n.Dollar
}

// identLen returns the length of the C identifier at the start of s
// (dbFindFieldPart: a letter or '_', then letters, digits or '_').
func identLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return i
		}
	}
	return len(s)
}
