// Package catest runs a Channel Access server for tests, on 127.0.0.1 with
// ports chosen by the system, and tells the clients under test where to
// find it.
//
//	func TestGet(t *testing.T) {
//		srv := catest.NewServer(t, map[string]ca.PV{"T:AI": ca.NewDouble(ca.Options{}, 3.5)})
//		cmd := exec.Command("/usr/bin/python3", "-c", `import epics; print(epics.caget("T:AI"))`)
//		cmd.Env = append(os.Environ(), srv.Env()...)
//		out, err := cmd.Output()
//		...
//	}
//
// The server is shut down when the test ends, and the test fails if one of
// its goroutines is still running then.
package catest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
)

// Server is a running test server.
type Server struct {
	// Server is the CA server; use it for Stats.
	Server *ca.Server
	// Map holds the served PVs; add and remove PVs while the test runs.
	Map *ca.Map
	// TCPPort is the port of the server's TCP listener.
	TCPPort int
	// UDPPort is the port of the server's UDP search socket (usually equal
	// to TCPPort).
	UDPPort int
	// RepeaterPort is a free UDP port for the client's CA repeater; the
	// server sends its beacons to 127.0.0.1 on this port.
	RepeaterPort int
}

// NewServer serves pvs on 127.0.0.1 and returns when the server is
// listening. It stops the server at the end of the test. The server's log
// goes to the test's output.
func NewServer(t testing.TB, pvs map[string]ca.PV) *Server {
	t.Helper()
	return Start(t, pvs, ca.Config{})
}

// Start is NewServer with a Config. Interfaces, Port, BeaconAddrs,
// AutoBeaconAddrs and BeaconPort are overridden to keep the server on
// 127.0.0.1 with free ports; the other fields are used as given.
func Start(t testing.TB, pvs map[string]ca.PV, cfg ca.Config) *Server {
	t.Helper()
	m := &ca.Map{}
	for name, pv := range pvs {
		if err := m.Add(name, pv); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := freeUDPPort()
	if err != nil {
		t.Fatalf("catest: %v", err)
	}
	cfg.Interfaces = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	cfg.Port = -1
	cfg.AutoBeaconAddrs = false
	cfg.BeaconPort = rep
	cfg.BeaconAddrs = []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(rep))}
	s := &ca.Server{Directory: m, Config: cfg,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := s.Listen(); err != nil {
		t.Fatalf("catest: %v", err)
	}
	var wg sync.WaitGroup
	serveID := make(chan int, 1)
	errc := make(chan error, 1)
	wg.Go(func() {
		serveID <- goroutineID()
		errc <- s.Serve(context.Background())
	})
	id := <-serveID
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("catest: shutdown: %v", err)
		}
		wg.Wait()
		if err := <-errc; !errors.Is(err, ca.ErrServerClosed) {
			t.Errorf("catest: Serve: %v", err)
		}
		for _, g := range descendants(id) {
			t.Errorf("catest: leaked server goroutine:\n%s", g)
		}
	})
	return &Server{Server: s, Map: m, TCPPort: int(s.TCPAddr().Port()), UDPPort: int(s.UDPAddr().Port()), RepeaterPort: rep}
}

// Env returns the environment variables that point a libca client
// (pyepics, caget) at the server through UDP search:
// EPICS_CA_AUTO_ADDR_LIST=NO, EPICS_CA_ADDR_LIST=127.0.0.1:<UDPPort>,
// EPICS_CA_SERVER_PORT=<UDPPort> and EPICS_CA_REPEATER_PORT=<RepeaterPort>.
// Append them to os.Environ().
func (s *Server) Env() []string {
	return []string{
		"EPICS_CA_AUTO_ADDR_LIST=NO",
		fmt.Sprintf("EPICS_CA_ADDR_LIST=127.0.0.1:%d", s.UDPPort),
		fmt.Sprintf("EPICS_CA_SERVER_PORT=%d", s.UDPPort),
		fmt.Sprintf("EPICS_CA_REPEATER_PORT=%d", s.RepeaterPort),
	}
}

// NameServerEnv returns the environment variables that make a libca client
// find the server only by TCP search (EPICS_CA_NAME_SERVERS), with no UDP
// address list.
func (s *Server) NameServerEnv() []string {
	return []string{
		"EPICS_CA_AUTO_ADDR_LIST=NO",
		"EPICS_CA_ADDR_LIST=",
		fmt.Sprintf("EPICS_CA_NAME_SERVERS=127.0.0.1:%d", s.TCPPort),
		fmt.Sprintf("EPICS_CA_REPEATER_PORT=%d", s.RepeaterPort),
	}
}

// Addr returns the server's TCP address, for a Go client.
func (s *Server) Addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(s.TCPPort))
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.Close() }()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// goroutineID returns the id of the calling goroutine.
func goroutineID() int {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	n, _ := strconv.Atoi(string(b[:bytes.IndexByte(b, ' ')]))
	return n
}

// descendants returns the stacks of the running goroutines created,
// directly or not, by goroutine root.
func descendants(root int) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	parent := make(map[int]int)
	stacks := make(map[int]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		var id int
		if _, err := fmt.Sscanf(g, "goroutine %d ", &id); err != nil {
			continue
		}
		stacks[id] = g
		sc := bufio.NewScanner(strings.NewReader(g))
		for sc.Scan() {
			line := sc.Text()
			if i := strings.LastIndex(line, " in goroutine "); strings.HasPrefix(line, "created by ") && i >= 0 {
				p, _ := strconv.Atoi(strings.TrimSpace(line[i+len(" in goroutine "):]))
				parent[id] = p
			}
		}
	}
	var out []string
	for id, g := range stacks {
		// A goroutine that has returned from our code but not yet exited
		// shows only the runtime's frames; count only ours.
		frames, _, _ := strings.Cut(g, "\ncreated by ")
		if !strings.Contains(frames, "github.com/cabridge/cabridge/ca.") {
			continue
		}
		for p, ok := parent[id]; ok; p, ok = parent[p] {
			if p == root {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// FreePort returns a port on 127.0.0.1 that was free for UDP a moment ago,
// for tests that start a server through its EPICS environment variables
// (EPICS_CAS_SERVER_PORT) rather than through Start, so that they never
// use the default port 5064. If the TCP side is taken by then, the server
// falls back to a port the system picks, as rsrv does.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freeUDPPort()
	if err != nil {
		t.Fatalf("catest: %v", err)
	}
	return p
}

// StartIOC runs an IOC command (the run function of a main package, which
// takes its EPICS_CAS_* settings through lookup and reports its server
// through listening) on 127.0.0.1 with a free port and no beacons, until
// the test ends, and returns its server once it listens. The test fails
// if run returns an error, before or after it listens.
func StartIOC(t testing.TB, run func(ctx context.Context, lookup func(string) (string, bool), listening func(*ca.Server)) error) *ca.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
		"EPICS_CAS_SERVER_PORT": strconv.Itoa(FreePort(t))}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	srvc := make(chan *ca.Server, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, lookup, func(s *ca.Server) { srvc <- s }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("catest: IOC: %v", err)
		}
	})
	select {
	case s := <-srvc:
		return s
	case err := <-done:
		done <- err
		t.Fatalf("catest: IOC did not start: %v", err)
	}
	return nil
}
