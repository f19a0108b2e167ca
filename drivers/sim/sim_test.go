package sim_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
	"github.com/cabridge/cabridge/drivers/sim"
)

// clock is a manual test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// demo returns a config with one signal of each kind.
func demo() sim.Config {
	return sim.Config{
		Seed: 7,
		Signals: []sim.Signal{
			{Name: "ramp", Kind: sim.Ramp, Period: drivers.Duration(10 * time.Second), Min: 0, Max: 100},
			{Name: "sine", Kind: sim.Sine, Period: drivers.Duration(4 * time.Second), Amplitude: 2, Offset: 10},
			{Name: "noise", Kind: sim.Noise, Amplitude: 1, Offset: 5},
			{Name: "count", Kind: sim.Counter, Type: "int16", Period: drivers.Duration(time.Second), Value: 32766},
			{Name: "beat", Kind: sim.Counter, Type: "bool", Period: drivers.Duration(time.Second)},
			{Name: "k", Kind: sim.Constant, Type: "uint32", Value: 42},
			{Name: "label", Kind: sim.Constant, Type: "string", Text: "hello"},
			{Name: "sp", Kind: sim.Setpoint, Value: 20, Readback: "rb", SlewRate: 2},
			{Name: "mode", Kind: sim.Setpoint, Type: "uint16", Readback: "mode_rb"},
			{Name: "wave", Kind: sim.Sine, Len: 4, Period: drivers.Duration(4 * time.Second), Amplitude: 1},
		},
		PushPeriod: drivers.Duration(5 * time.Millisecond),
	}
}

// open builds and opens a device on cfg.
func open(t *testing.T, cfg sim.Config) *sim.Device {
	t.Helper()
	d, err := sim.NewDevice("sim1", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	return d
}

// read reads one address.
func read(t *testing.T, d *sim.Device, addr string) (drivers.Value, error) {
	t.Helper()
	p, err := d.ParsePoint(drivers.PointSpec{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := d.Read(t.Context(), []drivers.Point{p})
	if err != nil {
		return nil, err
	}
	return ss[0].Value, ss[0].Err
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (drivers.Device, drivertest.Fixture) {
		cfg := demo()
		cfg.Timeout = drivers.Duration(time.Minute)
		cfg.Signals[7].SlewRate = 0 // read back at once
		d, err := sim.NewDevice("sim1", cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.FailPoint("noise", nil)
		return d, drivertest.Fixture{
			Read:    []drivers.PointSpec{{Address: "ramp"}, {Address: "count", Type: "int16"}, {Address: "label"}, {Address: "wave", Len: 4}, {Address: "rb"}},
			Bad:     []drivers.PointSpec{{Address: "noise"}},
			Invalid: []drivers.PointSpec{{Address: "nope"}, {Address: "ramp", Type: "int16"}, {Address: "wave", Len: 2}, {Address: "ramp", Order: "ABCD"}},
			Writes: []drivertest.WriteCase{
				{Point: drivers.PointSpec{Address: "sp"}, Value: drivers.Floats{33.5}, ReadBack: drivers.PointSpec{Address: "rb"}},
				{Point: drivers.PointSpec{Address: "mode"}, Value: drivers.Uints{65535}, ReadBack: drivers.PointSpec{Address: "mode_rb"}},
			},
			ReadOnly:   []drivers.PointSpec{{Address: "k"}, {Address: "rb"}},
			Subscribe:  []drivers.PointSpec{{Address: "sine"}, {Address: "sp"}},
			Stall:      func() { d.Fail(sim.FailTimeout, 0) },
			Disconnect: func() { d.Fail(sim.FailDisconnect, 0) },
			Reconnect:  d.Clear,
			Timeout:    2 * time.Second,
		}
	})
}

func TestSignals(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		elapsed time.Duration
		want    drivers.Value
	}{
		{"ramp start", "ramp", 0, drivers.Floats{0}},
		{"ramp quarter", "ramp", 2500 * time.Millisecond, drivers.Floats{25}},
		{"ramp wraps", "ramp", 12500 * time.Millisecond, drivers.Floats{25}},
		{"sine start", "sine", 0, drivers.Floats{10}},
		{"sine peak", "sine", time.Second, drivers.Floats{12}},
		{"sine trough", "sine", 3 * time.Second, drivers.Floats{8}},
		{"counter start", "count", 0, drivers.Ints{32766}},
		{"counter wraps int16", "count", 2 * time.Second, drivers.Ints{-32768}},
		{"heartbeat off", "beat", 0, drivers.Bools{false}},
		{"heartbeat on", "beat", 1500 * time.Millisecond, drivers.Bools{true}},
		{"constant", "k", time.Hour, drivers.Uints{42}},
		{"string constant", "label", 0, drivers.Strings{"hello"}},
		{"setpoint initial", "sp", 0, drivers.Floats{20}},
		{"readback initial", "rb", time.Minute, drivers.Floats{20}},
		{"waveform", "wave", 0, drivers.Floats{0, 1, 0, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			cfg := demo()
			cfg.Clock = c.now
			d := open(t, cfg)
			c.add(tc.elapsed)
			got, err := read(t, d, tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if !approx(got, tc.want) {
				t.Errorf("%s after %v = %v, want %v", tc.addr, tc.elapsed, got, tc.want)
			}
		})
	}
}

// approx compares values, floats within 1e-9.
func approx(a, b drivers.Value) bool {
	fa, ok1 := a.(drivers.Floats)
	fb, ok2 := b.(drivers.Floats)
	if !ok1 || !ok2 {
		return drivers.Equal(a, b)
	}
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if math.Abs(fa[i]-fb[i]) > 1e-9 {
			return false
		}
	}
	return true
}

func TestNoiseIsSeeded(t *testing.T) {
	run := func(seed uint64) []float64 {
		cfg := demo()
		cfg.Seed = seed
		d := open(t, cfg)
		var out []float64
		for range 5 {
			v, err := read(t, d, "noise")
			if err != nil {
				t.Fatal(err)
			}
			f := v.(drivers.Floats)[0]
			if f < 4 || f >= 6 {
				t.Errorf("noise %v outside offset±amplitude", f)
			}
			out = append(out, f)
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	if !drivers.Equal(drivers.Floats(a), drivers.Floats(b)) {
		t.Errorf("same seed, different noise: %v vs %v", a, b)
	}
	if drivers.Equal(drivers.Floats(a), drivers.Floats(c)) {
		t.Errorf("different seeds, same noise: %v", a)
	}
}

func TestSetpointSlew(t *testing.T) {
	c := newClock()
	cfg := demo()
	cfg.Clock = c.now
	d := open(t, cfg)
	sp, _ := d.ParsePoint(drivers.PointSpec{Address: "sp"})
	if err := d.Write(t.Context(), sp, drivers.Floats{30}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after time.Duration
		want  float64
	}{{0, 20}, {time.Second, 22}, {2 * time.Second, 26}, {10 * time.Second, 30}}
	for _, s := range steps {
		c.add(s.after)
		v, err := read(t, d, "rb")
		if err != nil || !approx(v, drivers.Floats{s.want}) {
			t.Errorf("readback after +%v = %v, %v; want %v", s.after, v, err, s.want)
		}
	}
	if v, _ := read(t, d, "sp"); !approx(v, drivers.Floats{30}) {
		t.Errorf("setpoint reads %v, want 30", v)
	}
}

func TestWriteErrors(t *testing.T) {
	d := open(t, demo())
	tests := []struct {
		name string
		addr string
		v    drivers.Value
		want error
	}{
		{"read-only", "k", drivers.Uints{1}, drivers.ErrReadOnly},
		{"readback", "rb", drivers.Floats{1}, drivers.ErrReadOnly},
		{"wrong kind", "mode", drivers.Ints{1}, drivers.ErrBadValue},
		{"out of range", "mode", drivers.Uints{70000}, drivers.ErrBadValue},
		{"nil", "sp", nil, drivers.ErrBadValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := d.ParsePoint(drivers.PointSpec{Address: tc.addr})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Write(t.Context(), p, tc.v); !errors.Is(err, tc.want) {
				t.Errorf("Write = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	c := newClock()
	cfg := demo()
	cfg.Clock = c.now
	d := open(t, cfg)

	d.Fail(sim.FailDisconnect, 10*time.Second)
	_, err := read(t, d, "ramp")
	if a := drivers.AlarmFor(drivers.OpRead, err); a != (dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityInvalid}) {
		t.Errorf("disconnected read: %v, alarm %v", err, a)
	}
	c.add(10 * time.Second)
	if _, err := read(t, d, "ramp"); !errors.Is(err, drivers.ErrDisconnected) {
		t.Errorf("read before reopening = %v; want ErrDisconnected", err)
	}
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := read(t, d, "ramp"); err != nil {
		t.Errorf("read after the failure expired and Open: %v", err)
	}

	d.FailPoint("sine", nil)
	p1, _ := d.ParsePoint(drivers.PointSpec{Address: "sine"})
	p2, _ := d.ParsePoint(drivers.PointSpec{Address: "ramp"})
	ss, err := d.Read(t.Context(), []drivers.Point{p1, p2})
	if err != nil || ss[0].Err == nil || ss[1].Err != nil {
		t.Fatalf("per-point failure: %v, %v", ss, err)
	}
	if code, ok := drivers.ExceptionCode(ss[0].Err); !ok || code != 4 {
		t.Errorf("ExceptionCode = %d, %v", code, ok)
	}
	d.ClearPoint("sine")
	if _, err := read(t, d, "sine"); err != nil {
		t.Errorf("after ClearPoint: %v", err)
	}
	if s := d.Stats(); s.Errors == 0 || s.Requests == 0 || !s.Connected || !strings.Contains(s.LastError, "disconnected") {
		t.Errorf("Stats = %+v", s)
	}

	d.Fail(sim.FailTimeout, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := d.Read(ctx, []drivers.Point{p2}); drivers.AlarmFor(drivers.OpRead, err).Status != dbr.StatusTimeout {
		t.Errorf("read in timeout mode = %v", err)
	}
	// Clear releases a waiting call.
	res := make(chan error, 1)
	go func() {
		_, err := d.Read(t.Context(), []drivers.Point{p2})
		res <- err
	}()
	d.Clear()
	select {
	case err := <-res:
		if err != nil && !errors.Is(err, drivers.ErrTimeout) {
			t.Errorf("read released by Clear = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read not released")
	}
}

func TestOutageSchedule(t *testing.T) {
	c := newClock()
	cfg := demo()
	cfg.Clock = c.now
	cfg.Outage = &sim.Outage{Every: drivers.Duration(time.Minute), For: drivers.Duration(10 * time.Second), Mode: sim.FailDisconnect}
	d := open(t, cfg)
	for _, s := range []struct {
		at     time.Duration
		failed bool
	}{{0, false}, {59 * time.Second, false}, {60 * time.Second, true}, {69 * time.Second, true}, {70 * time.Second, false}, {125 * time.Second, true}} {
		c.t = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(s.at)
		_ = d.Open(t.Context())
		_, err := read(t, d, "k")
		if (err != nil) != s.failed {
			t.Errorf("at %v: err %v, want failed=%v", s.at, err, s.failed)
		}
	}
}

func TestSubscribePushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := demo()
		cfg.PushPeriod = drivers.Duration(100 * time.Millisecond)
		d, err := sim.NewDevice("sim1", cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx, cancel := context.WithCancel(t.Context())
		if err := d.Open(ctx); err != nil {
			t.Fatal(err)
		}
		p, _ := d.ParsePoint(drivers.PointSpec{Address: "ramp"})
		var got []drivers.Sample
		done := make(chan error)
		go func() { done <- d.Subscribe(ctx, []drivers.Point{p}, func(s drivers.Sample) { got = append(got, s) }) }()
		time.Sleep(time.Second + time.Millisecond) // fake time inside the bubble
		synctest.Wait()
		if len(got) != 10 {
			t.Errorf("%d pushes in 1 s at 100 ms, want 10", len(got))
		}
		d.Fail(sim.FailDisconnect, 0)
		time.Sleep(100 * time.Millisecond)
		if err := <-done; !errors.Is(err, drivers.ErrDisconnected) {
			t.Errorf("Subscribe on a disconnection = %v", err)
		}
		cancel()
	})
}

func TestValidate(t *testing.T) {
	per := drivers.Duration(time.Second)
	tests := []struct {
		name string
		cfg  sim.Config
		want []string // substrings of the error, one per problem
	}{
		{"ok", demo(), nil},
		{"empty", sim.Config{}, []string{"signals: at least one signal"}},
		{"bad kinds and types", sim.Config{Signals: []sim.Signal{
			{Name: "a", Kind: "square"},
			{Name: "b", Kind: sim.Sine, Type: "int8", Period: per},
			{Name: "c", Kind: sim.Sine, Type: "bool", Period: per},
			{Name: "d", Kind: sim.Noise, Type: "string"},
		}}, []string{"signals[0].kind: square: unknown kind", "signals[1].type: int8: unknown type",
			"signals[2].type: bool: bool needs", "signals[3].type: string: string needs"}},
		{"periods", sim.Config{Signals: []sim.Signal{
			{Name: "a", Kind: sim.Ramp, Max: 1},
			{Name: "b", Kind: sim.Constant, Period: per},
		}}, []string{"signals[0].period: 0s: must be positive for a ramp", "signals[1].period: 1s: only ramp"}},
		{"names", sim.Config{Signals: []sim.Signal{
			{Name: "a", Kind: sim.Constant},
			{Name: "a", Kind: sim.Constant},
			{Kind: sim.Setpoint, Readback: "a"},
		}}, []string{"signals[1].name: a: duplicate name (also signals[0].name)", "signals[2].name: missing name",
			"signals[2].readback: a: duplicate"}},
		{"setpoint fields", sim.Config{Signals: []sim.Signal{
			{Name: "a", Kind: sim.Constant, Readback: "b"},
			{Name: "c", Kind: sim.Setpoint, Len: 2, SlewRate: -1},
			{Name: "r", Kind: sim.Ramp, Period: per},
		}}, []string{"signals[0].readback: b: only setpoints", "signals[1].len: 2", "signals[1].slew_rate: -1",
			"signals[2].max: 0: a ramp needs"}},
		{"device fields", sim.Config{Signals: []sim.Signal{{Name: "a", Kind: sim.Constant}},
			PushPeriod: -1, Timeout: -1, Outage: &sim.Outage{Every: per, For: per, Mode: "melt"}},
			[]string{"push_period: -1ns", "timeout: -1ns", "outage: every 1s for 1s: want 0 < for < every", "outage.mode: melt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
			var ce *drivers.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("no *drivers.ConfigError in %v", err)
			}
		})
	}
}

func TestFactoryDecodesStrictly(t *testing.T) {
	var reg drivers.Registry
	if err := reg.Register("sim", sim.New); err != nil {
		t.Fatal(err)
	}
	good := `{"signals": [{"name": "t", "kind": "sine", "period": "30s", "amplitude": 2}], "push_period": "250ms"}`
	d, err := reg.New("sim", drivers.Params{Name: "sim1", Decode: drivers.DecodeJSON([]byte(good))})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, bad := range []string{
		`{"signals": [{"name": "t", "kind": "sine", "period": "30s", "amplitdue": 2}]}`,
		`{"signals": [{"name": "t", "kind": "sine", "period": "soon"}]}`,
		`{"signals": [{"name": "t", "kind": "sine"}]}`,
	} {
		if _, err := reg.New("sim", drivers.Params{Name: "sim1", Decode: drivers.DecodeJSON([]byte(bad))}); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
}
