package catools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// DefaultTimeout is the tools' CA timeout when neither -w nor
// EPICS_CLI_TIMEOUT sets one.
const DefaultTimeout = time.Second

// maxDigits is the largest precision -e, -f and -g accept.
const maxDigits = 18

// ErrFailed is returned (wrapped) when a command failed after printing
// its diagnostics to stderr, as the EPICS tools do before they exit 1.
var ErrFailed = errors.New("catools: failed")

// failure is an error wrapping ErrFailed with its own text.
type failure struct{ msg string }

// Error returns the message.
func (e *failure) Error() string { return e.msg }

// Is makes errors.Is(err, ErrFailed) true.
func (e *failure) Is(target error) bool { return target == ErrFailed }

func failed(format string, args ...any) error {
	return &failure{msg: fmt.Sprintf(format, args...)}
}

// Common holds the options every tool shares.
type Common struct {
	// Timeout is the CA timeout (-w, EPICS_CLI_TIMEOUT): how long to wait
	// for channels to connect and for each round of replies. 0 waits
	// forever.
	Timeout time.Duration
	// Priority is the CA priority 0..99 (-p).
	Priority uint16
	// Format is how values are printed.
	Format Format
}

// newCommon returns the defaults: the timeout from EPICS_CLI_TIMEOUT if
// lookup has a valid one, else DefaultTimeout.
func newCommon(tool string, lookup func(string) (string, bool), stderr io.Writer) Common {
	c := Common{Timeout: DefaultTimeout}
	if lookup == nil {
		return c
	}
	if s, ok := lookup("EPICS_CLI_TIMEOUT"); ok {
		if d, ok := parseSeconds(s); ok {
			c.Timeout = d
		} else {
			fmt.Fprintf(stderr, "'%s' is not a valid timeout value (from 'EPICS_CLI_TIMEOUT' in the environment) - ignored. (use '-h' for help.)\n", s)
		}
	}
	return c
}

func parseSeconds(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// apply handles an option the tools share; it reports false for an option
// that is not one of them. Invalid arguments are reported on stderr and
// ignored, as EPICS base does.
func (c *Common) apply(tool string, o option, stderr io.Writer) bool {
	f := &c.Format
	switch o.name {
	case 'w':
		if d, ok := parseSeconds(o.arg); ok {
			c.Timeout = d
		} else {
			fmt.Fprintf(stderr, "'%s' is not a valid timeout value - ignored, using '%.1f'. ('%s -h' for help.)\n", o.arg, c.Timeout.Seconds(), tool)
		}
	case 'p':
		n, err := strconv.ParseUint(o.arg, 10, 32)
		if err != nil {
			fmt.Fprintf(stderr, "'%s' is not a valid CA priority - ignored. ('%s -h' for help.)\n", o.arg, tool)
			n = 0
		}
		c.Priority = uint16(min(n, 99))
	case 'n':
		f.EnumAsNumber = true
	case 'S':
		f.CharAsString = true
	case 'F':
		if o.arg != "" {
			f.Separator = o.arg[0]
		}
	case 'e', 'f', 'g':
		n, err := strconv.Atoi(leadingInt(o.arg))
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "Invalid precision argument '%s' for option '-%c' - ignored.\n", o.arg, o.name)
		case n < 0 || n > maxDigits:
			fmt.Fprintf(stderr, "Precision %d for option '-%c' out of range - ignored.\n", n, o.name)
		default:
			f.Float = FloatFormat{Verb: o.name, Precision: n}
		}
	case 'l', '0':
		var b Base
		switch (o.arg + " ")[0] {
		case 'x':
			b = Hex
		case 'o':
			b = Octal
		case 'b':
			b = Binary
		default:
			fmt.Fprintf(stderr, "Invalid argument '%s' for option '-%c' - ignored.\n", o.arg, o.name)
			return true
		}
		if o.name == '0' {
			f.IntBase = b
		} else {
			f.FloatBase = b
		}
	default:
		return false
	}
	return true
}

// leadingInt returns the optional sign and digits s starts with, as
// sscanf("%d") reads them.
func leadingInt(s string) string {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return s
	}
	return s[:j]
}

// parseCount reads a -# argument: a count, or 0 (all) with a warning.
func parseCount(tool, arg string, stderr io.Writer) int {
	n, err := strconv.Atoi(leadingInt(arg))
	if err != nil {
		fmt.Fprintf(stderr, "'%s' is not a valid array element count - ignored. ('%s -h' for help.)\n", arg, tool)
		return 0
	}
	return max(n, 0)
}

// withTimeout returns ctx limited to d, or ctx itself for d == 0.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// newClient starts a client for cfg with priority p and a logger that
// prints the server's complaints to stderr, as libca prints exceptions.
func newClient(cfg client.Config, p uint16, h *errorLog) (*client.Client, error) {
	cfg.Priority = p
	cfg.Logger = h.logger()
	cfg.OnServerError = h.serverError
	c, err := client.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("channel access: %w", err)
	}
	return c, nil
}

// connect connects names within timeout. If some do not connect it prints
// the EPICS tools' message and returns an error.
func connect(ctx context.Context, c *client.Client, names []string, timeout time.Duration, stderr io.Writer) ([]*client.Channel, error) {
	cctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	chs, err := c.ConnectMany(cctx, names)
	if err == nil {
		return chs, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var ee *eca.Error
	if !errors.Is(err, context.DeadlineExceeded) && errors.As(err, &ee) {
		for i, name := range names {
			if chs == nil || chs[i] == nil {
				fmt.Fprintf(stderr, "CA error %s occurred while trying to create channel '%s'.\n", caMessage(err), name)
			}
		}
		return nil, failed("create channels: %v", err)
	}
	if len(names) > 1 {
		fmt.Fprintf(stderr, "Channel connect timed out: some PV(s) not found.\n")
	} else {
		fmt.Fprintf(stderr, "Channel connect timed out: '%s' not found.\n", names[0])
	}
	var missing []string
	for i, ch := range chs {
		if ch == nil {
			missing = append(missing, names[i])
		}
	}
	if chs == nil {
		missing = names
	}
	return nil, failed("channel connect timed out: not found: %s", strings.Join(missing, " "))
}

// open starts a client for cfg at priority p, whose complaints go to
// stderr through the returned errorLog, and connects names within
// timeout. done closes the channels and the client; it is nil when open
// fails (nothing is left open then).
func open(ctx context.Context, cfg client.Config, p uint16, names []string, timeout time.Duration, stderr io.Writer) (
	chs []*client.Channel, h *errorLog, done func(), err error) {
	h = &errorLog{w: stderr}
	c, err := newClient(cfg, p, h)
	if err != nil {
		return nil, nil, nil, err
	}
	chs, err = connect(ctx, c, names, timeout, stderr)
	if err != nil {
		_ = c.Close()
		return nil, nil, nil, err
	}
	return chs, h, func() { closeAll(chs); _ = c.Close() }, nil
}

// closeAll closes the channels.
func closeAll(chs []*client.Channel) {
	for _, ch := range chs {
		if ch != nil {
			_ = ch.Close()
		}
	}
}

// timeType returns DBR_TIME_<native>, with an ENUM read as TIME_STRING or,
// with -n, TIME_SHORT, and FLOAT/DOUBLE as TIME_STRING if floatAsString.
func timeType(native dbr.Type, f *Format, floatAsString bool) dbr.Type {
	t := native.WithFamily(dbr.FamilyTime)
	switch native.Base() {
	case dbr.Enum:
		if f.EnumAsNumber {
			return dbr.TimeShort
		}
		return dbr.TimeString
	case dbr.Float, dbr.Double:
		if floatAsString {
			return dbr.TimeString
		}
	}
	return t
}
