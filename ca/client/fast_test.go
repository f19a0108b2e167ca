package client_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// TestGetVariants checks that GetAsyncView, GetMany and GetDoubles give
// what Get gives.
func TestGetVariants(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("V:DBL", dbr.Doubles{1.5})
	srv.add("V:ARR", dbr.Longs{1, 2, 3})
	srv.add("V:SHORT", dbr.Shorts{-7, 8})
	srv.add("V:STR", dbr.Strings{"hello"})
	srv.add("V:CHAR", dbr.Chars{'a', 'b'})
	srv.add("V:ENUM", dbr.Enums{2})
	ctx := ctxT(t)
	tests := []struct {
		pv    string
		typ   dbr.Type
		count int
	}{
		{"V:DBL", dbr.Double, 1},
		{"V:DBL", dbr.TimeDouble, 1},
		{"V:DBL", dbr.StsDouble, 0},
		{"V:DBL", dbr.CtrlDouble, 1},
		{"V:DBL", dbr.Float, 1},
		{"V:ARR", dbr.Long, 0},
		{"V:ARR", dbr.TimeLong, 5},
		{"V:ARR", dbr.Double, 2},
		{"V:ARR", dbr.TimeDouble, 0},
		{"V:SHORT", dbr.TimeShort, 0},
		{"V:STR", dbr.TimeString, 1},
		{"V:CHAR", dbr.TimeChar, 0},
		{"V:ENUM", dbr.TimeEnum, 1},
		{"V:ENUM", dbr.CtrlEnum, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v/%d", tt.pv, tt.typ, tt.count), func(t *testing.T) {
			ch, err := c.Connect(ctx, tt.pv)
			if err != nil {
				t.Fatal(err)
			}
			want, wantMD, err := ch.Get(ctx, tt.typ, tt.count)
			if err != nil {
				t.Fatal(err)
			}
			type res struct {
				v   dbr.Value
				md  dbr.Metadata
				err error
			}
			copyValue := func(v dbr.Value) dbr.Value {
				if v == nil {
					return nil
				}
				rv := reflect.ValueOf(v)
				cp := reflect.MakeSlice(rv.Type(), rv.Len(), rv.Len())
				reflect.Copy(cp, rv)
				return cp.Interface().(dbr.Value)
			}
			for range 2 { // the second round reuses the decode buffers
				got := make(chan res, 3)
				if err := ch.GetAsyncView(tt.typ, tt.count, func(v dbr.Value, md dbr.Metadata, err error) {
					got <- res{copyValue(v), md, err}
				}); err != nil {
					t.Fatal(err)
				}
				if err := c.GetMany([]*client.Channel{ch, ch}, tt.typ, tt.count, func(i int, v dbr.Value, md dbr.Metadata, err error) {
					got <- res{copyValue(v), md, err}
				}); err != nil {
					t.Fatal(err)
				}
				for k := range 3 {
					var r res
					select {
					case r = <-got:
					case <-ctx.Done():
						t.Fatal(ctx.Err())
					}
					if r.err != nil || !reflect.DeepEqual(r.v, want) || !reflect.DeepEqual(r.md, wantMD) {
						t.Errorf("reply %d: %#v %+v %v, want %#v %+v", k, r.v, r.md, r.err, want, wantMD)
					}
				}
			}
			if tt.typ.Base() != dbr.Double {
				if _, _, err := ch.GetDoubles(ctx, tt.typ, tt.count, nil); eca.Of(err, 0) != eca.BadType {
					t.Errorf("GetDoubles(%v): %v, want ECA_BADTYPE", tt.typ, err)
				}
				return
			}
			dst := make([]float64, 0, 16)
			got, md, err := ch.GetDoubles(ctx, tt.typ, tt.count, dst)
			if err != nil || !reflect.DeepEqual(dbr.Doubles(got), want) || !reflect.DeepEqual(md, wantMD) {
				t.Errorf("GetDoubles: %v %+v %v, want %v %+v", got, md, err, want, wantMD)
			}
			if len(got) > 0 && &got[0] != &dst[:1][0] {
				t.Error("GetDoubles did not use dst")
			}
		})
	}
}

// TestGetDoublesLarge gets a waveform large enough to be decoded while it
// streams in, reusing the result slice.
func TestGetDoublesLarge(t *testing.T) {
	srv, c := setup(t, nil)
	big := make(dbr.Doubles, 300001)
	for i := range big {
		big[i] = float64(i) + 0.25
	}
	srv.add("T:BIG", big)
	srv.add("T:SMALL", dbr.Doubles{7})
	ctx := ctxT(t)
	chs, err := c.ConnectMany(ctx, []string{"T:BIG", "T:SMALL"})
	if err != nil {
		t.Fatal(err)
	}
	var dst []float64
	for i, typ := range []dbr.Type{dbr.Double, dbr.TimeDouble, dbr.CtrlDouble, dbr.Double} {
		// Interleave small gets so that replies follow the big one in the
		// same reads.
		small := make(chan error, 4)
		for range 4 {
			if err := chs[1].GetAsync(dbr.Double, 1, func(v dbr.Value, _ dbr.Metadata, err error) {
				if err == nil && !reflect.DeepEqual(v, dbr.Doubles{7}) {
					err = fmt.Errorf("small get: %v", v)
				}
				small <- err
			}); err != nil {
				t.Fatal(err)
			}
		}
		prev := dst
		var md dbr.Metadata
		dst, md, err = chs[0].GetDoubles(ctx, typ, 0, dst)
		if err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		if !slices.Equal(dst, big) {
			t.Fatalf("%v: wrong values (len %d)", typ, len(dst))
		}
		if typ.Family() == dbr.FamilyCtrl && md.Properties == nil {
			t.Errorf("%v: no properties", typ)
		}
		if typ == dbr.TimeDouble && md.Severity != dbr.SeverityMajor {
			t.Errorf("%v: metadata %+v", typ, md)
		}
		if i > 0 && &prev[0] != &dst[0] {
			t.Errorf("%v: dst not reused", typ)
		}
		for range 4 {
			if err := <-small; err != nil {
				t.Error(err)
			}
		}
	}
}

// TestStaleReplies cancels gets so that their replies arrive after the
// ioid was freed and reused: each later get must get its own PV's value.
func TestStaleReplies(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("S:A", dbr.Doubles{1})
	srv.add("S:B", dbr.Doubles{2})
	ctx := ctxT(t)
	chs, err := c.ConnectMany(ctx, []string{"S:A", "S:B"})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	var dst []float64
	for range 200 {
		_, _, err := chs[0].Get(cancelled, dbr.Double, 1)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		_, _, err = chs[0].GetDoubles(cancelled, dbr.Double, 1, dst)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		v, _, err := chs[1].Get(ctx, dbr.Double, 1)
		if err != nil || !reflect.DeepEqual(v, dbr.Doubles{2}) {
			t.Fatalf("get S:B: %v %v", v, err)
		}
		dst, _, err = chs[1].GetDoubles(ctx, dbr.Double, 1, dst)
		if err != nil || !slices.Equal(dst, []float64{2}) {
			t.Fatalf("GetDoubles S:B: %v %v", dst, err)
		}
	}
}

// TestGetManyErrors checks that GetMany reports unsendable requests
// through fn and invalid arguments through its result.
func TestGetManyErrors(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("M:A", dbr.Doubles{1})
	noRead := srv.add("M:NR", dbr.Doubles{2})
	noRead.access = 0
	ctx := ctxT(t)
	chs, err := c.ConnectMany(ctx, []string{"M:A", "M:NR", "M:A"})
	if err != nil {
		t.Fatal(err)
	}
	_ = chs[2].Close()
	if err := c.GetMany(chs, dbr.Type(999), 1, func(int, dbr.Value, dbr.Metadata, error) { t.Error("fn called") }); eca.Of(err, 0) != eca.BadType {
		t.Errorf("bad type: %v", err)
	}
	errs := make(chan [2]any, 3)
	if err := c.GetMany(chs, dbr.Double, 1, func(i int, v dbr.Value, _ dbr.Metadata, err error) {
		errs <- [2]any{i, err}
	}); err != nil {
		t.Fatal(err)
	}
	got := map[int]error{}
	for range 3 {
		select {
		case r := <-errs:
			got[r[0].(int)], _ = r[1].(error)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	if got[0] != nil || eca.Of(got[1], 0) != eca.NoRdAccess || !errors.Is(got[2], client.ErrClosed) {
		t.Errorf("errors %v", got)
	}
}

// TestPooledOpsConcurrent runs every kind of get from many goroutines,
// with some cancelled, and checks that every callback runs exactly once
// with the right value. Run it with -race.
func TestPooledOpsConcurrent(t *testing.T) {
	srv, c := setup(t, nil)
	const npv = 20
	names := make([]string, npv)
	for i := range names {
		names[i] = pvName(i)
		srv.add(names[i], dbr.Doubles{float64(i)})
	}
	ctx := ctxT(t)
	chs, err := c.ConnectMany(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	check := func(i int, v dbr.Value, err error) error {
		if err != nil {
			return err
		}
		if d, ok := v.(dbr.Doubles); !ok || len(d) != 1 || d[0] != float64(i) {
			return fmt.Errorf("channel %d: got %v", i, v)
		}
		return nil
	}
	var wg sync.WaitGroup
	var calls, want atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		if err != nil {
			firstErr.CompareAndSwap(nil, err)
		}
	}
	for g := range 4 {
		wg.Go(func() {
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			var dst []float64
			for round := range 50 {
				i := (g + round) % npv
				want.Add(2)
				fail(chs[i].GetAsync(dbr.Double, 1, func(v dbr.Value, _ dbr.Metadata, err error) {
					calls.Add(1)
					fail(check(i, v, err))
				}))
				fail(chs[i].GetAsyncView(dbr.TimeDouble, 1, func(v dbr.Value, _ dbr.Metadata, err error) {
					calls.Add(1)
					fail(check(i, v, err))
				}))
				want.Add(npv)
				fail(c.GetMany(chs, dbr.Double, 1, func(k int, v dbr.Value, _ dbr.Metadata, err error) {
					calls.Add(1)
					fail(check(k, v, err))
				}))
				if _, _, err := chs[i].Get(cancelled, dbr.Double, 1); err != nil && !errors.Is(err, context.Canceled) {
					fail(err)
				}
				var err error
				if dst, _, err = chs[i].GetDoubles(ctx, dbr.Double, 1, dst); err != nil {
					fail(fmt.Errorf("GetDoubles %d: %w", i, err))
				} else if !slices.Equal(dst, []float64{float64(i)}) {
					fail(fmt.Errorf("GetDoubles %d: got %v", i, dst))
				}
			}
		})
	}
	wg.Wait()
	// Every callback has run once the circuit has answered an echo sent
	// after the last request.
	if err := c.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	if err, _ := firstErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != want.Load() {
		t.Errorf("%d callbacks, want %d", calls.Load(), want.Load())
	}
}

// TestGetDoublesDisconnect checks that a GetDoubles waiting for a reply
// fails when the circuit is lost.
func TestGetDoublesDisconnect(t *testing.T) {
	srv, c := setup(t, nil)
	srv.add("D:A", dbr.Doubles{1})
	ctx := ctxT(t)
	ch, err := c.Connect(ctx, "D:A")
	if err != nil {
		t.Fatal(err)
	}
	srv.dropAll()
	if _, _, err := ch.GetDoubles(ctx, dbr.Double, 1, nil); err == nil {
		// The get may have been answered before the drop; the next one
		// must fail or succeed cleanly, never hang.
		_, _, _ = ch.GetDoubles(ctx, dbr.Double, 1, nil)
	}
}
