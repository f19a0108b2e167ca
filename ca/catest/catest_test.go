package catest_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

func TestNewServer(t *testing.T) {
	srv := catest.NewServer(t, map[string]ca.PV{"T:AI": ca.NewDouble(ca.Options{}, 3.5)})
	if srv.TCPPort == 0 || srv.UDPPort == 0 || srv.RepeaterPort == 0 {
		t.Fatalf("ports %+v", srv)
	}
	env := strings.Join(srv.Env(), " ")
	for _, want := range []string{"EPICS_CA_AUTO_ADDR_LIST=NO", "EPICS_CA_ADDR_LIST=127.0.0.1:"} {
		if !strings.Contains(env, want) {
			t.Errorf("env %q lacks %q", env, want)
		}
	}
	// A search over UDP finds the PV.
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: srv.UDPPort})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(wire.AppendSearch(wire.AppendVersionUDP(nil, 1), 7, "T:AI")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1024)
	n, err := c.Read(b)
	if err != nil || n != 16+24 {
		t.Fatalf("reply %x, %v", b[:n], err)
	}
	// Beacons go to the repeater port.
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: srv.RepeaterPort})
	if err != nil {
		t.Skipf("repeater port taken: %v", err)
	}
	defer rx.Close()
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := rx.Read(b); err != nil || n != 16 || b[1] != byte(wire.CmdBeacon) {
		t.Fatalf("beacon %x, %v", b[:n], err)
	}
}
