package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

const testTimeout = 10 * time.Second

// checkGoroutines fails the test if goroutines started during it are still
// running shortly after cleanup.
func checkGoroutines(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutine leak: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
				return
			}
			runtime.Gosched()
			time.Sleep(time.Millisecond) // polling a counter, not waiting for an event
		}
	})
}

// setup starts a fake server and a client searching it; both are closed
// when the test ends.
func setup(t *testing.T, mod func(*client.Config)) (*fakeServer, *client.Client) {
	t.Helper()
	checkGoroutines(t)
	srv, err := startFakeServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	cfg := srv.config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return srv, c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestGetTypes(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("T:DBL", dbr.Doubles{1.5})
	srv.add("T:STR", dbr.Strings{"hello"})
	srv.add("T:ARR", dbr.Longs{1, 2, 3})
	srv.add("T:SHORT", dbr.Shorts{-7})
	ctx := ctxT(t)

	tests := []struct {
		pv       string
		typ      dbr.Type
		count    int
		want     dbr.Value
		severity bool // TIME family: metadata expected
	}{
		{"T:DBL", dbr.Double, 1, dbr.Doubles{1.5}, false},
		{"T:DBL", dbr.TimeDouble, 1, dbr.Doubles{1.5}, true},
		{"T:DBL", dbr.Float, 0, dbr.Floats{1.5}, false},
		{"T:STR", dbr.String, 1, dbr.Strings{"hello"}, false},
		{"T:STR", dbr.TimeString, 1, dbr.Strings{"hello"}, true},
		{"T:ARR", dbr.Long, 0, dbr.Longs{1, 2, 3}, false},
		{"T:ARR", dbr.Long, 5, dbr.Longs{1, 2, 3, 0, 0}, false},
		{"T:ARR", dbr.CtrlLong, 2, dbr.Longs{1, 2}, true},
		{"T:SHORT", dbr.StsShort, 1, dbr.Shorts{-7}, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v/%d", tt.pv, tt.typ, tt.count), func(t *testing.T) {
			ch, err := c.Connect(ctx, tt.pv)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Access() != client.AccessRead|client.AccessWrite || ch.State() != client.StateConnected {
				t.Errorf("access %v state %v", ch.Access(), ch.State())
			}
			v, md, err := ch.Get(ctx, tt.typ, tt.count)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, tt.want) {
				t.Errorf("got %#v, want %#v", v, tt.want)
			}
			if tt.severity && md.Severity != dbr.SeverityMajor {
				t.Errorf("metadata %+v", md)
			}
		})
	}
	ch, err := c.Connect(ctx, "T:ARR")
	if err != nil {
		t.Fatal(err)
	}
	if typ, n := ch.Native(); typ != dbr.Long || n != 3 || ch.Name() != "T:ARR" {
		t.Errorf("native %v %d", typ, n)
	}
}

func TestNameServer(t *testing.T) {
	srv, err := startFakeServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	srv.add("NS:PV", dbr.Doubles{3})
	checkGoroutines(t)
	c, err := client.New(client.Config{NameServers: []string{srv.tcpAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "NS:PV")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := ch.Get(ctx, dbr.Double, 1)
	if err != nil || !reflect.DeepEqual(v, dbr.Doubles{3}) {
		t.Fatalf("get %v %v", v, err)
	}
}

func TestNoSearchAddr(t *testing.T) {
	c, err := client.New(client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Connect(ctxT(t), "X"); eca.Of(err, 0) != eca.NoSearchAddr {
		t.Fatalf("err = %v", err)
	}
}

func TestPut(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("T:PUT", dbr.Doubles{0})
	bad := srv.add("T:BAD", dbr.Doubles{0})
	bad.putStatus = eca.PutFail
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "T:PUT")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Put(ctx, dbr.Doubles{2.5}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.writes:
	case <-ctx.Done():
		t.Fatal("write not seen")
	}
	if v, _, err := ch.Get(ctx, dbr.Double, 1); err != nil || !reflect.DeepEqual(v, dbr.Doubles{2.5}) {
		t.Fatalf("after put: %v %v", v, err)
	}
	if err := ch.PutWait(ctx, dbr.Strings{"4.25"}); err != nil {
		t.Fatal(err)
	}
	if v, _, err := ch.Get(ctx, dbr.Double, 1); err != nil || !reflect.DeepEqual(v, dbr.Doubles{4.25}) {
		t.Fatalf("after put-wait: %v %v", v, err)
	}
	bch, err := c.Connect(ctx, "T:BAD")
	if err != nil {
		t.Fatal(err)
	}
	err = bch.PutWait(ctx, dbr.Doubles{1})
	var ee *eca.Error
	if !errors.As(err, &ee) || ee.Code != eca.PutFail {
		t.Fatalf("put-wait err = %v", err)
	}
	if err := ch.Put(ctx, dbr.Doubles{}); eca.Of(err, 0) != eca.BadCount {
		t.Fatalf("empty put: %v", err)
	}
}

// recordHandler collects log records.
type recordHandler struct {
	ch chan slog.Record
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.ch <- r:
	default:
	}
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func TestPutErrorLogged(t *testing.T) {
	logs := recordHandler{ch: make(chan slog.Record, 10)}
	srv, c := setup(t, func(cfg *client.Config) { cfg.Logger = slog.New(logs) })
	srv.add("T:BAD", dbr.Doubles{0}).putStatus = eca.NoWtAccess
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "T:BAD")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Put(ctx, dbr.Doubles{1}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case r := <-logs.ch:
			if r.Message == "client: server error" {
				return
			}
		case <-ctx.Done():
			t.Fatal("no error logged")
		}
	}
}

func TestSubscribe(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("T:MON", dbr.Doubles{1})
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "T:MON")
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan client.Update, 10)
	sub, err := ch.Subscribe(dbr.TimeDouble, 0, dbr.EventValue|dbr.EventAlarm, func(u client.Update) { updates <- u })
	if err != nil {
		t.Fatal(err)
	}
	next := func() client.Update {
		t.Helper()
		select {
		case u := <-updates:
			return u
		case <-ctx.Done():
			t.Fatal("no update")
			return client.Update{}
		}
	}
	if u := next(); u.Err != nil || !reflect.DeepEqual(u.Value, dbr.Doubles{1}) || u.Count != 1 || u.Meta.Stamp.Sec != 1000 {
		t.Fatalf("first update %+v", u)
	}
	srv.set("T:MON", dbr.Doubles{2})
	if u := next(); u.Err != nil || !reflect.DeepEqual(u.Value, dbr.Doubles{2}) {
		t.Fatalf("second update %+v", u)
	}
	if err := sub.Cancel(); err != nil {
		t.Fatal(err)
	}
	srv.set("T:MON", dbr.Doubles{3})
	// A round trip after the cancel confirmation proves no update is pending.
	if err := c.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ch.Get(ctx, dbr.Double, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-updates:
		t.Fatalf("update after cancel: %+v", u)
	default:
	}
	if _, err := ch.Subscribe(dbr.Double, 1, 0, func(client.Update) {}); eca.Of(err, 0) != eca.BadMask {
		t.Fatalf("mask 0: %v", err)
	}
}

func TestDisconnect(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("T:DIS", dbr.Doubles{1})
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "T:DIS")
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan client.Update, 10)
	if _, err := ch.Subscribe(dbr.Double, 1, dbr.EventValue, func(u client.Update) { updates <- u }); err != nil {
		t.Fatal(err)
	}
	expect := func(disconnected bool) {
		t.Helper()
		select {
		case u := <-updates:
			if (u.Err != nil) != disconnected {
				t.Fatalf("update %+v, want disconnected=%v", u, disconnected)
			}
			if disconnected && eca.Of(u.Err, 0) != eca.Disconn {
				t.Fatalf("err %v", u.Err)
			}
		case <-ctx.Done():
			t.Fatalf("no update (disconnected=%v), state %v", disconnected, ch.State())
		}
	}
	expect(false)
	srv.dropAll()
	expect(true)
	expect(false) // reconnected and subscribed again
	if ch.State() != client.StateConnected {
		t.Fatalf("state %v", ch.State())
	}
	srv.serverDisconn("T:DIS")
	expect(true)
	expect(false)
	if _, _, err := ch.Get(ctx, dbr.Double, 1); err != nil {
		t.Fatal(err)
	}
}

func TestCreateChFail(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("T:REFUSED", dbr.Doubles{1}).refuse = true
	_, err := c.Connect(ctxT(t), "T:REFUSED")
	if eca.Of(err, 0) != eca.BadChID {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	srv, c := setup(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Connect(ctx, "T:MISSING")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// 30 ms doubling: a handful of retries in 200 ms, not hundreds.
	if n := srv.searches.Load(); n < 2 || n > 10 {
		t.Errorf("%d searches", n)
	}
}

func TestConnectMany(t *testing.T) {
	srv, c := setup(t, nil)
	const n = 5000
	names := make([]string, n)
	for i := range names {
		names[i] = pvName(i)
		srv.add(names[i], dbr.Longs{int32(i)})
	}
	ctx := ctxT(t)
	chs, err := c.ConnectMany(ctx, append(names, "T:ABSENT")[:n])
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i, ch := range chs {
		wg.Add(1)
		err := ch.GetAsync(dbr.Long, 1, func(v dbr.Value, _ dbr.Metadata, err error) {
			defer wg.Done()
			if err != nil || !reflect.DeepEqual(v, dbr.Longs{int32(i)}) {
				bad.Add(1)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("gets did not complete")
	}
	if bad.Load() != 0 {
		t.Fatalf("%d bad gets", bad.Load())
	}
	// Partial failure.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	chs, err = c.ConnectMany(short, []string{names[0], "T:ABSENT"})
	if err == nil || chs[0] == nil || chs[1] != nil {
		t.Fatalf("partial: %v %v", chs, err)
	}
}

func TestLargeArray(t *testing.T) {
	srv, c := setup(t, nil)
	big := make(dbr.Doubles, 100000)
	for i := range big {
		big[i] = float64(i)
	}
	srv.add("T:BIG", big)
	srv.add("T:SMALL", dbr.Doubles{1})
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "T:BIG")
	if err != nil {
		t.Fatal(err)
	}
	if _, n := ch.Native(); n != 100000 {
		t.Fatalf("native count %d", n)
	}
	v, _, err := ch.Get(ctx, dbr.Double, 0)
	if err != nil || !reflect.DeepEqual(v, big) {
		t.Fatalf("get: %v", err)
	}
	rev := make(dbr.Doubles, len(big))
	for i := range rev {
		rev[i] = -float64(i)
	}
	if err := ch.PutWait(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if v, _, err := ch.Get(ctx, dbr.Double, 0); err != nil || !reflect.DeepEqual(v, rev) {
		t.Fatalf("get after put: %v", err)
	}
}

func TestMaxArrayBytes(t *testing.T) {
	srv, c := setup(t, func(cfg *client.Config) { cfg.MaxArrayBytes = 16384 })
	srv.add("T:BIG", make(dbr.Doubles, 10000))
	srv.add("T:SMALL", dbr.Doubles{1})
	ctx := ctxT(t)
	chs, err := c.ConnectMany(ctx, []string{"T:BIG", "T:SMALL"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := chs[0].Get(ctx, dbr.Double, 0); eca.Of(err, 0) != eca.TooLarge {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := chs[1].Get(ctx, dbr.Double, 0); err != nil {
		t.Fatalf("circuit not usable after a skipped message: %v", err)
	}
}

func TestCloseFailsPending(t *testing.T) {
	srv, c := setup(t, nil)
	srv.mu.Lock()
	srv.silent = true
	srv.mu.Unlock()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Connect(context.Background(), "T:NEVER")
		errc <- err
	}()
	// Wait until the name is being searched before closing.
	deadline := time.Now().Add(testTimeout)
	for srv.searches.Load() == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, client.ErrClosed) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("connect did not return")
	}
	if _, err := c.Connect(context.Background(), "T:X"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestChannelClose(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("T:CL", dbr.Doubles{1})
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "T:CL")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ch.Get(ctx, dbr.Double, 1); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
	if err := c.Echo(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    client.Config
		wantErr bool
	}{
		{"defaults", nil, client.Config{AutoAddrList: true, ServerPort: 5064, ConnTimeout: 30 * time.Second}, false},
		{"lists", map[string]string{
			"EPICS_CA_ADDR_LIST":      " 10.0.0.255  host:5070\t",
			"EPICS_CA_AUTO_ADDR_LIST": "no",
			"EPICS_CA_NAME_SERVERS":   "ns1:6000",
			"EPICS_CA_SERVER_PORT":    "6064",
			"EPICS_CA_CONN_TMO":       "2.5",
		}, client.Config{AddrList: []string{"10.0.0.255", "host:5070"}, NameServers: []string{"ns1:6000"},
			ServerPort: 6064, ConnTimeout: 2500 * time.Millisecond}, false},
		{"yes any case", map[string]string{"EPICS_CA_AUTO_ADDR_LIST": "yEs"}, client.Config{AutoAddrList: true, ServerPort: 5064, ConnTimeout: 30 * time.Second}, false},
		{"true is not yes", map[string]string{"EPICS_CA_AUTO_ADDR_LIST": "true"}, client.Config{ServerPort: 5064, ConnTimeout: 30 * time.Second}, false},
		{"empty is unset", map[string]string{"EPICS_CA_AUTO_ADDR_LIST": "", "EPICS_CA_SERVER_PORT": ""}, client.Config{AutoAddrList: true, ServerPort: 5064, ConnTimeout: 30 * time.Second}, false},
		{"array bytes", map[string]string{"EPICS_CA_AUTO_ARRAY_BYTES": "NO", "EPICS_CA_MAX_ARRAY_BYTES": "1000000"},
			client.Config{AutoAddrList: true, ServerPort: 5064, ConnTimeout: 30 * time.Second, MaxArrayBytes: 1000000}, false},
		{"array bytes min", map[string]string{"EPICS_CA_AUTO_ARRAY_BYTES": "NO", "EPICS_CA_MAX_ARRAY_BYTES": "100"},
			client.Config{AutoAddrList: true, ServerPort: 5064, ConnTimeout: 30 * time.Second, MaxArrayBytes: 16384}, false},
		{"bad port", map[string]string{"EPICS_CA_SERVER_PORT": "x"}, client.Config{}, true},
		{"bad tmo", map[string]string{"EPICS_CA_CONN_TMO": "-1"}, client.Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client.ConfigFromEnv(func(k string) (string, bool) {
				v, ok := tt.env[k]
				return v, ok
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []client.Config{
		{Priority: 100},
		{AddrList: []string{"127.0.0.1:notaport"}},
		{MaxArrayBytes: -1},
	} {
		if c, err := client.New(cfg); err == nil {
			_ = c.Close()
			t.Errorf("%+v accepted", cfg)
		}
	}
}
