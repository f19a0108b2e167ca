package client_test

import (
	"io"
	"net"
	"reflect"
	"sync"
	"testing"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// TestNameServerForwardedPort reaches the server's TCP port through a
// forwarder on another port, as a client reaches a container's published
// port: the server's search reply names its own port, which the client
// cannot reach, and names no address; the channel must come up on the
// circuit the search went through, as libca does.
func TestNameServerForwardedPort(t *testing.T) {
	checkGoroutines(t)
	pvs := &ca.Map{}
	if err := pvs.Add("NS:FWD", ca.NewDouble(ca.Options{}, 7)); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, pvs)
	fwd := forward(t, srv.TCPAddr().String())
	c, err := client.New(client.Config{NameServers: []string{fwd}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "NS:FWD")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := ch.Get(ctx, dbr.Double, 1); err != nil || !reflect.DeepEqual(v, dbr.Doubles{7}) {
		t.Fatalf("get %v %v", v, err)
	}
	if n := srv.Stats().ClientsTotal; n != 1 {
		t.Errorf("the server accepted %d circuits, want 1: the channel must use the forwarded circuit", n)
	}
}

// forward relays the connections to a new loopback port to addr until
// the test ends, and returns the new port's address.
func forward(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp4", addr)
			if err != nil {
				_ = down.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, down, up)
			mu.Unlock()
			relay := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				_ = dst.Close()
				_ = src.Close()
			}
			wg.Go(func() { relay(up, down) })
			wg.Go(func() { relay(down, up) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
