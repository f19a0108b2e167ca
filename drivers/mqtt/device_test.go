package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
	"github.com/cabridge/cabridge/drivers/mqtt"
)

// newDevice builds a device on b with cfg's broker filled in, closed when
// the test ends.
func newDevice(t testing.TB, b *broker, cfg mqtt.Config, log *slog.Logger) *mqtt.Device {
	t.Helper()
	if cfg.Broker == "" {
		cfg.Broker = b.url()
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = drivers.Duration(200 * time.Millisecond)
	}
	d, err := mqtt.NewDevice("dev", cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// open opens d within 10 s.
func open(t testing.TB, d *mqtt.Device) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
}

// parse parses spec or fails.
func parse(t testing.TB, d drivers.Device, spec drivers.PointSpec) drivers.Point {
	t.Helper()
	p, err := d.ParsePoint(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitConnected waits up to 10 s for d's Connected stat to be up.
func waitConnected(t testing.TB, d *mqtt.Device, up bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for d.Stats().Connected != up {
		if time.Now().After(deadline) {
			t.Fatalf("device Connected did not become %v within 10 s", up)
		}
		<-tick.C
	}
}

func TestConformance(t *testing.T) {
	requireMosquitto(t)
	drivertest.Run(t, func(t *testing.T) (drivers.Device, drivertest.Fixture) {
		b := startBroker(t, nil)
		p := newPeer(t, b, nil)
		p.pub("c/temp", "21.5", true)
		p.pub("c/json", `{"s": {"v": [1, 2, 3]}, "name": "x"}`, true)
		p.pub("c/bad", "not a number", true)
		p.pub("c/sp", "1", true)
		d := newDevice(t, b, mqtt.Config{}, nil)
		return d, drivertest.Fixture{
			Read: []drivers.PointSpec{
				{Address: "c/temp"},
				{Address: "c/json", Type: "int32", Len: 3, Options: map[string]string{"path": "s.v"}},
				{Address: "c/json", Type: "string", Options: map[string]string{"path": "name"}},
			},
			Bad: []drivers.PointSpec{{Address: "c/bad"}},
			Invalid: []drivers.PointSpec{
				{Address: "a/#/b"}, {Address: "c/temp", Type: "complex"}, {Address: "c/temp", Options: map[string]string{"colour": "red"}},
				{Address: "c/{room}/t"}, {Address: "c/temp", Options: map[string]string{"path": "a[x]"}},
				{Address: "c/temp", Options: map[string]string{"command": "c/+/set"}}, {Address: "c/temp", Bit: new(int)},
			},
			Writes: []drivertest.WriteCase{{
				Point: drivers.PointSpec{Address: "c/sp", Options: map[string]string{"command": "c/sp", "readback": "c/sp", "retain": "true"}},
				Value: drivers.Floats{42.25},
			}},
			ReadOnly:  []drivers.PointSpec{{Address: "c/temp"}},
			Subscribe: []drivers.PointSpec{{Address: "c/temp"}, {Address: "c/json", Type: "string", Options: map[string]string{"path": "name"}}},
			Disconnect: func() {
				b.kill()
				waitConnected(t, d, false)
			},
			Reconnect: b.restart,
			Timeout:   5 * time.Second,
		}
	})
}

// collector records the samples a Subscribe emits.
type collector struct {
	mu  sync.Mutex
	ss  []drivers.Sample
	got chan struct{}
}

func newCollector() *collector { return &collector{got: make(chan struct{})} }

func (c *collector) emit(s drivers.Sample) {
	c.mu.Lock()
	c.ss = append(c.ss, s)
	close(c.got)
	c.got = make(chan struct{})
	c.mu.Unlock()
}

// wait waits up to 10 s for a sample of pt for which ok is true.
func (c *collector) wait(t testing.TB, pt drivers.Point, what string, ok func(drivers.Sample) bool) drivers.Sample {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	seen := 0
	for {
		c.mu.Lock()
		ss, got := c.ss[seen:], c.got
		seen = len(c.ss)
		c.mu.Unlock()
		for _, s := range ss {
			if s.Point == pt && ok(s) {
				return s
			}
		}
		select {
		case <-got:
		case <-deadline.C:
			t.Fatalf("no sample of %v with %s within 10 s; got %v", pt, what, c.all())
		}
	}
}

func (c *collector) all() []drivers.Sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]drivers.Sample(nil), c.ss...)
}

// subscribe runs d.Subscribe(pts) until the test ends and returns the
// collector and a channel with Subscribe's result.
func subscribe(t testing.TB, d *mqtt.Device, pts ...drivers.Point) (*collector, <-chan error) {
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { res <- d.Subscribe(ctx, pts, c.emit) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c, res
}

func hasValue(want drivers.Value) func(drivers.Sample) bool {
	return func(s drivers.Sample) bool { return s.Err == nil && drivers.Equal(s.Value, want) }
}

func TestPayloads(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	d := newDevice(t, b, mqtt.Config{}, nil)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		spec    drivers.PointSpec
		payload string
		want    drivers.Value
		time    time.Time
		alarm   *dbr.Alarm
	}{
		{"plain float", drivers.PointSpec{Address: "p/plain"}, " 21.5\n", drivers.Floats{21.5}, time.Time{}, nil},
		{"plain int", drivers.PointSpec{Address: "p/int", Type: "int16"}, "-7", drivers.Ints{-7}, time.Time{}, nil},
		{"plain bool", drivers.PointSpec{Address: "p/bool", Type: "bool"}, "ON", drivers.Bools{true}, time.Time{}, nil},
		{"plain string", drivers.PointSpec{Address: "p/str", Type: "string"}, "hello world", drivers.Strings{"hello world"}, time.Time{}, nil},
		{"plain array", drivers.PointSpec{Address: "p/arr", Len: 4}, "1, 2,3 4", drivers.Floats{1, 2, 3, 4}, time.Time{}, nil},
		{"json array plain", drivers.PointSpec{Address: "p/jarr", Len: 3, Type: "uint8"}, "[1,2,255]", drivers.Uints{1, 2, 255}, time.Time{}, nil},
		{"json path", drivers.PointSpec{Address: "p/json", Options: map[string]string{"path": "sensors.temp"}},
			`{"sensors": {"temp": 19.25}}`, drivers.Floats{19.25}, time.Time{}, nil},
		{"json index", drivers.PointSpec{Address: "p/idx", Options: map[string]string{"path": "values[2]"}},
			`{"values": [1, 2, 3.5]}`, drivers.Floats{3.5}, time.Time{}, nil},
		{"json time and severity", drivers.PointSpec{Address: "p/full", Options: map[string]string{"path": "v", "time_path": "ts", "severity_path": "sev"}},
			`{"v": "7", "ts": "2026-01-02T03:04:05Z", "sev": "major"}`, drivers.Floats{7}, ts, &dbr.Alarm{Status: dbr.StatusState, Severity: dbr.SeverityMajor}},
		{"json unix ms", drivers.PointSpec{Address: "p/ms", Options: map[string]string{"path": "v", "time_path": "t"}},
			`{"v": 1, "t": 1767323045000}`, drivers.Floats{1}, ts, nil},
		{"json waveform", drivers.PointSpec{Address: "p/wave", Len: 8, Options: map[string]string{"path": "data.bins"}},
			`{"data": {"bins": [0.5, 1.5, 2.5]}}`, drivers.Floats{0.5, 1.5, 2.5}, time.Time{}, nil},
	}
	// Bindings are parsed before Open, as the mapping layer does, so that
	// the connect subscribes to them all.
	pts := make([]drivers.Point, len(tests))
	for i, tc := range tests {
		pts[i] = parse(t, d, tc.spec)
	}
	open(t, d)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt := pts[i]
			c, _ := subscribe(t, d, pt)
			p.pub(tc.spec.Address, tc.payload, false)
			s := c.wait(t, pt, "the value", func(s drivers.Sample) bool { return s.Err != nil || s.Value != nil })
			if s.Err != nil || !drivers.Equal(s.Value, tc.want) {
				t.Fatalf("sample %v, %v; want %v", s.Value, s.Err, tc.want)
			}
			if !tc.time.IsZero() && !s.Time.Equal(tc.time) {
				t.Errorf("time %v, want %v", s.Time, tc.time)
			}
			if (tc.alarm == nil) != (s.Alarm == nil) || tc.alarm != nil && *tc.alarm != *s.Alarm {
				t.Errorf("alarm %v, want %v", s.Alarm, tc.alarm)
			}
			// Read returns the same last value.
			ss, err := d.Read(t.Context(), []drivers.Point{pt})
			if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, tc.want) {
				t.Errorf("Read = %v, %v", ss, err)
			}
		})
	}
}

func TestRetainedAndWildcards(t *testing.T) {
	b := startBroker(t, nil)
	// Retained values, published by the Debian command-line client before the bridge starts.
	mosquittoPub(t, b, "plant/boiler/temp", "80.5", true)
	mosquittoPub(t, b, "plant/chiller/temp", "6.25", true)
	mosquittoPub(t, b, "$SYS-like/boiler/temp", "0", true)
	d := newDevice(t, b, mqtt.Config{Subscriptions: []string{"plant/+/temp"}}, nil)
	subs := mqtt.RecordSubscriptions(d)
	boiler := parse(t, d, drivers.PointSpec{Address: "plant/boiler/temp"})
	chiller := parse(t, d, drivers.PointSpec{Address: "plant/chiller/temp"})
	any := parse(t, d, drivers.PointSpec{Address: "plant/+/temp"})
	open(t, d)
	if got := subs(); len(got) != 1 || got[0] != "plant/+/temp" {
		t.Errorf("subscriptions = %v, want one: plant/+/temp", got)
	}
	c, _ := subscribe(t, d, boiler, chiller, any)
	c.wait(t, boiler, "retained 80.5", hasValue(drivers.Floats{80.5}))
	c.wait(t, chiller, "retained 6.25", hasValue(drivers.Floats{6.25}))
	c.wait(t, any, "a retained value", func(s drivers.Sample) bool { return s.Err == nil })
	p := newPeer(t, b, nil)
	p.pub("plant/chiller/temp", "7", false)
	c.wait(t, chiller, "7", hasValue(drivers.Floats{7}))
	c.wait(t, any, "7", hasValue(drivers.Floats{7}))
	for _, s := range c.all() {
		if s.Point == boiler && !drivers.Equal(s.Value, drivers.Floats{80.5}) {
			t.Errorf("boiler got %v from another topic", s.Value)
		}
	}
}

func TestWrite(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	p.sub("w/#")
	d := newDevice(t, b, mqtt.Config{}, nil)
	plain := parse(t, d, drivers.PointSpec{Address: "w/plain", Options: map[string]string{"access": "w", "qos": "0"}})
	js := parse(t, d, drivers.PointSpec{Address: "w/state", Type: "int32", Options: map[string]string{
		"command": "w/json/set", "template": `{"sp": {value}, "at": {time}}`, "retain": "true"}})
	str := parse(t, d, drivers.PointSpec{Address: "w/str", Type: "string", Options: map[string]string{"access": "w", "template": `{"msg": {value}}`}})
	confirmed := parse(t, d, drivers.PointSpec{Address: "w/rb", Options: map[string]string{
		"command": "w/cmd", "template": `{"sp": {value}}`, "readback": "w/rb", "readback_path": "sp", "path": "sp"}})
	open(t, d)
	ctx, stop := context.WithTimeout(t.Context(), 20*time.Second)
	defer stop()

	if err := d.Write(ctx, plain, drivers.Floats{1.5}); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.waitMsg("w/plain", 10*time.Second, func(s string) bool { return s == "1.5" }); !ok {
		t.Error("no 1.5 on w/plain")
	}
	if err := d.Write(ctx, js, drivers.Floats{7}); err != nil {
		t.Fatal(err)
	}
	if m, ok := p.waitMsg("w/json/set", 10*time.Second, nil); !ok || !strings.HasPrefix(m, `{"sp": 7, "at": "20`) {
		t.Errorf("w/json/set got %q, %v", m, ok)
	}
	if err := d.Write(ctx, str, drivers.Strings{`say "hi"`}); err != nil {
		t.Fatal(err)
	}
	if m, ok := p.waitMsg("w/str", 10*time.Second, nil); !ok || m != `{"msg": "say \"hi\""}` {
		t.Errorf("w/str got %q, %v", m, ok)
	}
	// The retained command is kept by the broker.
	late := newPeer(t, b, nil)
	late.sub("w/json/set")
	if _, ok := late.waitMsg("w/json/set", 10*time.Second, nil); !ok {
		t.Error("retain: a late subscriber got no retained command")
	}

	// Confirmation: an echo device answers on w/rb.
	p.sub("w/cmd")
	echo := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if m, ok := p.waitMsg("w/cmd", 10*time.Second, nil); ok {
			<-echo
			p.pub("w/rb", `{"sp": 3}`, false) // a stale value first: not a confirmation
			p.pub("w/rb", strings.Replace(m, "3.25", "3.25000000001", 1), false)
		}
	})
	done := make(chan error, 1)
	go func() { done <- d.Write(ctx, confirmed, drivers.Floats{3.25}) }()
	select {
	case err := <-done:
		t.Fatalf("confirmed write returned before the readback: %v", err)
	case <-time.After(50 * time.Millisecond): // proves a negative: the write must still be waiting
	}
	close(echo)
	if err := <-done; err != nil {
		t.Fatalf("confirmed write: %v", err)
	}
	wg.Wait()
	// Nobody confirms: the write times out.
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := d.Write(wctx, confirmed, drivers.Floats{99})
	if a := drivers.AlarmFor(drivers.OpWrite, err); a.Status != dbr.StatusTimeout {
		t.Errorf("unconfirmed write = %v (alarm %v); want TIMEOUT", err, a)
	}
	// Wrong values are refused before publishing.
	if err := d.Write(ctx, plain, drivers.Floats{1, 2}); !errors.Is(err, drivers.ErrBadValue) {
		t.Errorf("write of 2 elements = %v", err)
	}
	if err := d.Write(ctx, js, drivers.Floats{1e12}); !errors.Is(err, drivers.ErrBadValue) {
		t.Errorf("write of 1e12 to int32: %v", err)
	}
}

func TestBadPayloadAndStale(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	d := newDevice(t, b, mqtt.Config{LogEvery: drivers.Duration(time.Hour)}, log)
	num := parse(t, d, drivers.PointSpec{Address: "b/num", Options: map[string]string{"path": "v"}})
	stale := parse(t, d, drivers.PointSpec{Address: "b/stale", Options: map[string]string{"stale": "300ms"}})
	open(t, d)
	c, _ := subscribe(t, d, num, stale)

	p.pub("b/num", "{\"v\": \"x\x01y\"} plus a long tail that the log line must not carry in full...........", false)
	s := c.wait(t, num, "an error", func(s drivers.Sample) bool { return s.Err != nil })
	if !errors.Is(s.Err, mqtt.ErrPayload) || drivers.AlarmFor(drivers.OpRead, s.Err) != (dbr.Alarm{Status: dbr.StatusRead, Severity: dbr.SeverityInvalid}) {
		t.Errorf("bad payload: %v (alarm %v)", s.Err, drivers.AlarmFor(drivers.OpRead, s.Err))
	}
	p.pub("b/num", `{"w": 1}`, false)
	c.wait(t, num, "a second error", func(s drivers.Sample) bool { return s.Err != nil && strings.Contains(s.Err.Error(), `no key "v"`) })
	p.pub("b/num", `{"v": 5}`, false)
	c.wait(t, num, "5", hasValue(drivers.Floats{5}))
	logMu.Lock()
	text := logs.String()
	logMu.Unlock()
	if n := strings.Count(text, `msg="mqtt: bad payload"`); n != 1 {
		t.Errorf("%d bad-payload log lines, want 1 (rate-limited):\n%s", n, text)
	}
	if !strings.Contains(text, `topic=b/num`) || !strings.Contains(text, `\\x01`) || strings.Contains(text, "carry in full") {
		t.Errorf("log line lacks the topic or the escaped, truncated payload:\n%s", text)
	}

	// Staleness: no message for 300 ms gives TIMEOUT; the next message recovers.
	st := c.wait(t, stale, "a timeout", func(s drivers.Sample) bool { return s.Err != nil })
	if a := drivers.AlarmFor(drivers.OpRead, st.Err); a.Status != dbr.StatusTimeout {
		t.Errorf("stale: %v, alarm %v", st.Err, a)
	}
	p.pub("b/stale", "1", false)
	c.wait(t, stale, "1", hasValue(drivers.Floats{1}))
	c.wait(t, stale, "a second timeout", func(s drivers.Sample) bool { return s.Err != nil && s.Time.After(st.Time) })
	ss, err := d.Read(t.Context(), []drivers.Point{stale})
	if err != nil || !errors.Is(ss[0].Err, drivers.ErrTimeout) {
		t.Errorf("Read of a stale point = %v, %v", ss, err)
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestStatusAndBrokerRestart(t *testing.T) {
	b := startBroker(t, nil)
	watcher := newPeer(t, b, nil)
	watcher.sub("st/#")
	d := newDevice(t, b, mqtt.Config{StatusTopic: "st/bridge", KeepAlive: drivers.Duration(time.Second)}, nil)
	pt := parse(t, d, drivers.PointSpec{Address: "st/value"})
	open(t, d)
	if _, ok := watcher.waitMsg("st/bridge", 10*time.Second, func(s string) bool { return s == "online" }); !ok {
		t.Fatal("no online status")
	}
	c, res := subscribe(t, d, pt)
	watcher.pub("st/value", "1", true)
	c.wait(t, pt, "1", hasValue(drivers.Floats{1}))

	b.kill()
	select {
	case err := <-res:
		if !errors.Is(err, drivers.ErrDisconnected) {
			t.Fatalf("Subscribe on a lost broker = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribe did not return when the broker died")
	}
	if _, err := d.Read(t.Context(), []drivers.Point{pt}); drivers.AlarmFor(drivers.OpRead, err).Status != dbr.StatusComm {
		t.Errorf("Read without broker = %v", err)
	}
	if err := d.Write(t.Context(), parse(t, d, drivers.PointSpec{Address: "st/cmd", Options: map[string]string{"access": "w"}}), drivers.Floats{1}); !errors.Is(err, drivers.ErrNotSent) {
		t.Errorf("Write without broker = %v; want ErrNotSent", err)
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := d.Open(short); !errors.Is(err, drivers.ErrDisconnected) {
		t.Errorf("Open without broker = %v", err)
	}

	b.restart() // a fresh broker: no retained values, no sessions
	open(t, d)  // waits for paho's reconnect
	c2, _ := subscribe(t, d, pt)
	p := newPeer(t, b, nil)
	p.pub("st/value", "2", false)
	c2.wait(t, pt, "2 after the restart", hasValue(drivers.Floats{2}))
	watcher2 := newPeer(t, b, nil)
	watcher2.sub("st/bridge")
	if _, ok := watcher2.waitMsg("st/bridge", 10*time.Second, func(s string) bool { return s == "online" }); !ok {
		t.Error("no retained online status after the reconnect")
	}
	d.Close()
	if _, ok := watcher2.waitMsg("st/bridge", 10*time.Second, func(s string) bool { return s == "offline" }); !ok {
		t.Error("no offline status after Close")
	}
}

// TestSlowEmitDoesNotBlockPaho: while the mapping layer's emit is stuck,
// paho keeps working (a QoS 1 write is acknowledged) and messages are
// coalesced, so the latest value arrives once emit returns.
func TestSlowEmitDoesNotBlockPaho(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	d := newDevice(t, b, mqtt.Config{}, nil)
	pt := parse(t, d, drivers.PointSpec{Address: "slow/t"})
	cmd := parse(t, d, drivers.PointSpec{Address: "slow/cmd", Options: map[string]string{"access": "w", "qos": "1"}})
	open(t, d)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = d.Subscribe(ctx, []drivers.Point{pt}, func(s drivers.Sample) {
			select {
			case entered <- struct{}{}:
				<-release // the first emit hangs until the test lets go
			default:
			}
			c.emit(s)
		})
	})
	defer func() { cancel(); wg.Wait() }()
	p.pub("slow/t", "0", false)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no emit")
	}
	for i := 1; i <= 50; i++ {
		p.pub("slow/t", fmt.Sprint(i), false)
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer wcancel()
	if err := d.Write(wctx, cmd, drivers.Floats{1}); err != nil {
		t.Errorf("write while emit is stuck: %v", err)
	}
	close(release)
	c.wait(t, pt, "50", hasValue(drivers.Floats{50}))
}
