package mqtt_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
)

// wsProxy serves MQTT over WebSocket (subprotocol "mqtt") on 127.0.0.1
// and relays it to the broker's TCP listener: Debian's mosquitto cannot
// open a websockets listener on this machine, so the WebSocket side is
// ours and the MQTT side is the real broker.
func wsProxy(t *testing.T, b *broker) string {
	t.Helper()
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}, CheckOrigin: func(*http.Request) bool { return true }}
	var conns sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		tcp, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", b.port))
		if err != nil {
			return
		}
		defer tcp.Close()
		conns.Go(func() {
			defer tcp.Close()
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if _, err := tcp.Write(data); err != nil {
					return
				}
			}
		})
		buf := make([]byte, 32<<10)
		for {
			n, err := tcp.Read(buf)
			if err != nil {
				return
			}
			if err := ws.WriteMessage(websocket.BinaryMessage, buf[:n]); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() { srv.Close(); conns.Wait() })
	return "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/mqtt"
}

// TestWebSocket connects with a ws:// broker URL.
func TestWebSocket(t *testing.T) {
	b := startBroker(t, nil)
	url := wsProxy(t, b)
	p := newPeer(t, b, nil)
	p.pub("ws/t", "4.5", true)
	d := newDevice(t, b, mqtt.Config{Broker: url}, nil)
	pt := parse(t, d, drivers.PointSpec{Address: "ws/t", Options: map[string]string{"command": "ws/t/set"}})
	open(t, d)
	ss, err := d.Read(t.Context(), []drivers.Point{pt})
	if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, drivers.Floats{4.5}) {
		t.Fatalf("Read over ws:// = %v, %v", ss, err)
	}
	p.sub("ws/t/set")
	if err := d.Write(t.Context(), pt, drivers.Floats{5}); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.waitMsg("ws/t/set", 10*time.Second, func(s string) bool { return s == "5" }); !ok {
		t.Error("write over ws:// did not reach the broker")
	}
}

// TestPersistentSession: with a persistent session the broker queues QoS 1
// messages while the bridge is away and delivers them on reconnect; with
// a clean session they are lost.
func TestPersistentSession(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	for _, tc := range []struct {
		session mqtt.Session
		want    bool
	}{{mqtt.SessionPersistent, true}, {mqtt.SessionClean, false}} {
		t.Run(string(tc.session), func(t *testing.T) {
			cfg := mqtt.Config{ClientID: "ps-" + string(tc.session), Session: tc.session, ReadWait: drivers.Duration(300 * time.Millisecond)}
			spec := drivers.PointSpec{Address: "ps/" + string(tc.session)}
			first := newDevice(t, b, cfg, nil)
			parse(t, first, spec)
			open(t, first)
			first.Close()
			p.pub(spec.Address, "7", false) // not retained: only a session keeps it
			again := newDevice(t, b, cfg, nil)
			pt := parse(t, again, spec)
			open(t, again)
			ss, err := again.Read(t.Context(), []drivers.Point{pt})
			if err != nil {
				t.Fatal(err)
			}
			if got := ss[0].Err == nil && drivers.Equal(ss[0].Value, drivers.Floats{7}); got != tc.want {
				t.Errorf("queued message delivered: %v (%v, %v), want %v", got, ss[0].Value, ss[0].Err, tc.want)
			}
		})
	}
}

// TestPassword: a broker that admits only a user with a password.
func TestPassword(t *testing.T) {
	b := startBrokerUsers(t, nil, map[string]string{"bridge": "s3cret"})
	good := newDevice(t, b, mqtt.Config{Username: "bridge", Password: "s3cret", ClientID: "good"}, nil)
	pt := parse(t, good, drivers.PointSpec{Address: "pw/t", Options: map[string]string{"command": "pw/t", "readback": "pw/t"}})
	open(t, good)
	if err := good.Write(t.Context(), pt, drivers.Floats{3}); err != nil {
		t.Errorf("confirmed write as an authenticated user: %v", err)
	}
	for name, cfg := range map[string]mqtt.Config{
		"wrong password": {Username: "bridge", Password: "guess", ClientID: "bad1"},
		"anonymous":      {ClientID: "bad2"},
	} {
		d := newDevice(t, b, cfg, nil)
		if err := d.Open(t.Context()); !errors.Is(err, drivers.ErrDisconnected) || !strings.Contains(err.Error(), "not Authorized") {
			t.Errorf("%s: Open = %v; want ErrDisconnected (not authorized)", name, err)
		}
	}
}
