package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// Errors returned by the client.
var (
	// ErrClosed is returned after Client.Close or Channel.Close.
	ErrClosed = errors.New("client: closed")
	// ErrDisconnected is returned (and wraps an ECA_DISCONN *eca.Error)
	// when the channel has no circuit or its circuit was lost.
	ErrDisconnected error = &eca.Error{Code: eca.Disconn, Msg: "client: channel disconnected"}
	// ErrNoSearchAddr is returned by Connect when there is nowhere to search.
	ErrNoSearchAddr error = &eca.Error{Code: eca.NoSearchAddr, Msg: "client: empty search address list"}
)

// Client is a Channel Access client context: a UDP search socket, the TCP
// circuits to the servers it found and the channels on them. All methods
// are safe for concurrent use. Close stops every goroutine it started.
//
// Lock order: Client.mu, then Channel.mu, then circuit.mu; searcher.mu and
// Client.tabMu are taken last and nothing is locked under them. Requests
// take only circuit.mu (see Channel.link). No lock is held across a
// socket operation or a user callback.
type Client struct {
	cfg        Config
	log        *slog.Logger
	udp        *net.UDPConn
	addrs      []netip.AddrPort
	nameSrvs   []netip.AddrPort
	maxPayload uint32

	subIDs atomic.Uint32

	search searcher

	mu       sync.Mutex
	closed   bool
	circuits map[netip.AddrPort]*circuit // by server address
	lastCirc *circuit                    // the circuit circuitFor returned last

	tabMu sync.Mutex // guards tab; taken last, nothing is locked under it
	tab   chanTable  // channels by cid

	stop chan struct{}
	wg   sync.WaitGroup
}

// New opens the UDP search socket and starts the client's goroutines. It
// resolves the configured addresses but does not contact any server.
func New(cfg Config) (*Client, error) {
	if cfg.ServerPort == 0 {
		cfg.ServerPort = wire.DefaultServerPort
	}
	if cfg.ConnTimeout <= 0 {
		cfg.ConnTimeout = DefaultConnTimeout
	}
	if cfg.MaxSearchPeriod <= 0 {
		cfg.MaxSearchPeriod = DefaultMaxSearchPeriod
	}
	if cfg.Priority > wire.MaxPriority {
		return nil, fmt.Errorf("client: priority %d above %d", cfg.Priority, wire.MaxPriority)
	}
	if cfg.MaxArrayBytes < 0 {
		return nil, fmt.Errorf("client: negative MaxArrayBytes %d", cfg.MaxArrayBytes)
	}
	if cfg.ClientName == "" {
		if u, err := user.Current(); err == nil {
			cfg.ClientName = u.Username
		}
	}
	if cfg.HostName == "" {
		cfg.HostName, _ = os.Hostname()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addrs, err := resolveList(cfg.AddrList, cfg.ServerPort, "EPICS_CA_ADDR_LIST")
	if err != nil {
		return nil, err
	}
	if cfg.AutoAddrList {
		addrs = append(addrs, broadcastAddrs(cfg.ServerPort)...)
	}
	names, err := resolveList(cfg.NameServers, cfg.ServerPort, "EPICS_CA_NAME_SERVERS")
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:        cfg,
		log:        log,
		addrs:      addrs,
		nameSrvs:   names,
		maxPayload: uint32(cfg.MaxArrayBytes),
		circuits:   make(map[netip.AddrPort]*circuit),
		stop:       make(chan struct{}),
	}
	c.search.init()
	if len(addrs) > 0 {
		c.udp, err = net.ListenUDP("udp4", &net.UDPAddr{})
		if err != nil {
			return nil, fmt.Errorf("client: search socket: %w", err)
		}
		_ = c.udp.SetReadBuffer(1 << 20)
		c.wg.Go(c.readUDP)
	}
	c.wg.Go(c.searchLoop)
	return c, nil
}

// Close closes every channel and circuit and waits for the client's
// goroutines to end. Pending operations fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	circs := make([]*circuit, 0, len(c.circuits))
	for _, ci := range c.circuits {
		circs = append(circs, ci)
	}
	c.mu.Unlock()
	c.tabMu.Lock()
	var chans []*Channel
	for _, s := range c.tab.slots {
		if s.ch != nil {
			chans = append(chans, s.ch)
		}
	}
	c.tabMu.Unlock()
	close(c.stop)
	if c.udp != nil {
		_ = c.udp.Close()
	}
	for _, ci := range circs {
		ci.close(ErrClosed)
	}
	c.wg.Wait()
	for _, ch := range chans {
		ch.fail(ErrClosed)
	}
	return nil
}

// Echo sends ECHO on every open circuit and waits until each answers or
// ctx ends.
func (c *Client) Echo(ctx context.Context) error {
	c.mu.Lock()
	circs := make([]*circuit, 0, len(c.circuits))
	for _, ci := range c.circuits {
		circs = append(circs, ci)
	}
	c.mu.Unlock()
	for _, ci := range circs {
		if err := ci.echo(ctx); err != nil {
			return err
		}
	}
	return nil
}

// circuitFor returns the circuit to addr, opening it if needed. It returns
// nil after Close.
func (c *Client) circuitFor(addr netip.AddrPort, nameServer bool) *circuit {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if ci := c.lastCirc; ci != nil && ci.addr == addr && !nameServer {
		return ci
	}
	if ci := c.circuits[addr]; ci != nil {
		c.lastCirc = ci
		if nameServer {
			ci.nameServer.Store(true)
		}
		return ci
	}
	ci := newCircuit(c, addr)
	if nameServer {
		ci.nameServer.Store(true)
	}
	c.circuits[addr] = ci
	c.lastCirc = ci
	c.wg.Go(ci.run)
	return ci
}

func (c *Client) removeCircuit(ci *circuit) {
	c.mu.Lock()
	if c.circuits[ci.addr] == ci {
		delete(c.circuits, ci.addr)
	}
	if c.lastCirc == ci {
		c.lastCirc = nil
	}
	c.mu.Unlock()
}

// channel returns the channel of cid, or nil.
func (c *Client) channel(cid uint32) *Channel {
	c.tabMu.Lock()
	ch := c.tab.get(cid)
	c.tabMu.Unlock()
	return ch
}

// releaseCID frees ch's cid once nothing can refer to it any more.
func (c *Client) releaseCID(ch *Channel) {
	c.tabMu.Lock()
	c.tab.release(ch.cid, ch)
	c.tabMu.Unlock()
}

// found handles a search reply for cid from a server at addr.
func (c *Client) found(cid uint32, addr netip.AddrPort) {
	if !c.search.answered(cid) {
		return // duplicate or late reply: the first server wins
	}
	ch := c.channel(cid)
	if ch == nil {
		return
	}
	ci := c.circuitFor(addr, false)
	if ci == nil {
		return
	}
	ch.attach(ci)
}

// readUDP reads search replies until the socket is closed.
func (c *Client) readUDP() {
	buf := make([]byte, wire.MaxUDPRecv)
	for {
		n, from, err := c.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-c.stop:
				return
			default:
			}
			c.log.Debug("client: udp read", "err", err)
			continue
		}
		b := buf[:n]
		for len(b) > 0 {
			m, k, err := wire.Next(b, 0)
			if err != nil {
				break
			}
			b = b[k:]
			if m.Command != wire.CmdSearch {
				continue
			}
			c.found(m.Param2, replyAddr(m, from.Addr(), c.cfg.ServerPort))
		}
	}
}

// replyAddr returns the server address a search reply designates.
func replyAddr(m wire.Message, src netip.Addr, dfltPort int) netip.AddrPort {
	ip := src.Unmap()
	if m.Param1 != wire.AddrFromSource {
		p := m.Param1
		ip = netip.AddrFrom4([4]byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)})
	}
	port := m.DataType
	if len(m.Payload) >= 2 && wire.SearchReplyMinor(m.Payload) < 5 {
		port = uint16(dfltPort) // pre-4.5 servers do not send their port
	}
	return netip.AddrPortFrom(ip, port)
}

// searchLoop sends search datagrams for the pending names, with back-off.
func (c *Client) searchLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []*searchReq
	var pkt, stream []byte
	for {
		now := time.Now()
		var next time.Time
		batch, next = c.search.take(batch[:0], now, c.cfg.MaxSearchPeriod)
		if len(batch) > 0 {
			pkt, stream = c.sendSearches(batch, pkt, stream[:0])
			// Release the names for the garbage collector.
			clear(batch)
		}
		var wait <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			wait = timer.C
		}
		select {
		case <-c.stop:
			return
		case <-c.search.wake:
		case <-wait:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// sendSearches packs reqs into datagrams of at most MaxUDPSend bytes and
// sends each to every search address and name server circuit. stream
// collects the bytes for the name servers.
func (c *Client) sendSearches(reqs []*searchReq, pkt, stream []byte) ([]byte, []byte) {
	var tcp []*circuit
	for _, a := range c.nameSrvs {
		if ci := c.circuitFor(a, true); ci != nil && ci.searchReady() {
			tcp = append(tcp, ci)
		}
	}
	flush := func() {
		if len(pkt) <= wire.HeaderSize {
			return
		}
		if c.udp != nil {
			for _, a := range c.addrs {
				if _, err := c.udp.WriteToUDPAddrPort(pkt, a); err != nil {
					c.log.Debug("client: search send", "to", a, "err", err)
				}
			}
		}
		if len(tcp) > 0 {
			stream = append(stream, pkt...)
		}
	}
	pkt = wire.AppendVersionUDP(pkt[:0], c.search.nextSeq())
	for _, r := range reqs {
		if len(pkt)+wire.SearchSize(r.name) > wire.MaxUDPSend && len(pkt) > wire.HeaderSize {
			flush()
			pkt = wire.AppendVersionUDP(pkt[:0], c.search.nextSeq())
		}
		pkt = wire.AppendSearch(pkt, r.cid, r.name)
	}
	flush()
	for _, ci := range tcp {
		ci.write(stream)
	}
	return pkt, stream
}
