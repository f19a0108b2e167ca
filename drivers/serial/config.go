package serial

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// Defaults, those of StreamDevice where it has one.
const (
	DefaultBaud         = 9600
	DefaultReplyTimeout = time.Second            // StreamDevice ReplyTimeout
	DefaultReadTimeout  = 100 * time.Millisecond // StreamDevice ReadTimeout
	DefaultWriteTimeout = 100 * time.Millisecond // StreamDevice WriteTimeout
	DefaultLockTimeout  = 5 * time.Second        // StreamDevice LockTimeout
	DefaultLogInterval  = 10 * time.Second
	// MaxLine bounds one input line; longer input is dropped as garbage.
	MaxLine = 4096
)

// ExtraInput policies: what to do with input left after a reply matched.
const (
	ExtraError  = "error"  // a mismatch (StreamDevice's default)
	ExtraIgnore = "ignore" // ignored
)

// Config is the config section of a serial device: where the instrument
// is (Port, USBSerial or TCP: exactly one), the line settings, the
// protocol settings that every protocol inherits, the named protocols and
// an initialisation sequence.
type Config struct {
	// Port is the serial port's path, e.g. /dev/ttyUSB0.
	Port string `json:"port"`
	// USBSerial names a USB serial adapter by its USB serial number
	// instead of a path that changes on re-plug; see Ports.
	USBSerial string `json:"usb_serial"`
	// TCP is host:port of a serial-device server's raw TCP socket.
	TCP string `json:"tcp"`

	// Baud is the baud rate; default 9600.
	Baud int `json:"baud"`
	// DataBits is 5, 6, 7 or 8 (the default).
	DataBits int `json:"data_bits"`
	// Parity is none (the default), odd, even, mark or space.
	Parity string `json:"parity"`
	// StopBits is 1 (the default), 1.5 or 2.
	StopBits string `json:"stop_bits"`
	// FlowControl is none (the default) or rtscts: hardware flow
	// control, set through the tty's termios (Linux; go.bug.st/serial
	// has no setting for it). Not for tcp ports, where the serial-device
	// server does flow control.
	FlowControl string `json:"flow_control"`

	// Settings are the defaults of every protocol.
	Settings

	// InTerminator ends every input line (CR, LF, CRLF, ETX, NUL or
	// escaped bytes such as "\r\n"); empty means none: input then ends
	// when no byte came for ReadTimeout. It belongs to the port, as every
	// line, solicited or not, is split by it.
	InTerminator string `json:"in_terminator"`

	// Protocols are named protocols that points refer to by name.
	Protocols map[string]Protocol `json:"protocols"`
	// Init is sent, exchange by exchange, on every Open (so after every
	// reconnect too); a failing exchange fails the Open.
	Init []Exchange `json:"init"`
	// LogInterval is the shortest interval between two logs of a bad reply
	// of one point; default 10s.
	LogInterval drivers.Duration `json:"log_interval"`
}

// Settings are the protocol settings, with StreamDevice's names. Unset
// fields of a protocol take the device's.
type Settings struct {
	// OutTerminator is appended to every output (CR, LF, CRLF, ETX, NUL
	// or escaped bytes); empty means none.
	OutTerminator string `json:"out_terminator"`
	// ReplyTimeout is how long to wait for the first byte of a reply;
	// default 1s.
	ReplyTimeout drivers.Duration `json:"reply_timeout"`
	// ReadTimeout is the longest gap between two bytes of one line: a
	// partial line older than that is dropped as garbage (or, with no
	// InTerminator, is the whole line); default 100ms.
	ReadTimeout drivers.Duration `json:"read_timeout"`
	// WriteTimeout bounds the write of one output; default 100ms.
	WriteTimeout drivers.Duration `json:"write_timeout"`
	// LockTimeout bounds the wait for the port while other transactions
	// use it; default 5s.
	LockTimeout drivers.Duration `json:"lock_timeout"`
	// ExtraInput is error (the default) or ignore.
	ExtraInput string `json:"extra_input"`
	// Separator separates the elements of an array; default ",".
	Separator *string `json:"separator"`
	// Retries is how many times a read that timed out or did not match is
	// sent again; default 0. Writes are never retried.
	Retries int `json:"retries"`
}

// Protocol is a named protocol: a query (Out, then In parsed), a write
// (Write.Out with the value formatted in, then Write.In, if any, awaited)
// or both, and settings that override the device's. A protocol with In
// and no Out reads lines the instrument sends unasked: Subscribe delivers
// them, and Read waits for the next one.
type Protocol struct {
	// Out is the query sent to read; In the reply format, whose value
	// fields fill the points (see the field option).
	Out string `json:"out"`
	In  string `json:"in"`
	// Write is the exchange that writes a value; nil makes the protocol
	// read-only.
	Write *Exchange `json:"write"`
	Settings
}

// Exchange is one output and its expected reply; an empty In expects no
// reply.
type Exchange struct {
	Out string `json:"out"`
	In  string `json:"in"`
}

// Validate checks c without I/O and reports every problem, as
// drivers.ConfigErrors joined.
func (c *Config) Validate() error {
	var errs drivers.ConfigErrors
	n := 0
	for _, s := range []string{c.Port, c.USBSerial, c.TCP} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		errs.Add("port", nil, "want exactly one of port, usb_serial and tcp")
	}
	if c.Baud < 0 || c.Baud > 4000000 {
		errs.Add("baud", c.Baud, "out of range 1..4000000")
	}
	if c.DataBits != 0 && (c.DataBits < 5 || c.DataBits > 8) {
		errs.Add("data_bits", c.DataBits, "want 5, 6, 7 or 8")
	}
	if _, ok := parities[strings.ToLower(c.Parity)]; !ok {
		errs.Add("parity", c.Parity, "want none, odd, even, mark or space")
	}
	if _, ok := stopBits[c.StopBits]; !ok {
		errs.Add("stop_bits", c.StopBits, "want 1, 1.5 or 2")
	}
	switch strings.ToLower(c.FlowControl) {
	case "", "none":
	case "rtscts":
		switch {
		case !rtsctsSupported:
			errs.Add("flow_control", c.FlowControl, "RTS/CTS flow control is only supported on Linux")
		case c.TCP != "":
			errs.Add("flow_control", c.FlowControl, "a tcp port has no RTS/CTS lines; set flow control on the serial-device server")
		}
	default:
		errs.Add("flow_control", c.FlowControl, "want none or rtscts")
	}
	if _, err := ParseTerminator(c.InTerminator); err != nil {
		errs.Add("in_terminator", c.InTerminator, "%v", err)
	}
	c.validate(&errs, "")
	for _, name := range slices.Sorted(maps.Keys(c.Protocols)) {
		p := c.Protocols[name]
		path := fmt.Sprintf("protocols.%s", name)
		if name == "" || strings.ContainsAny(name, " \t") {
			errs.Add(path, name, "a protocol name is a non-empty word")
		}
		if _, err := compileProtocol(name, &p, &c.Settings); err != nil {
			errs.Add(path, nil, "%v", err)
		}
		p.validate(&errs, path+".")
	}
	for i, x := range c.Init {
		path := fmt.Sprintf("init[%d]", i)
		if x.Out == "" && x.In == "" {
			errs.Add(path, nil, "an init exchange needs out or in")
		}
		if _, err := compileExchange(x.Out, x.In, false); err != nil {
			errs.Add(path, nil, "%v", err)
		}
	}
	if c.LogInterval < 0 {
		errs.Add("log_interval", c.LogInterval, "must not be negative")
	}
	return errs.Err()
}

// validate adds the problems of s to errs, with key paths under prefix.
func (s *Settings) validate(errs *drivers.ConfigErrors, prefix string) {
	if _, err := ParseTerminator(s.OutTerminator); err != nil {
		errs.Add(prefix+"out_terminator", s.OutTerminator, "%v", err)
	}
	for _, d := range []struct {
		key string
		v   drivers.Duration
	}{{"reply_timeout", s.ReplyTimeout}, {"read_timeout", s.ReadTimeout}, {"write_timeout", s.WriteTimeout}, {"lock_timeout", s.LockTimeout}} {
		if d.v < 0 {
			errs.Add(prefix+d.key, d.v, "must not be negative")
		}
	}
	switch s.ExtraInput {
	case "", ExtraError, ExtraIgnore:
	default:
		errs.Add(prefix+"extra_input", s.ExtraInput, "want error or ignore")
	}
	if s.Retries < 0 || s.Retries > 10 {
		errs.Add(prefix+"retries", s.Retries, "out of range 0..10")
	}
}

//nolint:gochecknoglobals // read-only table of parity names
var parities = map[string]int{"": 0, "none": 0, "odd": 1, "even": 2, "mark": 3, "space": 4}

//nolint:gochecknoglobals // read-only table of stop bit names
var stopBits = map[string]int{"": 0, "1": 0, "1.5": 1, "2": 2}

// ParseTerminator parses a terminator: a name (CR, LF, CRLF or "CR LF",
// NUL, ETX, EOT) or bytes with backslash escapes ("\r\n", "\x03"). Empty
// means none.
func ParseTerminator(s string) ([]byte, error) {
	switch strings.ToUpper(strings.Join(strings.Fields(s), " ")) {
	case "":
		return nil, nil
	case "CR":
		return []byte{'\r'}, nil
	case "LF", "NL":
		return []byte{'\n'}, nil
	case "CRLF", "CR LF":
		return []byte{'\r', '\n'}, nil
	case "NUL":
		return []byte{0}, nil
	case "ETX":
		return []byte{3}, nil
	case "EOT":
		return []byte{4}, nil
	}
	f, err := ParseFormat(s)
	if err != nil {
		return nil, err
	}
	if len(f.items) != 1 || f.items[0].kind != convLiteral {
		return nil, fmt.Errorf("%w: a terminator has no conversions", errFormat)
	}
	return f.items[0].lit, nil
}

// resolved are the settings of one protocol with defaults applied.
type resolved struct {
	outTerm      []byte
	replyTimeout time.Duration
	readTimeout  time.Duration
	writeTimeout time.Duration
	lockTimeout  time.Duration
	ignoreExtra  bool
	sep          string
	retries      int
}

// resolve merges p over dev and applies the defaults.
func resolve(p, dev *Settings) resolved {
	pick := func(a, b drivers.Duration, def time.Duration) time.Duration {
		switch {
		case a > 0:
			return time.Duration(a)
		case b > 0:
			return time.Duration(b)
		}
		return def
	}
	r := resolved{
		replyTimeout: pick(p.ReplyTimeout, dev.ReplyTimeout, DefaultReplyTimeout),
		readTimeout:  pick(p.ReadTimeout, dev.ReadTimeout, DefaultReadTimeout),
		writeTimeout: pick(p.WriteTimeout, dev.WriteTimeout, DefaultWriteTimeout),
		lockTimeout:  pick(p.LockTimeout, dev.LockTimeout, DefaultLockTimeout),
		ignoreExtra:  cmpOr(p.ExtraInput, dev.ExtraInput) == ExtraIgnore,
		sep:          ",",
		retries:      dev.Retries,
	}
	if p.Retries > 0 {
		r.retries = p.Retries
	}
	term := cmpOr(p.OutTerminator, dev.OutTerminator)
	r.outTerm, _ = ParseTerminator(term)
	switch {
	case p.Separator != nil:
		r.sep = *p.Separator
	case dev.Separator != nil:
		r.sep = *dev.Separator
	}
	return r
}

// cmpOr returns a, or b when a is empty.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
