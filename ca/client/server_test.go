package client_test

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// startServer runs a real ca.Server on 127.0.0.1 with OS-chosen ports.
func startServer(t *testing.T, pvs *ca.Map) *ca.Server {
	t.Helper()
	srv := &ca.Server{Directory: pvs, Config: ca.Config{
		Interfaces: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		Port:       -1,
	}}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, ca.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(testTimeout):
			t.Error("Serve did not return")
		}
	})
	return srv
}

func TestRealServer(t *testing.T) {
	checkGoroutines(t)
	pvs := &ca.Map{}
	temp := ca.NewDouble(ca.Options{Units: "degC", Precision: 2}, 21.5)
	arr := ca.NewLong(ca.Options{MaxLength: 10}, 1, 2, 3)
	str := ca.NewString(ca.Options{}, "hello")
	ro := ca.NewDouble(ca.Options{ReadOnly: true}, 1)
	big := ca.NewDouble(ca.Options{MaxLength: 100000}, make([]float64, 100000)...)
	for name, pv := range map[string]ca.PV{"R:TEMP": temp, "R:ARR": arr, "R:STR": str, "R:RO": ro, "R:BIG": big} {
		if err := pvs.Add(name, pv); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServer(t, pvs)
	c, err := client.New(client.Config{AddrList: []string{srv.UDPAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := ctxT(t)

	t.Run("get", func(t *testing.T) {
		ch, err := c.Connect(ctx, "R:TEMP")
		if err != nil {
			t.Fatal(err)
		}
		if typ, n := ch.Native(); typ != dbr.Double || n != 1 {
			t.Errorf("native %v %d", typ, n)
		}
		v, md, err := ch.Get(ctx, dbr.CtrlDouble, 1)
		if err != nil || !reflect.DeepEqual(v, dbr.Doubles{21.5}) {
			t.Fatalf("get %v %v", v, err)
		}
		if md.Properties == nil || md.Properties.Units != "degC" || md.Properties.Precision != 2 {
			t.Errorf("metadata %+v", md)
		}
		if v, _, err := ch.Get(ctx, dbr.String, 1); err != nil || !reflect.DeepEqual(v, dbr.Strings{"21.50"}) {
			t.Errorf("as string %v %v", v, err)
		}
	})
	t.Run("array", func(t *testing.T) {
		ch, err := c.Connect(ctx, "R:ARR")
		if err != nil {
			t.Fatal(err)
		}
		if v, _, err := ch.Get(ctx, dbr.Long, 0); err != nil || !reflect.DeepEqual(v, dbr.Longs{1, 2, 3}) {
			t.Errorf("count 0: %v %v", v, err)
		}
		if err := ch.PutWait(ctx, dbr.Longs{4, 5}); err != nil {
			t.Fatal(err)
		}
		if v, _, err := ch.Get(ctx, dbr.TimeLong, 0); err != nil || !reflect.DeepEqual(v, dbr.Longs{4, 5}) {
			t.Errorf("after put: %v %v", v, err)
		}
	})
	t.Run("put", func(t *testing.T) {
		ch, err := c.Connect(ctx, "R:STR")
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Put(ctx, dbr.Strings{"world"}); err != nil {
			t.Fatal(err)
		}
		// WRITE has no reply; a READ on the same circuit is answered after it.
		if v, _, err := ch.Get(ctx, dbr.String, 1); err != nil || !reflect.DeepEqual(v, dbr.Strings{"world"}) {
			t.Errorf("after put: %v %v", v, err)
		}
	})
	t.Run("read only", func(t *testing.T) {
		ch, err := c.Connect(ctx, "R:RO")
		if err != nil {
			t.Fatal(err)
		}
		err = ch.PutWait(ctx, dbr.Doubles{2})
		if code := eca.Of(err, 0); code != eca.NoWtAccess {
			t.Errorf("put-wait on read-only: %v", err)
		}
	})
	t.Run("subscribe", func(t *testing.T) {
		ch, err := c.Connect(ctx, "R:TEMP")
		if err != nil {
			t.Fatal(err)
		}
		updates := make(chan client.Update, 10)
		sub, err := ch.Subscribe(dbr.TimeDouble, 0, dbr.EventValue|dbr.EventAlarm, func(u client.Update) { updates <- u })
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []float64{21.5, 30} {
			select {
			case u := <-updates:
				if u.Err != nil || !reflect.DeepEqual(u.Value, dbr.Doubles{want}) {
					t.Fatalf("update %+v, want %v", u, want)
				}
			case <-ctx.Done():
				t.Fatal("no update")
			}
			temp.Set(30)
		}
		if err := sub.Cancel(); err != nil {
			t.Fatal(err)
		}
		if err := c.Echo(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("large", func(t *testing.T) {
		ch, err := c.Connect(ctx, "R:BIG")
		if err != nil {
			t.Fatal(err)
		}
		vals := make(dbr.Doubles, 100000)
		for i := range vals {
			vals[i] = float64(i)
		}
		if err := ch.PutWait(ctx, vals); err != nil {
			t.Fatal(err)
		}
		if v, _, err := ch.Get(ctx, dbr.Double, 0); err != nil || !reflect.DeepEqual(v, vals) {
			t.Fatalf("get: %v", err)
		}
	})
	t.Run("removed", func(t *testing.T) {
		gone := ca.NewDouble(ca.Options{}, 1)
		if err := pvs.Add("R:GONE", gone); err != nil {
			t.Fatal(err)
		}
		ch, err := c.Connect(ctx, "R:GONE")
		if err != nil {
			t.Fatal(err)
		}
		updates := make(chan client.Update, 10)
		if _, err := ch.Subscribe(dbr.Double, 1, dbr.EventValue, func(u client.Update) { updates <- u }); err != nil {
			t.Fatal(err)
		}
		<-updates
		pvs.Remove("R:GONE")
		select {
		case u := <-updates:
			if eca.Of(u.Err, 0) != eca.Disconn {
				t.Fatalf("update %+v", u)
			}
		case <-ctx.Done():
			t.Fatal("no disconnect")
		}
		_ = ch.Close()
	})
	t.Run("many", func(t *testing.T) {
		const n = 2000
		names := make([]string, n)
		for i := range names {
			names[i] = "R:MANY" + strconv.Itoa(i)
			if err := pvs.Add(names[i], ca.NewLong(ca.Options{}, int32(i))); err != nil {
				t.Fatal(err)
			}
		}
		chs, err := c.ConnectMany(ctx, names)
		if err != nil {
			t.Fatal(err)
		}
		results := make(chan error, n)
		for i, ch := range chs {
			err := ch.GetAsync(dbr.Long, 1, func(v dbr.Value, _ dbr.Metadata, err error) {
				if err == nil && !reflect.DeepEqual(v, dbr.Longs{int32(i)}) {
					err = errors.New("wrong value")
				}
				results <- err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for range n {
			select {
			case err := <-results:
				if err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatal("gets did not complete")
			}
		}
	})
}

func TestRealServerNameServer(t *testing.T) {
	checkGoroutines(t)
	pvs := &ca.Map{}
	if err := pvs.Add("NS:TEMP", ca.NewDouble(ca.Options{}, 5)); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, pvs)
	c, err := client.New(client.Config{NameServers: []string{srv.TCPAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "NS:TEMP")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := ch.Get(ctx, dbr.Double, 1); err != nil || !reflect.DeepEqual(v, dbr.Doubles{5}) {
		t.Fatalf("get %v %v", v, err)
	}
}

// TestServerAndServerErrors checks Channel.Server and that an ERROR no
// request takes (a rejected plain WRITE) reaches Config.OnServerError.
func TestServerAndServerErrors(t *testing.T) {
	checkGoroutines(t)
	pvs := &ca.Map{}
	if err := pvs.Add("SE:E", ca.NewEnum(ca.Options{}, []string{"A", "B"})); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, pvs)
	errs := make(chan client.ServerError, 1)
	c, err := client.New(client.Config{NameServers: []string{srv.TCPAddr().String()},
		OnServerError: func(e client.ServerError) { errs <- e }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "SE:E")
	if err != nil {
		t.Fatal(err)
	}
	if ap, ok := ch.Server(); !ok || ap != srv.TCPAddr() {
		t.Errorf("Server() = %v, %v; want %v", ap, ok, srv.TCPAddr())
	}
	if err := ch.Put(ctx, dbr.Shorts{7}); err != nil { // no such state: the server refuses it
		t.Fatal(err)
	}
	select {
	case e := <-errs:
		if e.Request != "WRITE" || e.Err == nil || e.Server != srv.TCPAddr() {
			t.Errorf("server error %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("no server error for a refused WRITE")
	}
}

// BenchmarkRealServerConnectMany connects 20000 channels to a ca.Server.
func BenchmarkRealServerConnectMany(b *testing.B) {
	pvs := &ca.Map{}
	const n = 20000
	names := make([]string, n)
	for i := range names {
		names[i] = "B:PV" + strconv.Itoa(i)
		if err := pvs.Add(names[i], ca.NewDouble(ca.Options{}, float64(i))); err != nil {
			b.Fatal(err)
		}
	}
	srv := &ca.Server{Directory: pvs, Config: ca.Config{Interfaces: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: -1}}
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	for b.Loop() {
		c, err := client.New(client.Config{AddrList: []string{srv.UDPAddr().String()}})
		if err != nil {
			b.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(ctx, time.Minute)
		if _, err := c.ConnectMany(cctx, names); err != nil {
			b.Fatal(err)
		}
		ccancel()
		_ = c.Close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "connects/s")
}
