// Package drivertest checks that a driver obeys the contract of package
// drivers, in the manner of golang.org/x/net/nettest.TestConn, and
// provides Fake, an in-memory device for the tests of the layers above.
//
// A driver's test calls Run with a function that builds a fresh device
// and describes what it can do:
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, func(t *testing.T) (drivers.Device, drivertest.Fixture) {
//			dev := newTestDevice(t) // e.g. against an in-process server
//			return dev, drivertest.Fixture{Read: []drivers.PointSpec{{Address: "hr:0"}}}
//		})
//	}
//
// Run counts goroutines to find leaks, so it must not run in parallel
// with other tests of the same process.
package drivertest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
)

// Fixture describes what a device under test offers. Only Read is
// required; every other field enables more checks.
type Fixture struct {
	// Read lists points that must read without error. At least one.
	Read []drivers.PointSpec
	// Bad lists points that parse but fail to read (an address the device
	// rejects), to check that they fail alone.
	Bad []drivers.PointSpec
	// Invalid lists specs that ParsePoint must reject with ErrBadPoint.
	Invalid []drivers.PointSpec
	// Writes lists writes that must succeed and read back.
	Writes []WriteCase
	// ReadOnly lists points that Write must refuse.
	ReadOnly []drivers.PointSpec
	// Subscribe lists points that a Subscriber pushes; Push, when set,
	// makes the device push them and is called repeatedly until it does.
	Subscribe []drivers.PointSpec
	Push      func()
	// Stall makes the device stop answering until the device is closed;
	// calls must then end with their context, in TIMEOUT.
	Stall func()
	// Disconnect makes the device lose its connection (calls fail in
	// COMM) and Reconnect gives it back (an Open must then succeed).
	Disconnect func()
	Reconnect  func()
	// Timeout bounds every call and every wait of the suite; 0 means 5 s.
	Timeout time.Duration
}

// WriteCase is one write of a Fixture.
type WriteCase struct {
	Point drivers.PointSpec
	Value drivers.Value
	// ReadBack is the point that reflects the write; an empty Address
	// means Point itself. A point that cannot be read is not read back.
	ReadBack drivers.PointSpec
	// Want is what ReadBack reads after the write; nil means Value.
	Want drivers.Value
}

// Run runs the conformance suite against the devices mk builds: a fresh,
// unopened device per subtest (Run opens and closes it), with its
// Fixture. mk may register cleanups on t.
func Run(t *testing.T, mk func(t *testing.T) (drivers.Device, Fixture)) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"ParsePoint", testParsePoint},
		{"Read", testRead},
		{"ReadBadPoints", testReadBad},
		{"Write", testWrite},
		{"WriteRefused", testWriteRefused},
		{"DoneContext", testDoneContext},
		{"Stall", testStall},
		{"Disconnect", testDisconnect},
		{"Subscribe", testSubscribe},
		{"Stats", testStats},
		{"Close", testClose},
		{"CloseAfterFailedOpen", testCloseAfterFailedOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Cleanups run last-in first-out: Close, then mk's own
			// cleanups (servers), then the leak check.
			before := runtime.NumGoroutine()
			timeout := 5 * time.Second
			t.Cleanup(func() { checkGoroutines(t, before, timeout) })
			dev, fx := mk(t)
			if fx.Timeout > 0 {
				timeout = fx.Timeout
			}
			fx.Timeout = timeout
			t.Cleanup(func() { closeWithin(t, dev, timeout) })
			if len(fx.Read) == 0 {
				t.Fatal("drivertest: Fixture.Read is empty")
			}
			tc.fn(t, &harness{dev: dev, fx: fx})
		})
	}
}

// harness is the state of one subtest.
type harness struct {
	dev drivers.Device
	fx  Fixture
}

// ctx returns a context bounded by the fixture's timeout.
func (h *harness) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), h.fx.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// open opens the device when it is an Opener.
func (h *harness) open(t *testing.T) {
	t.Helper()
	if o, ok := h.dev.(drivers.Opener); ok {
		if err := o.Open(h.ctx(t)); err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
}

// parse parses every spec or fails the test.
func (h *harness) parse(t *testing.T, specs []drivers.PointSpec) []drivers.Point {
	t.Helper()
	pts := make([]drivers.Point, len(specs))
	for i, s := range specs {
		p, err := h.dev.ParsePoint(s)
		if err != nil {
			t.Fatalf("ParsePoint(%v): %v", s, err)
		}
		pts[i] = p
	}
	return pts
}

// read reads pts and checks the shape of the result.
func (h *harness) read(t *testing.T, pts []drivers.Point) []drivers.Sample {
	t.Helper()
	ss, err := h.dev.Read(h.ctx(t), pts)
	if err != nil {
		t.Fatalf("Read(%v): %v", pts, err)
	}
	if len(ss) != len(pts) {
		t.Fatalf("Read returned %d samples for %d points", len(ss), len(pts))
	}
	for i, s := range ss {
		if s.Point == nil || s.Point.String() != pts[i].String() {
			t.Errorf("sample %d is for point %v, want %v", i, s.Point, pts[i])
		}
		if s.Time.IsZero() {
			t.Errorf("sample %d (%v) has no time", i, pts[i])
		}
		if s.Err != nil && s.Value != nil {
			t.Errorf("sample %d (%v) has both a value and the error %v", i, pts[i], s.Err)
		}
	}
	return ss
}

// checkValue checks that v fits the type of pt.
func checkValue(t *testing.T, pt drivers.Point, v drivers.Value) {
	t.Helper()
	typ := pt.Type()
	switch {
	case v == nil:
		t.Errorf("%v: nil value without an error", pt)
	case v.Kind() != typ.Kind || v.Len() != typ.Len:
		t.Errorf("%v: value %v (%s[%d]) does not fit the point's type %v", pt, v, v.Kind(), v.Len(), typ)
	}
}

func testParsePoint(t *testing.T, h *harness) {
	all := append(append(append([]drivers.PointSpec(nil), h.fx.Read...), h.fx.Bad...), h.fx.ReadOnly...)
	for _, w := range h.fx.Writes {
		all = append(all, w.Point)
	}
	for _, spec := range all {
		p1, err := h.dev.ParsePoint(spec)
		if err != nil {
			t.Errorf("ParsePoint(%v): %v", spec, err)
			continue
		}
		p2, err := h.dev.ParsePoint(spec)
		if err != nil || p1.String() != p2.String() {
			t.Errorf("ParsePoint(%v) is not stable: %v then %v (%v)", spec, p1, p2, err)
		}
		typ := p1.Type()
		if p1.String() == "" || typ.Len < 1 || typ.Kind == drivers.KindInvalid || typ.Kind > drivers.KindString {
			t.Errorf("ParsePoint(%v) = %q with type %v: want a name, a kind and Len >= 1", spec, p1, typ)
		}
	}
	for _, spec := range h.fx.Read {
		if p, err := h.dev.ParsePoint(spec); err == nil && !p.Type().Access.CanRead() {
			t.Errorf("Read point %v cannot be read: %v", p, p.Type())
		}
	}
	for _, spec := range h.fx.Invalid {
		if p, err := h.dev.ParsePoint(spec); !errors.Is(err, drivers.ErrBadPoint) {
			t.Errorf("ParsePoint(%v) = %v, %v; want an error wrapping ErrBadPoint", spec, p, err)
		}
	}
}

func testRead(t *testing.T, h *harness) {
	h.open(t)
	pts := h.parse(t, h.fx.Read)
	for range 2 {
		for i, s := range h.read(t, pts) {
			if s.Err != nil {
				t.Errorf("Read %v: %v", pts[i], s.Err)
				continue
			}
			checkValue(t, pts[i], s.Value)
		}
	}
	if ss, err := h.dev.Read(h.ctx(t), nil); err != nil || len(ss) != 0 {
		t.Errorf("Read(nil) = %v, %v; want no samples and no error", ss, err)
	}
}

func testReadBad(t *testing.T, h *harness) {
	if len(h.fx.Bad) == 0 {
		t.Skip("no Fixture.Bad points")
	}
	h.open(t)
	good := h.parse(t, h.fx.Read)
	bad := h.parse(t, h.fx.Bad)
	// Interleave so that bad points sit between good ones.
	var pts []drivers.Point
	isBad := map[int]bool{}
	for i := range max(len(good), len(bad)) {
		if i < len(good) {
			pts = append(pts, good[i])
		}
		if i < len(bad) {
			isBad[len(pts)] = true
			pts = append(pts, bad[i])
		}
	}
	for i, s := range h.read(t, pts) {
		switch {
		case isBad[i] && s.Err == nil:
			t.Errorf("bad point %v read without error: %v", pts[i], s.Value)
		case isBad[i]:
			if a := drivers.AlarmFor(drivers.OpRead, s.Err); a.Severity != dbr.SeverityInvalid {
				t.Errorf("bad point %v: alarm %v for %v", pts[i], a, s.Err)
			}
		case s.Err != nil:
			t.Errorf("good point %v failed beside bad ones: %v", pts[i], s.Err)
		default:
			checkValue(t, pts[i], s.Value)
		}
	}
}

func testWrite(t *testing.T, h *harness) {
	if len(h.fx.Writes) == 0 {
		t.Skip("no Fixture.Writes")
	}
	h.open(t)
	for _, w := range h.fx.Writes {
		pt := h.parse(t, []drivers.PointSpec{w.Point})[0]
		if err := h.dev.Write(h.ctx(t), pt, w.Value); err != nil {
			t.Errorf("Write(%v, %v): %v", pt, w.Value, err)
			continue
		}
		rbSpec := w.ReadBack
		if rbSpec.Address == "" {
			rbSpec = w.Point
		}
		rb := h.parse(t, []drivers.PointSpec{rbSpec})[0]
		if !rb.Type().Access.CanRead() {
			continue
		}
		want := w.Want
		if want == nil {
			want = w.Value
		}
		s := h.read(t, []drivers.Point{rb})[0]
		if s.Err != nil || !drivers.Equal(s.Value, want) {
			t.Errorf("after Write(%v, %v), %v reads %v, %v; want %v", pt, w.Value, rb, s.Value, s.Err, want)
		}
	}
}

// wrongLength returns a value of pt's kind with one element too many.
func wrongLength(pt drivers.Point) drivers.Value {
	typ := pt.Type()
	return drivers.MakeValue(typ.Kind, typ.Len+1)
}

func testWriteRefused(t *testing.T, h *harness) {
	if len(h.fx.Writes) == 0 && len(h.fx.ReadOnly) == 0 {
		t.Skip("no Fixture.Writes or Fixture.ReadOnly")
	}
	h.open(t)
	for _, pt := range h.parse(t, h.fx.ReadOnly) {
		v := drivers.MakeValue(pt.Type().Kind, pt.Type().Len)
		err := h.dev.Write(h.ctx(t), pt, v)
		if err == nil {
			t.Errorf("Write to read-only %v succeeded", pt)
		} else if a := drivers.AlarmFor(drivers.OpWrite, err); a.Status != dbr.StatusWrite {
			t.Errorf("Write to read-only %v: alarm %v for %v; want WRITE", pt, a, err)
		}
	}
	for _, w := range h.fx.Writes {
		pt := h.parse(t, []drivers.PointSpec{w.Point})[0]
		if err := h.dev.Write(h.ctx(t), pt, wrongLength(pt)); !errors.Is(err, drivers.ErrBadValue) {
			t.Errorf("Write of a value of the wrong length to %v = %v; want ErrBadValue", pt, err)
		}
		if err := h.dev.Write(h.ctx(t), pt, nil); !errors.Is(err, drivers.ErrBadValue) {
			t.Errorf("Write of nil to %v = %v; want ErrBadValue", pt, err)
		}
	}
}

func testDoneContext(t *testing.T, h *harness) {
	h.open(t)
	pts := h.parse(t, h.fx.Read)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if ss, err := h.dev.Read(ctx, pts); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context = %v, %v; want context.Canceled", ss, err)
	}
	for _, w := range h.fx.Writes {
		pt := h.parse(t, []drivers.PointSpec{w.Point})[0]
		if err := h.dev.Write(ctx, pt, w.Value); !errors.Is(err, context.Canceled) {
			t.Errorf("Write with a cancelled context = %v; want context.Canceled", err)
		}
	}
	if sub, ok := h.dev.(drivers.Subscriber); ok && len(h.fx.Subscribe) > 0 {
		sp := h.parse(t, h.fx.Subscribe)
		var emits atomic.Int64
		if err := sub.Subscribe(ctx, sp, func(drivers.Sample) { emits.Add(1) }); !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe with a cancelled context = %v; want context.Canceled", err)
		}
		if n := emits.Load(); n != 0 {
			t.Errorf("Subscribe with a cancelled context emitted %d samples", n)
		}
	}
	// The device still works.
	h.read(t, pts)
}

// within runs f in a goroutine and reports the error it returns. If f
// has not returned by d, within reports that and returns, abandoning f
// (which therefore must not touch t); the leak check then reports the
// stuck goroutine.
func within(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-timer.C:
		t.Errorf("%s did not return within %v", what, d)
	}
}

func testStall(t *testing.T, h *harness) {
	if h.fx.Stall == nil {
		t.Skip("no Fixture.Stall")
	}
	h.open(t)
	pts := h.parse(t, h.fx.Read)
	h.fx.Stall()
	const wait = 50 * time.Millisecond
	within(t, wait+h.fx.Timeout, "Read of a stalled device", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		ss, err := h.dev.Read(ctx, pts)
		if a := drivers.AlarmFor(drivers.OpRead, err); err == nil || a.Status != dbr.StatusTimeout {
			return fmt.Errorf("Read of a stalled device = %v, %w (alarm %v); want a timeout", ss, err, a)
		}
		return nil
	})
	if len(h.fx.Writes) > 0 {
		w := h.fx.Writes[0]
		pt := h.parse(t, []drivers.PointSpec{w.Point})[0]
		within(t, wait+h.fx.Timeout, "Write to a stalled device", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := h.dev.Write(ctx, pt, w.Value); err == nil {
				return errors.New("Write to a stalled device succeeded")
			}
			return nil
		})
	}
}

func testDisconnect(t *testing.T, h *harness) {
	if h.fx.Disconnect == nil {
		t.Skip("no Fixture.Disconnect")
	}
	h.open(t)
	pts := h.parse(t, h.fx.Read)
	h.read(t, pts)
	h.fx.Disconnect()
	ss, err := h.dev.Read(h.ctx(t), pts)
	if a := drivers.AlarmFor(drivers.OpRead, err); err == nil || a.Status != dbr.StatusComm {
		t.Fatalf("Read of a disconnected device = %v, %v (alarm %v); want COMM", ss, err, a)
	}
	if h.fx.Reconnect == nil {
		return
	}
	h.fx.Reconnect()
	if o, ok := h.dev.(drivers.Opener); ok {
		if err := o.Open(h.ctx(t)); err != nil {
			t.Fatalf("Open after Reconnect: %v", err)
		}
	}
	for i, s := range h.read(t, pts) {
		if s.Err != nil {
			t.Errorf("after Reconnect, %v: %v", pts[i], s.Err)
		}
	}
}

func testSubscribe(t *testing.T, h *harness) {
	sub, ok := h.dev.(drivers.Subscriber)
	if !ok || len(h.fx.Subscribe) == 0 {
		t.Skip("not a Subscriber or no Fixture.Subscribe")
	}
	h.open(t)
	pts := h.parse(t, h.fx.Subscribe)
	want := map[string]bool{}
	for _, p := range pts {
		want[p.String()] = true
	}
	var (
		mu       sync.Mutex
		seen     = map[string]bool{}
		inEmit   atomic.Bool
		returned atomic.Bool
		problems []string
		got      = make(chan struct{}, 1)
	)
	emit := func(s drivers.Sample) {
		if !inEmit.CompareAndSwap(false, true) {
			mu.Lock()
			problems = append(problems, "emit called concurrently")
			mu.Unlock()
		}
		defer inEmit.Store(false)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case returned.Load():
			problems = append(problems, "emit called after Subscribe returned")
		case s.Point == nil || !want[s.Point.String()]:
			problems = append(problems, "emit of a point not subscribed: "+pointName(s.Point))
		case s.Err == nil && (s.Value == nil || s.Value.Kind() != s.Point.Type().Kind):
			problems = append(problems, "emit of a value that does not fit "+s.Point.String())
		case s.Time.IsZero():
			problems = append(problems, "emit of a sample without a time")
		}
		seen[s.Point.String()] = true
		if len(seen) >= len(want) {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res := make(chan error, 1)
	go func() {
		err := sub.Subscribe(ctx, pts, emit)
		returned.Store(true)
		res <- err
	}()
	// Reads run concurrently with Subscribe.
	rp := h.parse(t, h.fx.Read)
	h.read(t, rp)
	deadline := time.NewTimer(h.fx.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		if h.fx.Push != nil {
			h.fx.Push()
		}
		select {
		case <-got:
			break wait
		case err := <-res:
			t.Fatalf("Subscribe returned before cancel: %v", err)
		case <-deadline.C:
			mu.Lock()
			t.Errorf("Subscribe emitted %d of %d points within %v", len(seen), len(want), h.fx.Timeout)
			mu.Unlock()
			break wait
		case <-tick.C:
		}
	}
	h.read(t, rp)
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe returned %v after cancel; want context.Canceled", err)
		}
	case <-time.After(h.fx.Timeout):
		t.Fatalf("Subscribe did not return within %v of cancel", h.fx.Timeout)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}

// pointName formats p, which may be nil.
func pointName(p drivers.Point) string {
	if p == nil {
		return "<nil>"
	}
	return p.String()
}

func testStats(t *testing.T, h *harness) {
	sr, ok := h.dev.(drivers.StatsReporter)
	if !ok {
		t.Skip("not a StatsReporter")
	}
	h.open(t)
	pts := h.parse(t, h.fx.Read)
	h.read(t, pts)
	s := sr.Stats()
	if s.Requests == 0 || !s.Connected {
		t.Errorf("after a Read, Stats = %+v; want requests and connected", s)
	}
	if h.fx.Disconnect == nil {
		return
	}
	h.fx.Disconnect()
	if _, err := h.dev.Read(h.ctx(t), pts); err == nil {
		t.Fatal("Read of a disconnected device succeeded")
	}
	s = sr.Stats()
	if s.Errors == 0 || s.LastError == "" || s.Connected {
		t.Errorf("after a failed Read, Stats = %+v; want an error counted and not connected", s)
	}
}

func testClose(t *testing.T, h *harness) {
	h.open(t)
	pts := h.parse(t, h.fx.Read)
	h.read(t, pts)
	closeWithin(t, h.dev, h.fx.Timeout)
	if err := h.dev.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := h.dev.Read(h.ctx(t), pts); !errors.Is(err, drivers.ErrClosed) {
		t.Errorf("Read after Close = %v; want ErrClosed", err)
	}
	if len(h.fx.Writes) > 0 {
		w := h.fx.Writes[0]
		pt := h.parse(t, []drivers.PointSpec{w.Point})[0]
		if err := h.dev.Write(h.ctx(t), pt, w.Value); !errors.Is(err, drivers.ErrClosed) {
			t.Errorf("Write after Close = %v; want ErrClosed", err)
		}
	}
	if o, ok := h.dev.(drivers.Opener); ok {
		if err := o.Open(h.ctx(t)); !errors.Is(err, drivers.ErrClosed) {
			t.Errorf("Open after Close = %v; want ErrClosed", err)
		}
	}
}

func testCloseAfterFailedOpen(t *testing.T, h *harness) {
	o, ok := h.dev.(drivers.Opener)
	if !ok || h.fx.Disconnect == nil {
		t.Skip("not an Opener or no Fixture.Disconnect")
	}
	h.fx.Disconnect()
	if err := o.Open(h.ctx(t)); err == nil {
		t.Error("Open of a disconnected device succeeded")
	}
	closeWithin(t, h.dev, h.fx.Timeout)
}

// closeWithin closes dev, failing t on an error or when Close blocks.
func closeWithin(t *testing.T, dev drivers.Device, d time.Duration) {
	t.Helper()
	within(t, d, "Close", func() error {
		if err := dev.Close(); err != nil {
			return fmt.Errorf("Close: %w", err)
		}
		return nil
	})
}

// checkGoroutines waits, up to d, for the number of goroutines to fall
// back to before, and reports the stacks of the survivors.
func checkGoroutines(t *testing.T, before int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), trimStacks(string(buf)))
			return
		}
		<-tick.C
	}
}

// trimStacks drops the testing framework's own goroutines from a dump.
func trimStacks(s string) string {
	var keep []string
	for _, g := range strings.Split(s, "\n\n") {
		if strings.Contains(g, "testing.(*T).Run") || strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "drivers") {
			continue
		}
		keep = append(keep, g)
	}
	return strings.Join(keep, "\n\n")
}
