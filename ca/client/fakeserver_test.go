package client_test

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// fakePV is a PV of the fake server.
type fakePV struct {
	value     dbr.Value
	meta      dbr.Metadata
	access    uint32
	putStatus eca.Code // status for WRITE_NOTIFY; 0 means normal
	refuse    bool     // answer searches but refuse CREATE_CHAN
}

// fakeServer is a minimal CA server built from the wire builders: it
// answers UDP and TCP searches, creates channels, reads, writes and
// subscriptions, over real sockets on 127.0.0.1.
type fakeServer struct {
	udp *net.UDPConn
	ln  *net.TCPListener

	mu       sync.Mutex
	pvs      map[string]*fakePV
	conns    map[*fakeConn]bool
	sid      uint32
	closed   bool
	searches atomic.Int64 // SEARCH messages received
	writes   chan string  // names written by WRITE (no reply), for tests
	silent   bool         // ignore UDP searches

	wg sync.WaitGroup
}

type fakeChan struct {
	cid, sid uint32
	name     string
}

type fakeSub struct {
	ch    *fakeChan
	id    uint32
	typ   dbr.Type
	count uint32
	mask  uint16
}

type fakeConn struct {
	s    *fakeServer
	conn net.Conn
	wmu  sync.Mutex
	// owned by the serving goroutine, read by set under s.mu
	chans map[uint32]*fakeChan
	subs  map[uint32]*fakeSub
}

func startFakeServer() (*fakeServer, error) {
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		_ = udp.Close()
		return nil, err
	}
	s := &fakeServer{udp: udp, ln: ln, pvs: map[string]*fakePV{}, conns: map[*fakeConn]bool{}, writes: make(chan string, 100)}
	s.wg.Go(s.serveUDP)
	s.wg.Go(s.accept)
	return s, nil
}

func (s *fakeServer) tcpPort() uint16 { return uint16(s.ln.Addr().(*net.TCPAddr).Port) }
func (s *fakeServer) udpAddr() string { return s.udp.LocalAddr().String() }
func (s *fakeServer) tcpAddr() string { return s.ln.Addr().String() }

// config returns a client configuration that searches this server by UDP.
func (s *fakeServer) config() client.Config {
	return client.Config{AddrList: []string{s.udpAddr()}, ClientName: "tester", HostName: "testhost"}
}

func (s *fakeServer) add(name string, v dbr.Value) *fakePV {
	s.mu.Lock()
	defer s.mu.Unlock()
	pv := &fakePV{value: v, access: 3, meta: dbr.Metadata{
		Alarm: dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor},
		Stamp: dbr.Timestamp{Sec: 1000, Nsec: 5},
	}}
	s.pvs[name] = pv
	return pv
}

func (s *fakeServer) close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*fakeConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	_ = s.udp.Close()
	_ = s.ln.Close()
	for _, c := range conns {
		_ = c.conn.Close()
	}
	s.wg.Wait()
}

// dropAll closes every TCP connection.
func (s *fakeServer) dropAll() {
	s.mu.Lock()
	for c := range s.conns {
		_ = c.conn.Close()
	}
	s.mu.Unlock()
}

func (s *fakeServer) lookup(name string) *fakePV {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pvs[name]
}

func (s *fakeServer) serveUDP() {
	buf := make([]byte, wire.MaxUDPRecv)
	var out []byte
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		out = out[:0]
		var seq uint32
		replies := 0
		for len(b) > 0 {
			m, k, err := wire.Next(b, 0)
			if err != nil {
				break
			}
			b = b[k:]
			switch m.Command {
			case wire.CmdVersion:
				seq = m.Param1
			case wire.CmdSearch:
				s.searches.Add(1)
				name, _ := wire.DecodeName(m.Payload, 0)
				s.mu.Lock()
				silent := s.silent
				s.mu.Unlock()
				if s.lookup(name) == nil || silent {
					continue
				}
				if replies == 0 {
					out = wire.AppendVersionUDP(out, seq)
				}
				replies++
				out = wire.AppendSearchReplyUDP(out, s.tcpPort(), m.Param2)
			}
		}
		if replies > 0 {
			_, _ = s.udp.WriteToUDPAddrPort(out, from)
		}
	}
}

func (s *fakeServer) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &fakeConn{s: s, conn: conn, chans: map[uint32]*fakeChan{}, subs: map[uint32]*fakeSub{}}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() {
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = conn.Close()
		})
	}
}

func (c *fakeConn) send(b []byte) {
	c.wmu.Lock()
	_, _ = c.conn.Write(b)
	c.wmu.Unlock()
}

func (c *fakeConn) serve() {
	c.send(wire.AppendVersionTCP(nil, 0))
	buf := make([]byte, 0, 1<<16)
	tmp := make([]byte, 1<<16)
	for {
		n, err := c.conn.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:n]...)
		for {
			m, k, err := wire.Next(buf, 0)
			if errors.Is(err, wire.ErrNeedMore) {
				break
			}
			if err != nil {
				return
			}
			raw := append([]byte(nil), buf[:k-len(m.Payload)]...)
			if !c.handle(m, raw) {
				return
			}
			buf = buf[k:]
		}
		buf = append(buf[:0:0], buf...)
	}
}

// encode appends a DBR reply of type t for the PV's value.
func encode(b []byte, h wire.Header, pv *fakePV, t dbr.Type, count uint32) []byte {
	n := int(count)
	if n == 0 {
		n = pv.value.Len()
	}
	h.DataCount = uint32(n)
	h.PayloadSize = uint32(dbr.PaddedSize(t, n))
	b, start := wire.BeginMessage(b, h)
	out, err := dbr.AppendData(b, t, n, pv.value, &pv.meta)
	if err != nil {
		h.Param1 = uint32(eca.Of(err, eca.GetFail))
		b = b[:start]
		b = wire.AppendMessage(b, h, make([]byte, dbr.PaddedSize(t, n)))
		return b
	}
	return wire.EndMessage(out, start)
}

func (c *fakeConn) handle(m wire.Message, raw []byte) bool {
	s := c.s
	switch m.Command {
	case wire.CmdVersion, wire.CmdClientName, wire.CmdHostName, wire.CmdEventsOff, wire.CmdEventsOn:
	case wire.CmdEcho:
		c.send(wire.AppendEcho(nil))
	case wire.CmdSearch:
		s.searches.Add(1)
		name, _ := wire.DecodeName(m.Payload, 0)
		if s.lookup(name) != nil {
			c.send(wire.AppendSearchReplyTCP(nil, s.tcpPort(), m.Param2))
		}
	case wire.CmdCreateChan:
		name, _ := wire.DecodeName(m.Payload, 0)
		pv := s.lookup(name)
		if pv == nil || pv.refuse {
			c.send(wire.AppendCreateChFail(nil, m.Param1))
			return true
		}
		s.mu.Lock()
		sid := s.sid
		s.sid++
		ch := &fakeChan{cid: m.Param1, sid: sid, name: name}
		c.chans[sid] = ch
		t, n := pv.value.Type(), pv.value.Len()
		access := pv.access
		s.mu.Unlock()
		b := wire.AppendAccessRights(nil, ch.cid, access)
		b = wire.AppendCreateChanReply(b, ch.cid, sid, uint16(t), uint32(n))
		c.send(b)
	case wire.CmdClearChannel:
		s.mu.Lock()
		delete(c.chans, m.Param1)
		for id, sub := range c.subs {
			if sub.ch.sid == m.Param1 {
				delete(c.subs, id)
			}
		}
		s.mu.Unlock()
		c.send(wire.AppendClearChannel(nil, m.Param1, m.Param2))
	case wire.CmdReadNotify:
		ch, pv := c.chanPV(m.Param1)
		if ch == nil {
			c.send(wire.AppendError(nil, 0xFFFFFFFF, uint32(eca.BadChID), raw, "bad resource id"))
			return false
		}
		s.mu.Lock()
		b := encode(nil, wire.Header{Command: wire.CmdReadNotify, DataType: m.DataType, Param1: uint32(eca.Normal), Param2: m.Param2}, pv, dbr.Type(m.DataType), m.DataCount)
		s.mu.Unlock()
		c.send(b)
	case wire.CmdWrite, wire.CmdWriteNotify:
		ch, pv := c.chanPV(m.Param1)
		if ch == nil {
			return false
		}
		v, _, err := dbr.DecodeData(dbr.Type(m.DataType), int(m.DataCount), m.Payload)
		status := eca.Normal
		if err != nil {
			status = eca.BadType
		} else if pv.putStatus != 0 {
			status = pv.putStatus
		}
		if m.Command == wire.CmdWrite && status != eca.Normal {
			c.send(wire.AppendError(nil, ch.cid, uint32(status), raw, ch.name))
			return true
		}
		if status == eca.Normal {
			s.set(ch.name, v)
		}
		if m.Command == wire.CmdWriteNotify {
			c.send(wire.AppendWriteNotifyReply(nil, m.DataType, m.DataCount, uint32(status), m.Param2))
		} else {
			select {
			case s.writes <- ch.name:
			default:
			}
		}
	case wire.CmdEventAdd:
		ch, pv := c.chanPV(m.Param1)
		if ch == nil {
			return false
		}
		mask, _ := wire.EventAddMask(m.Payload)
		sub := &fakeSub{ch: ch, id: m.Param2, typ: dbr.Type(m.DataType), count: m.DataCount, mask: mask}
		s.mu.Lock()
		c.subs[sub.id] = sub
		b := encode(nil, wire.Header{Command: wire.CmdEventAdd, DataType: m.DataType, Param1: uint32(eca.Normal), Param2: sub.id}, pv, sub.typ, sub.count)
		s.mu.Unlock()
		c.send(b)
	case wire.CmdEventCancel:
		s.mu.Lock()
		sub := c.subs[m.Param2]
		delete(c.subs, m.Param2)
		s.mu.Unlock()
		if sub == nil {
			c.send(wire.AppendError(nil, 0xFFFFFFFF, uint32(eca.BadMonID), raw, "bad monitor id"))
			return false
		}
		c.send(wire.AppendEventCancelReply(nil, uint16(sub.typ), sub.count, m.Param1, sub.id))
	default:
		c.send(wire.AppendError(nil, 0xFFFFFFFF, uint32(eca.Internal), raw, "unsupported"))
		return false
	}
	return true
}

func (c *fakeConn) chanPV(sid uint32) (*fakeChan, *fakePV) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ch := c.chans[sid]
	if ch == nil {
		return nil, nil
	}
	return ch, c.s.pvs[ch.name]
}

// set changes a PV's value and posts a VALUE update to its subscribers.
func (s *fakeServer) set(name string, v dbr.Value) {
	type post struct {
		c *fakeConn
		b []byte
	}
	var posts []post
	s.mu.Lock()
	pv := s.pvs[name]
	if pv == nil {
		s.mu.Unlock()
		return
	}
	if conv, err := dbr.Convert(v, pv.value.Type(), nil); err == nil {
		v = conv
	}
	pv.value = v
	for c := range s.conns {
		var b []byte
		for _, sub := range c.subs {
			if sub.ch.name == name && sub.mask&uint16(dbr.EventValue) != 0 {
				b = encode(b, wire.Header{Command: wire.CmdEventAdd, DataType: uint16(sub.typ), Param1: uint32(eca.Normal), Param2: sub.id}, pv, sub.typ, sub.count)
			}
		}
		if len(b) > 0 {
			posts = append(posts, post{c, b})
		}
	}
	s.mu.Unlock()
	for _, p := range posts {
		p.c.send(p.b)
	}
}

// serverDisconn sends SERVER_DISCONN for every channel to name.
func (s *fakeServer) serverDisconn(name string) {
	s.mu.Lock()
	var conns []*fakeConn
	var cids []uint32
	for c := range s.conns {
		for sid, ch := range c.chans {
			if ch.name == name {
				delete(c.chans, sid)
				conns = append(conns, c)
				cids = append(cids, ch.cid)
			}
		}
	}
	s.mu.Unlock()
	for i, c := range conns {
		c.send(wire.AppendServerDisconn(nil, cids[i]))
	}
}

func pvName(i int) string { return "FAKE:PV" + strconv.Itoa(i) }
