package ca

import (
	"net"
	"net/netip"
	"time"

	"github.com/cabridge/cabridge/ca/internal/netif"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

const firstBeaconGap = 20 * time.Millisecond

// beaconSchedule is rsrv's beacon timing: the first two beacons carry
// counter 0, then 1, 2, 3…; the gaps start at 20 ms and double up to the
// beacon period.
type beaconSchedule struct {
	period  time.Duration
	sent    uint64
	counter uint32
	gap     time.Duration
}

// next returns the counter for the beacon to send now and the delay until
// the following one.
func (b *beaconSchedule) next() (uint32, time.Duration) {
	c := b.counter
	if b.sent > 0 {
		b.counter++
	}
	b.sent++
	if b.gap == 0 {
		b.gap = firstBeaconGap
	} else {
		b.gap *= 2
	}
	b.gap = min(b.gap, b.period)
	return c, b.gap
}

// beaconLoop sends beacons to dests until the server closes.
func (s *Server) beaconLoop(conn *net.UDPConn, dests []netip.AddrPort) {
	sched := beaconSchedule{period: s.beaconPeriod()}
	timer := time.NewTimer(0)
	defer timer.Stop()
	buf := make([]byte, 0, wire.HeaderSize)
	failed := make(map[netip.AddrPort]bool)
	for {
		select {
		case <-timer.C:
		case <-s.done:
			return
		}
		counter, wait := sched.next()
		buf = wire.AppendBeacon(buf[:0], s.tcpPort, counter)
		for _, d := range dests {
			_, err := conn.WriteToUDPAddrPort(buf, d)
			switch {
			case err != nil && !failed[d]:
				failed[d] = true
				s.logger().Warn("ca: cannot send beacon", "to", d.String(), "err", err)
			case err == nil && failed[d]:
				delete(failed, d)
			}
		}
		s.stats.beacons.Add(1)
		timer.Reset(wait)
	}
}

// beaconDests returns the configured beacon destinations plus, with
// AutoBeaconAddrs, the broadcast addresses of the up interfaces (of
// Config.Interfaces when set), without duplicates.
func (s *Server) beaconDests() []netip.AddrPort {
	port := uint16(s.Config.BeaconPort)
	if port == 0 {
		port = defaultRepeaterPort
	}
	var out []netip.AddrPort
	add := func(ap netip.AddrPort) {
		for _, x := range out {
			if x == ap {
				return
			}
		}
		out = append(out, ap)
	}
	for _, ap := range s.Config.BeaconAddrs {
		if ap.Port() == 0 {
			ap = netip.AddrPortFrom(ap.Addr(), port)
		}
		add(ap)
	}
	if s.Config.AutoBeaconAddrs {
		for _, b := range netif.Broadcasts(s.Config.Interfaces) {
			add(netip.AddrPortFrom(b, port))
		}
	}
	return out
}

// broadcastOf returns the broadcast address of the interface holding a.
func broadcastOf(a netip.Addr) (netip.Addr, bool) {
	bs := netif.Broadcasts([]netip.Addr{a})
	if len(bs) == 0 {
		return netip.Addr{}, false
	}
	return bs[0], true
}
