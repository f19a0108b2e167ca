package mqtt_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
)

// relay is a TCP relay to the broker whose connections the test can cut,
// as a network failure would, while the broker keeps running.
type relay struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// newRelay relays 127.0.0.1:<free port> to b until the test ends.
func newRelay(t *testing.T, b *broker) *relay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{l: l}
	r.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", b.port))
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, up)
			r.mu.Unlock()
			r.wg.Go(func() { _, _ = io.Copy(up, c); up.Close(); c.Close() })
			r.wg.Go(func() { _, _ = io.Copy(c, up); up.Close(); c.Close() })
		}
	})
	t.Cleanup(func() { l.Close(); r.cut(); r.wg.Wait() })
	return r
}

func (r *relay) url() string { return "tcp://" + r.l.Addr().String() }

// cut closes every relayed connection.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// TestLastWill: when the bridge's connection breaks, the broker publishes
// its retained last will "offline"; the bridge reconnects by itself and
// announces "online" again.
func TestLastWill(t *testing.T) {
	b := startBroker(t, nil)
	r := newRelay(t, b)
	watcher := newPeer(t, b, nil)
	watcher.sub("lw/status")
	d := newDevice(t, b, mqtt.Config{Broker: r.url(), StatusTopic: "lw/status"}, nil)
	pt := parse(t, d, drivers.PointSpec{Address: "lw/t"})
	open(t, d)
	if _, ok := watcher.waitMsg("lw/status", 10*time.Second, func(s string) bool { return s == "online" }); !ok {
		t.Fatal("no online")
	}
	r.cut()
	if _, ok := watcher.waitMsg("lw/status", 10*time.Second, func(s string) bool { return s == "offline" }); !ok {
		t.Fatal("no last will after the connection broke")
	}
	// The device notices the loss (paho reads EOF), then Open waits for
	// paho's reconnect through the relay.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond) // polling a counter, bounded
	defer tick.Stop()
	for !strings.Contains(d.Stats().LastError, "lost") {
		if time.Now().After(deadline) {
			t.Fatalf("the device did not notice the cut: %+v", d.Stats())
		}
		<-tick.C
	}
	open(t, d)
	// online, offline, online
	if _, ok := watcher.waitMsg("lw/status", 10*time.Second, func(string) bool { return watcher.count("lw/status") >= 3 }); !ok {
		t.Errorf("no online after the reconnect (%d status messages)", watcher.count("lw/status"))
	}
	c, _ := subscribe(t, d, pt)
	watcher.pub("lw/t", "9", false)
	c.wait(t, pt, "9 after the reconnect", hasValue(drivers.Floats{9}))
}
