package ca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cabridge/cabridge/ca/access"
)

// ErrServerClosed is returned by Serve, ListenAndServe and Listen after
// Shutdown, or once Serve's context is done.
var ErrServerClosed = errors.New("ca: server closed")

// Server is a Channel Access server. It answers name searches over UDP and
// TCP, sends beacons, and serves the PVs of its Directory to every client
// circuit. The zero Server (with a Directory) serves on the EPICS default
// ports. Fields must not be changed once Listen or Serve has been called.
type Server struct {
	// Directory resolves the names clients ask for. If it implements
	// RemovalNotifier, clients of a removed name are disconnected.
	Directory Directory
	// Config is the network configuration; see ConfigFromEnv.
	Config Config
	// Logger receives the server's log records; nil discards them.
	Logger *slog.Logger
	// AccessRules are the access security rules a client's rights on a
	// channel are computed with (see access_rights.go): nil grants every
	// client what PV.Access allows. An *access.Config read from an ACF
	// (access.Load) and an access.RulesFunc both fit. Replace the rules at
	// run time with SetAccessRules, not by assigning this field.
	AccessRules access.Rules
	// AccessGroup, if set, returns the access security group of the PV a
	// client creates a channel to under name. If it is nil or returns "",
	// the group is the PV's own (AccessGrouper), else DEFAULT.
	AccessGroup func(name string, pv PV) string

	mu       sync.Mutex
	inited   bool
	listened bool
	serving  bool
	closed   bool
	done     chan struct{} // closed when the server closes
	stopped  chan struct{} // closed when Serve's goroutines have finished
	tcpLns   []*net.TCPListener
	udp      []udpSock
	beacon   *net.UDPConn
	dests    []netip.AddrPort
	circuits map[*circuit]struct{}
	wg       sync.WaitGroup

	closing atomic.Bool
	rules   atomic.Pointer[rulesBox] // set by SetAccessRules; nil: AccessRules
	tcpPort uint16                   // set by Listen
	udpPort uint16
	stats   serverStats
}

// serverStats are the server's counters.
type serverStats struct {
	clients, channels, subscriptions      atomic.Int64
	clientsTotal, messagesIn              atomic.Uint64
	bytesIn, bytesOut                     atomic.Uint64
	searches, searchHits, searchDatagrams atomic.Uint64
	updates, coalesced, puts, beacons     atomic.Uint64
	udpErrors                             atomic.Uint64
	closes                                [numCloseReasons]atomic.Uint64
}

// Stats is a snapshot of a server's counters.
type Stats struct {
	Clients         int64                  // circuits open now
	ClientsTotal    uint64                 // circuits accepted since start
	Channels        int64                  // channels open now
	Subscriptions   int64                  // subscriptions active now
	MessagesIn      uint64                 // requests received over TCP
	BytesIn         uint64                 // bytes received over TCP
	BytesOut        uint64                 // bytes sent over TCP
	SearchDatagrams uint64                 // UDP datagrams received
	Searches        uint64                 // names searched for (UDP and TCP)
	SearchHits      uint64                 // searches answered
	Updates         uint64                 // subscription updates sent
	Coalesced       uint64                 // updates replaced by a newer one before they were sent
	Puts            uint64                 // puts and deferred requests run
	Beacons         uint64                 // beacon rounds sent
	UDPErrors       uint64                 // failed UDP reads and writes
	Closes          map[CloseReason]uint64 // circuits closed, by reason
}

// Stats returns the server's counters. It is safe to call at any time.
func (s *Server) Stats() Stats {
	st := &s.stats
	out := Stats{
		Clients: st.clients.Load(), ClientsTotal: st.clientsTotal.Load(),
		Channels: st.channels.Load(), Subscriptions: st.subscriptions.Load(),
		MessagesIn: st.messagesIn.Load(), BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(),
		SearchDatagrams: st.searchDatagrams.Load(), Searches: st.searches.Load(), SearchHits: st.searchHits.Load(),
		Updates: st.updates.Load(), Coalesced: st.coalesced.Load(), Puts: st.puts.Load(),
		Beacons: st.beacons.Load(), UDPErrors: st.udpErrors.Load(),
		Closes: make(map[CloseReason]uint64),
	}
	for r := range st.closes {
		if n := st.closes[r].Load(); n > 0 {
			out.Closes[CloseReason(r)] = n
		}
	}
	return out
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) initLocked() {
	if s.inited {
		return
	}
	s.inited = true
	s.done = make(chan struct{})
	s.stopped = make(chan struct{})
	s.circuits = make(map[*circuit]struct{})
}

func (s *Server) isClosing() bool { return s.closing.Load() }

func (s *Server) writeTimeout() time.Duration {
	if s.Config.WriteTimeout > 0 {
		return s.Config.WriteTimeout
	}
	return defaultWriteTimeout
}

func (s *Server) maxOutput() int {
	n := s.Config.MaxOutputBytes
	if n <= 0 {
		n = defaultMaxOutputBytes
	}
	return n + max(outHighWater, flushChunk) + 1<<20
}

func (s *Server) beaconPeriod() time.Duration {
	if s.Config.BeaconPeriod > 0 {
		return s.Config.BeaconPeriod
	}
	return defaultBeaconPeriod
}

// lookup resolves name in the Directory.
func (s *Server) lookup(name string) (PV, bool) {
	if s.Directory == nil {
		return nil, false
	}
	return s.Directory.Lookup(name)
}

// lookupBytes resolves a name still in a receive buffer; for a *Map it
// does not allocate.
func (s *Server) lookupBytes(name []byte) (PV, bool) {
	switch d := s.Directory.(type) {
	case nil:
		return nil, false
	case *Map:
		return d.lookupBytes(name)
	default:
		return d.Lookup(string(name))
	}
}

// TCPAddr returns the address of the first TCP listener (its port is the
// one advertised to clients), or the zero AddrPort before Listen.
func (s *Server) TCPAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tcpLns) == 0 {
		return netip.AddrPort{}
	}
	return s.tcpLns[0].Addr().(*net.TCPAddr).AddrPort()
}

// UDPAddr returns the address of the first UDP search socket, or the zero
// AddrPort before Listen.
func (s *Server) UDPAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.udp) == 0 {
		return netip.AddrPort{}
	}
	return s.udp[0].conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Listen binds the TCP listener and the UDP search socket of every
// configured interface and the beacon socket. The TCP port is Config.Port
// or, if that is busy, a port chosen by the system (logged and
// advertised). The UDP search sockets bind the same port number, shared
// with other servers (SO_REUSEADDR, SO_REUSEPORT), or a system-chosen port
// if that fails. Calling Listen again does nothing. Serve calls Listen if
// it has not been called.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.closed {
		return ErrServerClosed
	}
	if s.listened {
		return nil
	}
	if err := s.listenLocked(); err != nil {
		s.closeSocketsLocked()
		return err
	}
	s.listened = true
	return nil
}

func (s *Server) listenLocked() error {
	log := s.logger()
	ifaces := s.Config.Interfaces
	if len(ifaces) == 0 {
		ifaces = []netip.Addr{netip.IPv4Unspecified()}
	}
	port := s.Config.Port
	switch {
	case port == 0:
		port = defaultServerPort
	case port < 0:
		port = 0
	}
	if port > 65535 {
		return fmt.Errorf("ca: port %d out of range", port)
	}
	ctx := context.Background()
	var lc net.ListenConfig
	tcpPort := port
	for i, a := range ifaces {
		ln, err := lc.Listen(ctx, "tcp4", netip.AddrPortFrom(a, uint16(tcpPort)).String())
		if err != nil && i == 0 && tcpPort != 0 && errors.Is(err, syscall.EADDRINUSE) {
			log.Warn("ca: TCP port busy, using a port chosen by the system", "port", tcpPort)
			tcpPort = 0
			ln, err = lc.Listen(ctx, "tcp4", netip.AddrPortFrom(a, 0).String())
		}
		if err != nil {
			return fmt.Errorf("ca: listen TCP on %v: %w", a, err)
		}
		tl := ln.(*net.TCPListener)
		s.tcpLns = append(s.tcpLns, tl)
		if i == 0 {
			tcpPort = int(tl.Addr().(*net.TCPAddr).Port)
			s.tcpPort = uint16(tcpPort)
		}
	}
	udpPort := port
	if udpPort == 0 {
		udpPort = tcpPort
	}
	ulc := net.ListenConfig{Control: reuseControl}
	listenUDP := func(a netip.Addr, p int) (*net.UDPConn, error) {
		pc, err := ulc.ListenPacket(ctx, "udp4", netip.AddrPortFrom(a, uint16(p)).String())
		if err != nil {
			return nil, err
		}
		uc := pc.(*net.UDPConn)
		for size := 4 << 20; size >= 64<<10; size /= 2 {
			if uc.SetReadBuffer(size) == nil {
				break
			}
		}
		return uc, nil
	}
	for i, a := range ifaces {
		uc, err := listenUDP(a, udpPort)
		if err != nil && i == 0 {
			log.Warn("ca: UDP search port busy, using a port chosen by the system", "port", udpPort, "err", err)
			udpPort = 0
			uc, err = listenUDP(a, 0)
		}
		if err != nil {
			return fmt.Errorf("ca: listen UDP on %v: %w", a, err)
		}
		if i == 0 {
			udpPort = uc.LocalAddr().(*net.UDPAddr).Port
			s.udpPort = uint16(udpPort)
		}
		s.udp = append(s.udp, udpSock{conn: uc, reply: uc})
		// A socket bound to a unicast address does not see broadcasts:
		// bind the interface's broadcast address too, as rsrv does.
		if !a.IsUnspecified() && !a.IsLoopback() {
			if b, ok := broadcastOf(a); ok {
				if bc, err := listenUDP(b, udpPort); err == nil {
					s.udp = append(s.udp, udpSock{conn: bc, reply: uc})
				} else {
					log.Warn("ca: cannot bind broadcast address", "addr", b.String(), "err", err)
				}
			}
		}
	}
	s.dests = s.beaconDests()
	log.Info("ca: listening", "tcp", s.tcpLns[0].Addr().String(), "udp", s.udp[0].conn.LocalAddr().String(),
		"beacon_destinations", len(s.dests))
	if len(s.dests) == 0 {
		log.Warn("ca: no beacon destinations; sending no beacons")
		return nil
	}
	bc, err := ulc.ListenPacket(ctx, "udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), 0).String())
	if err != nil {
		return fmt.Errorf("ca: beacon socket: %w", err)
	}
	s.beacon = bc.(*net.UDPConn)
	return nil
}

func (s *Server) closeSocketsLocked() {
	for _, ln := range s.tcpLns {
		_ = ln.Close()
	}
	for _, u := range s.udp {
		_ = u.conn.Close()
	}
	if s.beacon != nil {
		_ = s.beacon.Close()
	}
}

// ListenAndServe calls Listen, then Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Serve answers searches, sends beacons and serves client circuits until
// ctx is done or Shutdown is called; it calls Listen first if needed. When
// ctx is done it closes every circuit and waits for its goroutines. It
// returns ErrServerClosed then, or the error of Listen.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("ca: Serve called twice")
	}
	s.serving = true
	for _, ln := range s.tcpLns {
		s.wg.Go(func() { s.acceptLoop(ctx, ln) })
	}
	for _, u := range s.udp {
		s.wg.Go(func() { s.udpLoop(u) })
	}
	if s.beacon != nil {
		conn, dests := s.beacon, s.dests
		s.wg.Go(func() { s.beaconLoop(conn, dests) })
	}
	var stopNotify func()
	if rn, ok := s.Directory.(RemovalNotifier); ok {
		stopNotify = rn.NotifyRemove(s.pvRemoved)
	}
	done := s.done
	s.mu.Unlock()

	select {
	case <-ctx.Done():
		s.close()
	case <-done:
	}
	if stopNotify != nil {
		stopNotify()
	}
	s.wg.Wait()
	close(s.stopped)
	return ErrServerClosed
}

// Shutdown stops the server: it closes the listeners and the UDP sockets,
// closes every client circuit (clients see a disconnect) after flushing
// what was queued for it, and waits for all the server's goroutines. If
// ctx ends first it closes the remaining connections at once and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.close()
	s.mu.Lock()
	serving, stopped := s.serving, s.stopped
	s.mu.Unlock()
	if !serving {
		return nil
	}
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.circuits {
			_ = c.conn.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

// close marks the server closed, closes its sockets and unblocks every
// circuit's reader.
func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.closed {
		return
	}
	s.closed = true
	s.closing.Store(true)
	close(s.done)
	s.closeSocketsLocked()
	past := time.Unix(1, 0)
	flush := time.Now().Add(shutdownFlush)
	for c := range s.circuits {
		_ = c.conn.SetReadDeadline(past)
		_ = c.conn.SetWriteDeadline(flush)
	}
}

// acceptLoop accepts client circuits on ln until the server closes.
func (s *Server) acceptLoop(ctx context.Context, ln *net.TCPListener) {
	var delay time.Duration
	for {
		conn, err := ln.AcceptTCP()
		if err != nil {
			if s.isClosing() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off and retry.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logger().Warn("ca: accept failed", "err", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		_ = conn.SetNoDelay(true)
		_ = conn.SetKeepAlive(true)
		c := newCircuit(s, conn, conn.RemoteAddr().String())
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.circuits[c] = struct{}{}
		s.stats.clients.Add(1)
		s.stats.clientsTotal.Add(1)
		s.wg.Go(func() { c.run(ctx) })
		s.mu.Unlock()
	}
}

func (s *Server) removeCircuit(c *circuit) {
	s.mu.Lock()
	delete(s.circuits, c)
	s.mu.Unlock()
	s.stats.clients.Add(-1)
}

// pvRemoved disconnects the channels created under name.
func (s *Server) pvRemoved(name string, pv PV) {
	s.mu.Lock()
	cs := make([]*circuit, 0, len(s.circuits))
	for c := range s.circuits {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.pvRemoved(name, pv)
	}
}
