package ca

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// startServer serves the test directory on 127.0.0.1 with system-chosen
// ports and shuts it down, checking for leaked goroutines, at cleanup.
func startServer(t testing.TB, cfg Config) (*Server, *Map, map[string]*fakePV) {
	t.Helper()
	m, pvs := testDirectory()
	if cfg.Interfaces == nil {
		cfg.Interfaces = []netip.Addr{loopback}
	}
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	s := &Server{Directory: m, Config: cfg,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	before := serverGoroutines()
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- s.Serve(context.Background()) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		wg.Wait()
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		checkNoServerGoroutines(t, before)
	})
	return s, m, pvs
}

// serverGoroutines returns the stacks of the running goroutines that
// belong to a server, by goroutine header line.
func serverGoroutines() map[string]string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	out := make(map[string]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		frames, _, _ := strings.Cut(g, "\ncreated by ")
		if strings.Contains(frames, "ca.(*circuit)") || strings.Contains(frames, "ca.(*Server)") {
			id, _, _ := strings.Cut(g, " [")
			out[id] = g
		}
	}
	return out
}

// checkNoServerGoroutines fails if a server goroutine that is not in
// before is still running.
func checkNoServerGoroutines(t testing.TB, before map[string]string) {
	t.Helper()
	for id, g := range serverGoroutines() {
		if _, ok := before[id]; !ok {
			t.Errorf("leaked goroutine:\n%s", g)
		}
	}
}

// rawClient is a hand-driven CA client.
type rawClient struct {
	t    testing.TB
	conn *net.TCPConn
	buf  []byte
	r, w int
}

func dialRaw(t testing.TB, s *Server) *rawClient {
	t.Helper()
	conn, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(s.TCPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn, buf: make([]byte, 2<<20)}
	if m := c.next(); m.Command != wire.CmdVersion || m.DataCount != 13 || m.DataType != 0 {
		t.Fatalf("first message %+v", m.Header)
	}
	return c
}

func (c *rawClient) send(bs ...[]byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(joinBytes(bs...)); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next message; its payload is valid until the next call.
func (c *rawClient) next() wire.Message {
	c.t.Helper()
	m, err := c.tryNext(5 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

func (c *rawClient) tryNext(timeout time.Duration) (wire.Message, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		m, n, err := wire.Next(c.buf[c.r:c.w], 0)
		if err == nil {
			c.r += n
			return m, nil
		}
		if !errors.Is(err, wire.ErrNeedMore) {
			return m, err
		}
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		n, err = c.conn.Read(c.buf[c.w:])
		c.w += n
		if err != nil {
			return m, err
		}
	}
}

// open sends VERSION and the names, and creates a channel to name.
func (c *rawClient) open(name string, cid uint32) (sid uint32) {
	c.t.Helper()
	c.send(wire.AppendVersionTCP(nil, 0), wire.AppendClientName(nil, "tester"), wire.AppendHostName(nil, "box"),
		wire.AppendCreateChan(nil, cid, name))
	if m := c.next(); m.Command != wire.CmdAccessRights || m.Param1 != cid {
		c.t.Fatalf("want ACCESS_RIGHTS, got %+v", m.Header)
	}
	m := c.next()
	if m.Command != wire.CmdCreateChan || m.Param1 != cid {
		c.t.Fatalf("want CREATE_CHAN, got %+v", m.Header)
	}
	return m.Param2
}

func f64(b []byte) float64 { return math.Float64frombits(binary.BigEndian.Uint64(b)) }

func TestServerRawClient(t *testing.T) {
	s, _, _ := startServer(t, Config{})
	c := dialRaw(t, s)
	sid := c.open("T:AI", 1)

	c.send(wire.AppendReadNotify(nil, uint16(dbr.Double), 1, sid, 77))
	m := c.next()
	if m.Command != wire.CmdReadNotify || m.Param1 != uint32(eca.Normal) || m.Param2 != 77 || f64(m.Payload) != 3.5 {
		t.Fatalf("read: %+v %x", m.Header, m.Payload)
	}
	c.send(wire.AppendEventAdd(nil, uint16(dbr.Double), 1, sid, 9, uint16(dbr.EventValue)))
	if m := c.next(); m.Command != wire.CmdEventAdd || m.Param2 != 9 || f64(m.Payload) != 3.5 {
		t.Fatalf("first update: %+v %x", m.Header, m.Payload)
	}
	h := wire.WriteNotifyHeader(uint16(dbr.Double), 1, sid, 78, 8)
	c.send(wire.AppendMessage(nil, h, beF64(8.5)))
	var gotReply, gotUpdate bool
	for !gotReply || !gotUpdate {
		m := c.next()
		switch {
		case m.Command == wire.CmdWriteNotify && m.Param1 == uint32(eca.Normal) && m.Param2 == 78:
			gotReply = true
		case m.Command == wire.CmdEventAdd && m.Param2 == 9 && f64(m.Payload) == 8.5:
			gotUpdate = true
		default:
			t.Fatalf("unexpected %+v %x", m.Header, m.Payload)
		}
	}
	c.send(wire.AppendSearchFlag(nil, wire.DoReply, 5, "T:AI"))
	if m := c.next(); m.Command != wire.CmdSearch || m.PayloadSize != 0 || m.DataType != s.TCPAddr().Port() || m.Param2 != 5 {
		t.Fatalf("tcp search: %+v", m.Header)
	}
	c.send(wire.AppendEventCancel(nil, uint16(dbr.Double), 1, sid, 9), wire.AppendClearChannel(nil, sid, 1))
	if m := c.next(); m.Command != wire.CmdEventAdd || m.PayloadSize != 0 {
		t.Fatalf("cancel: %+v", m.Header)
	}
	if m := c.next(); m.Command != wire.CmdClearChannel || m.Param1 != sid || m.Param2 != 1 {
		t.Fatalf("clear: %+v", m.Header)
	}
	if st := s.Stats(); st.Clients != 1 || st.Channels != 0 || st.Subscriptions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServerSlowPutDoesNotStallReader(t *testing.T) {
	s, _, pvs := startServer(t, Config{})
	gate := make(chan struct{})
	pvs["T:AI"].putGate = gate
	c := dialRaw(t, s)
	sid := c.open("T:AI", 1)
	c.send(wire.AppendMessage(nil, wire.WriteNotifyHeader(6, 1, sid, 5, 8), beF64(1)),
		wire.AppendReadNotify(nil, 6, 1, sid, 6), // waits behind the put
		mkMsg(wire.CmdEcho, 0, 0, 0, 0, nil))
	if m := c.next(); m.Command != wire.CmdEcho {
		t.Fatalf("want ECHO while the put is stuck, got %+v", m.Header)
	}
	close(gate)
	if m := c.next(); m.Command != wire.CmdWriteNotify || m.Param2 != 5 {
		t.Fatalf("want WRITE_NOTIFY, got %+v", m.Header)
	}
	if m := c.next(); m.Command != wire.CmdReadNotify || f64(m.Payload) != 1 {
		t.Fatalf("want the written value, got %+v %x", m.Header, m.Payload)
	}
}

func TestServerUDPSearch(t *testing.T) {
	s, _, _ := startServer(t, Config{IgnoreAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}})
	dst := net.UDPAddrFromAddrPort(s.UDPAddr())
	cl, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recv := func(conn *net.UDPConn, timeout time.Duration) ([]byte, error) {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		b := make([]byte, 2048)
		n, err := conn.Read(b)
		return b[:n], err
	}
	sendTo := func(conn *net.UDPConn, b []byte) {
		if _, err := conn.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	port := s.TCPAddr().Port()
	// Batched, with the sequence number echoed; unknown names unanswered.
	sendTo(cl, joinBytes(wire.AppendVersionUDP(nil, 5), wire.AppendSearch(nil, 1, "NOPE"), wire.AppendSearch(nil, 2, "T:AI"),
		wire.AppendSearch(nil, 3, "T:WF")))
	got, err := recv(cl, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := joinBytes(wire.AppendVersionUDP(nil, 5), wire.AppendSearchReplyUDP(nil, port, 2), wire.AppendSearchReplyUDP(nil, port, 3))
	if string(got) != string(want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
	// A datagram with only unknown names gets nothing: the next reply is
	// the one for the following datagram.
	sendTo(cl, joinBytes(wire.AppendVersionUDP(nil, 6), wire.AppendSearchFlag(nil, wire.DoReply, 1, "NOPE")))
	sendTo(cl, joinBytes(wire.AppendVersionUDP(nil, 7), wire.AppendSearch(nil, 2, "T:AI")))
	if got, err = recv(cl, 5*time.Second); err != nil || binary.BigEndian.Uint32(got[8:]) != 7 {
		t.Fatalf("got %x, %v; want the reply to sequence 7", got, err)
	}
	// Ignored source address.
	ign, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2: %v", err)
	}
	defer ign.Close()
	sendTo(ign, joinBytes(wire.AppendVersionUDP(nil, 8), wire.AppendSearch(nil, 2, "T:AI")))
	sendTo(cl, joinBytes(wire.AppendVersionUDP(nil, 9), wire.AppendSearch(nil, 2, "T:AI")))
	if got, err = recv(cl, 5*time.Second); err != nil || binary.BigEndian.Uint32(got[8:]) != 9 {
		t.Fatalf("got %x, %v", got, err)
	}
	// The server handles datagrams in order, so a reply to the ignored one
	// would already be queued.
	if got, err := recv(ign, 50*time.Millisecond); err == nil {
		t.Fatalf("ignored address got a reply %x", got)
	}
}

func TestServerBeacons(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	s, _, _ := startServer(t, Config{BeaconAddrs: []netip.AddrPort{rx.LocalAddr().(*net.UDPAddr).AddrPort()}})
	var stamps []time.Time
	for i, wantCounter := range []uint32{0, 0, 1, 2, 3} {
		_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 64)
		n, err := rx.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, time.Now())
		h, _, _, err := wire.ParseHeader(b[:n])
		if err != nil || n != 16 {
			t.Fatalf("beacon %d: %x %v", i, b[:n], err)
		}
		if h.Command != wire.CmdBeacon || h.DataType != 13 || h.DataCount != uint32(s.TCPAddr().Port()) ||
			h.Param1 != wantCounter || h.Param2 != 0 {
			t.Fatalf("beacon %d: %+v", i, h)
		}
	}
	// Gaps of 20, 40, 80 and 160 ms: timers fire late, never early.
	if d := stamps[4].Sub(stamps[0]); d < 250*time.Millisecond {
		t.Fatalf("first five beacons within %v", d)
	}
}

func TestServerShutdownSeenAsEOF(t *testing.T) {
	m, _ := testDirectory()
	s := &Server{Directory: m, Config: Config{Interfaces: []netip.Addr{loopback}, Port: -1}}
	before := serverGoroutines()
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { errc <- s.Serve(context.Background()) })
	c := dialRaw(t, s)
	c.open("T:AI", 1)
	c.send(wire.AppendEventAdd(nil, 6, 1, 0, 1, 1))
	c.next()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := c.tryNext(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("client read: %v, want EOF", err)
	}
	if err := s.Serve(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	checkNoServerGoroutines(t, before)
}

func TestServerContextCancel(t *testing.T) {
	m, _ := testDirectory()
	s := &Server{Directory: m, Config: Config{Interfaces: []netip.Addr{loopback}, Port: -1}}
	before := serverGoroutines()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe(ctx) }()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrServerClosed) {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	checkNoServerGoroutines(t, before)
}

func TestServerManyClients(t *testing.T) {
	s, _, _ := startServer(t, Config{})
	const n = 100
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = dialRaw(t, s)
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, c := range clients {
		wg.Go(func() {
			c.send(wire.AppendVersionTCP(nil, 0), wire.AppendCreateChan(nil, uint32(i), "T:AI"))
			c.next()
			m := c.next()
			c.send(wire.AppendReadNotify(nil, 6, 1, m.Param2, uint32(i)))
			if r := c.next(); r.Command != wire.CmdReadNotify || r.Param2 != uint32(i) || f64(r.Payload) != 3.5 {
				errs <- "bad read reply"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if st := s.Stats(); st.Clients != n || st.Channels != n {
		t.Fatalf("stats: %+v", st)
	}
}

func TestServerRemovedPV(t *testing.T) {
	s, m, _ := startServer(t, Config{})
	c := dialRaw(t, s)
	c.open("T:AI", 42)
	if !m.Remove("T:AI") {
		t.Fatal("not removed")
	}
	if msg := c.next(); msg.Command != wire.CmdServerDisconn || msg.Param1 != 42 {
		t.Fatalf("got %+v", msg.Header)
	}
	c.send(wire.AppendCreateChan(nil, 43, "T:AI"))
	if msg := c.next(); msg.Command != wire.CmdCreateChFail || msg.Param1 != 43 {
		t.Fatalf("got %+v", msg.Header)
	}
}

func TestServerBadBytesCloseOnlyThatCircuit(t *testing.T) {
	s, _, _ := startServer(t, Config{})
	good := dialRaw(t, s)
	sid := good.open("T:AI", 1)
	bad := dialRaw(t, s)
	bad.send(wire.AppendVersionTCP(nil, 0), mkHdr(99, 0, 0, 0, 0, 0))
	if m := bad.next(); m.Command != wire.CmdError || m.Param2 != uint32(eca.Internal) {
		t.Fatalf("got %+v", m.Header)
	}
	if _, err := bad.tryNext(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("bad client: %v, want EOF", err)
	}
	good.send(wire.AppendReadNotify(nil, 6, 1, sid, 1))
	if m := good.next(); m.Command != wire.CmdReadNotify {
		t.Fatalf("good client: %+v", m.Header)
	}
}

func TestServerSlowClient(t *testing.T) {
	s, _, pvs := startServer(t, Config{WriteTimeout: 300 * time.Millisecond, MaxOutputBytes: 1 << 20})
	slow := dialRaw(t, s)
	_ = slow.conn.SetReadBuffer(4096)
	sid := slow.open("T:BIG", 1)
	slow.send(wire.AppendEventAdd(nil, 6, 0, sid, 1, 1))
	fast := dialRaw(t, s)
	fsid := fast.open("T:AI", 1)
	fast.send(wire.AppendEventAdd(nil, 6, 1, fsid, 1, 1))
	fast.next()

	big := make(dbr.Doubles, 100000)
	deadline := time.Now().Add(20 * time.Second)
	dropped := func() bool {
		st := s.Stats()
		return st.Closes[CloseWriteTimeout]+st.Closes[CloseOverflow] > 0
	}
	for i := 0; !dropped(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("slow client never dropped after %d updates; stats %+v", i, s.Stats())
		}
		pvs["T:BIG"].set(big, dbr.EventValue) // must never block
		pvs["T:AI"].set(dbr.Doubles{float64(i)}, dbr.EventValue)
		if m := fast.next(); m.Command != wire.CmdEventAdd || f64(m.Payload) != float64(i) {
			t.Fatalf("fast client: %+v", m.Header)
		}
	}
	fast.send(wire.AppendReadNotify(nil, 6, 1, fsid, 1))
	for {
		if m := fast.next(); m.Command == wire.CmdReadNotify {
			break
		}
	}
	if st := s.Stats(); st.Clients != 1 || st.Coalesced == 0 {
		t.Fatalf("stats after the drop: %+v", st)
	}
}

func TestServerPortFallback(t *testing.T) {
	s1, _, _ := startServer(t, Config{})
	port := int(s1.TCPAddr().Port())
	m, _ := testDirectory()
	s2 := &Server{Directory: m, Config: Config{Interfaces: []netip.Addr{loopback}, Port: port}}
	if err := s2.Listen(); err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown(context.Background())
	if s2.TCPAddr().Port() == uint16(port) {
		t.Fatal("second server got the busy TCP port")
	}
	if s2.UDPAddr().Port() != uint16(port) {
		t.Fatalf("second server UDP port %d, want the shared %d", s2.UDPAddr().Port(), port)
	}
}
