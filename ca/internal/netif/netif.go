// Package netif lists the IPv4 broadcast addresses of this host's network
// interfaces, which CA servers beacon to and CA clients search on when
// their EPICS_*_AUTO_* address lists are on.
package netif

import (
	"net"
	"net/netip"
	"slices"
)

// Broadcasts returns the IPv4 broadcast address of every up,
// broadcast-capable interface address, in interface order. When only is
// not empty, it is limited to the interface addresses listed there.
func Broadcasts(only []netip.Addr) []netip.Addr {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagBroadcast == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if b, ok := broadcastOf(a, only); ok {
				out = append(out, b)
			}
		}
	}
	return out
}

// broadcastOf returns the broadcast address of an interface address a, if
// it is IPv4 and (with a non-empty only) listed in only.
func broadcastOf(a net.Addr, only []netip.Addr) (netip.Addr, bool) {
	ipn, ok := a.(*net.IPNet)
	if !ok {
		return netip.Addr{}, false
	}
	ip4 := ipn.IP.To4()
	if ip4 == nil || len(ipn.Mask) != net.IPv4len {
		return netip.Addr{}, false
	}
	local, _ := netip.AddrFromSlice(ip4)
	if len(only) > 0 && !slices.Contains(only, local) {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i := range b {
		b[i] = ip4[i] | ^ipn.Mask[i]
	}
	return netip.AddrFrom4(b), true
}
