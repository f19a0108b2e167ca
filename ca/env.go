package ca

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the network configuration of a Server. Zero fields mean the
// EPICS defaults, except where a field says otherwise. ConfigFromEnv
// builds a Config from the EPICS_CAS_* environment variables as rsrv reads
// them.
type Config struct {
	// Interfaces are the local IPv4 addresses to serve on
	// (EPICS_CAS_INTF_ADDR_LIST). Empty means all interfaces (0.0.0.0).
	Interfaces []netip.Addr
	// Port is the UDP search port and the preferred TCP port
	// (EPICS_CAS_SERVER_PORT). 0 means 5064; a negative value means a port
	// chosen by the operating system (tests). If the TCP port is busy the
	// server takes an OS-chosen TCP port and advertises it.
	Port int
	// IgnoreAddrs are source addresses whose search datagrams are dropped
	// (EPICS_CAS_IGNORE_ADDR_LIST).
	IgnoreAddrs []netip.Addr
	// BeaconAddrs are beacon destinations (EPICS_CAS_BEACON_ADDR_LIST). A
	// zero port means BeaconPort.
	BeaconAddrs []netip.AddrPort
	// AutoBeaconAddrs adds the broadcast address of every up interface
	// (only of Interfaces when that is set) to the beacon destinations
	// (EPICS_CAS_AUTO_BEACON_ADDR_LIST). It is false in the zero Config;
	// ConfigFromEnv sets it as rsrv does (true unless the variable says
	// otherwise).
	AutoBeaconAddrs bool
	// BeaconPeriod is the largest gap between beacons
	// (EPICS_CAS_BEACON_PERIOD). 0 means 15 s.
	BeaconPeriod time.Duration
	// BeaconPort is the default beacon destination port
	// (EPICS_CAS_BEACON_PORT). 0 means 5065.
	BeaconPort int
	// MaxArrayBytes limits the size of messages (EPICS_CA_MAX_ARRAY_BYTES
	// when EPICS_CA_AUTO_ARRAY_BYTES is not YES): the largest message is
	// MaxArrayBytes+24 bytes, at least 16384. Larger requests get ERROR
	// ECA_TOLARGE, larger replies the status ECA_TOLARGE. 0 means no limit.
	MaxArrayBytes int
	// WriteTimeout is how long a write to a client may block before the
	// server drops the circuit. 0 means 10 s.
	WriteTimeout time.Duration
	// MaxOutputBytes bounds the replies queued for one client that does
	// not read them; past it (plus one message) the circuit is dropped. 0
	// means 16 MiB.
	MaxOutputBytes int
}

// EPICS defaults.
const (
	defaultServerPort     = 5064
	defaultRepeaterPort   = 5065
	defaultBeaconPeriod   = 15 * time.Second
	defaultMaxArrayBytes  = 16384
	defaultWriteTimeout   = 10 * time.Second
	defaultMaxOutputBytes = 16 << 20
)

// ConfigFromEnv reads the server's EPICS environment variables through
// lookup (nil means os.LookupEnv), with rsrv's fallbacks and defaults:
//
//   - EPICS_CAS_SERVER_PORT, else EPICS_CA_SERVER_PORT, else 5064;
//   - EPICS_CAS_INTF_ADDR_LIST: IPv4 addresses (ports ignored); 0.0.0.0
//     may not be combined with others;
//   - EPICS_CAS_IGNORE_ADDR_LIST: IPv4 addresses (ports ignored);
//   - EPICS_CAS_BEACON_ADDR_LIST: IPv4 address[:port] entries;
//   - EPICS_CAS_AUTO_BEACON_ADDR_LIST: YES unless set to something else;
//   - EPICS_CAS_BEACON_PERIOD, else EPICS_CA_BEACON_PERIOD, else 15
//     seconds (a value ≤ 0 means 15);
//   - EPICS_CAS_BEACON_PORT, else EPICS_CA_REPEATER_PORT, else 5065;
//   - EPICS_CA_AUTO_ARRAY_BYTES (YES by default) and
//     EPICS_CA_MAX_ARRAY_BYTES (16384 by default, used only when
//     EPICS_CA_AUTO_ARRAY_BYTES is not YES).
//
// As in EPICS, a variable set to the empty string counts as unset, and a
// boolean is true only for "YES" in any letter case. List entries are
// separated by white space; host names are resolved to their first IPv4
// address. An unparsable
// value is an error naming the variable and the value; all such errors are
// joined.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(names ...string) (string, string) {
		for _, n := range names {
			if v, ok := lookup(n); ok && strings.TrimSpace(v) != "" {
				return n, strings.TrimSpace(v)
			}
		}
		return "", ""
	}
	var errs []error
	bad := func(name, val, why string) {
		errs = append(errs, fmt.Errorf("ca: %s=%q: %s", name, val, why))
	}
	port := func(dflt int, names ...string) int {
		name, v := get(names...)
		if name == "" {
			return dflt
		}
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			bad(name, v, "not a port number 1..65535")
			return dflt
		}
		return p
	}
	var c Config
	c.Port = port(defaultServerPort, "EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT")
	c.BeaconPort = port(defaultRepeaterPort, "EPICS_CAS_BEACON_PORT", "EPICS_CA_REPEATER_PORT")

	if name, v := get("EPICS_CAS_INTF_ADDR_LIST"); name != "" {
		addrs, err := parseAddrList(v, 0)
		if err != nil {
			bad(name, v, err.Error())
		}
		for _, ap := range addrs {
			a := ap.Addr()
			switch {
			case a.IsMulticast():
				bad(name, v, fmt.Sprintf("multicast address %v is not supported", a))
			case a.IsUnspecified() && len(addrs) > 1:
				bad(name, v, "0.0.0.0 may not be combined with other addresses")
			default:
				c.Interfaces = append(c.Interfaces, a)
			}
		}
		if len(c.Interfaces) == 1 && c.Interfaces[0].IsUnspecified() {
			c.Interfaces = nil
		}
	}
	if name, v := get("EPICS_CAS_IGNORE_ADDR_LIST"); name != "" {
		addrs, err := parseAddrList(v, 0)
		if err != nil {
			bad(name, v, err.Error())
		}
		for _, ap := range addrs {
			c.IgnoreAddrs = append(c.IgnoreAddrs, ap.Addr())
		}
	}
	if name, v := get("EPICS_CAS_BEACON_ADDR_LIST"); name != "" {
		addrs, err := parseAddrList(v, uint16(c.BeaconPort))
		if err != nil {
			bad(name, v, err.Error())
		}
		c.BeaconAddrs = addrs
	}
	c.AutoBeaconAddrs = true
	if name, v := get("EPICS_CAS_AUTO_BEACON_ADDR_LIST"); name != "" {
		c.AutoBeaconAddrs = isYes(v)
	}
	c.BeaconPeriod = defaultBeaconPeriod
	if name, v := get("EPICS_CAS_BEACON_PERIOD", "EPICS_CA_BEACON_PERIOD"); name != "" {
		f, err := strconv.ParseFloat(v, 64)
		switch {
		case err != nil || f != f || f > 1e6:
			bad(name, v, "not a number of seconds")
		case f > 0:
			c.BeaconPeriod = time.Duration(f * float64(time.Second))
		}
	}
	if name, v := get("EPICS_CA_AUTO_ARRAY_BYTES"); name != "" && !isYes(v) {
		c.MaxArrayBytes = defaultMaxArrayBytes
		if name, v := get("EPICS_CA_MAX_ARRAY_BYTES"); name != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				bad(name, v, "not a byte count")
			} else {
				c.MaxArrayBytes = max(n, defaultMaxArrayBytes)
			}
		}
	}
	return c, errors.Join(errs...)
}

// isYes is the EPICS boolean rule: "YES" in any case.
func isYes(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "YES") }

// resolveIPv4 returns host as an IPv4 address: a literal, or the first
// IPv4 address a name resolves to, as EPICS resolves host names in its
// address lists. The lookup is bounded by resolveTimeout.
func resolveIPv4(host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", host)
		}
		return a, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%q is neither an IPv4 address nor a host name that resolves to one", host)
	}
	return addrs[0].Unmap(), nil
}

// resolveTimeout bounds the host name lookups of ConfigFromEnv.
const resolveTimeout = 5 * time.Second

// parseAddrList parses white-space separated IPv4 address[:port] entries;
// host names are resolved.
// Entries without a port get dfltPort.
func parseAddrList(s string, dfltPort uint16) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	var errs []error
	for _, f := range strings.Fields(s) {
		host, portStr, hasPort := strings.Cut(f, ":")
		a, err := resolveIPv4(host)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p := dfltPort
		if hasPort {
			n, err := strconv.Atoi(portStr)
			if err != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("%q has a bad port", f))
				continue
			}
			p = uint16(n)
		}
		ap := netip.AddrPortFrom(a, p)
		if !slices.Contains(out, ap) {
			out = append(out, ap)
		}
	}
	return out, errors.Join(errs...)
}
