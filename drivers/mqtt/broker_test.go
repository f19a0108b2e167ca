package mqtt_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mosquittoPath is Debian's broker.
const mosquittoPath = "/usr/sbin/mosquitto"

// peersHint says how to install the broker.
const peersHint = "install with: sudo make peers (apt-get install mosquitto mosquitto-clients)"

// requireMosquitto skips the test when the broker is missing, or fails it
// when CI=true.
func requireMosquitto(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(mosquittoPath); err != nil {
		msg := fmt.Sprintf("%s not found; %s", mosquittoPath, peersHint)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// freeTCPPort returns a port on 127.0.0.1 that was free a moment ago.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// brokerTLS are the TLS files of a TLS listener.
type brokerTLS struct {
	CAFile, CertFile, KeyFile string
	RequireCert               bool
}

// broker is a mosquitto process on a free loopback port, killed when the
// test ends.
type broker struct {
	t      testing.TB
	port   int
	wsPort int // 0: no websocket listener
	dir    string
	tls    *brokerTLS
	users  map[string]string // user → password; nil: anonymous access

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startBroker starts a broker (plain TCP unless tlsFiles is set).
func startBroker(t testing.TB, tlsFiles *brokerTLS) *broker {
	t.Helper()
	return startBrokerUsers(t, tlsFiles, nil)
}

// startBrokerUsers starts a broker that admits only users (user →
// password), or anyone when users is nil.
func startBrokerUsers(t testing.TB, tlsFiles *brokerTLS, users map[string]string) *broker {
	t.Helper()
	requireMosquitto(t)
	b := &broker{t: t, port: freeTCPPort(t), dir: t.TempDir(), tls: tlsFiles, users: users}
	b.start()
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
			t.Logf("mosquitto log:\n%s", log)
		}
	})
	return b
}

// url returns the broker's URL.
func (b *broker) url() string {
	if b.tls != nil {
		return fmt.Sprintf("ssl://127.0.0.1:%d", b.port)
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", b.port)
}

// start writes the config and starts the process on b.port, waiting (at
// most 10 s) until it accepts connections.
func (b *broker) start() {
	b.t.Helper()
	var conf strings.Builder
	conf.WriteString("per_listener_settings false\npersistence false\nlog_dest stderr\nlog_type all\n")
	if b.users == nil {
		conf.WriteString("allow_anonymous true\n")
	} else {
		pw := filepath.Join(b.dir, "passwd")
		if err := os.WriteFile(pw, nil, 0o600); err != nil {
			b.t.Fatal(err)
		}
		for u, p := range b.users {
			if out, err := exec.Command("/usr/bin/mosquitto_passwd", "-b", pw, u, p).CombinedOutput(); err != nil {
				b.t.Fatalf("mosquitto_passwd: %v: %s", err, out)
			}
		}
		fmt.Fprintf(&conf, "allow_anonymous false\npassword_file %s\n", pw)
	}
	if os.Geteuid() == 0 {
		// Run as root, mosquitto drops to the user "mosquitto", which
		// cannot read the test's private temporary files.
		conf.WriteString("user root\n")
	}
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", b.port)
	if b.tls != nil {
		fmt.Fprintf(&conf, "cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate %v\n",
			b.tls.CAFile, b.tls.CertFile, b.tls.KeyFile, b.tls.RequireCert)
	}
	if b.wsPort != 0 {
		fmt.Fprintf(&conf, "listener %d 127.0.0.1\nprotocol websockets\n", b.wsPort)
	}
	path := filepath.Join(b.dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		b.t.Fatal(err)
	}
	cmd := exec.Command(mosquittoPath, "-c", path)
	logf, err := os.OpenFile(filepath.Join(b.dir, "mosquitto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	b.mu.Lock()
	b.cmd = cmd
	b.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond) // the port opening is no event we can wait on: poll it, bounded
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
			b.kill()
			b.t.Fatalf("mosquitto on port %d not accepting connections within 10 s: %v\n%s", b.port, err, log)
		}
		<-tick.C
	}
}

// kill stops the broker (SIGKILL: no clean disconnects) and reaps it.
func (b *broker) kill() {
	b.mu.Lock()
	cmd := b.cmd
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// restart starts the broker again on the same port.
func (b *broker) restart() { b.kill(); b.start() }

// peer is a test MQTT client (paho) that publishes and records messages.
type peer struct {
	t  testing.TB
	cl paho.Client

	mu   sync.Mutex
	msgs []paho.Message
	got  chan struct{} // closed and replaced on every message
}

// newPeer connects a test client to b.
func newPeer(t testing.TB, b *broker, tlsConf *tls.Config) *peer {
	t.Helper()
	p := &peer{t: t, got: make(chan struct{})}
	o := paho.NewClientOptions().AddBroker(b.url()).SetClientID(fmt.Sprintf("peer-%d", time.Now().UnixNano())).
		SetAutoReconnect(false).SetTLSConfig(tlsConf).SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		p.mu.Lock()
		p.msgs = append(p.msgs, m)
		close(p.got)
		p.got = make(chan struct{})
		p.mu.Unlock()
	})
	p.cl = paho.NewClient(o)
	if err := tokenWait(p.cl.Connect()); err != nil {
		t.Fatalf("peer connect: %v", err)
	}
	t.Cleanup(func() { p.cl.Disconnect(0) })
	return p
}

// tokenWait waits up to 10 s for tok.
func tokenWait(tok paho.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("token timed out")
	}
	return tok.Error()
}

// pub publishes payload on topic (QoS 1).
func (p *peer) pub(topic, payload string, retain bool) {
	p.t.Helper()
	if err := tokenWait(p.cl.Publish(topic, 1, retain, payload)); err != nil {
		p.t.Fatalf("publish %s: %v", topic, err)
	}
}

// sub subscribes to filter.
func (p *peer) sub(filter string) {
	p.t.Helper()
	if err := tokenWait(p.cl.Subscribe(filter, 1, nil)); err != nil {
		p.t.Fatalf("subscribe %s: %v", filter, err)
	}
}

// waitMsg waits up to d for a message on topic for which ok is true and
// returns its payload.
func (p *peer) waitMsg(topic string, d time.Duration, ok func(string) bool) (string, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	seen := 0
	for {
		p.mu.Lock()
		msgs, got := p.msgs[seen:], p.got
		seen = len(p.msgs)
		p.mu.Unlock()
		for _, m := range msgs {
			if m.Topic() == topic && (ok == nil || ok(string(m.Payload()))) {
				return string(m.Payload()), true
			}
		}
		select {
		case <-got:
		case <-deadline.C:
			return "", false
		}
	}
}

// count returns the number of messages received on topic.
func (p *peer) count(topic string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.msgs {
		if m.Topic() == topic {
			n++
		}
	}
	return n
}

// mosquittoPub publishes with the mosquitto_pub command-line client.
func mosquittoPub(t testing.TB, b *broker, topic, payload string, retain bool) {
	t.Helper()
	args := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(b.port), "-q", "1", "-t", topic, "-m", payload}
	if retain {
		args = append(args, "-r")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "/usr/bin/mosquitto_pub", args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
}
