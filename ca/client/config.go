package client

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/netif"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// Defaults used when a Config field is zero.
const (
	DefaultConnTimeout     = 30 * time.Second
	DefaultSearchPeriod    = 30 * time.Millisecond
	DefaultMaxSearchPeriod = time.Second
	echoTimeout            = 5 * time.Second
	reconnectDelay         = 100 * time.Millisecond
	dialTimeout            = 5 * time.Second
	searchWindow           = 2048 // names searched and not yet answered on their first attempts
)

// Config configures a Client. The zero value searches nowhere; use
// ConfigFromEnv for the libca defaults.
type Config struct {
	// AddrList holds the UDP search destinations as "host[:port]"
	// (EPICS_CA_ADDR_LIST). The port defaults to ServerPort.
	AddrList []string
	// AutoAddrList adds the broadcast address of every up IPv4 interface
	// to the search destinations (EPICS_CA_AUTO_ADDR_LIST=YES).
	AutoAddrList bool
	// NameServers holds TCP name servers as "host[:port]"
	// (EPICS_CA_NAME_SERVERS). The port defaults to ServerPort.
	NameServers []string
	// ServerPort is the default server port (EPICS_CA_SERVER_PORT);
	// 0 means 5064.
	ServerPort int
	// ConnTimeout is the silence on a circuit after which the client sends
	// an ECHO (EPICS_CA_CONN_TMO); the circuit is dropped if nothing
	// arrives within 5 s more. 0 means 30 s.
	ConnTimeout time.Duration
	// MaxArrayBytes limits the payload the client accepts in one message
	// (EPICS_CA_MAX_ARRAY_BYTES with EPICS_CA_AUTO_ARRAY_BYTES=NO); larger
	// replies fail with ECA_TOLARGE. 0 means no limit.
	MaxArrayBytes int
	// MaxSearchPeriod caps the search retry back-off; 0 means 1 s.
	MaxSearchPeriod time.Duration
	// Priority is the circuit priority 0..99 sent in VERSION.
	Priority uint16
	// ClientName is the user name sent in CLIENT_NAME; "" means the
	// current user.
	ClientName string
	// HostName is the host name sent in HOST_NAME; "" means os.Hostname.
	HostName string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// OnServerError, if not nil, is called with each ERROR message of a
	// server that concerns no pending request of the client: the
	// rejection of a plain WRITE (a put without callback), for instance.
	// It runs on the circuit's goroutine and must not block.
	OnServerError func(ServerError)
}

// ServerError is an ERROR message of a server that no pending request
// of the client took.
type ServerError struct {
	Server  netip.AddrPort // the server that sent it
	Request string         // the command it refers to, e.g. "WRITE"
	Err     *eca.Error     // the status code and the server's text
}

// ConfigFromEnv builds a Config from the EPICS_CA_* variables returned by
// lookup (usually os.LookupEnv), following libca's rules: an empty value
// counts as unset, booleans are true only for "YES" in any letter case,
// address lists are separated by white space. It returns an error naming
// the variable for an unparsable number.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	get := func(k string) (string, bool) {
		v, ok := lookup(k)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	yes := func(k string, dflt bool) bool {
		v, ok := get(k)
		if !ok {
			return dflt
		}
		return strings.EqualFold(v, "YES")
	}
	cfg := Config{ServerPort: wire.DefaultServerPort, ConnTimeout: DefaultConnTimeout}
	if v, ok := get("EPICS_CA_ADDR_LIST"); ok {
		cfg.AddrList = strings.Fields(v)
	}
	cfg.AutoAddrList = yes("EPICS_CA_AUTO_ADDR_LIST", true)
	if v, ok := get("EPICS_CA_NAME_SERVERS"); ok {
		cfg.NameServers = strings.Fields(v)
	}
	if v, ok := get("EPICS_CA_SERVER_PORT"); ok {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil || p == 0 {
			return Config{}, fmt.Errorf("client: EPICS_CA_SERVER_PORT %q: not a port number", v)
		}
		cfg.ServerPort = int(p)
	}
	if v, ok := get("EPICS_CA_CONN_TMO"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return Config{}, fmt.Errorf("client: EPICS_CA_CONN_TMO %q: not a positive number of seconds", v)
		}
		cfg.ConnTimeout = time.Duration(f * float64(time.Second))
	}
	if !yes("EPICS_CA_AUTO_ARRAY_BYTES", true) {
		n := 16384
		if v, ok := get("EPICS_CA_MAX_ARRAY_BYTES"); ok {
			m, err := strconv.Atoi(v)
			if err != nil {
				return Config{}, fmt.Errorf("client: EPICS_CA_MAX_ARRAY_BYTES %q: not an integer", v)
			}
			n = max(m, n)
		}
		cfg.MaxArrayBytes = n
	}
	if v, ok := get("EPICS_CA_MAX_SEARCH_PERIOD"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return Config{}, fmt.Errorf("client: EPICS_CA_MAX_SEARCH_PERIOD %q: not a number", v)
		}
		cfg.MaxSearchPeriod = time.Duration(f * float64(time.Second))
	}
	return cfg, nil
}

// resolveList turns "host[:port]" entries into addresses.
func resolveList(list []string, port int, what string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, e := range list {
		host, p := e, port
		if h, ps, err := net.SplitHostPort(e); err == nil {
			n, err := strconv.ParseUint(ps, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("client: %s entry %q: bad port", what, e)
			}
			host, p = h, int(n)
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			ua, rerr := net.ResolveUDPAddr("udp4", net.JoinHostPort(host, "0"))
			if rerr != nil {
				return nil, fmt.Errorf("client: %s entry %q: %w", what, e, rerr)
			}
			a, _ = netip.AddrFromSlice(ua.IP.To4())
		}
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(p)))
	}
	return out, nil
}

// broadcastAddrs returns the broadcast address of every up IPv4 interface
// that has one, with port.
func broadcastAddrs(port int) []netip.AddrPort {
	var out []netip.AddrPort
	for _, b := range netif.Broadcasts(nil) {
		out = append(out, netip.AddrPortFrom(b, uint16(port)))
	}
	return out
}
