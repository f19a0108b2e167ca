package catools

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// ErrHelp is returned by the Parse functions for -h, after the usage was
// printed.
var ErrHelp = flag.ErrHelp

// GetStyle is caget's output format.
type GetStyle uint8

// The get output formats.
const (
	Plain GetStyle = iota // "name value"
	Terse                 // -t: the value only
	Wide                  // -a: "name timestamp value stat sevr"
	Typed                 // -d: a block per PV with the requested DBR type's metadata
)

// GetOptions are caget's options.
type GetOptions struct {
	Common
	// Style is the output format.
	Style GetStyle
	// Type is the DBR type requested with -d (Style Typed).
	Type dbr.Type
	// Count is the number of elements to read (-#); 0 reads them all.
	Count int
	// Callback reads with ca_get_callback semantics (-c): a count of 0
	// reads the current length of a variable-length array.
	Callback bool
	// FloatAsString reads FLOAT and DOUBLE channels as strings, formatted
	// by the server with the PV's precision (-s).
	FloatAsString bool
}

const getUsage = `
Usage: cabridge get [options] <PV name> ...

  -h: Help: Print this message
Channel Access options:
  -w <sec>: Wait time, specifies CA timeout, default is 1.000000 second(s)
  -c: Asynchronous get (use ca_get_callback and wait for completion)
  -p <prio>: CA priority (0-99, default 0=lowest)
Format options:
      Default output format is "name value"
  -t: Terse mode - print only value, without name
  -a: Wide mode "name timestamp value stat sevr" (read PVs as DBR_TIME_xxx)
  -d <type>: Request specific dbr type; use string (DBR_ prefix may be omitted)
      or number of one of the types DBR_STRING (0) .. DBR_CTRL_DOUBLE (34),
      DBR_STSACK_STRING (37), DBR_CLASS_NAME (38)
Enum format:
  -n: Print DBF_ENUM value as number (default is enum string)
Arrays: Value format: print number of requested values, then list of values
  Default:    Print all values
  -# <count>: Print first <count> elements of an array
  -S:         Print array of char as a string (long string)
Floating point type format:
  Default: Use %g format
  -e <nr>: Use %e format, with a precision of <nr> digits
  -f <nr>: Use %f format, with a precision of <nr> digits
  -g <nr>: Use %g format, with a precision of <nr> digits
  -s:      Get value as string (honors server-side precision)
  -lx:     Round to long integer and print as hex number
  -lo:     Round to long integer and print as octal number
  -lb:     Round to long integer and print as binary number
Integer number format:
  Default: Print as decimal number
  -0x: Print as hex number
  -0o: Print as octal number
  -0b: Print as binary number
Alternate output field separator:
  -F <ofs>: Use <ofs> as an alternate output field separator

The environment variables of libca apply (EPICS_CA_ADDR_LIST,
EPICS_CA_AUTO_ADDR_LIST, EPICS_CA_NAME_SERVERS, EPICS_CA_SERVER_PORT, ...);
EPICS_CLI_TIMEOUT sets the default of -w.

Example: cabridge get -a -f8 my_channel another_channel
  (uses wide output format, doubles are printed as %f with precision of 8)
`

// ParseGet parses caget's command line (without the command name) into
// options and PV names. lookup (os.LookupEnv; may be nil) supplies
// EPICS_CLI_TIMEOUT; warnings about ignored arguments go to stderr (nil
// discards them). For -h it prints the
// usage to stderr and returns ErrHelp.
func ParseGet(args []string, lookup func(string) (string, bool), stderr io.Writer) (GetOptions, []string, error) {
	const tool = "caget"
	if stderr == nil {
		stderr = io.Discard
	}
	o := GetOptions{Common: newCommon(tool, lookup, stderr)}
	opts, names, err := getopt(tool, args, "tacnhsSe:f:g:l:#:d:0:w:p:F:", true)
	if err != nil {
		return o, nil, err
	}
	style := func(s GetStyle) {
		if o.Style != Plain {
			fmt.Fprintf(stderr, "Options t,d,a are mutually exclusive. ('%s -h' for help.)\n", tool)
		}
		o.Style = s
	}
	for _, op := range opts {
		switch op.name {
		case 'h':
			io.WriteString(stderr, getUsage) //nolint:errcheck // best effort, like fprintf
			return o, nil, ErrHelp
		case 't':
			style(Terse)
		case 'a':
			style(Wide)
		case 'c':
			o.Callback = true
		case 's':
			o.FloatAsString = true
		case 'd':
			style(Typed)
			t, ok := ParseType(op.arg)
			if !ok {
				fmt.Fprintf(stderr, "Requested dbr type out of range or invalid - ignored. ('%s -h' for help.)\n", tool)
				o.Style = Plain
			}
			o.Type = t
		case '#':
			o.Count = parseCount(tool, op.arg, stderr)
		default:
			o.apply(tool, op, stderr)
		}
	}
	if len(names) == 0 {
		return o, nil, &optError{tool, "no PV name specified"}
	}
	return o, names, nil
}

// ParseType reads a DBR type as caget's -d does: a number, or a name
// with or without the "DBR_" prefix (any letter case; "INT" is "SHORT").
// DBR_PUT_ACKT and DBR_PUT_ACKS, which cannot be read, are refused.
func ParseType(s string) (dbr.Type, bool) {
	var t dbr.Type
	if n := leadingInt(s); n != s || (s != "" && s[0] >= '0' && s[0] <= '9') {
		var code int
		if _, err := fmt.Sscan(n, &code); err != nil || code < 0 || code > int(dbr.LastType) {
			return 0, false
		}
		t = dbr.Type(code)
	} else {
		name := strings.ToUpper(s)
		if strings.HasSuffix(name, "INT") {
			name = strings.TrimSuffix(name, "INT") + "SHORT"
		}
		var err error
		if t, err = dbr.ParseType(name); err != nil {
			return 0, false
		}
	}
	if t == dbr.PutAckT || t == dbr.PutAckS {
		return 0, false
	}
	return t, true
}

// reading is the outcome of one read.
type reading struct {
	name     string
	native   dbr.Type
	nElems   int      // elements requested, or received once done
	typ      dbr.Type // requested type
	v        dbr.Value
	md       dbr.Metadata
	status   eca.Code
	received bool
}

// readAll reads every channel with the type and count that pick returns
// for its native type and count, waiting up to timeout for the replies
// (forever for 0). It reports a timeout as caget does.
func readAll(ctx context.Context, chs []*client.Channel, timeout time.Duration, stderr io.Writer, what string, pick func(native dbr.Type, nElems int) (dbr.Type, int)) ([]reading, error) {
	type reply struct {
		i   int
		v   dbr.Value
		md  dbr.Metadata
		err error
	}
	rs := make([]reading, len(chs))
	replies := make(chan reply, len(chs))
	pending := 0
	for i, ch := range chs {
		native, n := ch.Native()
		t, count := pick(native, n)
		rs[i] = reading{name: ch.Name(), native: native, typ: t, nElems: count, status: eca.Timeout}
		err := ch.GetAsync(t, count, func(v dbr.Value, md dbr.Metadata, err error) {
			replies <- reply{i, v, md, err}
		})
		if err != nil {
			rs[i].status = statusOf(err)
			continue
		}
		pending++
	}
	wctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	for pending > 0 {
		select {
		case r := <-replies:
			pending--
			rd := &rs[r.i]
			rd.status = statusOf(r.err)
			if r.err == nil {
				rd.v, rd.md, rd.received = r.v, r.md, true
				rd.nElems = r.v.Len()
			}
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fmt.Fprintf(stderr, "Read operation timed out: %s data was not read.\n", what)
			return rs, nil
		}
	}
	return rs, nil
}

// Get reads the PVs names with a client configured by cfg (usually
// client.ConfigFromEnv) and prints them to stdout as caget does;
// diagnostics go to stderr. It returns an error wrapping ErrFailed if a
// PV did not connect (then nothing is printed, as with caget), or the
// context's error if ctx ended first.
func Get(ctx context.Context, cfg client.Config, names []string, o GetOptions, stdout, stderr io.Writer) error {
	if len(names) == 0 {
		return &optError{"caget", "no PV name specified"}
	}
	chs, _, done, err := open(ctx, cfg, o.Priority, names, o.Timeout, stderr)
	if err != nil {
		return err
	}
	defer done()
	f := &o.Format
	rs, err := readAll(ctx, chs, o.Timeout, stderr, "some PV", func(native dbr.Type, n int) (dbr.Type, int) {
		t := o.Type
		if o.Style != Typed {
			t = timeType(native, f, o.FloatAsString)
		}
		if o.Callback {
			return t, min(o.Count, n)
		}
		if o.Count > 0 && o.Count < n {
			return t, o.Count
		}
		return t, n
	})
	if err != nil {
		return err
	}
	var b strings.Builder
	ck := &clock{start: time.Now()}
	for i := range rs {
		r := &rs[i]
		switch o.Style {
		case Plain, Terse:
			f.plainLine(&b, r, o.Style == Plain, o.Count)
		case Wide:
			if r.received {
				f.wideLine(&b, ck, &chanStamps{}, r.name, r.v, r.md, r.typ, o.Count, time.Now())
			} else {
				f.wideProblem(&b, r.name, r.nElems, true, r.status, time.Now())
			}
		case Typed:
			f.typedBlock(&b, r, o.Count)
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// plainLine formats caget's default and terse lines.
func (f *Format) plainLine(b *strings.Builder, r *reading, withName bool, reqElems int) {
	sep := f.sep()
	if withName {
		writeName(b, r.name, r.nElems, sep)
	}
	if !r.received {
		b.WriteString(problem(r.status) + "\n")
		return
	}
	f.values(b, r, reqElems)
	b.WriteByte('\n')
}

// values writes the value of r: an escaped string for -S, else the count
// (for arrays and -#) and the elements.
func (f *Format) values(b *strings.Builder, r *reading, reqElems int) {
	sep := f.sep()
	if f.CharAsString && r.typ.Base() == dbr.Char && (reqElems > 0 || r.nElems > 1) {
		b.WriteString(charString(r.v, r.nElems))
		return
	}
	if reqElems > 0 || r.nElems > 1 {
		fmt.Fprintf(b, "%d%c", r.nElems, sep)
	}
	for i := range r.nElems {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(f.element(r.v, r.typ, &r.md, i))
	}
}

// problem is caget's text for a read that gave no value.
func problem(s eca.Code) string {
	switch s {
	case eca.Disconn:
		return "*** not connected"
	case eca.NoRdAccess:
		return "*** no read access"
	case eca.Timeout:
		return "*** no data available (timeout)"
	}
	return "*** CA error " + caMessage(&eca.Error{Code: s})
}

// typedBlock formats caget -d's block for one PV.
func (f *Format) typedBlock(b *strings.Builder, r *reading, reqElems int) {
	b.WriteString(r.name + "\n")
	if !r.received {
		b.WriteString("    " + problem(r.status) + "\n")
		return
	}
	fmt.Fprintf(b, "    Native data type: %s\n", fieldTypeText(r.native))
	fmt.Fprintf(b, "    Request type:     %s\n", r.typ)
	if r.typ == dbr.ClassName {
		name := ""
		if s, ok := r.v.(dbr.Strings); ok && len(s) > 0 {
			name = s[0]
		}
		fmt.Fprintf(b, "    Class Name:       %s\n", name)
		return
	}
	fmt.Fprintf(b, "    Element count:    %d\n    Value:            ", r.nElems)
	if f.CharAsString && r.typ.Base() == dbr.Char && (reqElems > 0 || r.nElems > 1) {
		b.WriteString(charString(r.v, r.nElems))
	} else {
		for i := range r.nElems {
			if i > 0 {
				b.WriteByte(f.sep())
			}
			b.WriteString(f.element(r.v, r.typ, &r.md, i))
		}
	}
	b.WriteByte('\n')
	if r.typ > dbr.Double {
		b.WriteString(f.metadata(r.typ, &r.md))
		b.WriteByte('\n')
	}
}

// metadata formats what a DBR type carries besides the value, as
// tool_lib's dbr2str does.
func (f *Format) metadata(t dbr.Type, md *dbr.Metadata) string {
	var b strings.Builder
	sts := func() {
		fmt.Fprintf(&b, "    Status:           %s\n    Severity:         %s", statusText(md.Status), severityText(md.Severity))
	}
	p := md.Properties
	if p == nil {
		p = &dbr.Properties{}
	}
	if t == dbr.StsAckString {
		sts()
		ack := "NO"
		if md.AckT {
			ack = "YES"
		}
		fmt.Fprintf(&b, "\n    Ack transient?:   %s\n    Ack severity:     %s", ack, severityText(md.AckS))
		return b.String()
	}
	fam, base := t.Family(), t.Base()
	switch {
	case fam == dbr.FamilySts || (base == dbr.String && (fam == dbr.FamilyGr || fam == dbr.FamilyCtrl)):
		sts()
	case fam == dbr.FamilyTime:
		fmt.Fprintf(&b, "    Timestamp:        %s\n", f.stamp(md.Stamp.Time()))
		sts()
	case base == dbr.Enum:
		sts()
		fmt.Fprintf(&b, "\n    Enums:            (%2d)", len(p.EnumStrings))
		for i, s := range p.EnumStrings {
			fmt.Fprintf(&b, "\n                      [%2d] %s", i, s)
		}
	case fam == dbr.FamilyGr || fam == dbr.FamilyCtrl:
		sts()
		fmt.Fprintf(&b, "\n    Units:            %s", p.Units)
		num := func(x float64) string {
			switch base {
			case dbr.Char:
				return fmt.Sprintf("%8d", int8(uint8(toInt(x))))
			case dbr.Short:
				return fmt.Sprintf("%8d", int16(toInt(x)))
			case dbr.Long:
				return fmt.Sprintf("%8d", int32(toInt(x)))
			case dbr.Float:
				return cFloat(float64(float32(x)), 'g', 6)
			}
			return cFloat(x, 'g', 6)
		}
		if base == dbr.Float || base == dbr.Double {
			fmt.Fprintf(&b, "\n    Precision:        %d", p.Precision)
		}
		l := p.Limits
		fmt.Fprintf(&b, "\n    Lo disp limit:    %s\n    Hi disp limit:    %s\n    Lo alarm limit:   %s\n    Lo warn limit:    %s\n    Hi warn limit:    %s\n    Hi alarm limit:   %s",
			num(l.DisplayLow), num(l.DisplayHigh), num(l.AlarmLow), num(l.WarningLow), num(l.WarningHigh), num(l.AlarmHigh))
		if fam == dbr.FamilyCtrl {
			fmt.Fprintf(&b, "\n    Lo ctrl limit:    %s\n    Hi ctrl limit:    %s", num(l.ControlLow), num(l.ControlHigh))
		}
	default:
		return "can't print data type"
	}
	return b.String()
}

// toInt converts a limit that travelled as an integer back to one; NaN
// and infinities give 0.
func toInt(x float64) int64 {
	if x != x || x > 1<<62 || x < -(1<<62) {
		return 0
	}
	return int64(x)
}
