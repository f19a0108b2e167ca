package client_test

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// startBenchServer serves n doubles R:AI<i> and a 1,000,000-double R:WF
// from a ca.Server in this process, and returns a connected client.
func startBenchServer(b *testing.B, n int) *client.Client {
	b.Helper()
	pvs := &ca.Map{}
	for i := range n {
		if err := pvs.Add("R:AI"+strconv.Itoa(i), ca.NewDouble(ca.Options{}, float64(i))); err != nil {
			b.Fatal(err)
		}
	}
	wf := make([]float64, 1_000_000)
	for i := range wf {
		wf[i] = float64(i)
	}
	if err := pvs.Add("R:WF", ca.NewDouble(ca.Options{MaxLength: len(wf)}, wf...)); err != nil {
		b.Fatal(err)
	}
	srv := &ca.Server{Directory: pvs, Config: ca.Config{
		Interfaces: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		Port:       -1,
	}}
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	c, err := client.New(client.Config{AddrList: []string{srv.UDPAddr().String()}, MaxSearchPeriod: 200 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = c.Close()
		cancel()
		if err := <-done; !errors.Is(err, ca.ErrServerClosed) {
			b.Error(err)
		}
	})
	return c
}

// BenchmarkRealServerGets measures rounds of DBR_TIME_DOUBLE gets with
// 100,000 channels in flight, through GetAsync and through GetMany.
func BenchmarkRealServerGets(b *testing.B) {
	const n = 100000
	c := startBenchServer(b, n)
	names := make([]string, n)
	for i := range names {
		names[i] = "R:AI" + strconv.Itoa(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	chs, err := c.ConnectMany(ctx, names)
	if err != nil {
		b.Fatal(err)
	}
	var left, failed atomic.Int64
	var done chan struct{}
	one := func(err error) {
		if err != nil {
			failed.Add(1)
		}
		if left.Add(-1) == 0 {
			close(done)
		}
	}
	wait := func(b *testing.B) {
		select {
		case <-done:
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		}
	}
	b.Run("GetAsync", func(b *testing.B) {
		fn := func(_ dbr.Value, _ dbr.Metadata, err error) { one(err) }
		for b.Loop() {
			left.Store(n)
			done = make(chan struct{})
			for _, ch := range chs {
				if err := ch.GetAsync(dbr.TimeDouble, 1, fn); err != nil {
					one(err)
				}
			}
			wait(b)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "gets/s")
	})
	b.Run("GetMany", func(b *testing.B) {
		fn := func(_ int, _ dbr.Value, _ dbr.Metadata, err error) { one(err) }
		for b.Loop() {
			left.Store(n)
			done = make(chan struct{})
			if err := c.GetMany(chs, dbr.TimeDouble, 1, fn); err != nil {
				b.Fatal(err)
			}
			wait(b)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "gets/s")
	})
	if failed.Load() != 0 {
		b.Errorf("%d gets failed", failed.Load())
	}
}

// BenchmarkRealServerWaveform measures gets of 1,000,000 doubles with Get
// and with GetDoubles into a reused slice.
func BenchmarkRealServerWaveform(b *testing.B) {
	c := startBenchServer(b, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch, err := c.Connect(ctx, "R:WF")
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range []dbr.Type{dbr.Double, dbr.TimeDouble} {
		b.Run("Get/"+t.String(), func(b *testing.B) {
			b.SetBytes(8_000_000)
			for b.Loop() {
				if _, _, err := ch.Get(ctx, t, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("GetDoubles/"+t.String(), func(b *testing.B) {
			b.SetBytes(8_000_000)
			var dst []float64
			for b.Loop() {
				if dst, _, err = ch.GetDoubles(ctx, t, 0, dst); err != nil || len(dst) != 1_000_000 {
					b.Fatal(len(dst), err)
				}
			}
		})
	}
}
