package ca

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/cabridge/cabridge/ca/internal/wire"
)

// searchResponder turns one UDP search datagram into reply datagrams. It
// does no I/O and reuses its buffers, so answering does not allocate.
type searchResponder struct {
	port uint16 // the server's TCP port, advertised in every reply
	out  []byte // reply datagrams, back to back
	ends []int  // end offset in out of each reply datagram

	searches, hits int // counted by respond, for Stats
}

// respond parses req and prepares the replies: one SEARCH reply per name
// found, split into datagrams of at most 1024 bytes, each opened by a
// VERSION echoing the request's sequence number when the request opened
// with a VERSION (client ≥ 4.11). Names not found get nothing. A datagram
// that does not parse gets no reply at all; respond then returns false.
func (r *searchResponder) respond(req []byte, found func(name []byte) bool) bool {
	r.out, r.ends = r.out[:0], r.ends[:0]
	r.searches, r.hits = 0, 0
	var seq uint32
	prefix := false
	start, count := 0, 0 // current reply datagram
	for i := 0; len(req) > 0; i++ {
		m, n, err := wire.Next(req, 0)
		if err != nil {
			r.out, r.ends = r.out[:0], r.ends[:0]
			return false
		}
		req = req[n:]
		switch m.Command {
		case wire.CmdVersion:
			if i == 0 && m.DataCount >= 11 {
				prefix = true
				if m.DataType == wire.SequenceNoIsValid {
					seq = m.Param1
				}
			}
		case wire.CmdSearch:
			r.searches++
			name := nameBytes(m.Payload)
			if len(name) == 0 || !found(name) {
				continue
			}
			r.hits++
			const replySize = wire.HeaderSize + 8
			if count > 0 && len(r.out)-start+replySize > wire.MaxUDPSend {
				r.ends = append(r.ends, len(r.out))
				start, count = len(r.out), 0
			}
			if count == 0 && prefix {
				r.out = wire.AppendVersionUDP(r.out, seq)
			}
			r.out = wire.AppendSearchReplyUDP(r.out, r.port, m.Param1)
			count++
		default:
			r.out, r.ends = r.out[:0], r.ends[:0]
			return false
		}
	}
	if count > 0 {
		r.ends = append(r.ends, len(r.out))
	}
	return true
}

// datagrams calls f for each prepared reply datagram.
func (r *searchResponder) datagrams(f func([]byte)) {
	start := 0
	for _, end := range r.ends {
		f(r.out[start:end])
		start = end
	}
}

// udpSock is one bound search socket.
type udpSock struct {
	conn  *net.UDPConn // receives searches
	reply *net.UDPConn // sends replies: conn, or the interface's unicast socket for a broadcast-bound conn
}

// udpLoop answers the search datagrams arriving on u until it is closed.
func (s *Server) udpLoop(u udpSock) {
	buf := make([]byte, wire.MaxUDPRecv)
	resp := searchResponder{port: s.tcpPort}
	found := s.found
	var from netip.AddrPort
	send := func(dg []byte) {
		if _, err := u.reply.WriteToUDPAddrPort(dg, from); err != nil {
			s.stats.udpErrors.Add(1)
		}
	}
	var errDelay time.Duration
	for {
		n, addr, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.isClosing() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Keep serving, but do not spin on a persistent error.
			s.stats.udpErrors.Add(1)
			errDelay = min(max(2*errDelay, time.Millisecond), time.Second)
			t := time.NewTimer(errDelay)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
			continue
		}
		errDelay = 0
		s.stats.searchDatagrams.Add(1)
		from = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		if s.ignored(from.Addr()) {
			continue
		}
		if resp.respond(buf[:n], found) {
			s.stats.searches.Add(uint64(resp.searches))
			s.stats.searchHits.Add(uint64(resp.hits))
			resp.datagrams(send)
		}
	}
}

// found reports whether the Directory has name.
func (s *Server) found(name []byte) bool {
	_, ok := s.lookupBytes(name)
	return ok
}

// ignored reports whether datagrams from a are dropped.
func (s *Server) ignored(a netip.Addr) bool {
	for _, x := range s.Config.IgnoreAddrs {
		if x.Unmap() == a {
			return true
		}
	}
	return false
}
