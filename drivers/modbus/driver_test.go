package modbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	gmb "github.com/goburrow/modbus"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/modbus/modbustest"
)

// newDriverDevice builds an opened device of dr with a JSON config.
func newDriverDevice(t *testing.T, dr *Driver, name, js string) *Device {
	t.Helper()
	dev, err := dr.New(drivers.Params{Name: name, Decode: drivers.DecodeJSON([]byte(js))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	d := dev.(*Device)
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	return d
}

// waitFor polls cond every 5 ms until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readOne(t *testing.T, ctx context.Context, d *Device, pt drivers.Point) (drivers.Value, error) {
	t.Helper()
	ss, err := d.Read(ctx, []drivers.Point{pt})
	if err != nil {
		return nil, err
	}
	return ss[0].Value, ss[0].Err
}

// TestDriverSharesConnection: devices of several units on one address
// share one connection, which closes with the last device.
func TestDriverSharesConnection(t *testing.T) {
	for _, f := range []modbustest.Framing{modbustest.MBAP, modbustest.RTU} {
		tr := map[modbustest.Framing]string{modbustest.MBAP: "tcp", modbustest.RTU: "rtu_over_tcp"}[f]
		t.Run(tr, func(t *testing.T) {
			s := modbustest.NewServer(t, modbustest.Options{Framing: f, Units: []byte{1, 2, 7}})
			dr := NewDriver(nil)
			var devs []*Device
			for _, u := range []byte{1, 2, 7} {
				s.Set(u, modbustest.HoldingRegisters, 0, 100+uint16(u))
				js := fmt.Sprintf(`{"transport": %q, "address": %q, "unit_id": %d, "timeout": "2s"}`, tr, s.Addr(), u)
				devs = append(devs, newDriverDevice(t, dr, fmt.Sprintf("u%d", u), js))
			}
			if n := dr.Links(); n != 1 {
				t.Fatalf("Links = %d, want 1", n)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 3*50)
			for i, d := range devs {
				pt := parse(t, d, "hr:0")[0]
				want := drivers.Uints{uint64(100 + []int{1, 2, 7}[i])}
				wg.Go(func() {
					for range 50 {
						v, err := readOne(t, t.Context(), d, pt)
						if err != nil || !drivers.Equal(v, want) {
							errs <- fmt.Errorf("%s: %v, %w; want %v", d.name, v, err, want)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := s.Accepted(); n != 1 {
				t.Errorf("server accepted %d connections, want 1", n)
			}
			for i, d := range devs {
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
				if i < len(devs)-1 {
					pt := parse(t, devs[i+1], "hr:0")[0]
					if _, err := readOne(t, t.Context(), devs[i+1], pt); err != nil {
						t.Fatalf("read after closing %s: %v", d.name, err)
					}
				}
			}
			if n := dr.Links(); n != 0 {
				t.Errorf("Links after closing every device = %d", n)
			}
			waitFor(t, "server sees the connection closed", func() bool { return s.Connections() == 0 })
		})
	}
}

// TestDriverLinkSettings: devices on one address or serial device must
// agree on the link settings; other addresses get their own link.
func TestDriverLinkSettings(t *testing.T) {
	tests := []struct {
		name        string
		first, next string
		want        string // "" = accepted
		links       int
	}{
		{"same gateway", `{"address": "127.0.0.1:1502", "unit_id": 1}`, `{"address": "127.0.0.1:1502", "unit_id": 2, "timeout": "50ms"}`, "", 1},
		{"other gateway", `{"address": "127.0.0.1:1502"}`, `{"address": "127.0.0.1:1503"}`, "", 2},
		{"tcp and rtu_over_tcp", `{"address": "127.0.0.1:1502"}`, `{"transport": "rtu_over_tcp", "address": "127.0.0.1:1502"}`,
			`address: 127.0.0.1:1502: already used by device "a" with other link settings (tcp; this device wants rtu_over_tcp)`, 1},
		{"same bus", `{"transport": "rtu", "device": "/dev/ttyX", "baud_rate": 9600}`, `{"transport": "rtu", "device": "/dev/ttyX", "baud_rate": 9600, "unit_id": 4}`, "", 1},
		{"baud rates differ", `{"transport": "rtu", "device": "/dev/ttyX", "baud_rate": 9600}`, `{"transport": "rtu", "device": "/dev/ttyX"}`,
			`device: /dev/ttyX: already used by device "a" with other link settings (rtu 9600 8E1 timeout 1s; this device wants rtu 19200 8E1 timeout 1s)`, 1},
		{"rtu and ascii", `{"transport": "rtu", "device": "/dev/ttyX"}`, `{"transport": "ascii", "device": "/dev/ttyX"}`, "other link settings", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var dr Driver
			a, err := dr.New(drivers.Params{Name: "a", Decode: drivers.DecodeJSON([]byte(tc.first))})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = a.Close() }()
			b, err := dr.New(drivers.Params{Name: "b", Decode: drivers.DecodeJSON([]byte(tc.next))})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = b.Close() }()
			} else {
				var ce *drivers.ConfigError
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ce) {
					t.Fatalf("New = %v; want a ConfigError with %q", err, tc.want)
				}
			}
			if n := dr.Links(); n != tc.links {
				t.Errorf("Links = %d, want %d", n, tc.links)
			}
		})
	}
}

// deadUnitRun reads units 1 and 2 in turn while unit 3, absent, is read
// too, all on one shared connection, for span; it reports how often and
// how long unit 3 held the link.
type deadUnitRun struct {
	good      [2]int          // successful reads of units 1 and 2
	goodErrs  []error         // failed reads of units 1 and 2
	maxGood   time.Duration   // longest read of units 1 and 2
	deadCalls int             // reads of unit 3
	fastFails int             // unit 3 reads refused without I/O
	deadErrs  []error         // unit 3 errors that were not timeouts
	blocked   []time.Duration // unit 3 reads that went to the wire and timed out
	lastErr   error
}

func runDeadUnit(t *testing.T, devs [3]*Device, pts [3]drivers.Point, want [2]drivers.Value, span time.Duration) *deadUnitRun {
	t.Helper()
	r := &deadUnitRun{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := time.Now().Add(span)
	for i := range 2 {
		wg.Go(func() {
			for n := 0; time.Now().Before(stop) && n < 100000; n++ {
				start := time.Now()
				v, err := readOne(t, t.Context(), devs[i], pts[i])
				el := time.Since(start)
				mu.Lock()
				r.maxGood = max(r.maxGood, el)
				if err != nil || !drivers.Equal(v, want[i]) {
					r.goodErrs = append(r.goodErrs, fmt.Errorf("%v, %w", v, err))
				} else {
					r.good[i]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for n := 0; time.Now().Before(stop) && n < 100000; n++ {
			start := time.Now()
			_, err := readOne(t, t.Context(), devs[2], pts[2])
			el := time.Since(start)
			mu.Lock()
			r.deadCalls++
			r.lastErr = err
			switch {
			case !errors.Is(err, drivers.ErrTimeout):
				r.deadErrs = append(r.deadErrs, err)
			case errors.Is(err, drivers.ErrNotSent):
				r.fastFails++
			default:
				r.blocked = append(r.blocked, el)
			}
			mu.Unlock()
			time.Sleep(2 * time.Millisecond) // a scan period, not a wait for an event
		}
	})
	wg.Wait()
	return r
}

// TestDriverDeadUnit: a unit that does not answer (absent behind the
// gateway) times out once, then fails fast until its probe time, which
// backs off; the other units keep being read, and it comes back.
func TestDriverDeadUnit(t *testing.T) {
	s := modbustest.NewServer(t, modbustest.Options{Units: []byte{1, 2}})
	s.Set(1, modbustest.HoldingRegisters, 0, 11)
	s.Set(2, modbustest.HoldingRegisters, 0, 22)
	dr := &Driver{ProbeBackoff: 200 * time.Millisecond, MaxProbeBackoff: 400 * time.Millisecond}
	var devs [3]*Device
	var pts [3]drivers.Point
	for i := range 3 {
		js := fmt.Sprintf(`{"address": %q, "unit_id": %d, "timeout": "100ms"}`, s.Addr(), i+1)
		devs[i] = newDriverDevice(t, dr, fmt.Sprintf("u%d", i+1), js)
		pts[i] = parse(t, devs[i], "hr:0")[0]
	}
	const span = 1500 * time.Millisecond
	r := runDeadUnit(t, devs, pts, [2]drivers.Value{drivers.Uints{11}, drivers.Uints{22}}, span)
	for _, err := range r.goodErrs {
		t.Errorf("unit 1 or 2: %v", err)
	}
	for _, err := range r.deadErrs {
		t.Errorf("unit 3: %v; want a timeout", err)
	}
	// Probes at 0, +200ms, +400ms, +400ms...: at most 1+span/200ms.
	probes := s.UnitRequests(3)
	t.Logf("in %v: unit 1 read %d times, unit 2 %d, unit 3 asked %d times: %d on the wire (%v), %d failed fast; slowest read of 1 or 2: %v",
		span, r.good[0], r.good[1], r.deadCalls, probes, r.blocked, r.fastFails, r.maxGood)
	t.Logf("unit 3 error: %v", r.lastErr)
	if probes < 2 || probes > 1+int(span/(200*time.Millisecond)) {
		t.Errorf("unit 3 was asked %d times on the wire in %v; want 2..%d", probes, span, 1+int(span/(200*time.Millisecond)))
	}
	if r.good[0] < 20 || r.good[1] < 20 {
		t.Errorf("units 1 and 2 read %v times; the dead unit starves them", r.good)
	}
	if r.maxGood > time.Second {
		t.Errorf("a read of unit 1 or 2 took %v", r.maxGood)
	}
	if r.fastFails == 0 || !strings.Contains(r.lastErr.Error(), "unit 3 not answering since") || !strings.Contains(r.lastErr.Error(), "next probe at") {
		t.Errorf("fast failures %d; last error %v", r.fastFails, r.lastErr)
	}
	if a := drivers.AlarmFor(drivers.OpRead, r.lastErr); a.Status != 10 {
		t.Errorf("alarm of the dead unit = %v, want TIMEOUT", a)
	}
	if n := s.Accepted(); n != 1 {
		t.Errorf("%d connections; timeouts of unit 3 must not drop the shared one", n)
	}

	// Unit 3 comes back: it answers at its next probe.
	s.AddUnit(3)
	s.Set(3, modbustest.HoldingRegisters, 0, 33)
	waitFor(t, "unit 3 answers again", func() bool {
		v, err := readOne(t, t.Context(), devs[2], pts[2])
		return err == nil && drivers.Equal(v, drivers.Uints{33})
	})
	before := s.UnitRequests(3)
	for range 5 {
		if v, err := readOne(t, t.Context(), devs[2], pts[2]); err != nil || !drivers.Equal(v, drivers.Uints{33}) {
			t.Fatalf("unit 3 after it came back: %v, %v", v, err)
		}
	}
	if n := s.UnitRequests(3) - before; n != 5 {
		t.Errorf("unit 3 asked %d times for 5 reads after it came back", n)
	}
}

// TestDriverReconnect: when the shared connection breaks, the next
// requests of every device dial again, transparently.
func TestDriverReconnect(t *testing.T) {
	s := modbustest.NewServer(t, modbustest.Options{Units: []byte{1, 2}})
	s.Set(1, modbustest.HoldingRegisters, 0, 1)
	s.Set(2, modbustest.HoldingRegisters, 0, 2)
	var dr Driver
	var devs [2]*Device
	var pts [2]drivers.Point
	for i := range 2 {
		js := fmt.Sprintf(`{"address": %q, "unit_id": %d, "timeout": "1s"}`, s.Addr(), i+1)
		devs[i] = newDriverDevice(t, &dr, fmt.Sprintf("u%d", i+1), js)
		pts[i] = parse(t, devs[i], "hr:0")[0]
		if _, err := readOne(t, t.Context(), devs[i], pts[i]); err != nil {
			t.Fatal(err)
		}
	}
	s.Stop()
	// The first request after the break fails; the server is down, so
	// reopening fails too, for every device.
	_, err := readOne(t, t.Context(), devs[0], pts[0])
	if !errors.Is(err, drivers.ErrDisconnected) {
		t.Fatalf("read on a broken link = %v; want ErrDisconnected", err)
	}
	for i := range 2 {
		if err := devs[i].Open(t.Context()); !errors.Is(err, drivers.ErrDisconnected) {
			t.Errorf("%s: Open with the server down = %v", devs[i].name, err)
		}
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		v, err := readOne(t, t.Context(), devs[1-i], pts[1-i])
		if err != nil || !drivers.Equal(v, drivers.Uints{uint64(2 - i)}) {
			t.Fatalf("%s after the restart: %v, %v", devs[1-i].name, v, err)
		}
		if err := devs[i].Open(t.Context()); err != nil {
			t.Fatalf("Open of a connected shared device: %v", err)
		}
	}
	if n := s.Accepted(); n != 2 {
		t.Errorf("server accepted %d connections, want 2 (one before and one after the restart)", n)
	}
}

// TestDriverFairTurns: while a unit reads several blocks from a slow
// device, another unit's requests take turns with them instead of
// waiting for the whole read.
func TestDriverFairTurns(t *testing.T) {
	s := modbustest.NewServer(t, modbustest.Options{Units: []byte{1, 2}})
	const delay = 50 * time.Millisecond
	s.SetFault(1, modbustest.Fault{Delay: delay})
	var dr Driver
	slow := newDriverDevice(t, &dr, "slow", fmt.Sprintf(`{"address": %q, "unit_id": 1, "max_gap": 0}`, s.Addr()))
	fast := newDriverDevice(t, &dr, "fast", fmt.Sprintf(`{"address": %q, "unit_id": 2}`, s.Addr()))
	slowPts := parse(t, slow, "hr:0", "hr:200", "hr:400", "hr:600", "hr:800") // 5 requests
	fastPt := parse(t, fast, "hr:0")[0]
	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Go(func() {
		close(started)
		for range 3 {
			if _, err := slow.Read(t.Context(), slowPts); err != nil {
				t.Error(err)
				return
			}
		}
	})
	<-started
	var worst time.Duration
	reads := 0
	for reads < 20 {
		start := time.Now()
		if _, err := readOne(t, t.Context(), fast, fastPt); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(start))
		reads++
	}
	wg.Wait()
	t.Logf("slowest of %d reads of the fast unit beside a 5-request read of a unit answering in %v: %v", reads, delay, worst)
	if worst >= 4*delay {
		t.Errorf("the fast unit waited %v; it should wait for at most one request of the slow unit (%v)", worst, delay)
	}
}

// TestDriverLateReplyOtherUnit: unit 3 answers after its request timed
// out, while unit 1's request waits behind it on the shared connection;
// both clients numbered their first request 1, yet the late reply is
// never taken for unit 1's (the connection numbers requests itself), and
// the connection survives.
func TestDriverLateReplyOtherUnit(t *testing.T) {
	s := modbustest.NewServer(t, modbustest.Options{Units: []byte{1, 3}})
	s.Set(1, modbustest.HoldingRegisters, 0, 111)
	s.Set(3, modbustest.HoldingRegisters, 0, 333)
	s.SetFault(3, modbustest.Fault{Delay: 300 * time.Millisecond})
	var dr Driver
	late := newDriverDevice(t, &dr, "late", fmt.Sprintf(`{"address": %q, "unit_id": 3, "timeout": "100ms"}`, s.Addr()))
	ok := newDriverDevice(t, &dr, "ok", fmt.Sprintf(`{"address": %q, "unit_id": 1, "timeout": "2s"}`, s.Addr()))
	if _, err := readOne(t, t.Context(), late, parse(t, late, "hr:0")[0]); !errors.Is(err, drivers.ErrTimeout) {
		t.Fatalf("late unit: %v; want a timeout", err)
	}
	pt := parse(t, ok, "hr:0")[0]
	for range 3 {
		if v, err := readOne(t, t.Context(), ok, pt); err != nil || !drivers.Equal(v, drivers.Uints{111}) {
			t.Fatalf("unit 1 after unit 3's late reply: %v, %v; want 111", v, err)
		}
	}
	if n := s.Accepted(); n != 1 {
		t.Errorf("%d connections; a late reply must not drop the shared one", n)
	}
}

// TestProbeBackoff: the wait before a probe of a unit that timed out
// doubles up to the cap, a request before the probe time fails fast
// without touching the link, and an answer resets the back-off.
func TestProbeBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var dr Driver
		dr.ProbeBackoff, dr.MaxProbeBackoff = time.Second, 4*time.Second
		dev, err := dr.New(drivers.Params{Name: "u3", Decode: drivers.DecodeJSON([]byte(`{"address": "127.0.0.1:1", "unit_id": 3}`))})
		if err != nil {
			t.Fatal(err)
		}
		d := dev.(*Device)
		for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
			d.missed()
			if got := time.Until(d.probe.next); got != want {
				t.Errorf("timeout %d: next probe in %v, want %v", i+1, got, want)
			}
		}
		time.Sleep(time.Second)
		err = d.do(t.Context(), "read hr:0+1", func(gmb.Client) error {
			t.Error("a request went to the link before the probe time")
			return nil
		})
		want := "modbus: u3: read hr:0+1: unit 3 not answering since "
		if !errors.Is(err, drivers.ErrTimeout) || !drivers.Retryable(err) || !strings.HasPrefix(err.Error(), want) ||
			!strings.Contains(err.Error(), "(4 timeouts); next probe at ") || !strings.Contains(err.Error(), "(in 3s)") {
			t.Errorf("fast failure = %v", err)
		}
		d.answered()
		if !d.probe.next.IsZero() || d.probe.misses != 0 {
			t.Errorf("after an answer: %+v", d.probe)
		}
		d.missed()
		if got := time.Until(d.probe.next); got != time.Second {
			t.Errorf("first timeout after an answer: next probe in %v, want 1s", got)
		}
		if err := d.Close(); err != nil || dr.Links() != 0 {
			t.Errorf("Close = %v, Links = %d", err, dr.Links())
		}
	})
}
