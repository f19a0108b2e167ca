package catools

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// MonitorOptions are camonitor's options.
type MonitorOptions struct {
	Common
	// Mask is the event mask (-m); 0 means VALUE|ALARM.
	Mask dbr.EventMask
	// Count is the number of elements to subscribe to (-#); 0 follows the
	// current length of the array.
	Count int
	// FloatAsString subscribes to FLOAT and DOUBLE channels as strings (-s).
	FloatAsString bool
	// Stamps selects the timestamps (-t).
	Stamps Stamps
}

const monitorUsage = `
Usage: cabridge monitor [options] <PV name> ...

  -h:       Help; Print this message
Channel Access options:
  -w <sec>: Wait time, specifies CA timeout, default is 1.000000 second(s)
  -m <msk>: Specify CA event mask to use.  <msk> is any combination of
            'v' (value), 'a' (alarm), 'l' (log/archive), 'p' (property).
            Default event mask is 'va'
  -p <pri>: CA priority (0-99, default 0=lowest)
Timestamps:
  Default:  Print absolute timestamps (as reported by CA server)
  -t <key>: Specify timestamp source(s) and type, with <key> containing
            's' = CA server (remote) timestamps
            'c' = CA client (local) timestamps (shown in '()'s)
            'n' = no timestamps
            'r' = relative timestamps (time elapsed since start of program)
            'i' = incremental timestamps (time elapsed since last update)
            'I' = incremental timestamps (time since last update, by channel)
            'r', 'i' or 'I' require 's' or 'c' to select the time source
Enum format:
  -n:       Print DBF_ENUM values as number (default is enum string)
Array values: Print number of elements, then list of values
  Default:  Request and print all elements (dynamic arrays supported)
  -# <num>: Request and print up to <num> elements
  -S:       Print arrays of char as a string (long string)
Floating point format:
  Default:  Use %g format
  -e <num>: Use %e format, with a precision of <num> digits
  -f <num>: Use %f format, with a precision of <num> digits
  -g <num>: Use %g format, with a precision of <num> digits
  -s:       Get value as string (honors server-side precision)
  -lx:      Round to long integer and print as hex number
  -lo:      Round to long integer and print as octal number
  -lb:      Round to long integer and print as binary number
Integer number format:
  Default:  Print as decimal number
  -0x:      Print as hex number
  -0o:      Print as octal number
  -0b:      Print as binary number
Alternate output field separator:
  -F <ofs>: Use <ofs> to separate fields in output

Runs until interrupted. The environment variables of libca apply
(EPICS_CA_ADDR_LIST, EPICS_CA_AUTO_ADDR_LIST, EPICS_CA_NAME_SERVERS, ...).

Example: cabridge monitor -f8 my_channel another_channel
  (doubles are printed as %f with precision of 8)
`

// ParseMonitor parses camonitor's command line (without the command
// name). See ParseGet for lookup, stderr and ErrHelp.
func ParseMonitor(args []string, lookup func(string) (string, bool), stderr io.Writer) (MonitorOptions, []string, error) {
	const tool = "camonitor"
	if stderr == nil {
		stderr = io.Discard
	}
	o := MonitorOptions{Common: newCommon(tool, lookup, stderr)}
	opts, names, err := getopt(tool, args, "nhm:sSe:f:g:l:#:0:w:t:p:F:", true)
	if err != nil {
		return o, nil, err
	}
	for _, op := range opts {
		switch op.name {
		case 'h':
			io.WriteString(stderr, monitorUsage) //nolint:errcheck // best effort, like fprintf
			return o, nil, ErrHelp
		case 's':
			o.FloatAsString = true
		case '#':
			o.Count = parseCount(tool, op.arg, stderr)
		case 'm':
			o.Mask = 0
			for _, c := range op.arg {
				switch c {
				case 'v':
					o.Mask |= dbr.EventValue
				case 'a':
					o.Mask |= dbr.EventAlarm
				case 'l':
					o.Mask |= dbr.EventLog
				case 'p':
					o.Mask |= dbr.EventProperty
				default:
					fmt.Fprintf(stderr, "Invalid argument '%s' for option '-m' - ignored.\n", op.arg)
					o.Mask = 0
				}
				if o.Mask == 0 {
					break
				}
			}
		case 't':
			o.Stamps = Stamps{NoServer: true}
			for _, c := range op.arg {
				switch c {
				case 's':
					o.Stamps.NoServer = false
				case 'c':
					o.Stamps.Client = true
				case 'n':
				case 'r':
					o.Stamps.Kind = Relative
				case 'i':
					o.Stamps.Kind = Incremental
				case 'I':
					o.Stamps.Kind = IncrementalByChannel
				default:
					fmt.Fprintf(stderr, "Invalid argument '%c' for option '-t' - ignored.\n", c)
				}
			}
		default:
			o.apply(tool, op, stderr)
		}
	}
	if len(names) == 0 {
		return o, nil, &optError{tool, "no PV name specified"}
	}
	return o, names, nil
}

// monitor is the state of one Monitor call; mu guards all of it and
// orders the lines.
type monitor struct {
	f      *Format
	count  int
	mu     sync.Mutex
	ck     clock
	pvs    []monPV
	lines  []string
	notify chan struct{} // capacity 1: lines were added
}

type monPV struct {
	name      string
	connected bool
	nElems    int
	stamps    chanStamps
}

// push queues a line for the writer; it never blocks. m.mu must be held.
func (m *monitor) push(s string) {
	m.lines = append(m.lines, s)
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// update formats a subscription update of PV i read as t.
func (m *monitor) update(i int, t dbr.Type, u client.Update) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	p := &m.pvs[i]
	var b strings.Builder
	switch {
	case u.Err == nil:
		p.nElems = u.Value.Len()
		m.f.wideLine(&b, &m.ck, &p.stamps, p.name, u.Value, u.Meta, t, m.count, now)
	case statusOf(u.Err) == eca.Disconn:
		m.f.wideProblem(&b, p.name, p.nElems, true, eca.Disconn, now)
	default:
		return // camonitor prints only good updates
	}
	m.push(b.String())
}

// write copies queued lines to w until ctx ends, then once more.
func (m *monitor) write(ctx context.Context, w io.Writer) {
	for {
		var done bool
		select {
		case <-m.notify:
		case <-ctx.Done():
			done = true
		}
		m.mu.Lock()
		lines := m.lines
		m.lines = nil
		m.mu.Unlock()
		if len(lines) > 0 {
			_, _ = io.WriteString(w, strings.Join(lines, ""))
		}
		if done {
			return
		}
	}
}

// Monitor subscribes to the PVs names and prints every update to stdout
// in camonitor's format ("name timestamp value stat sevr") until ctx
// ends, then returns nil. PVs not connected after the timeout get a "***
// Not connected (PV not found)" line and are still searched for; a lost
// channel gets a "*** disconnected" line and resumes by itself. Each
// update is formatted on the client's reader goroutine and written by a
// goroutine of Monitor's own, so a slow stdout never stalls the client.
func Monitor(ctx context.Context, cfg client.Config, names []string, o MonitorOptions, stdout, stderr io.Writer) error {
	if len(names) == 0 {
		return &optError{"camonitor", "no PV name specified"}
	}
	h := &errorLog{w: stderr}
	c, err := newClient(cfg, o.Priority, h)
	if err != nil {
		return err
	}
	mask := o.Mask
	if mask == 0 {
		mask = dbr.EventValue | dbr.EventAlarm
	}
	m := &monitor{f: &o.Format, count: o.Count, ck: clock{Stamps: o.Stamps, start: time.Now()}, notify: make(chan struct{}, 1)}
	for _, n := range names {
		m.pvs = append(m.pvs, monPV{name: n})
	}
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	var writer, watchers sync.WaitGroup
	writer.Go(func() { m.write(wctx, stdout) })
	for i, name := range names {
		watchers.Go(func() {
			ch, err := c.Connect(ctx, name)
			if err != nil {
				if ctx.Err() == nil {
					fmt.Fprintf(stderr, "CA error %s occurred while trying to create channel '%s'.\n", caMessage(err), name)
				}
				return
			}
			defer func() { _ = ch.Close() }()
			native, n := ch.Native()
			t := timeType(native, m.f, o.FloatAsString)
			count := o.Count
			if count > n {
				count = n
			}
			m.mu.Lock()
			m.pvs[i].connected = true
			m.mu.Unlock()
			sub, err := ch.Subscribe(t, count, mask, func(u client.Update) { m.update(i, t, u) })
			if err != nil {
				fmt.Fprintf(stderr, "CA error %s occurred while trying to subscribe to '%s'.\n", caMessage(err), name)
				return
			}
			<-ctx.Done()
			_ = sub.Cancel()
		})
	}
	if o.Timeout > 0 {
		timer := time.NewTimer(o.Timeout)
		select {
		case <-ctx.Done():
		case <-timer.C:
			now := time.Now()
			m.mu.Lock()
			for i := range m.pvs {
				if !m.pvs[i].connected {
					var b strings.Builder
					m.f.wideProblem(&b, m.pvs[i].name, 0, false, 0, now)
					m.push(b.String())
				}
			}
			m.mu.Unlock()
		}
		timer.Stop()
	}
	<-ctx.Done()
	watchers.Wait()
	_ = c.Close()
	stopWriter()
	writer.Wait()
	return nil
}
