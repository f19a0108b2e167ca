package catools

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/cabridge/cabridge/ca/client"
)

// InfoOptions are cainfo's options.
type InfoOptions struct {
	Common
}

const infoUsage = `
Usage: cabridge info [options] <PV name> ...

  -h: Help: Print this message
Channel Access options:
  -w <sec>:   Wait time, specifies CA timeout, default is 1.000000 second(s)
  -p <prio>:  CA priority (0-99, default 0=lowest)

The environment variables of libca apply (EPICS_CA_ADDR_LIST,
EPICS_CA_AUTO_ADDR_LIST, EPICS_CA_NAME_SERVERS, EPICS_CA_SERVER_PORT, ...);
EPICS_CLI_TIMEOUT sets the default of -w.

Example: cabridge info my_channel another_channel
`

// ParseInfo parses cainfo's command line (without the command name). See
// ParseGet for lookup, stderr and ErrHelp.
func ParseInfo(args []string, lookup func(string) (string, bool), stderr io.Writer) (InfoOptions, []string, error) {
	const tool = "cainfo"
	if stderr == nil {
		stderr = io.Discard
	}
	o := InfoOptions{Common: newCommon(tool, lookup, stderr)}
	opts, names, err := getopt(tool, args, "hw:p:", true)
	if err != nil {
		return o, nil, err
	}
	for _, op := range opts {
		if op.name == 'h' {
			io.WriteString(stderr, infoUsage) //nolint:errcheck // best effort, like fprintf
			return o, nil, ErrHelp
		}
		o.apply(tool, op, stderr)
	}
	if len(names) == 0 {
		return o, nil, &optError{tool, "no PV name specified"}
	}
	return o, names, nil
}

// Info connects the PVs names and prints cainfo's block for each: state,
// server host, access rights, native type and element count. It returns
// an error wrapping ErrFailed if a PV did not connect (then nothing is
// printed, as with cainfo).
func Info(ctx context.Context, cfg client.Config, names []string, o InfoOptions, stdout, stderr io.Writer) error {
	if len(names) == 0 {
		return &optError{"cainfo", "no PV name specified"}
	}
	chs, _, done, err := open(ctx, cfg, o.Priority, names, o.Timeout, stderr)
	if err != nil {
		return err
	}
	defer done()
	var b strings.Builder
	hosts := map[netip.AddrPort]string{}
	for _, ch := range chs {
		native, n := ch.Native()
		acc := ch.Access()
		no := func(ok bool) string {
			if ok {
				return ""
			}
			return "no "
		}
		state := "never connected"
		if ch.State() == client.StateConnected {
			state = "connected"
		}
		host := serverHost(ctx, ch, hosts)
		fmt.Fprintf(&b, "%s\n    State:            %s\n    Host:             %s\n    Access:           %sread, %swrite\n    Native data type: %s\n    Request type:     %s\n    Element count:    %d\n",
			ch.Name(), state, host, no(acc&client.AccessRead != 0), no(acc&client.AccessWrite != 0),
			fieldTypeText(native), native.WithFamily(0), n)
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}
