package ca

import (
	"fmt"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// Benchmarks of the server's hot paths at the scale of the load test:
// 100,000 Doubles in a Map, one circuit, no sockets.

const perfPVs = 100000

// perfNames returns the names of the perf PVs.
func perfNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("BENCH:ai%05d", i)
	}
	return names
}

// perfServer returns a server serving n Doubles named by perfNames.
func perfServer(tb testing.TB, n int) (*Server, []string) {
	tb.Helper()
	var m Map
	names := perfNames(n)
	o := Options{Units: "V", Precision: 3}
	for i, name := range names {
		if err := m.Add(name, NewDouble(o, float64(i))); err != nil {
			tb.Fatal(err)
		}
	}
	s := &Server{Directory: &m}
	s.tcpPort = 5064
	return s, names
}

// createChanRequests returns VERSION and one CREATE_CHAN per name (cid =
// index), as a client connecting to every name sends them.
func createChanRequests(names []string) []byte {
	req := wire.AppendVersionTCP(nil, 0)
	for i, name := range names {
		req = wire.AppendCreateChan(req, uint32(i), name)
	}
	return req
}

// feed hands req to c in chunks of the reader's buffer size and drops the
// output after each chunk, as the writer would.
func feed(tb testing.TB, c *circuit, req []byte) {
	tb.Helper()
	r := 0
	for r < len(req) {
		w := min(r+readChunk, len(req))
		n, _, err := c.process(req[:w], r, w)
		if err != nil {
			tb.Fatal(err)
		}
		r = n
		c.out = c.out[:0]
		c.refs = c.releaseRefsLocked(c.refs)
		c.refBytes = 0
	}
}

// BenchmarkCreateChan100k measures the server side of connecting to
// 100,000 PVs: the CREATE_CHAN requests of one circuit, from request bytes
// to reply bytes.
func BenchmarkCreateChan100k(b *testing.B) {
	s, names := perfServer(b, perfPVs)
	req := createChanRequests(names)
	b.ReportAllocs()
	for b.Loop() {
		c := newCircuit(s, nil, "bench")
		feed(b, c, req)
		c.teardown()
	}
	b.ReportMetric(float64(perfPVs*b.N)/b.Elapsed().Seconds(), "connects/s")
}

// BenchmarkSearch100k measures name searches (the TCP search path, which
// shares the lookup with UDP) of 100,000 PVs.
func BenchmarkSearch100k(b *testing.B) {
	s, names := perfServer(b, perfPVs)
	var req []byte
	for i, name := range names {
		req = wire.AppendSearch(req, uint32(i), name)
	}
	c := newCircuit(s, nil, "bench")
	feed(b, c, wire.AppendVersionTCP(nil, 0))
	b.ReportAllocs()
	for b.Loop() {
		feed(b, c, req)
	}
	b.ReportMetric(float64(perfPVs*b.N)/b.Elapsed().Seconds(), "searches/s")
}

// BenchmarkReadNotify100k measures READ_NOTIFY of DBR_TIME_DOUBLE on
// 100,000 channels, each read once per round, as the load test's gets.
func BenchmarkReadNotify100k(b *testing.B) {
	s, names := perfServer(b, perfPVs)
	c := newCircuit(s, nil, "bench")
	created := createChanRequests(names)
	c.out = c.out[:0]
	r := 0
	var sids []uint32
	for r < len(created) {
		w := min(r+readChunk, len(created))
		n, _, err := c.process(created[:w], r, w)
		if err != nil {
			b.Fatal(err)
		}
		r = n
		for i := 0; i < len(c.out); i += 16 {
			m, _, err := wire.Next(c.out[i:], 0)
			if err != nil {
				b.Fatal(err)
			}
			if m.Command == wire.CmdCreateChan {
				sids = append(sids, m.Param2)
			}
			i += len(m.Payload)
		}
		c.out = c.out[:0]
	}
	if len(sids) != perfPVs {
		b.Fatalf("%d channels", len(sids))
	}
	var req []byte
	for i, sid := range sids {
		req = wire.AppendReadNotify(req, uint16(dbr.TimeDouble), 1, sid, uint32(i))
	}
	c.out = make([]byte, 0, 2*readChunk)
	b.ReportAllocs()
	for b.Loop() {
		feed(b, c, req)
	}
	b.ReportMetric(float64(perfPVs*b.N)/b.Elapsed().Seconds(), "reads/s")
}
