package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/bench/internal/loadstat"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// Time limits of the phases; every phase is bounded.
const (
	connectTimeout = 2 * time.Minute
	roundTimeout   = time.Minute
	settleTime     = 500 * time.Millisecond
)

// aiNames returns BENCH:ai00000 .. for n PVs.
func aiNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("BENCH:ai%05d", i)
	}
	return names
}

// calcNames returns the 1,000 counter names.
func calcNames() []string {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("BENCH:calc%05d", i)
	}
	return names
}

// ConnectResult is the outcome of connecting N channels with a fresh client.
type ConnectResult struct {
	N          int       `json:"n"`
	Seconds    float64   `json:"seconds"`
	PerSecond  float64   `json:"connects_per_s"`
	ClientCPU  float64   `json:"client_cpu_pct"`
	ServerCPU  float64   `json:"server_cpu_pct"`
	GetRounds  []float64 `json:"gets_per_s_rounds"`
	GetsBest   float64   `json:"gets_per_s_best"`
	GetsMedian float64   `json:"gets_per_s_median"`
	GetErrors  int64     `json:"get_errors"`
	// CPU use over all get rounds, in percent of one core.
	GetServerCPU float64 `json:"gets_server_cpu_pct"`
	GetClientCPU float64 `json:"gets_client_cpu_pct"`
}

// cpuMeter measures the CPU use of the server and of this process over
// an interval, as a percentage of one core.
type cpuMeter struct {
	pid            int
	t0             time.Time
	server0, self0 time.Duration
}

func startCPU(pid int) cpuMeter {
	m := cpuMeter{pid: pid, t0: time.Now()}
	m.server0, _ = loadstat.CPUTime(pid)
	m.self0, _ = loadstat.CPUTime(0)
	return m
}

// stop returns the server's and this process's CPU use in percent of one
// core since startCPU.
func (m cpuMeter) stop() (server, self float64) {
	el := time.Since(m.t0)
	s1, err1 := loadstat.CPUTime(m.pid)
	c1, err2 := loadstat.CPUTime(0)
	if err1 != nil || err2 != nil || el <= 0 {
		return -1, -1
	}
	return 100 * float64(s1-m.server0) / float64(el), 100 * float64(c1-m.self0) / float64(el)
}

// target is the server under test: how to reach it, its process (for
// CPU and memory; this process when it runs in-process) and the number of
// BENCH:ai PVs it serves.
type target struct {
	cfg client.Config
	pid int
	n   int
}

// measureConnect connects the first n BENCH:ai PVs with a fresh client,
// then runs rounds of gets with all n in flight. The client is closed on
// return.
func measureConnect(ctx context.Context, srv target, n, rounds int) (ConnectResult, error) {
	res := ConnectResult{N: n}
	names := aiNames(n)
	c, err := client.New(srv.cfg)
	if err != nil {
		return res, err
	}
	defer func() { _ = c.Close() }()
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	cpu := startCPU(srv.pid)
	t0 := time.Now()
	chans, err := c.ConnectMany(cctx, names)
	el := time.Since(t0)
	res.ServerCPU, res.ClientCPU = cpu.stop()
	if err != nil {
		return res, fmt.Errorf("connect %d: %w", n, err)
	}
	res.Seconds = el.Seconds()
	res.PerSecond = float64(n) / el.Seconds()

	cpu = startCPU(srv.pid)
	for range rounds {
		rate, errs, err := getRound(ctx, c, chans)
		if err != nil {
			return res, fmt.Errorf("gets with %d in flight: %w", n, err)
		}
		res.GetRounds = append(res.GetRounds, rate)
		res.GetErrors += errs
	}
	res.GetServerCPU, res.GetClientCPU = cpu.stop()
	sorted := slices.Clone(res.GetRounds)
	s := loadstat.Summarize(sorted)
	res.GetsBest, res.GetsMedian = s.Max, s.Median
	return res, nil
}

// getRound issues a DBR_TIME_DOUBLE READ_NOTIFY on every channel with
// one GetMany call and waits for all replies. It returns gets per second
// and the number of gets that failed.
func getRound(ctx context.Context, c *client.Client, chans []*client.Channel) (float64, int64, error) {
	var left atomic.Int64
	var failed atomic.Int64
	done := make(chan struct{})
	left.Store(int64(len(chans)))
	fn := func(_ int, _ dbr.Value, _ dbr.Metadata, err error) {
		if err != nil {
			failed.Add(1)
		}
		if left.Add(-1) == 0 {
			close(done)
		}
	}
	t0 := time.Now()
	if err := c.GetMany(chans, dbr.TimeDouble, 1, fn); err != nil {
		return 0, 0, err
	}
	t := time.NewTimer(roundTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-t.C:
		return 0, 0, fmt.Errorf("%d of %d replies missing after %v", left.Load(), len(chans), roundTimeout)
	}
	el := time.Since(t0)
	return float64(len(chans)) / el.Seconds(), failed.Load(), nil
}

// MonitorResult is the outcome of the monitor phase.
type MonitorResult struct {
	Subscriptions int              `json:"subscriptions"`
	WindowSeconds float64          `json:"window_s"`
	Updates       int              `json:"updates"`
	PerSecond     float64          `json:"updates_per_s"`
	LatencyMS     loadstat.Summary `json:"latency_ms"`
	// The counters all carry the stamp of their 10 Hz tick, so the
	// updates of one tick arrive as a burst. FirstMS summarizes, over the
	// ticks, the latency of the first update of each burst; SpreadMS the
	// time from the first to the last update of a burst.
	FirstMS   loadstat.Summary `json:"burst_first_latency_ms"`
	SpreadMS  loadstat.Summary `json:"burst_spread_ms"`
	ServerCPU float64          `json:"server_cpu_pct"`
	ClientCPU float64          `json:"client_cpu_pct"`
	Errors    int64            `json:"errors"`
}

// burst is the first and last latency seen for one tick's stamp.
type burst struct{ first, last time.Duration }

// measureMonitors subscribes to the 1,000 counters (DBR_TIME_DOUBLE,
// DBE_VALUE|DBE_ALARM) and records the updates that arrive within window
// once every initial value has arrived.
func measureMonitors(ctx context.Context, srv target, window time.Duration) (MonitorResult, error) {
	names := calcNames()
	res := MonitorResult{Subscriptions: len(names)}
	c, err := client.New(srv.cfg)
	if err != nil {
		return res, err
	}
	defer func() { _ = c.Close() }()
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	chans, err := c.ConnectMany(cctx, names)
	if err != nil {
		return res, fmt.Errorf("connect counters: %w", err)
	}

	var (
		recording atomic.Bool
		failed    atomic.Int64
		initial   atomic.Int64
		allIn     = make(chan struct{})
		mu        sync.Mutex
		lat       = make([]float64, 0, int(window.Seconds()+1)*len(names)*12)
		bursts    = map[dbr.Timestamp]*burst{}
	)
	initial.Store(int64(len(names)))
	for _, ch := range chans {
		first := true
		_, err := ch.Subscribe(dbr.TimeDouble, 1, dbr.EventValue|dbr.EventAlarm, func(u client.Update) {
			now := time.Now()
			if u.Err != nil {
				failed.Add(1)
				return
			}
			if first { // the initial value: its stamp is as old as the last update
				first = false
				if initial.Add(-1) == 0 {
					close(allIn)
				}
				return
			}
			if !recording.Load() {
				return
			}
			d := now.Sub(u.Meta.Stamp.Time())
			mu.Lock()
			lat = append(lat, float64(d)/float64(time.Millisecond))
			if b := bursts[u.Meta.Stamp]; b == nil {
				bursts[u.Meta.Stamp] = &burst{first: d, last: d}
			} else {
				b.last = max(b.last, d)
				b.first = min(b.first, d)
			}
			mu.Unlock()
		})
		if err != nil {
			return res, fmt.Errorf("subscribe %s: %w", ch.Name(), err)
		}
	}
	t := time.NewTimer(connectTimeout)
	defer t.Stop()
	select {
	case <-allIn:
	case <-ctx.Done():
		return res, ctx.Err()
	case <-t.C:
		return res, fmt.Errorf("%d of %d initial monitor updates missing", initial.Load(), len(names))
	}

	cpu := startCPU(srv.pid)
	recording.Store(true)
	t0 := time.Now()
	if err := sleepCtx(ctx, window); err != nil {
		return res, err
	}
	recording.Store(false)
	el := time.Since(t0)
	res.ServerCPU, res.ClientCPU = cpu.stop()
	mu.Lock()
	defer mu.Unlock()
	res.WindowSeconds = el.Seconds()
	res.Updates = len(lat)
	res.PerSecond = float64(len(lat)) / el.Seconds()
	res.LatencyMS = loadstat.Summarize(lat)
	var first, spread []float64
	for _, b := range bursts {
		first = append(first, float64(b.first)/float64(time.Millisecond))
		spread = append(spread, float64(b.last-b.first)/float64(time.Millisecond))
	}
	res.FirstMS, res.SpreadMS = loadstat.Summarize(first), loadstat.Summarize(spread)
	res.Errors = failed.Load()
	return res, nil
}

// PutResult is the outcome of the put phase.
type PutResult struct {
	Puts      int              `json:"puts"`
	LatencyMS loadstat.Summary `json:"latency_ms"`
	PerSecond float64          `json:"puts_per_s"`
}

// measurePuts runs sequential WRITE_NOTIFYs to BENCH:ao: at most n, and
// for at most limit.
func measurePuts(ctx context.Context, srv target, n int, limit time.Duration) (PutResult, error) {
	var res PutResult
	c, err := client.New(srv.cfg)
	if err != nil {
		return res, err
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	ch, err := c.Connect(ctx, "BENCH:ao")
	if err != nil {
		return res, err
	}
	for i := range 20 { // warm-up
		if err := ch.PutWait(ctx, dbr.Doubles{float64(-i)}); err != nil {
			return res, fmt.Errorf("put: %w", err)
		}
	}
	lat := make([]float64, 0, n)
	t0 := time.Now()
	deadline := t0.Add(limit)
	v := dbr.Doubles{0}
	for i := range n {
		v[0] = float64(i)
		s := time.Now()
		if err := ch.PutWait(ctx, v); err != nil {
			return res, fmt.Errorf("put: %w", err)
		}
		e := time.Now()
		lat = append(lat, float64(e.Sub(s))/float64(time.Millisecond))
		if e.After(deadline) {
			break
		}
	}
	el := time.Since(t0)
	res.Puts = len(lat)
	res.PerSecond = float64(len(lat)) / el.Seconds()
	res.LatencyMS = loadstat.Summarize(lat)
	return res, nil
}

// WaveformResult is the outcome of the waveform phase for one DBR type.
type WaveformResult struct {
	Type     string  `json:"type"`
	Elements int     `json:"elements"`
	Gets     int     `json:"gets"`
	BestMBs  float64 `json:"best_mb_per_s"`
	MedianMB float64 `json:"median_mb_per_s"`
	TotalMBs float64 `json:"aggregate_mb_per_s"`
}

// measureWaveform gets BENCH:wf (all elements) n times, one at a time, as
// DBR_DOUBLE and as DBR_TIME_DOUBLE. MB/s counts the 8-byte values only,
// in units of 10^6 bytes.
func measureWaveform(ctx context.Context, srv target, n int) ([]WaveformResult, error) {
	c, err := client.New(srv.cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	ch, err := c.Connect(ctx, "BENCH:wf")
	if err != nil {
		return nil, err
	}
	_, count := ch.Native()
	var out []WaveformResult
	for _, t := range []dbr.Type{dbr.Double, dbr.TimeDouble} {
		r := WaveformResult{Type: t.String(), Elements: count}
		var dst []float64
		if dst, _, err = ch.GetDoubles(ctx, t, 0, dst); err != nil { // warm-up
			return out, fmt.Errorf("get %v: %w", t, err)
		}
		rates := make([]float64, 0, n)
		t0 := time.Now()
		for range n {
			s := time.Now()
			dst, _, err = ch.GetDoubles(ctx, t, 0, dst)
			if err != nil {
				return out, fmt.Errorf("get %v: %w", t, err)
			}
			if len(dst) != count {
				return out, fmt.Errorf("get %v: %d elements, want %d", t, len(dst), count)
			}
			rates = append(rates, float64(8*count)/1e6/time.Since(s).Seconds())
		}
		r.Gets = len(rates)
		r.TotalMBs = float64(8*count*n) / 1e6 / time.Since(t0).Seconds()
		s := loadstat.Summarize(rates)
		r.BestMBs, r.MedianMB = s.Max, s.Median
		out = append(out, r)
	}
	return out, nil
}

// measureClients connects k idle clients, each to m BENCH:ai channels
// (or the counters when the server has no ai PVs), and returns the
// server's RSS increase per client in bytes.
func measureClients(ctx context.Context, srv target, k, m int) (float64, error) {
	names := aiNames(min(m, srv.n))
	if len(names) == 0 {
		names = calcNames()[:m]
	}
	before, err := settledRSS(ctx, srv.pid)
	if err != nil {
		return 0, err
	}
	clients := make([]*client.Client, 0, k)
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	for range k {
		c, err := client.New(srv.cfg)
		if err != nil {
			return 0, err
		}
		clients = append(clients, c)
		if _, err := c.ConnectMany(cctx, names); err != nil {
			return 0, err
		}
	}
	for _, c := range clients {
		if err := c.Echo(cctx); err != nil {
			return 0, err
		}
	}
	after, err := settledRSS(ctx, srv.pid)
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(k), nil
}

// settledRSS waits settleTime, for the server's background work to end,
// and returns its RSS.
func settledRSS(ctx context.Context, pid int) (int64, error) {
	if err := sleepCtx(ctx, settleTime); err != nil {
		return 0, err
	}
	return loadstat.RSS(pid)
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
