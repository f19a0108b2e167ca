package catools

import (
	"fmt"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// TimeKind selects how camonitor prints timestamps (-t r, i, I).
type TimeKind uint8

// The timestamp kinds.
const (
	Absolute             TimeKind = iota // the time of day
	Relative                             // seconds since the first update (server) or the start (client)
	Incremental                          // seconds since the previous update of any channel
	IncrementalByChannel                 // seconds since the previous update of the same channel
)

// Stamps selects the timestamps of wide lines (camonitor -t).
type Stamps struct {
	Kind TimeKind
	// NoServer drops the server's timestamp.
	NoServer bool
	// Client adds the client's time of arrival, in parentheses.
	Client bool
}

// clock is the timestamp state of one command (tool_lib's statics).
type clock struct {
	Stamps
	start        time.Time
	first        time.Time
	firstSet     bool
	prevS, prevC time.Time
}

// chanStamps is the per-channel timestamp state.
type chanStamps struct {
	printed      bool
	prevS, prevC time.Time
}

// wideLine formats one "name timestamp value stat sevr" line
// (print_time_val_sts) for a value of count elements read as t (a TIME
// type); reqElems is the -# count.
func (f *Format) wideLine(b *strings.Builder, ck *clock, cs *chanStamps, name string, v dbr.Value, md dbr.Metadata, t dbr.Type, reqElems int, now time.Time) {
	sep := f.sep()
	n := 0
	if v != nil {
		n = v.Len()
	}
	writeName(b, name, n, sep)
	if t.Family() != dbr.FamilyTime {
		b.WriteString("can't print data type\n")
		return
	}
	ts := md.Stamp.Time()
	printAbs := !cs.printed
	if !ck.firstSet {
		ck.first, ck.firstSet = ts, true
	}
	var refS, refC time.Time
	switch ck.Kind {
	case Relative:
		refC, refS = ck.start, ck.first
	case Incremental:
		refC, refS = ck.prevC, ck.prevS
	case IncrementalByChannel:
		refC, refS = cs.prevC, cs.prevS
	default:
		printAbs = true
	}
	if printAbs {
		if !ck.NoServer {
			b.WriteString(f.stamp(ts))
		}
		if ck.Client {
			b.WriteString("(" + f.stamp(now) + ")")
		}
		cs.printed = true
	} else {
		if !ck.NoServer {
			fmt.Fprintf(b, "              %+12.6f", ts.Sub(refS).Seconds())
		}
		if ck.Client {
			fmt.Fprintf(b, "              (%+12.6f)", now.Sub(refC).Seconds())
		}
	}
	if ck.Kind == IncrementalByChannel {
		cs.prevC, cs.prevS = now, ts
	}
	ck.prevC, ck.prevS = now, ts
	if f.CharAsString && t.Base() == dbr.Char && (reqElems > 0 || n > 1) {
		elems := n
		if reqElems > 0 && reqElems < n {
			elems = reqElems
		}
		b.WriteByte(sep)
		b.WriteString(charString(v, elems))
	} else {
		if reqElems > 0 || n > 1 {
			fmt.Fprintf(b, "%c%d", sep, n)
		}
		for i := range n {
			b.WriteByte(sep)
			b.WriteString(f.element(v, t, &md, i))
		}
	}
	if md.Status != 0 || md.Severity != 0 {
		fmt.Fprintf(b, "%c%s%c%s\n", sep, statusText(md.Status), sep, severityText(md.Severity))
	} else {
		fmt.Fprintf(b, "%c%c\n", sep, sep)
	}
}

// wideProblem formats the wide line of a channel that has no value:
// never connected, disconnected, or a failed read.
func (f *Format) wideProblem(b *strings.Builder, name string, n int, connected bool, status eca.Code, now time.Time) {
	writeName(b, name, n, f.sep())
	switch {
	case !connected:
		b.WriteString("*** Not connected (PV not found)\n")
	case status == eca.Disconn:
		b.WriteString(f.stamp(now) + " *** disconnected\n")
	case status == eca.NoRdAccess:
		b.WriteString(f.stamp(now) + " *** no read access\n")
	case status == eca.Timeout:
		b.WriteString(f.stamp(now) + " *** no data available (timeout)\n")
	default:
		b.WriteString(f.stamp(now) + " *** CA error " + caMessage(&eca.Error{Code: status}) + "\n")
	}
}

// writeName writes the PV name, padded to 30 columns for a scalar with
// the default separator, and the separator.
func writeName(b *strings.Builder, name string, n int, sep byte) {
	if n <= 1 && sep == ' ' {
		fmt.Fprintf(b, "%-30s", name)
	} else {
		b.WriteString(name)
	}
	b.WriteByte(sep)
}
