package catools

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cabridge/cabridge/ca/client"
)

// serverHost returns the server of ch as cainfo's Host line shows it,
// "host:port", or "<unknown>" when it is not connected. The host is
// named by a reverse lookup, as libca does, or by its address; names
// holds the lookups already made.
func serverHost(ctx context.Context, ch *client.Channel, names map[netip.AddrPort]string) string {
	ap, ok := ch.Server()
	if !ok {
		return "<unknown>"
	}
	if s, ok := names[ap]; ok {
		return s
	}
	host := ap.Addr().String()
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if found, err := net.DefaultResolver.LookupAddr(rctx, host); err == nil && len(found) > 0 {
		host = strings.TrimSuffix(found[0], ".")
	}
	names[ap] = host + ":" + strconv.Itoa(int(ap.Port()))
	return names[ap]
}
