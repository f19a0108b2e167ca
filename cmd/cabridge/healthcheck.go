package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// healthPVEnv names the PV the healthcheck reads when -pv is not given.
const healthPVEnv = "CABRIDGE_HEALTH_PV"

// runHealthcheck is the healthcheck command, the image's Docker
// HEALTHCHECK: it asks the CA server of this host (or container) whether
// it answers, and returns an error (exit status 1) if it does not within
// the timeout. It needs no UDP: it talks to the server's TCP port
// directly, as a client with EPICS_CA_NAME_SERVERS does.
//
// With a PV (-pv, else $CABRIDGE_HEALTH_PV) it connects to that PV and
// reads it; the PV's alarm state does not matter (a device that is down
// makes its PVs INVALID, not the bridge unhealthy). Without one it does a
// CA handshake: VERSION and ECHO, answered by any CA server.
func runHealthcheck(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("healthcheck", "Exits 0 if the CA server on this host answers on its TCP port within the\n"+
		"timeout, 1 otherwise. The server is 127.0.0.1 (or the first address of\n"+
		"EPICS_CAS_INTF_ADDR_LIST) on EPICS_CAS_SERVER_PORT, else EPICS_CA_SERVER_PORT,\n"+
		"else 5064. With a PV it reads the PV; without, it exchanges VERSION and ECHO.")
	pv := fs.String("pv", "", "PV to read (default $"+healthPVEnv+"; none: a CA handshake only)")
	server := fs.String("server", "", "server TCP address host:port (default from the EPICS_CAS_* variables)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return &usageError{msg: fmt.Sprintf("healthcheck: -timeout %v: must be positive", *timeout)}
	}
	addr, err := healthAddr(*server, a.lookupEnv)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	if *pv == "" {
		if v, ok := a.lookupEnv(healthPVEnv); ok {
			*pv = v
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *pv == "" {
		minor, err := caHandshake(ctx, addr)
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		fmt.Fprintf(a.stdout, "ok: CA server %v answered (CA 4.%d)\n", addr, minor)
		return nil
	}
	v, err := readPV(ctx, addr, *pv)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", *pv, err)
	}
	fmt.Fprintf(a.stdout, "ok: %s %s\n", *pv, v)
	return nil
}

// healthAddr returns the server address to check: flagValue if set, else the
// first interface the server's environment names (127.0.0.1 when it serves
// on all) and its port.
func healthAddr(flagValue string, lookup func(string) (string, bool)) (netip.AddrPort, error) {
	if flagValue != "" {
		host, port, err := net.SplitHostPort(flagValue)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("-server %q: %w", flagValue, err)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("-server %q: %w", flagValue, err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 {
			return netip.AddrPort{}, fmt.Errorf("-server %q: bad port", flagValue)
		}
		return netip.AddrPortFrom(ip, uint16(p)), nil
	}
	cfg, err := ca.ConfigFromEnv(lookup)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("environment: %w", err)
	}
	ip := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if len(cfg.Interfaces) > 0 {
		ip = cfg.Interfaces[0]
	}
	port := cfg.Port
	if port <= 0 {
		port = 5064
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// readPV connects to name through the name server addr and reads its
// value as a string.
func readPV(ctx context.Context, addr netip.AddrPort, name string) (string, error) {
	c, err := client.New(client.Config{
		NameServers: []string{addr.String()},
		ServerPort:  int(addr.Port()),
		ClientName:  "cabridge-healthcheck",
	})
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close() }()
	ch, err := c.Connect(ctx, name)
	if err != nil {
		return "", fmt.Errorf("connect through %v: %w", addr, err)
	}
	v, _, err := ch.Get(ctx, dbr.String, 1)
	if err != nil {
		return "", fmt.Errorf("get: %w", err)
	}
	if s, ok := v.(dbr.Strings); ok && len(s) == 1 {
		return s[0], nil
	}
	return fmt.Sprint(v), nil
}

// CA message header fields of the handshake (CA protocol, "Message
// Header"): every message starts with a 16-byte big-endian header.
const (
	caHeaderSize   = 16
	caCmdVersion   = 0
	caCmdEcho      = 23
	caMinorVersion = 13
	caExtendedSize = 0xffff // payload size marking an extended header
)

// caHandshake opens a TCP circuit to addr, sends VERSION and ECHO, and
// waits for the ECHO reply. It returns the minor protocol version the
// server announced (0 if it sent none before the echo).
//
// ca/client cannot do this without a channel (its Echo only uses circuits
// that channels opened, and its searches ask for no NOT_FOUND reply), so
// the two messages are written here.
func caHandshake(ctx context.Context, addr netip.AddrPort) (int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Unblock the reads if ctx is cancelled before its deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	var req [2 * caHeaderSize]byte
	binary.BigEndian.PutUint16(req[0:], caCmdVersion)
	binary.BigEndian.PutUint16(req[6:], caMinorVersion) // count: minor version; data type 0: priority
	binary.BigEndian.PutUint16(req[caHeaderSize:], caCmdEcho)
	if _, err := conn.Write(req[:]); err != nil {
		return 0, fmt.Errorf("send to %v: %w", addr, err)
	}
	minor := 0
	var h [caHeaderSize]byte
	for {
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, fmt.Errorf("%v closed the connection before answering ECHO", addr)
			}
			return 0, fmt.Errorf("read from %v: %w", addr, err)
		}
		cmd := binary.BigEndian.Uint16(h[0:])
		size := int64(binary.BigEndian.Uint16(h[2:]))
		if size == caExtendedSize && binary.BigEndian.Uint16(h[6:]) == 0 {
			var ext [8]byte
			if _, err := io.ReadFull(conn, ext[:]); err != nil {
				return 0, fmt.Errorf("read from %v: %w", addr, err)
			}
			size = int64(binary.BigEndian.Uint32(ext[0:]))
		}
		if _, err := io.CopyN(io.Discard, conn, size); err != nil {
			return 0, fmt.Errorf("read from %v: %w", addr, err)
		}
		switch cmd {
		case caCmdVersion:
			minor = int(binary.BigEndian.Uint16(h[6:]))
		case caCmdEcho:
			return minor, nil
		}
	}
}
