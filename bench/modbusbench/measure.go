package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/bench/internal/loadstat"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers/modbus/modbustest"
)

// unitID is the Modbus unit the generated configuration reads.
const unitID = 1

// hit is the arrival of the monitor update a latency sample waits for.
type hit struct {
	at    time.Time // when the callback ran
	stamp time.Time // the update's EPICS timestamp (when the driver got the reply)
}

// tracker receives the monitor updates of every point. Its callbacks run
// on the client's reader goroutine and never block.
type tracker struct {
	mu        sync.Mutex
	want      []float64 // the value each point's register holds
	seen      []bool    // whether the PV has shown want since it was set
	missing   int       // points with !seen
	allSeen   chan struct{}
	allClosed bool
	updates   int // value updates received
	lost      int // disconnection updates

	target     int // point a latency sample waits for; -1 for none
	targetWant float64
	hits       chan hit // buffered (1): the sample's update
}

func newTracker(want []float64) *tracker {
	return &tracker{
		want: want, seen: make([]bool, len(want)), missing: len(want),
		allSeen: make(chan struct{}), target: -1, hits: make(chan hit, 1),
	}
}

// update handles an update of point i.
func (t *tracker) update(i int, u client.Update) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if u.Err != nil {
		t.lost++
		return
	}
	t.updates++
	v := dbr.FirstFloat(u.Value)
	if !t.seen[i] && v == t.want[i] {
		t.seen[i] = true
		t.missing--
		if t.missing == 0 && !t.allClosed {
			t.allClosed = true
			close(t.allSeen)
		}
	}
	if i == t.target && v == t.targetWant {
		t.target = -1
		select {
		case t.hits <- hit{at: now, stamp: u.Meta.Stamp.Time()}:
		default:
		}
	}
}

// expect records that point i is about to hold v; with sample set, the
// next update of i carrying v is sent on hits.
func (t *tracker) expect(i int, v float64, sample bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.want[i] = v
	if t.seen[i] {
		t.seen[i] = false
		t.missing++
	}
	if sample {
		t.target, t.targetWant = i, v
		select { // drop a stale hit of an earlier, timed-out sample
		case <-t.hits:
		default:
		}
	}
}

// cancelTarget stops waiting for the current sample.
func (t *tracker) cancelTarget() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.target = -1
}

// counts returns the value and disconnection updates received so far.
func (t *tracker) counts() (updates, lost int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.updates, t.lost
}

// missingPoints returns up to max points whose PV has not shown its
// register's value.
func (t *tracker) missingPoints(max int) []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int
	for i, s := range t.seen {
		if !s && len(out) < max {
			out = append(out, i)
		}
	}
	return out
}

// setPoint writes v to point p's registers on the server.
func setPoint(srv *modbustest.Server, p point, v float64) {
	srv.Set(unitID, modbustest.HoldingRegisters, p.start, encode(p.typ, v)...)
}

// subscribeAll connects every point's PV and subscribes to DBR_TIME_DOUBLE
// value and alarm updates feeding tr. It returns once every channel is
// connected, or fails when ctx ends first.
func subscribeAll(ctx context.Context, c *client.Client, l layout, tr *tracker) error {
	names := make([]string, len(l.points))
	for i, p := range l.points {
		names[i] = p.name
	}
	chs, err := c.ConnectMany(ctx, names)
	if err != nil {
		return fmt.Errorf("modbusbench: connect %d PVs: %w", len(names), err)
	}
	for i, ch := range chs {
		if _, err := ch.Subscribe(dbr.TimeDouble, 1, dbr.EventValue|dbr.EventAlarm, func(u client.Update) { tr.update(i, u) }); err != nil {
			return fmt.Errorf("modbusbench: subscribe %s: %w", ch.Name(), err)
		}
	}
	return nil
}

// waitAllSeen waits until every PV has shown its register's value, or
// fails after timeout.
func waitAllSeen(ctx context.Context, tr *tracker, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tr.allSeen:
		return nil
	case <-t.C:
		return fmt.Errorf("modbusbench: after %v, %d PVs still do not show their register's value (first: %v)",
			timeout, len(tr.missingPoints(1<<30)), tr.missingPoints(5))
	case <-ctx.Done():
		return fmt.Errorf("modbusbench: waiting for the initial values: %w", ctx.Err())
	}
}

// WindowResult is what one measurement window saw.
type WindowResult struct {
	Seconds         float64 `json:"seconds"`
	Requests        int     `json:"requests"`           // all requests the Modbus server saw
	FC3             int     `json:"fc3_requests"`       // read holding registers
	Polls           int     `json:"polls"`              // poll cycles (updates of health PV POLL_LAST)
	NominalCycles   float64 `json:"nominal_cycles"`     // Seconds / scan period
	Overruns        int     `json:"overruns"`           // scans the bridge skipped (health PV OVERRUNS)
	PerCycle        float64 `json:"requests_per_cycle"` // Requests / Polls
	CPUPercent      float64 `json:"cpu_percent"`        // of one core
	RSS             int64   `json:"rss_bytes"`
	MonitorUpdates  int     `json:"monitor_updates"`
	PollMS          Latency `json:"poll_ms"`          // health PV POLL_LAST over the window
	MachineBusyPct  float64 `json:"machine_busy_pct"` // all cores, from /proc/stat
	MachineCPUs     int     `json:"machine_cpus"`
	RegistersWrites int     `json:"register_writes"`  // points changed during the window
	CPUPressure     float64 `json:"cpu_pressure_pct"` // see LatencyResult.CPUPressure
	DeviceErrors    int     `json:"device_errors"`    // health PV ERRORS
	LastError       string  `json:"last_error,omitempty"`
}

// Latency summarises durations in milliseconds.
type Latency struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
}

// summarize sorts ms in place and summarises it; the zero Latency
// describes no samples.
func summarize(ms []float64) Latency {
	s := loadstat.Summarize(ms)
	if s.N == 0 {
		return Latency{}
	}
	return Latency{N: s.N, Min: s.Min, Median: s.Median, P90: loadstat.Percentile(ms, 90), P99: s.P99, Max: s.Max, Mean: s.Mean}
}

// health reads the bridge's health PVs of the device.
type health struct {
	overruns  *client.Channel
	errors    *client.Channel
	lastError *client.Channel
	pollLast  *client.Channel
}

func connectHealth(ctx context.Context, c *client.Client) (*health, error) {
	pre := "cabridge:" + deviceName + ":"
	chs, err := c.ConnectMany(ctx, []string{pre + "OVERRUNS", pre + "ERRORS", pre + "LAST_ERROR", pre + "POLL_LAST"})
	if err != nil {
		return nil, fmt.Errorf("modbusbench: connect health PVs: %w", err)
	}
	return &health{overruns: chs[0], errors: chs[1], lastError: chs[2], pollLast: chs[3]}, nil
}

// counters returns the device's overrun and error counts.
func (h *health) counters(ctx context.Context) (overruns, errs int, err error) {
	v, _, err := h.overruns.Get(ctx, dbr.Double, 1)
	if err != nil {
		return 0, 0, fmt.Errorf("modbusbench: get %s: %w", h.overruns.Name(), err)
	}
	e, _, err := h.errors.Get(ctx, dbr.Double, 1)
	if err != nil {
		return 0, 0, fmt.Errorf("modbusbench: get %s: %w", h.errors.Name(), err)
	}
	return int(dbr.FirstFloat(v)), int(dbr.FirstFloat(e)), nil
}

// lastErr returns the device's last error text.
func (h *health) lastErr(ctx context.Context) string {
	v, _, err := h.lastError.Get(ctx, dbr.Char, 0)
	cs, ok := v.(dbr.Chars)
	if err != nil || !ok {
		return "?"
	}
	s, _, _ := strings.Cut(string(cs), "\x00")
	return s
}

// pollEnd is a snapshot taken when the client learns that a poll cycle
// ended (an update of the health PV POLL_LAST, which the bridge sets
// after each scan): no request of that device is in flight then.
type pollEnd struct {
	seq           int // updates of POLL_LAST so far, the subscription's first excluded
	at            time.Time
	requests, fc3 int
	pollMS        float64
}

// window measures the bridge over at least d, from the end of one poll
// cycle to the end of another, so that requests per cycle are counted
// over whole cycles: Modbus requests, the bridge's CPU time and RSS,
// monitor updates and poll durations. With churn set, every register
// changes four times per scan period, paced by a ticker, so that every
// PV has a new value at every poll.
func window(ctx context.Context, srv *modbustest.Server, br *bridge, h *health, tr *tracker, l layout,
	d, period time.Duration, churn bool) (WindowResult, error) {
	var r WindowResult
	ends := make(chan pollEnd, 256)
	var (
		seq     int // owned by the callback
		dropped atomic.Bool
	)
	sub, err := h.pollLast.Subscribe(dbr.Double, 1, dbr.EventValue, func(u client.Update) {
		if u.Err != nil {
			return
		}
		e := pollEnd{seq: seq, at: time.Now(), requests: srv.Total(), fc3: srv.Requests(3), pollMS: 1000 * dbr.FirstFloat(u.Value)}
		seq++
		select {
		case ends <- e:
		default:
			dropped.Store(true)
		}
	})
	if err != nil {
		return r, fmt.Errorf("modbusbench: subscribe %s: %w", h.pollLast.Name(), err)
	}
	defer func() { _ = sub.Cancel() }()
	deadline := time.NewTimer(d + 10*time.Second)
	defer deadline.Stop()
	// next returns the next poll end after the subscription's first
	// update (which only reports the current value).
	next := func() (pollEnd, error) {
		for {
			select {
			case e := <-ends:
				if e.seq == 0 {
					continue
				}
				return e, nil
			case <-deadline.C:
				return pollEnd{}, fmt.Errorf("modbusbench: no poll of %s ended within %v", deviceName, d+10*time.Second)
			case <-ctx.Done():
				return pollEnd{}, fmt.Errorf("modbusbench: measurement window: %w", ctx.Err())
			}
		}
	}

	e0, err := next()
	if err != nil {
		return r, err
	}
	cpu0, err := loadstat.CPUTime(br.pid())
	if err != nil {
		return r, err
	}
	mach0, merr := readMachineCPU()
	psi0, perr := readCPUPressure()
	upd0, _ := tr.counts()
	over0, errs0, err := h.counters(ctx)
	if err != nil {
		return r, err
	}

	var tick <-chan time.Time
	if churn {
		// Four writes per scan period, so that every poll finds every
		// register changed however the two clocks drift.
		tk := time.NewTicker(period / 4)
		defer tk.Stop()
		tick = tk.C
	}
	var polls []float64
	var e1 pollEnd
	after := time.NewTimer(d)
	defer after.Stop()
	done := after.C
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("modbusbench: measurement window: %w", ctx.Err())
		case <-deadline.C:
			return r, fmt.Errorf("modbusbench: no poll of %s ended within %v", deviceName, d+10*time.Second)
		case <-tick:
			for i, p := range l.points {
				v := churnValue(n, i, p.typ)
				tr.expect(i, v, false)
				setPoint(srv, p, v)
				r.RegistersWrites++
			}
			continue
		case <-done:
			done = nil // the window ends with the next poll
			continue
		case e := <-ends:
			polls = append(polls, e.pollMS)
			if done != nil {
				continue
			}
			e1 = e
		}
		break
	}
	cpu1, err := loadstat.CPUTime(br.pid())
	if err != nil {
		return r, err
	}
	mach1, merr1 := readMachineCPU()
	upd1, _ := tr.counts()
	over1, errs1, err := h.counters(ctx)
	if err != nil {
		return r, err
	}
	if dropped.Load() {
		return r, errors.New("modbusbench: poll ends came faster than the window consumed them")
	}
	if r.DeviceErrors = errs1 - errs0; r.DeviceErrors > 0 {
		r.LastError = h.lastErr(ctx)
	}
	elapsed := e1.at.Sub(e0.at)
	r.Seconds = elapsed.Seconds()
	r.Polls = e1.seq - e0.seq
	r.Requests, r.FC3 = e1.requests-e0.requests, e1.fc3-e0.fc3
	r.PerCycle = float64(r.Requests) / float64(r.Polls)
	r.NominalCycles = elapsed.Seconds() / period.Seconds()
	r.Overruns = over1 - over0
	r.CPUPercent = 100 * (cpu1 - cpu0).Seconds() / time.Since(e0.at).Seconds()
	r.MonitorUpdates = upd1 - upd0
	if r.RSS, err = loadstat.RSS(br.pid()); err != nil {
		return r, err
	}
	if merr == nil && merr1 == nil {
		r.MachineBusyPct, r.MachineCPUs = mach1.busySince(mach0)
	}
	if psi1, err := readCPUPressure(); err == nil && perr == nil {
		r.CPUPressure = 100 * (psi1 - psi0).Seconds() / time.Since(e0.at).Seconds()
	}
	r.PollMS = summarize(polls)
	return r, nil
}

// LatencyResult is the outcome of the latency samples.
type LatencyResult struct {
	Samples   int     `json:"samples"`
	TimedOut  int     `json:"timed_out"`
	SetToCA   Latency `json:"set_to_monitor_ms"`  // register Set → monitor callback
	SetToRead Latency `json:"set_to_read_ms"`     // register Set → the update's timestamp (driver got the reply)
	ReadToCA  Latency `json:"read_to_monitor_ms"` // the update's timestamp → monitor callback
	Seconds   float64 `json:"seconds"`
	CPU       float64 `json:"cpu_percent"` // of the bridge during the samples
	PollMS    Latency `json:"poll_ms"`     // health PV POLL_LAST during the samples
	// CPUPressure is the share of the time in which some task of the
	// machine waited for a CPU (/proc/pressure/cpu "some"), in %.
	CPUPressure float64 `json:"cpu_pressure_pct"`
	// Slowest are the slowest samples, slowest first.
	Slowest []Sample `json:"slowest"`
}

// Sample is one latency sample.
type Sample struct {
	Point     string  `json:"point"`
	SetToCA   float64 `json:"set_to_monitor_ms"`
	SetToRead float64 `json:"set_to_read_ms"`
	ReadToCA  float64 `json:"read_to_monitor_ms"`
}

// measureLatency changes one register at a time, at a random phase of
// the poll cycle (a uniform delay of up to one period after the previous
// sample's update), and times the monitor update that carries the new
// value. A sample whose update does not come within timeout is counted
// as timed out.
func measureLatency(ctx context.Context, srv *modbustest.Server, br *bridge, h *health, tr *tracker, l layout,
	samples int, period, timeout time.Duration, rng *rand.Rand, progress func(string, ...any)) (LatencyResult, error) {
	var r LatencyResult
	cpu0, err := loadstat.CPUTime(br.pid())
	if err != nil {
		return r, err
	}
	psi0, perr := readCPUPressure()
	var (
		pmu   sync.Mutex
		polls []float64
		first = true
	)
	sub, err := h.pollLast.Subscribe(dbr.Double, 1, dbr.EventValue, func(u client.Update) {
		pmu.Lock()
		defer pmu.Unlock()
		if u.Err == nil && !first {
			polls = append(polls, 1000*dbr.FirstFloat(u.Value))
		}
		first = false
	})
	if err != nil {
		return r, fmt.Errorf("modbusbench: subscribe %s: %w", h.pollLast.Name(), err)
	}
	defer func() { _ = sub.Cancel() }()
	start := time.Now()
	var setToCA, setToRead, readToCA []float64
	var all []Sample
	pace := time.NewTimer(0)
	defer pace.Stop()
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for k := range samples {
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("modbusbench: latency sample %d: %w", k, ctx.Err())
		case <-pace.C:
		}
		i := rng.IntN(len(l.points))
		p := l.points[i]
		v := sampleValue(k, p.typ)
		tr.expect(i, v, true)
		t0 := time.Now()
		setPoint(srv, p, v)
		wait.Reset(timeout)
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("modbusbench: latency sample %d: %w", k, ctx.Err())
		case <-wait.C:
			tr.cancelTarget()
			r.TimedOut++
			if r.TimedOut == 1 {
				progress("sample %d (%s, hr:%d %s) got no update within %v", k, p.name, p.start, p.typ, timeout)
			}
			if err := br.exitErr(); err != nil {
				return r, err
			}
		case h := <-tr.hits:
			if !wait.Stop() {
				<-wait.C
			}
			setToCA = append(setToCA, ms(h.at.Sub(t0)))
			// The stamp carries no monotonic reading: compare wall clocks.
			setToRead = append(setToRead, ms(h.stamp.Sub(t0.Round(0))))
			readToCA = append(readToCA, ms(h.at.Round(0).Sub(h.stamp)))
			all = append(all, Sample{Point: p.name, SetToCA: setToCA[len(setToCA)-1],
				SetToRead: setToRead[len(setToRead)-1], ReadToCA: readToCA[len(readToCA)-1]})
		}
		r.Samples++
		pace.Reset(time.Duration(rng.Int64N(int64(period))))
		if (k+1)%100 == 0 {
			progress("latency: %d of %d samples", k+1, samples)
		}
	}
	r.Seconds = time.Since(start).Seconds()
	cpu1, err := loadstat.CPUTime(br.pid())
	if err != nil {
		return r, err
	}
	r.CPU = 100 * (cpu1 - cpu0).Seconds() / r.Seconds
	r.SetToCA, r.SetToRead, r.ReadToCA = summarize(setToCA), summarize(setToRead), summarize(readToCA)
	if psi1, err := readCPUPressure(); err == nil && perr == nil {
		r.CPUPressure = 100 * (psi1 - psi0).Seconds() / r.Seconds
	}
	pmu.Lock()
	r.PollMS = summarize(polls)
	pmu.Unlock()
	slices.SortFunc(all, func(a, b Sample) int { return cmp.Compare(b.SetToCA, a.SetToCA) })
	r.Slowest = all[:min(3, len(all))]
	if r.Samples > 0 && r.TimedOut == r.Samples {
		return r, errors.New("modbusbench: no latency sample got its monitor update")
	}
	return r, nil
}
