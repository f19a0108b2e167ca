package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// startInProcess serves the bench-server layout (n BENCH:ai PVs, the
// 1,000 counters at 10 Hz, BENCH:ao, BENCH:wf) from a ca.Server in this
// process on 127.0.0.1, so that `go test -cpuprofile` sees the server and
// the client together. It mirrors cmd/cabridge's bench database; the
// child-process runs of caload measure the real binary.
func startInProcess(tb testing.TB, n int) target {
	tb.Helper()
	var m ca.Map
	add := func(name string, pv ca.PV) {
		if err := m.Add(name, pv); err != nil {
			tb.Fatal(err)
		}
	}
	ai := ca.Options{Units: "V", Precision: 3}
	for i := range n {
		add(fmt.Sprintf("BENCH:ai%05d", i), ca.NewDouble(ai, float64(i)))
	}
	counters := make([]*ca.Double, 1000)
	for i := range counters {
		counters[i] = ca.NewDouble(ca.Options{ReadOnly: true, ClassName: "calc"})
		add(fmt.Sprintf("BENCH:calc%05d", i), counters[i])
	}
	add("BENCH:ao", ca.NewDouble(ca.Options{Units: "V", Precision: 3}))
	wf := make([]float64, 1_000_000)
	for i := range wf {
		wf[i] = float64(i)
	}
	add("BENCH:wf", ca.NewDouble(ca.Options{MaxLength: len(wf)}, wf...))

	srv := &ca.Server{Directory: &m, Config: ca.Config{
		Interfaces: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		Port:       -1,
	}}
	if err := srv.Listen(); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ctx); err != nil && !errors.Is(err, ca.ErrServerClosed) {
			tb.Error(err)
		}
	})
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		vals := []float64{0}
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				vals[0]++
				ts := dbr.NewTimestamp(now)
				for _, c := range counters {
					_ = c.Post(ca.Post[float64]{Values: vals, Stamp: ts})
				}
			}
		}
	})
	tb.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			tb.Error(err)
		}
		cancel()
		wg.Wait()
	})
	udp := srv.UDPAddr()
	return target{
		cfg: client.Config{
			AddrList:        []string{udp.String()},
			ServerPort:      int(udp.Port()),
			MaxSearchPeriod: 200 * time.Millisecond,
			ClientName:      "caload",
			HostName:        "localhost",
		},
		pid: os.Getpid(),
		n:   n,
	}
}

// TestMeasureInProcess runs every phase briefly against an in-process
// server. It checks that the measurements complete and report sane
// counts, never how fast they are.
func TestMeasureInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("serves a 1,000,000-element waveform")
	}
	tgt := startInProcess(t, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cr, err := measureConnect(ctx, tgt, 200, 2)
	if err != nil {
		t.Fatalf("measureConnect: %v", err)
	}
	if cr.PerSecond <= 0 || len(cr.GetRounds) != 2 || cr.GetErrors != 0 {
		t.Errorf("measureConnect = %+v", cr)
	}
	mr, err := measureMonitors(ctx, tgt, 350*time.Millisecond)
	if err != nil {
		t.Fatalf("measureMonitors: %v", err)
	}
	if mr.Subscriptions != 1000 || mr.Errors != 0 {
		t.Errorf("measureMonitors = %+v", mr)
	}
	pr, err := measurePuts(ctx, tgt, 20, time.Minute)
	if err != nil {
		t.Fatalf("measurePuts: %v", err)
	}
	if pr.Puts != 20 {
		t.Errorf("measurePuts made %d puts, want 20", pr.Puts)
	}
	wr, err := measureWaveform(ctx, tgt, 1)
	if err != nil {
		t.Fatalf("measureWaveform: %v", err)
	}
	if len(wr) != 2 || wr[0].Elements != 1_000_000 || wr[1].Gets != 1 {
		t.Errorf("measureWaveform = %+v", wr)
	}
	if _, err := measureClients(ctx, tgt, 3, 5); err != nil {
		t.Fatalf("measureClients: %v", err)
	}
}

// The benchmarks below exist for profiling the server and the client in
// one process, e.g.
//
//	go test ./bench/caload -run '^$' -bench Gets -cpuprofile cpu.out
//	go tool pprof -top cpu.out

// BenchmarkConnect measures search and connect of 100,000 PVs with a
// fresh client per iteration.
func BenchmarkConnect(b *testing.B) {
	const n = 100000
	tgt := startInProcess(b, n)
	names := aiNames(n)
	ctx := context.Background()
	for b.Loop() {
		c, err := client.New(tgt.cfg)
		if err != nil {
			b.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, connectTimeout)
		_, err = c.ConnectMany(cctx, names)
		cancel()
		_ = c.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "connects/s")
}

// BenchmarkGets measures rounds of DBR_TIME_DOUBLE gets with all N
// channels in flight.
func BenchmarkGets(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			tgt := startInProcess(b, n)
			c, err := client.New(tgt.cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
			defer cancel()
			chans, err := c.ConnectMany(ctx, aiNames(n))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := getRound(ctx, c, chans); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "gets/s")
		})
	}
}

// BenchmarkWaveform measures gets of the 1,000,000-double waveform.
func BenchmarkWaveform(b *testing.B) {
	tgt := startInProcess(b, 0)
	c, err := client.New(tgt.cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	ch, err := c.Connect(ctx, "BENCH:wf")
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range []dbr.Type{dbr.Double, dbr.TimeDouble} {
		b.Run(t.String(), func(b *testing.B) {
			b.SetBytes(8_000_000)
			for b.Loop() {
				if _, _, err := ch.Get(ctx, t, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutWait measures sequential put-callback round trips.
func BenchmarkPutWait(b *testing.B) {
	tgt := startInProcess(b, 0)
	c, err := client.New(tgt.cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	ch, err := c.Connect(ctx, "BENCH:ao")
	if err != nil {
		b.Fatal(err)
	}
	v := dbr.Doubles{0}
	for b.Loop() {
		v[0]++
		if err := ch.PutWait(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
}
