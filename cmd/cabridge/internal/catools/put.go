package catools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// PutOptions are caput's options.
type PutOptions struct {
	Common
	// Style is Plain, Terse (-t: print only the new value) or Wide (-l).
	Style GetStyle
	// Array puts an array (-a): the first value argument is a count, which
	// is ignored, and each further argument is one element.
	Array bool
	// Callback puts with completion (-c, WRITE_NOTIFY) and waits for it.
	Callback bool
	// EnumAsString refuses numbers for ENUM channels (-s); Format's
	// EnumAsNumber (-n) takes every value as an index.
	EnumAsString bool
}

const putUsage = `
Usage: cabridge put [options] <PV name> <PV value> ...
       cabridge put -a [options] <PV name> <no of values> <PV value> ...

  -h: Help: Print this message
Channel Access options:
  -w <sec>:  Wait time, specifies CA timeout, default is 1.000000 second(s)
  -c: Asynchronous put (use ca_put_callback and wait for completion)
  -p <prio>: CA priority (0-99, default 0=lowest)
Format options:
  -t: Terse mode - print only successfully written value, without name
  -l: Long mode "name timestamp value stat sevr" (read PVs as DBR_TIME_xxx)
Enum format:
  Default: Auto - try value as ENUM string, then as index number
  -n: Force interpretation of values as numbers
  -s: Force interpretation of values as strings
Arrays:
  Default: Put scalar
      Value format: all value arguments concatenated with spaces
  -S: Put string as an array of chars (long string)
  -a: Put array
      Value format: number of values, then list of values
Alternate output field separator:
  -F <ofs>: Use <ofs> as an alternate output field separator

The environment variables of libca apply (EPICS_CA_ADDR_LIST,
EPICS_CA_AUTO_ADDR_LIST, EPICS_CA_NAME_SERVERS, EPICS_CA_SERVER_PORT, ...);
EPICS_CLI_TIMEOUT sets the default of -w.

Example: cabridge put my_channel 1.2
  (puts 1.2 to my_channel)
`

// ParsePut parses caput's command line (without the command name) into
// options, the PV name and the value arguments. Options end at the PV
// name, so values may start with '-'. See ParseGet for lookup, stderr and
// ErrHelp.
func ParsePut(args []string, lookup func(string) (string, bool), stderr io.Writer) (PutOptions, string, []string, error) {
	const tool = "caput"
	if stderr == nil {
		stderr = io.Discard
	}
	o := PutOptions{Common: newCommon(tool, lookup, stderr)}
	opts, rest, err := getopt(tool, args, "cnlhatsS#:w:p:F:", false)
	if err != nil {
		return o, "", nil, err
	}
	for _, op := range opts {
		switch op.name {
		case 'h':
			io.WriteString(stderr, putUsage) //nolint:errcheck // best effort, like fprintf
			return o, "", nil, ErrHelp
		case 'n':
			o.Format.EnumAsNumber, o.EnumAsString = true, false
		case 's':
			o.Format.EnumAsNumber, o.EnumAsString = false, true
		case 'S':
			o.Format.CharAsString, o.Array = true, false
		case 'a':
			o.Array, o.Format.CharAsString = true, false
		case 't':
			o.Style = Terse
		case 'l':
			o.Style = Wide
		case 'c':
			o.Callback = true
		case '#':
			parseCount(tool, op.arg, stderr) // accepted and unused, as in caput
		default:
			o.apply(tool, op, stderr)
		}
	}
	switch len(rest) {
	case 0:
		return o, "", nil, &optError{tool, "no PV name specified"}
	case 1:
		return o, "", nil, &optError{tool, "no value specified"}
	}
	return o, rest[0], rest[1:], nil
}

// Put writes values to the PV name as caput does, printing the old and
// the new value to stdout (only the new one for Terse) and diagnostics
// to stderr. It returns an error wrapping ErrFailed if the PV did not
// connect, a value is invalid, the put was refused or failed (for a put
// without callback: if the server reported an error for it), or the
// context's error.
func Put(ctx context.Context, cfg client.Config, name string, values []string, o PutOptions, stdout, stderr io.Writer) error {
	if name == "" {
		return &optError{"caput", "no PV name specified"}
	}
	chs, h, done, err := open(ctx, cfg, o.Priority, []string{name}, o.Timeout, stderr)
	if err != nil {
		return err
	}
	defer done()
	ch := chs[0]
	if o.Array {
		if len(values) > 0 {
			values = values[1:] // the count: the number of arguments wins
		}
	} else {
		values = []string{strings.Join(values, " ")}
	}
	v, err := putValue(ctx, ch, values, &o, stderr)
	if err != nil {
		return err
	}
	show := func(label string) error {
		rs, err := readAll(ctx, chs, o.Timeout, stderr, "PV", func(native dbr.Type, n int) (dbr.Type, int) {
			return timeType(native, &o.Format, false), n
		})
		if err != nil {
			return err
		}
		var b strings.Builder
		if o.Style != Terse {
			b.WriteString(label)
		}
		if o.Style == Wide {
			r := &rs[0]
			if r.received {
				o.Format.wideLine(&b, &clock{}, &chanStamps{}, r.name, r.v, r.md, r.typ, 0, time.Now())
			} else {
				o.Format.wideProblem(&b, r.name, r.nElems, true, r.status, time.Now())
			}
		} else {
			o.Format.plainLine(&b, &rs[0], o.Style == Plain, 0)
		}
		_, err = io.WriteString(stdout, b.String())
		return err
	}
	if o.Style != Terse {
		if err := show("Old : "); err != nil {
			return err
		}
	}
	if o.Callback {
		wctx, cancel := withTimeout(ctx, o.Timeout)
		err := ch.PutWait(wctx, v)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			fmt.Fprintf(stderr, "Write callback operation timed out\n")
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			fmt.Fprintf(stderr, "Error occured writing data: %s\n", caMessage(err))
			return failed("put %s: %v", name, err)
		}
	} else if err := ch.Put(ctx, v); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(stderr, "Error from put operation: %s\n", caMessage(err))
		return failed("put %s: %v", name, err)
	}
	if o.Style != Terse {
		if err := show("New : "); err != nil {
			return err
		}
	} else if err := show(""); err != nil {
		return err
	}
	// A plain WRITE has no reply; the server's ERROR for it came before the
	// reply to the read above, on the same circuit.
	if errs := h.serverErrors(); len(errs) > 0 {
		fmt.Fprintf(stderr, "Error occured writing data: %s\n", errs[0])
		return failed("put %s: %s", name, errs[0])
	}
	return nil
}

// putValue converts the value arguments to what caput sends: for an ENUM
// channel state strings or (as DBR_DOUBLE) indices, for -S a CHAR array
// with its NUL, else DBR_STRING elements (escapes decoded, at most 39
// bytes each).
func putValue(ctx context.Context, ch *client.Channel, values []string, o *PutOptions, stderr io.Writer) (dbr.Value, error) {
	native, _ := ch.Native()
	if native == dbr.Enum {
		return enumValue(ctx, ch, values, o, stderr)
	}
	if o.Format.CharAsString {
		return append(dbr.Chars(unescape(values[0])), 0), nil
	}
	out := make(dbr.Strings, len(values))
	for i, s := range values {
		out[i] = truncate(unescape(s))
	}
	return out, nil
}

// truncate cuts s to the 39 bytes a DBR_STRING holds.
func truncate(s string) string {
	if len(s) >= dbr.MaxStringSize {
		return s[:dbr.MaxStringSize-1]
	}
	return s
}

func enumValue(ctx context.Context, ch *client.Channel, values []string, o *PutOptions, stderr io.Writer) (dbr.Value, error) {
	gctx, cancel := withTimeout(ctx, o.Timeout)
	_, md, err := ch.Get(gctx, dbr.GrEnum, 1)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fmt.Fprintf(stderr, "Read operation timed out: ENUM data was not read.\n")
		return nil, failed("read states of %s: %v", ch.Name(), err)
	}
	var states []string
	if md.Properties != nil {
		states = md.Properties.EnumStrings
	}
	strs := make(dbr.Strings, len(values))
	nums := make(dbr.Doubles, len(values))
	numeric := false
	for i, s := range values {
		if !o.Format.EnumAsNumber {
			s = truncate(unescape(s))
			strs[i] = s
			if j := index(states, s); j >= 0 {
				nums[i] = float64(j)
				continue
			}
		}
		f, err := dbr.ParseFloat(s)
		if err != nil || s == "" || (o.EnumAsString && !o.Format.EnumAsNumber) {
			if o.Format.EnumAsNumber {
				fmt.Fprintf(stderr, "Enum index value '%s' is not a number.\n", s)
			} else {
				fmt.Fprintf(stderr, "Enum string value '%s' invalid.\n", s)
			}
			return nil, failed("%s: invalid enum value %q", ch.Name(), s)
		}
		if f >= float64(len(states)) {
			fmt.Fprintf(stderr, "Warning: enum index value '%s' may be too large.\n", s)
		}
		nums[i], numeric = f, true
	}
	if numeric || o.Format.EnumAsNumber {
		return nums, nil
	}
	return strs, nil
}

func index(states []string, s string) int {
	for i, st := range states {
		if st == s {
			return i
		}
	}
	return -1
}
