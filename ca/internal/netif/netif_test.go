package netif

import (
	"net"
	"net/netip"
	"testing"
)

func TestBroadcastOf(t *testing.T) {
	lan := &net.IPNet{IP: net.IPv4(192, 168, 7, 20), Mask: net.CIDRMask(24, 32)}
	tests := []struct {
		name string
		addr net.Addr
		only []netip.Addr
		want string // "" = none
	}{
		{"class C", lan, nil, "192.168.7.255"},
		{"/30", &net.IPNet{IP: net.IPv4(10, 1, 2, 5), Mask: net.CIDRMask(30, 32)}, nil, "10.1.2.7"},
		{"listed", lan, []netip.Addr{netip.MustParseAddr("192.168.7.20")}, "192.168.7.255"},
		{"not listed", lan, []netip.Addr{netip.MustParseAddr("10.0.0.1")}, ""},
		{"IPv6", &net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)}, nil, ""},
		{"not an IPNet", &net.TCPAddr{IP: net.IPv4(1, 2, 3, 4)}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := broadcastOf(tt.addr, tt.only)
			if tt.want == "" {
				if ok {
					t.Fatalf("got %v, want none", got)
				}
				return
			}
			if !ok || got.String() != tt.want {
				t.Fatalf("got %v %v, want %s", got, ok, tt.want)
			}
		})
	}
}

func TestBroadcastsDoesNotFail(t *testing.T) {
	for _, b := range Broadcasts(nil) {
		if !b.Is4() {
			t.Fatalf("non-IPv4 broadcast %v", b)
		}
	}
}
