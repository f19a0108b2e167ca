package mqtt

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/cabridge/cabridge/drivers"
)

// doneToken is a completed paho token.
type doneToken struct {
	done chan struct{}
	err  error
}

func newDoneToken(err error) *doneToken {
	t := &doneToken{done: make(chan struct{}), err: err}
	close(t.done)
	return t
}

func (t *doneToken) Wait() bool                     { return true }
func (t *doneToken) WaitTimeout(time.Duration) bool { return true }
func (t *doneToken) Done() <-chan struct{}          { return t.done }
func (t *doneToken) Error() error                   { return t.err }

// subToken is a completed subscribe token with the broker's codes.
type subToken struct {
	*doneToken
	codes map[string]byte
}

func (t subToken) Result() map[string]byte { return t.codes }

// fakeMessage is a received message.
type fakeMessage struct {
	topic   string
	payload []byte
}

func (m fakeMessage) Duplicate() bool   { return false }
func (m fakeMessage) Qos() byte         { return 1 }
func (m fakeMessage) Retained() bool    { return false }
func (m fakeMessage) Topic() string     { return m.topic }
func (m fakeMessage) MessageID() uint16 { return 0 }
func (m fakeMessage) Payload() []byte   { return m.payload }
func (m fakeMessage) Ack()              {}

// published is one Publish call.
type published struct {
	topic   string
	payload string
	at      time.Time
}

// fakeClient stands in for paho in timing tests: it connects at once,
// records publishes and lets the test deliver messages.
type fakeClient struct {
	opts *paho.ClientOptions
	wg   *sync.WaitGroup

	mu     sync.Mutex
	open   bool
	pubs   []published
	refuse string // a filter the broker refuses (SUBACK 0x80)
}

func (f *fakeClient) Connect() paho.Token {
	f.mu.Lock()
	f.open = true
	f.mu.Unlock()
	f.wg.Go(func() { f.opts.OnConnect(nil) }) // paho calls it in a goroutine too
	return newDoneToken(nil)
}

func (f *fakeClient) Disconnect(uint) {
	f.mu.Lock()
	f.open = false
	f.mu.Unlock()
}

func (f *fakeClient) IsConnectionOpen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

func (f *fakeClient) Publish(topic string, _ byte, _ bool, payload any) paho.Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return newDoneToken(paho.ErrNotConnected)
	}
	var s string
	switch p := payload.(type) {
	case string:
		s = p
	case []byte:
		s = string(p)
	}
	f.pubs = append(f.pubs, published{topic, s, time.Now()})
	return newDoneToken(nil)
}

func (f *fakeClient) SubscribeMultiple(filters map[string]byte, _ paho.MessageHandler) paho.Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	codes := map[string]byte{}
	for k, q := range filters {
		codes[k] = q
		if k == f.refuse {
			codes[k] = 0x80
		}
	}
	return subToken{newDoneToken(nil), codes}
}

// deliver hands a message to the device as paho would.
func (f *fakeClient) deliver(topic, payload string) {
	f.opts.DefaultPublishHandler(nil, fakeMessage{topic, []byte(payload)})
}

// lose drops the connection as paho would.
func (f *fakeClient) lose() {
	f.Disconnect(0)
	f.opts.OnConnectionLost(nil, errors.New("fake: connection reset"))
}

func (f *fakeClient) published() []published {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]published(nil), f.pubs...)
}

// fakeDevice builds a device on a fake client; call inside a bubble.
func fakeDevice(t *testing.T, cfg Config, log *slog.Logger) (*Device, *fakeClient, *sync.WaitGroup) {
	t.Helper()
	cfg.Broker = "tcp://fake:1883"
	d, err := NewDevice("fake", cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeClient{wg: &sync.WaitGroup{}}
	d.newClient = func(o *paho.ClientOptions) client { fc.opts = o; return fc }
	return d, fc, fc.wg
}

// TestStaleTiming checks staleness at exact times, in a synctest bubble
// with a fake paho.
func TestStaleTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, fc, wg := fakeDevice(t, Config{Stale: drivers.Duration(10 * time.Second)}, nil)
		defer wg.Wait()
		defer d.Close()
		pt, _ := d.ParsePoint(drivers.PointSpec{Address: "s/t"})
		quick, _ := d.ParsePoint(drivers.PointSpec{Address: "s/q", Options: map[string]string{"stale": "2s"}})
		if err := d.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var mu sync.Mutex
		var got []drivers.Sample
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- d.Subscribe(ctx, []drivers.Point{pt, quick}, func(s drivers.Sample) {
				mu.Lock()
				got = append(got, s)
				mu.Unlock()
			})
		}()
		synctest.Wait()
		fc.deliver("s/t", "1")
		time.Sleep(9 * time.Second)
		synctest.Wait()
		fc.deliver("s/t", "2") // restarts s/t's 10 s
		time.Sleep(15 * time.Second)
		synctest.Wait()
		mu.Lock()
		var lines []string
		for _, s := range got {
			at := s.Time.Sub(start).Round(time.Millisecond)
			if s.Err != nil {
				lines = append(lines, s.Point.String()[:3]+" timeout at "+at.String())
			} else {
				lines = append(lines, s.Point.String()[:3]+" value at "+at.String())
			}
		}
		mu.Unlock()
		want := "s/t value at 0s, s/q timeout at 2s, s/t value at 9s, s/t timeout at 19s"
		if strings.Join(lines, ", ") != want {
			t.Errorf("samples:\n%s\nwant\n%s", strings.Join(lines, ", "), want)
		}
		fc.lose()
		if err := <-done; !errors.Is(err, drivers.ErrDisconnected) {
			t.Errorf("Subscribe after a loss = %v", err)
		}
		cancel()
	})
}

// TestExportRateTiming: an exported PV is published at once, then at
// most once per interval with its latest value.
func TestExportRateTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, fc, wg := fakeDevice(t, Config{Export: &ExportConfig{PVs: []string{"X"}, MinInterval: drivers.Duration(time.Second)}}, nil)
		defer wg.Wait()
		defer d.Close()
		if err := d.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for i, at := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 1500 * time.Millisecond, 5 * time.Second} {
			time.Sleep(time.Until(start.Add(at)))
			d.Export(drivers.Export{PV: "X", Value: drivers.Floats{float64(i)}})
			synctest.Wait()
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		var lines []string
		for _, p := range fc.published() {
			lines = append(lines, p.at.Sub(start).String()+" "+p.payload[:10])
		}
		want := `0s {"value":0, 1s {"value":2, 2s {"value":3, 5s {"value":4`
		if strings.Join(lines, ", ") != want {
			t.Errorf("publishes:\n%s\nwant\n%s", strings.Join(lines, ", "), want)
		}
	})
}

// TestBadPayloadLogRate: one log line per point and LogEvery, counting
// the ones left out; every bad payload still gives an error sample.
func TestBadPayloadLogRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		d, fc, wg := fakeDevice(t, Config{LogEvery: drivers.Duration(time.Minute)}, log)
		defer wg.Wait()
		defer d.Close()
		pt, _ := d.ParsePoint(drivers.PointSpec{Address: "b/t"})
		if err := d.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			fc.deliver("b/t", "bad")
			synctest.Wait()
			time.Sleep(10 * time.Second)
		}
		time.Sleep(time.Minute)
		fc.deliver("b/t", "worse")
		synctest.Wait()
		ss, err := d.Read(t.Context(), []drivers.Point{pt})
		if err != nil || !errors.Is(ss[0].Err, ErrPayload) {
			t.Errorf("Read = %v, %v", ss, err)
		}
		text := buf.String()
		if n := strings.Count(text, `msg="mqtt: bad payload"`); n != 2 {
			t.Errorf("%d log lines, want 2:\n%s", n, text)
		}
		if !strings.Contains(text, `payload="\"worse\""`) || !strings.Contains(text, "not_logged_since=2") {
			t.Errorf("second line lacks the payload or the count:\n%s", text)
		}
	})
}

// TestRefusedSubscription: a filter the broker refuses in its SUBACK
// (paho reports it only in the codes) is an error, not a PV that never
// updates; at connect it drops the connection, and the device is not
// ready.
func TestRefusedSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, fc, wg := fakeDevice(t, Config{}, nil)
		defer wg.Wait()
		defer d.Close()
		fc.refuse = "secret/t"
		if _, err := d.ParsePoint(drivers.PointSpec{Address: "ok/t"}); err != nil {
			t.Fatal(err)
		}
		if err := d.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		denied, _ := d.ParsePoint(drivers.PointSpec{Address: "secret/t"})
		if _, err := d.Read(t.Context(), []drivers.Point{denied}); err == nil || !strings.Contains(err.Error(), "refused the subscription to [secret/t]") {
			t.Errorf("Read of a refused topic = %v", err)
		}
		d2, fc2, wg2 := fakeDevice(t, Config{}, nil)
		defer wg2.Wait()
		defer d2.Close()
		fc2.refuse = "secret/u"
		_, _ = d2.ParsePoint(drivers.PointSpec{Address: "secret/u"})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := d2.Open(ctx); !errors.Is(err, drivers.ErrDisconnected) {
			t.Errorf("Open with a refused subscription = %v", err)
		}
		if s := d2.Stats(); !strings.Contains(s.LastError, "not (re)connected") || s.Errors < 2 {
			t.Errorf("Stats = %+v", s)
		}
		if fc2.IsConnectionOpen() {
			t.Error("the connection without its subscriptions was kept")
		}
	})
}
