package client_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// BenchmarkConnectMany measures connecting 10000 channels against the fake
// server (which dominates the cost).
func BenchmarkConnectMany(b *testing.B) {
	srv, err := startFakeServer()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.close()
	const n = 10000
	names := make([]string, n)
	for i := range names {
		names[i] = pvName(i)
		srv.add(names[i], dbr.Doubles{float64(i)})
	}
	for b.Loop() {
		c, err := client.New(srv.config())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := c.ConnectMany(ctx, names); err != nil {
			b.Fatal(err)
		}
		cancel()
		_ = c.Close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "connects/s")
}

// BenchmarkGetAsync measures pipelined gets on one channel.
func BenchmarkGetAsync(b *testing.B) {
	srv, err := startFakeServer()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.close()
	srv.add("B:PV", dbr.Doubles{1})
	c, err := client.New(srv.config())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch, err := c.Connect(ctx, "B:PV")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for b.Loop() {
		wg.Add(1)
		if err := ch.GetAsync(dbr.Double, 1, func(dbr.Value, dbr.Metadata, error) { wg.Done() }); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}

// BenchmarkGetAsyncView is BenchmarkGetAsync with a reused value.
func BenchmarkGetAsyncView(b *testing.B) {
	srv, err := startFakeServer()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.close()
	srv.add("B:PV", dbr.Doubles{1})
	c, err := client.New(srv.config())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch, err := c.Connect(ctx, "B:PV")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	fn := func(dbr.Value, dbr.Metadata, error) { wg.Done() }
	for b.Loop() {
		wg.Add(1)
		if err := ch.GetAsyncView(dbr.Double, 1, fn); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}
