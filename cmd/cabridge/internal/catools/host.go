package catools

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cabridge/cabridge/ca/client"
)

// The CA commands and constants the host probe needs (CA 4.13).
const (
	cmdVersion    = 0
	cmdSearch     = 6
	minorVersion  = 13
	searchNoReply = 5 // DONT_REPLY: servers that lack the PV stay quiet
	probeCID      = 0x0CAB
)

// hostNames names servers as cainfo's Host line shows them
// ("host:port"), remembering the names it looked up.
type hostNames map[netip.AddrPort]string

// serverHost returns the server of the PV name as cainfo's Host line
// shows it, or "<unknown>". ca/client does not tell which server a
// channel is on, so this repeats the search the client did: by UDP to the
// search addresses of cfg and by TCP to its name servers, and takes the
// first answer. The host is named by a reverse lookup, as libca does, or
// by its address.
func (h hostNames) serverHost(ctx context.Context, cfg client.Config, name string) string {
	ap, err := searchServer(ctx, cfg, name)
	if err != nil {
		return "<unknown>"
	}
	if s, ok := h[ap]; ok {
		return s
	}
	host := ap.Addr().String()
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if names, err := net.DefaultResolver.LookupAddr(rctx, host); err == nil && len(names) > 0 {
		host = strings.TrimSuffix(names[0], ".")
	}
	h[ap] = host + ":" + strconv.Itoa(int(ap.Port()))
	return h[ap]
}

// appendHeader appends a 16-byte CA header.
func appendHeader(b []byte, cmd, size, dtype, count uint16, p1, p2 uint32) []byte {
	b = binary.BigEndian.AppendUint16(b, cmd)
	b = binary.BigEndian.AppendUint16(b, size)
	b = binary.BigEndian.AppendUint16(b, dtype)
	b = binary.BigEndian.AppendUint16(b, count)
	b = binary.BigEndian.AppendUint32(b, p1)
	return binary.BigEndian.AppendUint32(b, p2)
}

// searchRequest is VERSION then SEARCH for name.
func searchRequest(name string) []byte {
	n := (len(name) + 1 + 7) &^ 7
	b := appendHeader(nil, cmdVersion, 0, 0, minorVersion, 0, 0)
	b = appendHeader(b, cmdSearch, uint16(n), searchNoReply, minorVersion, probeCID, probeCID)
	b = append(b, name...)
	return append(b, make([]byte, n-len(name))...)
}

// searchReply finds the SEARCH reply for the probe in msgs and returns the
// server's address; src is the sender, used when the reply carries no
// address.
func searchReply(msgs []byte, src netip.Addr) (netip.AddrPort, bool) {
	for len(msgs) >= 16 {
		cmd := binary.BigEndian.Uint16(msgs)
		size := int(binary.BigEndian.Uint16(msgs[2:]))
		port := binary.BigEndian.Uint16(msgs[4:])
		ip := binary.BigEndian.Uint32(msgs[8:])
		cid := binary.BigEndian.Uint32(msgs[12:])
		if cmd == cmdSearch && cid == probeCID {
			a := src
			if ip != 0 && ip != 0xFFFFFFFF {
				a = netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)})
			}
			return netip.AddrPortFrom(a.Unmap(), port), true
		}
		if 16+size > len(msgs) {
			break
		}
		msgs = msgs[16+size:]
	}
	return netip.AddrPort{}, false
}

// searchServer searches for name once and waits for the first answer
// until ctx ends.
func searchServer(ctx context.Context, cfg client.Config, name string) (netip.AddrPort, error) {
	port := cfg.ServerPort
	if port == 0 {
		port = 5064
	}
	found := make(chan netip.AddrPort, 1+len(cfg.NameServers))
	req := searchRequest(name)
	var dsts []netip.AddrPort
	for _, e := range cfg.AddrList {
		if a, ok := resolve(e, port); ok {
			dsts = append(dsts, a)
		}
	}
	if cfg.AutoAddrList {
		dsts = append(dsts, broadcasts(port)...)
	}
	// The readers end when their connections are closed, before return.
	var wg sync.WaitGroup
	var conns []io.Closer
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		wg.Wait()
	}()
	pending := 0
	if len(dsts) > 0 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{})
		if err == nil {
			conns = append(conns, u)
			for _, d := range dsts {
				_, _ = u.WriteToUDPAddrPort(req, d)
			}
			pending++
			wg.Go(func() {
				buf := make([]byte, 1500)
				for {
					n, src, err := u.ReadFromUDPAddrPort(buf)
					if err != nil {
						return
					}
					if a, ok := searchReply(buf[:n], src.Addr()); ok {
						found <- a
						return
					}
				}
			})
		}
	}
	for _, e := range cfg.NameServers {
		a, ok := resolve(e, port)
		if !ok {
			continue
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp4", a.String())
		if err != nil {
			continue
		}
		conns = append(conns, c)
		pending++
		wg.Go(func() {
			if _, err := c.Write(req); err != nil {
				return
			}
			buf := make([]byte, 0, 4096)
			tmp := make([]byte, 4096)
			for len(buf) < 1<<16 {
				n, err := c.Read(tmp)
				if err != nil {
					return
				}
				buf = append(buf, tmp[:n]...)
				if r, ok := searchReply(buf, a.Addr()); ok {
					found <- r
					return
				}
			}
		})
	}
	if pending == 0 {
		return netip.AddrPort{}, errors.New("catools: nowhere to search")
	}
	select {
	case a := <-found:
		return a, nil
	case <-ctx.Done():
		return netip.AddrPort{}, ctx.Err()
	}
}

// resolve turns "host[:port]" into an address.
func resolve(e string, port int) (netip.AddrPort, bool) {
	host := e
	if h, p, err := net.SplitHostPort(e); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return netip.AddrPort{}, false
		}
		host, port = h, int(n)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return netip.AddrPort{}, false
		}
		var ok bool
		if a, ok = netip.AddrFromSlice(ips[0].To4()); !ok {
			return netip.AddrPort{}, false
		}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}

// broadcasts returns the broadcast address of every up IPv4 interface.
func broadcasts(port int) []netip.AddrPort {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.AddrPort
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagBroadcast == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil || len(ipn.Mask) != net.IPv4len {
				continue
			}
			var b [4]byte
			for i := range b {
				b[i] = ipn.IP.To4()[i] | ^ipn.Mask[i]
			}
			out = append(out, netip.AddrPortFrom(netip.AddrFrom4(b), uint16(port)))
		}
	}
	return out
}
