package sim

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// Interface guards.
var (
	_ drivers.Device        = (*Device)(nil)
	_ drivers.Opener        = (*Device)(nil)
	_ drivers.Subscriber    = (*Device)(nil)
	_ drivers.StatsReporter = (*Device)(nil)
	_ drivers.Factory       = New
	_ drivers.Validator     = (*Config)(nil)
)

// Device is a simulated device. It must be opened before use, and opened
// again after a failure in FailDisconnect mode, as a real connection
// would. It starts no goroutines. Its methods follow the concurrency rules
// of drivers.Device; Fail, Clear, FailPoint and ClearPoint may be called
// from any goroutine.
type Device struct {
	name    string
	log     *slog.Logger
	now     func() time.Time
	start   time.Time
	timeout time.Duration
	push    time.Duration
	outage  *Outage
	points  map[string]*point // by address

	closing chan struct{} // closed by Close

	mu       sync.Mutex
	open     bool
	closed   bool
	fault    FailMode           // injected failure, or ""
	until    time.Time          // end of the injected failure; zero means until Clear
	changed  chan struct{}      // closed and replaced when the fault changes
	ptFaults map[string]error   // per-point failures
	sp       map[*signal]*state // setpoint states
	rng      map[*signal]*rand.Rand
	stats    drivers.Counters
}

// signal is a validated Signal with defaults applied.
type signal struct {
	Signal
	kind drivers.Kind
	bits int
}

// state is the state of a setpoint and its readback.
type state struct {
	sp, rb float64
	text   string
	at     time.Time // time rb was last advanced
}

// point is a sim Point: a signal, or the readback of a setpoint.
type point struct {
	sig      *signal
	readback bool
	typ      drivers.Type
}

func (p *point) String() string {
	if p.readback {
		return p.sig.Readback
	}
	return p.sig.Name
}

func (p *point) Type() drivers.Type { return p.typ }

// New is the drivers.Factory of the sim driver: it decodes p's section
// into a Config, validates it and returns NewDevice's device.
func New(p drivers.Params) (drivers.Device, error) { return drivers.Build(p, NewDevice) }

// NewDevice validates cfg and returns an unopened device named name
// (for logs and errors) that logs to logger (nil discards). It does no
// I/O; the signals' time origin is the clock's time now.
func NewDevice(name string, cfg Config, logger *slog.Logger) (*Device, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim: invalid config: %w", err)
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	d := &Device{
		name:     name,
		log:      drivers.DiscardLogger(logger).With("device", name, "driver", "sim"),
		now:      now,
		start:    now(),
		timeout:  time.Duration(cfg.Timeout),
		push:     time.Duration(cfg.PushPeriod),
		outage:   cfg.Outage,
		points:   map[string]*point{},
		closing:  make(chan struct{}),
		changed:  make(chan struct{}),
		ptFaults: map[string]error{},
		sp:       map[*signal]*state{},
		rng:      map[*signal]*rand.Rand{},
	}
	if d.timeout == 0 {
		d.timeout = time.Second
	}
	if d.push == 0 {
		d.push = time.Second
	}
	for i, s := range cfg.Signals {
		kind, bits, _ := typeInfo(s.Type)
		sig := &signal{Signal: s, kind: kind, bits: bits}
		sig.Len = max(sig.Len, 1)
		if s.Kind == Counter && s.Step == 0 {
			sig.Step = 1
		}
		access := drivers.AccessRead
		if s.Kind == Setpoint {
			access = drivers.AccessReadWrite
			d.sp[sig] = &state{sp: s.Value, rb: s.Value, text: s.Text, at: d.start}
		}
		if s.Kind == Noise {
			d.rng[sig] = rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		}
		typ := drivers.Type{Kind: kind, Bits: bits, Len: sig.Len}
		d.points[s.Name] = &point{sig: sig, typ: drivers.Type{Kind: typ.Kind, Bits: typ.Bits, Len: typ.Len, Access: access}}
		if s.Readback != "" {
			d.points[s.Readback] = &point{sig: sig, readback: true, typ: drivers.Type{Kind: typ.Kind, Bits: typ.Bits, Len: typ.Len, Access: drivers.AccessRead}}
		}
	}
	return d, nil
}

// ParsePoint implements drivers.Device. The address is a signal's name
// or a setpoint's readback name; Type and Len, when given, must match the
// signal's; Order, Bit and Options are not supported.
func (d *Device) ParsePoint(spec drivers.PointSpec) (drivers.Point, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("sim: %s: point %q: %w: %s", d.name, spec.Address, drivers.ErrBadPoint, fmt.Sprintf(format, args...))
	}
	p, ok := d.points[spec.Address]
	switch {
	case !ok:
		return nil, bad("no such signal")
	case spec.Type != "" && spec.Type != p.sig.Type && (spec.Type != "float64" || p.sig.Type != ""):
		return nil, bad("type %s does not match the signal's %s", spec.Type, p.typ.Kind)
	case spec.Len != 0 && spec.Len != p.typ.Len:
		return nil, bad("len %d does not match the signal's %d", spec.Len, p.typ.Len)
	case spec.Order != "" || spec.Bit != nil || len(spec.Options) != 0:
		return nil, bad("order, bit and options are not supported")
	}
	return p, nil
}

// Fail makes the device fail in mode for d (0 means until Clear).
func (d *Device) Fail(mode FailMode, dur time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fault = mode
	d.until = time.Time{}
	if dur > 0 {
		d.until = d.now().Add(dur)
	}
	d.log.Info("simulated failure", "mode", string(mode), "for", dur)
	d.faultChangedLocked()
}

// Clear ends a failure injected by Fail. A device that failed in
// FailDisconnect mode must still be opened again.
func (d *Device) Clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fault = ""
	d.faultChangedLocked()
}

// faultChangedLocked wakes the calls waiting in a timeout.
func (d *Device) faultChangedLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// FailPoint makes reads and writes of the point at address fail with err
// (nil means a *drivers.DeviceError with code 4, as a Modbus slave
// device failure).
func (d *Device) FailPoint(address string, err error) {
	if err == nil {
		err = &drivers.DeviceError{Code: 4, Text: "simulated point failure"}
	}
	d.mu.Lock()
	d.ptFaults[address] = err
	d.mu.Unlock()
}

// ClearPoint ends a failure injected by FailPoint.
func (d *Device) ClearPoint(address string) {
	d.mu.Lock()
	delete(d.ptFaults, address)
	d.mu.Unlock()
}

// faultLocked returns the failure mode in force at now.
func (d *Device) faultLocked(now time.Time) FailMode {
	if d.fault != "" && (d.until.IsZero() || now.Before(d.until)) {
		return d.fault
	}
	if o := d.outage; o != nil {
		e := now.Sub(d.start)
		if e >= time.Duration(o.Every) && e%time.Duration(o.Every) < time.Duration(o.For) {
			return o.Mode
		}
	}
	return ""
}

// enter starts a Read, Write, Open or Subscribe: it checks ctx and the
// device state and plays the failure in force. With d.mu held on return
// when err is nil.
func (d *Device) enter(ctx context.Context, opening bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sim: %s: %w", d.name, err)
		}
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return fmt.Errorf("sim: %s: %w", d.name, drivers.ErrClosed)
		}
		switch d.faultLocked(d.now()) {
		case FailDisconnect:
			err := fmt.Errorf("sim: %s: simulated: %w", d.name, drivers.ErrDisconnected)
			d.failLocked(err)
			d.mu.Unlock()
			return err
		case FailTimeout:
			changed := d.changed
			d.mu.Unlock()
			if err := d.wait(ctx, changed); err != nil {
				d.stats.AddError(err)
				return err
			}
			continue // the fault changed: look again
		}
		if !d.open && !opening {
			d.mu.Unlock()
			err := fmt.Errorf("sim: %s: not open: %w", d.name, drivers.ErrDisconnected)
			d.stats.AddError(err)
			return err
		}
		return nil
	}
}

// wait blocks as a device that does not answer: until ctx is done, the
// device's timeout passes or is closed (errors) or changed is closed (nil).
func (d *Device) wait(ctx context.Context, changed <-chan struct{}) error {
	timer := time.NewTimer(d.timeout)
	defer timer.Stop()
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sim: %s: simulated: %w (%w)", d.name, drivers.ErrTimeout, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("sim: %s: simulated: %w after %v", d.name, drivers.ErrTimeout, d.timeout)
	case <-d.closing:
		return fmt.Errorf("sim: %s: %w", d.name, drivers.ErrClosed)
	}
}

// failLocked records a disconnection.
func (d *Device) failLocked(err error) {
	if d.open {
		d.log.Warn("simulated disconnection", "err", err)
	}
	d.open = false
	d.stats.SetConnected(false)
	d.stats.AddError(err)
}

// Open implements drivers.Opener.
func (d *Device) Open(ctx context.Context) error {
	if err := d.enter(ctx, true); err != nil {
		return err
	}
	defer d.mu.Unlock()
	d.open = true
	d.stats.SetConnected(true)
	return nil
}

// Read implements drivers.Device. A read is one request.
func (d *Device) Read(ctx context.Context, pts []drivers.Point) ([]drivers.Sample, error) {
	start := time.Now()
	if err := d.enter(ctx, false); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	d.stats.AddRequests(1)
	now := d.now()
	out := make([]drivers.Sample, len(pts))
	for i, pt := range pts {
		out[i] = d.sampleLocked(pt, now)
	}
	d.stats.ObserveRead(time.Since(start))
	return out, nil
}

// sampleLocked reads pt at now.
func (d *Device) sampleLocked(pt drivers.Point, now time.Time) drivers.Sample {
	s := drivers.Sample{Point: pt, Time: now}
	p, ok := pt.(*point)
	if !ok || d.points[p.String()] != p {
		s.Err = fmt.Errorf("sim: %s: %w: foreign point %v", d.name, drivers.ErrBadPoint, pt)
		return s
	}
	if err := d.ptFaults[p.String()]; err != nil {
		s.Err = fmt.Errorf("sim: %s: read %s: %w", d.name, p, err)
		return s
	}
	s.Value, s.Err = d.valueLocked(p, now)
	return s
}

// valueLocked computes p's value at now.
func (d *Device) valueLocked(p *point, now time.Time) (drivers.Value, error) {
	sig := p.sig
	if sig.kind == drivers.KindString {
		if st := d.sp[sig]; st != nil {
			return drivers.Strings{st.text}, nil
		}
		return drivers.Strings{sig.Text}, nil
	}
	e := now.Sub(d.start)
	period := time.Duration(sig.Period)
	fs := make([]float64, sig.Len)
	for i := range fs {
		ei := e
		if period > 0 {
			ei += time.Duration(int64(period) * int64(i) / int64(sig.Len))
		}
		x := 0.0
		if period > 0 {
			x = ei.Seconds() / period.Seconds()
		}
		switch sig.Kind {
		case Ramp:
			fs[i] = sig.Min + (sig.Max-sig.Min)*(x-math.Floor(x))
		case Sine:
			fs[i] = sig.Offset + sig.Amplitude*math.Sin(2*math.Pi*x)
		case Noise:
			fs[i] = sig.Offset + sig.Amplitude*(2*d.rng[sig].Float64()-1)
		case Counter:
			fs[i] = sig.Value + sig.Step*math.Floor(x)
		case Constant:
			fs[i] = sig.Value
		case Setpoint:
			st := d.sp[sig]
			advance(st, sig.SlewRate, now)
			fs[i] = st.sp
			if p.readback {
				fs[i] = st.rb
			}
		}
	}
	return fromFloats(fs, sig.kind, sig.bits)
}

// advance moves a readback towards its setpoint at rate units per second
// up to now.
func advance(st *state, rate float64, now time.Time) {
	dt := now.Sub(st.at).Seconds()
	if now.After(st.at) {
		st.at = now
	}
	if rate == 0 {
		st.rb = st.sp
		return
	}
	if dt <= 0 {
		return
	}
	step := rate * dt
	switch {
	case math.Abs(st.sp-st.rb) <= step:
		st.rb = st.sp
	case st.sp > st.rb:
		st.rb += step
	default:
		st.rb -= step
	}
}

// fromFloats converts computed values to the signal's kind, wrapping
// integers at their width as a device register would.
func fromFloats(fs []float64, kind drivers.Kind, bits int) (drivers.Value, error) {
	switch kind {
	case drivers.KindFloat:
		if bits == 32 {
			for i, f := range fs {
				fs[i] = float64(float32(f))
			}
		}
		return drivers.Floats(fs), nil
	case drivers.KindBool:
		out := make(drivers.Bools, len(fs))
		for i, f := range fs {
			out[i] = int64(math.Floor(f))&1 == 1
		}
		return out, nil
	}
	v, err := drivers.Convert(drivers.Floats(fs), drivers.KindInt)
	if err != nil {
		return nil, err
	}
	ints := v.(drivers.Ints)
	if kind == drivers.KindInt {
		for i, x := range ints {
			ints[i] = wrapInt(x, bits)
		}
		return ints, nil
	}
	out := make(drivers.Uints, len(ints))
	for i, x := range ints {
		out[i] = uint64(x)
		if bits < 64 {
			out[i] &= 1<<bits - 1
		}
	}
	return out, nil
}

// wrapInt wraps x to a two's-complement integer of bits bits.
func wrapInt(x int64, bits int) int64 {
	if bits >= 64 {
		return x
	}
	shift := 64 - bits
	return x << shift >> shift
}

// Write implements drivers.Device: only setpoints can be written.
func (d *Device) Write(ctx context.Context, pt drivers.Point, v drivers.Value) error {
	p, ok := pt.(*point)
	if !ok || d.points[p.String()] != p {
		return fmt.Errorf("sim: %s: %w: foreign point %v", d.name, drivers.ErrBadPoint, pt)
	}
	if err := d.enter(ctx, false); err != nil {
		return err
	}
	defer d.mu.Unlock()
	d.stats.AddRequests(1)
	err := d.writeLocked(p, v)
	if err != nil {
		d.stats.AddError(err)
	}
	return err
}

// writeLocked stores v into p's setpoint.
func (d *Device) writeLocked(p *point, v drivers.Value) error {
	if err := d.ptFaults[p.String()]; err != nil {
		return fmt.Errorf("sim: %s: write %s: %w", d.name, p, err)
	}
	if !p.typ.Access.CanWrite() {
		return fmt.Errorf("sim: %s: write %s: %w", d.name, p, drivers.ErrReadOnly)
	}
	if v == nil || v.Kind() != p.typ.Kind || v.Len() != p.typ.Len {
		return fmt.Errorf("sim: %s: write %s: %w: want %s", d.name, p, drivers.ErrBadValue, p.typ)
	}
	st := d.sp[p.sig]
	if s, ok := v.(drivers.Strings); ok {
		st.text = s[0]
		return nil
	}
	if err := checkRange(v, p.typ.Bits); err != nil {
		return fmt.Errorf("sim: %s: write %s: %w", d.name, p, err)
	}
	f, err := drivers.Convert(v, drivers.KindFloat)
	if err != nil {
		return err
	}
	advance(st, p.sig.SlewRate, d.now())
	st.sp = f.(drivers.Floats)[0]
	if p.sig.SlewRate == 0 {
		st.rb = st.sp
	}
	return nil
}

// checkRange checks that integers fit bits bits.
func checkRange(v drivers.Value, bits int) error {
	if bits >= 64 {
		return nil
	}
	switch v := v.(type) {
	case drivers.Ints:
		for _, x := range v {
			if wrapInt(x, bits) != x {
				return fmt.Errorf("%w: %d does not fit int%d", drivers.ErrBadValue, x, bits)
			}
		}
	case drivers.Uints:
		for _, x := range v {
			if x>>bits != 0 {
				return fmt.Errorf("%w: %d does not fit uint%d", drivers.ErrBadValue, x, bits)
			}
		}
	}
	return nil
}

// Subscribe implements drivers.Subscriber: every PushPeriod it emits a
// sample of each point, on the caller's goroutine. It pushes nothing
// while the device fails in FailTimeout mode, and returns on a
// disconnection.
func (d *Device) Subscribe(ctx context.Context, pts []drivers.Point, emit func(drivers.Sample)) error {
	if err := d.enter(ctx, false); err != nil {
		return err
	}
	d.mu.Unlock()
	tick := time.NewTicker(d.push)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: %s: %w", d.name, ctx.Err())
		case <-d.closing:
			return fmt.Errorf("sim: %s: %w", d.name, drivers.ErrClosed)
		case <-tick.C:
		}
		d.mu.Lock()
		now := d.now()
		var out []drivers.Sample
		switch {
		case d.faultLocked(now) == FailDisconnect:
			err := fmt.Errorf("sim: %s: simulated: %w", d.name, drivers.ErrDisconnected)
			d.failLocked(err)
			d.mu.Unlock()
			return err
		case !d.open:
			d.mu.Unlock()
			return fmt.Errorf("sim: %s: not open: %w", d.name, drivers.ErrDisconnected)
		case d.faultLocked(now) == "":
			out = make([]drivers.Sample, len(pts))
			for i, pt := range pts {
				out[i] = d.sampleLocked(pt, now)
			}
		}
		d.mu.Unlock()
		for _, s := range out {
			emit(s)
		}
	}
}

// Close implements drivers.Device.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.open = false
	d.stats.SetConnected(false)
	close(d.closing)
	return nil
}

// Stats implements drivers.StatsReporter.
func (d *Device) Stats() drivers.Stats { return d.stats.Stats() }
