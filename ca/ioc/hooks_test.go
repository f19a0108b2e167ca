package ioc_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/ioc"
)

func TestPutHooks(t *testing.T) {
	g := ioc.NewGroup("H:", nil)
	clamp := ioc.Double(g, "CLAMP", ioc.Spec[float64]{Put: func(_ context.Context, _ *ioc.PV[float64], v float64) (float64, error) {
		return min(v, 10), nil
	}})
	ioc.Long(g, "REJECT", ioc.Spec[int32]{Put: func(_ context.Context, _ *ioc.PV[int32], v int32) (int32, error) {
		if v < 0 {
			return 0, eca.Errorf(eca.NoWtAccess, "negative")
		}
		if v > 100 {
			return 0, errors.New("too big")
		}
		return v, nil
	}})
	ioc.Double(g, "PANIC", ioc.Spec[float64]{Put: func(context.Context, *ioc.PV[float64], float64) (float64, error) {
		panic("boom")
	}})
	ioc.String(g, "UPPER", ioc.Spec[string]{Put: func(_ context.Context, _ *ioc.PV[string], v string) (string, error) {
		return "<" + v + ">", nil
	}})
	ioc.Enum(g, "MODE", ioc.Spec[uint16]{EnumStrings: []string{"Off", "On", "Auto"}, Put: func(_ context.Context, _ *ioc.PV[uint16], v uint16) (uint16, error) {
		if v == 2 {
			return 0, fmt.Errorf("auto not supported")
		}
		return v, nil
	}})
	ioc.Char(g, "LS", ioc.Spec[string]{Put: func(_ context.Context, _ *ioc.PV[string], v string) (string, error) {
		return v + "!", nil
	}})
	arr := ioc.Double(g, "ARR", ioc.Spec[float64]{MaxLength: 4, PutArray: func(_ context.Context, _ *ioc.PV[float64], v []float64) ([]float64, error) {
		return append(v, float64(len(v))), nil
	}})
	srv := serve(t, g)
	ctx := tctx(t)

	tests := []struct {
		pv   string
		put  dbr.Value
		want eca.Code
		get  dbr.Type
		read dbr.Value
	}{
		{"H:CLAMP", dbr.Doubles{5}, eca.Normal, dbr.Double, dbr.Doubles{5}},
		{"H:CLAMP", dbr.Strings{"12.5"}, eca.Normal, dbr.Double, dbr.Doubles{10}},
		{"H:REJECT", dbr.Longs{-1}, eca.NoWtAccess, dbr.Long, dbr.Longs{0}},
		{"H:REJECT", dbr.Longs{101}, eca.PutFail, dbr.Long, dbr.Longs{0}},
		{"H:REJECT", dbr.Doubles{42}, eca.Normal, dbr.Long, dbr.Longs{42}},
		{"H:PANIC", dbr.Doubles{1}, eca.PutFail, dbr.Double, dbr.Doubles{0}},
		{"H:UPPER", dbr.Strings{"abc"}, eca.Normal, dbr.String, dbr.Strings{"<abc>"}},
		{"H:MODE", dbr.Strings{"On"}, eca.Normal, dbr.Enum, dbr.Enums{1}},
		{"H:MODE", dbr.Strings{"Auto"}, eca.PutFail, dbr.Enum, dbr.Enums{1}},
		{"H:MODE", dbr.Strings{"Bogus"}, eca.PutFail, dbr.Enum, dbr.Enums{1}},
		{"H:LS", dbr.Strings{"hello"}, eca.Normal, dbr.Char, dbr.Chars("hello!\x00")},
		{"H:ARR", dbr.Doubles{7, 8}, eca.Normal, dbr.Double, dbr.Doubles{7, 8, 2}},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d_%s", i, tc.pv), func(t *testing.T) {
			ch := connect(t, srv, tc.pv)
			if got := code(ch.PutWait(ctx, tc.put)); got != tc.want {
				t.Errorf("put %v: status %v, want %v", tc.put, got, tc.want)
			}
			v, _, err := ch.Get(ctx, tc.get, 0)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(v) != fmt.Sprint(tc.read) {
				t.Errorf("read %v, want %v", v, tc.read)
			}
		})
	}
	if clamp.Value() != 10 || len(arr.Values()) != 3 {
		t.Errorf("clamp %v arr %v", clamp.Value(), arr.Values())
	}
}

// TestSlowPutHook checks that a slow put hook holds the putting client's
// put callback until it returns while another client's reads of the same
// PV are answered at once.
func TestSlowPutHook(t *testing.T) {
	entered := make(chan float64, 1)
	release := make(chan struct{})
	g := ioc.NewGroup("S:", nil)
	ioc.Double(g, "MOVE", ioc.Spec[float64]{Value: 1, Put: func(ctx context.Context, _ *ioc.PV[float64], v float64) (float64, error) {
		entered <- v
		select {
		case <-release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return v, nil
	}})
	srv := serve(t, g)
	ctx := tctx(t)
	a := connect(t, srv, "S:MOVE")
	b := connect(t, srv, "S:MOVE")
	done := make(chan error, 1)
	go func() { done <- a.PutWait(ctx, dbr.Doubles{5}) }()
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("put hook not called")
	}
	for range 3 {
		v, _, err := b.Get(ctx, dbr.Double, 1)
		if err != nil || v.(dbr.Doubles)[0] != 1 {
			t.Fatalf("other client's read during the put: %v %v", v, err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("put completed before the hook returned: %v", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The putting client's own read after its put sees the new value.
	if v, _, err := a.Get(ctx, dbr.Double, 1); err != nil || v.(dbr.Doubles)[0] != 5 {
		t.Errorf("read after put: %v %v", v, err)
	}
}

func TestGetHooks(t *testing.T) {
	var n atomic.Int32
	g := ioc.NewGroup("G:", nil)
	ioc.Long(g, "COUNT", ioc.Spec[int32]{ReadOnly: true, Get: func(context.Context, *ioc.PV[int32]) (int32, error) {
		return n.Add(1), nil
	}})
	ioc.Double(g, "FAIL", ioc.Spec[float64]{Get: func(context.Context, *ioc.PV[float64]) (float64, error) {
		return 0, errors.New("sensor unplugged")
	}})
	ioc.Double(g, "NOACCESS", ioc.Spec[float64]{Get: func(context.Context, *ioc.PV[float64]) (float64, error) {
		return 0, eca.Errorf(eca.NoRdAccess, "no")
	}})
	ioc.Double(g, "PANIC", ioc.Spec[float64]{Get: func(context.Context, *ioc.PV[float64]) (float64, error) {
		panic("boom")
	}})
	ioc.String(g, "ARR", ioc.Spec[string]{MaxLength: 3, GetArray: func(context.Context, *ioc.PV[string]) ([]string, error) {
		return []string{"a", "b"}, nil
	}})
	srv := serve(t, g)
	ctx := tctx(t)

	cnt := connect(t, srv, "G:COUNT")
	for i := int32(1); i <= 3; i++ {
		v, _, err := cnt.Get(ctx, dbr.TimeLong, 1)
		if err != nil || v.(dbr.Longs)[0] != i {
			t.Fatalf("read %d: %v %v", i, v, err)
		}
	}
	for _, tc := range []struct {
		pv   string
		want eca.Code
	}{{"G:FAIL", eca.GetFail}, {"G:NOACCESS", eca.NoRdAccess}, {"G:PANIC", eca.GetFail}} {
		ch := connect(t, srv, tc.pv)
		_, _, err := ch.Get(ctx, dbr.Double, 1)
		if got := code(err); got != tc.want {
			t.Errorf("%s: status %v (%v), want %v", tc.pv, got, err, tc.want)
		}
	}
	arr := connect(t, srv, "G:ARR")
	if v, _, err := arr.Get(ctx, dbr.String, 0); err != nil || fmt.Sprint(v) != "[a b]" {
		t.Errorf("array get: %v %v", v, err)
	}
	// The server still serves after the failures.
	if v, _, err := cnt.Get(ctx, dbr.Long, 1); err != nil || v.(dbr.Longs)[0] != 4 {
		t.Errorf("read after failures: %v %v", v, err)
	}
}

func TestStartupShutdownHooks(t *testing.T) {
	g := ioc.NewGroup("L:", nil)
	started := make(chan struct{})
	var order []string
	stopped := make(chan struct{})
	ioc.Double(g, "X", ioc.Spec[float64]{
		Startup: func(ctx context.Context, pv *ioc.PV[float64]) error {
			if err := pv.Set(1); err != nil {
				return err
			}
			close(started)
			<-ctx.Done()
			order = append(order, "startup done")
			close(stopped)
			return nil
		},
		Shutdown: func(ctx context.Context, pv *ioc.PV[float64]) error {
			order = append(order, fmt.Sprintf("shutdown %v", pv.Value()))
			return nil
		},
	})
	g.OnStartup(func(context.Context) error { panic("startup panic is logged") })
	g.OnShutdown(func(context.Context) error { return errors.New("shutdown failed") })
	r, err := ioc.Start(t.Context(), nil, g)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = r.Stop(ctx)
	<-stopped
	if err == nil || err.Error() != "shutdown failed" {
		t.Errorf("Stop: %v", err)
	}
	if fmt.Sprint(order) != "[startup done shutdown 1]" {
		t.Errorf("order %v", order)
	}
	if err := r.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
