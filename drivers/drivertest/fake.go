package drivertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// Interface guards.
var (
	_ drivers.Device        = (*Fake)(nil)
	_ drivers.Opener        = (*Fake)(nil)
	_ drivers.Subscriber    = (*Fake)(nil)
	_ drivers.StatsReporter = (*Fake)(nil)
)

// Fake is an in-memory device for tests of the layers above the drivers.
// Its points are named registers that hold a value of any type; a test
// sets them with Set or Push, reads what was written with Writes, and
// injects failures with SetError, SetPointError and Hang. All methods are
// safe for concurrent use.
//
// Addresses are any non-empty names. PointSpec.Type is one of bool,
// int16, int32, int64, uint16, uint32, uint64, float32, float64 (the
// default) and string; Len is the element count (the maximum length for
// a string); Options may hold "access" = "r", "w" or "rw" (the default).
type Fake struct {
	now func() time.Time

	mu        sync.Mutex
	values    map[string]drivers.Value // by address
	devErr    error                    // whole-device failure, or nil
	pointErr  map[string]error         // per-address failures
	hang      chan struct{}            // non-nil while hanging; closed by Hang(false)
	subs      map[*fakeSub]struct{}
	writes    []Write
	reads     int
	opens     int
	closed    bool
	connected bool
	stats     drivers.Counters
	writeHook func(address string, v drivers.Value) drivers.Value
}

// Write is one write a Fake received.
type Write struct {
	Address string
	Value   drivers.Value
}

// fakeSub is one running Subscribe call.
type fakeSub struct {
	addrs map[string]*fakePoint
	queue []drivers.Sample
	wake  chan struct{} // capacity 1
}

// NewFake returns an empty Fake whose samples are stamped by now (nil
// means time.Now).
func NewFake(now func() time.Time) *Fake {
	if now == nil {
		now = time.Now
	}
	return &Fake{now: now, values: map[string]drivers.Value{}, pointErr: map[string]error{}, subs: map[*fakeSub]struct{}{}}
}

// Factory returns a drivers.Factory that hands out f, for registry and
// daemon tests. The config section must be empty.
func (f *Fake) Factory() drivers.Factory {
	return func(p drivers.Params) (drivers.Device, error) {
		if p.Decode != nil {
			var empty struct{}
			if err := p.Decode(&empty); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
}

// fakePoint is a Fake's Point.
type fakePoint struct {
	addr string
	typ  string
	t    drivers.Type
}

func (p *fakePoint) String() string {
	return fmt.Sprintf("%s/%s[%d]/%s", p.addr, p.typ, p.t.Len, p.t.Access)
}
func (p *fakePoint) Type() drivers.Type { return p.t }

// fakeType maps type names to kinds and widths.
func fakeType(name string) (drivers.Kind, int, bool) {
	switch name {
	case "bool":
		return drivers.KindBool, 1, true
	case "int16":
		return drivers.KindInt, 16, true
	case "int32":
		return drivers.KindInt, 32, true
	case "int64":
		return drivers.KindInt, 64, true
	case "uint16":
		return drivers.KindUint, 16, true
	case "uint32":
		return drivers.KindUint, 32, true
	case "uint64":
		return drivers.KindUint, 64, true
	case "float32":
		return drivers.KindFloat, 32, true
	case "float64":
		return drivers.KindFloat, 64, true
	case "string":
		return drivers.KindString, 0, true
	}
	return drivers.KindInvalid, 0, false
}

// ParsePoint implements drivers.Device.
func (f *Fake) ParsePoint(spec drivers.PointSpec) (drivers.Point, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("drivertest: point %q: %w: %s", spec.Address, drivers.ErrBadPoint, fmt.Sprintf(format, args...))
	}
	if spec.Address == "" || strings.ContainsAny(spec.Address, " /") {
		return nil, bad("address must be a non-empty name without spaces or slashes")
	}
	typ := spec.Type
	if typ == "" {
		typ = "float64"
	}
	kind, bits, ok := fakeType(typ)
	if !ok {
		return nil, bad("unknown type %q", spec.Type)
	}
	if spec.Order != "" || spec.Bit != nil {
		return nil, bad("order and bit are not supported")
	}
	if spec.Len < 0 {
		return nil, bad("negative len %d", spec.Len)
	}
	t := drivers.Type{Kind: kind, Bits: bits, Len: max(spec.Len, 1), Access: drivers.AccessReadWrite}
	if kind == drivers.KindString {
		t.Len, t.MaxLen = 1, spec.Len
	}
	for k, v := range spec.Options {
		switch {
		case k == "access" && v == "r":
			t.Access = drivers.AccessRead
		case k == "access" && v == "w":
			t.Access = drivers.AccessWrite
		case k == "access" && v == "rw":
		default:
			return nil, bad("unknown option %s=%s", k, v)
		}
	}
	return &fakePoint{addr: spec.Address, typ: typ, t: t}, nil
}

// point checks that pt is a Fake point.
func (f *Fake) point(pt drivers.Point) (*fakePoint, error) {
	p, ok := pt.(*fakePoint)
	if !ok {
		return nil, fmt.Errorf("drivertest: %w: foreign point %v", drivers.ErrBadPoint, pt)
	}
	return p, nil
}

// Set stores v at address without notifying subscribers.
func (f *Fake) Set(address string, v drivers.Value) {
	f.mu.Lock()
	f.values[address] = v
	f.mu.Unlock()
}

// Get returns the value stored at address, or nil.
func (f *Fake) Get(address string) drivers.Value {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.values[address]
}

// Push stores v at address and delivers it to every running Subscribe
// that subscribed to a point at that address.
func (f *Fake) Push(address string, v drivers.Value) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[address] = v
	for s := range f.subs {
		if p, ok := s.addrs[address]; ok {
			s.queue = append(s.queue, f.sampleLocked(p))
			notify(s.wake)
		}
	}
}

// notify wakes the receiver of a capacity-1 channel.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// SetError makes every Read, Write and Open fail with err (wrap
// drivers.ErrDisconnected or drivers.ErrTimeout for the usual cases) and
// every Subscribe return it; nil clears it.
func (f *Fake) SetError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devErr = err
	if err != nil {
		f.connected = false
		f.stats.SetConnected(false)
	}
	for s := range f.subs {
		notify(s.wake)
	}
}

// SetPointError makes reads and writes of the points at address fail
// with err; nil clears it.
func (f *Fake) SetPointError(address string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.pointErr, address)
	} else {
		f.pointErr[address] = err
	}
}

// Hang makes Read, Write and Open block until their context is done (on
// = true), or lets them through again (on = false).
func (f *Fake) Hang(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case on && f.hang == nil:
		f.hang = make(chan struct{})
	case !on && f.hang != nil:
		close(f.hang)
		f.hang = nil
	}
}

// Writes returns the writes received so far, in order.
func (f *Fake) Writes() []Write {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

// Reads returns the number of Read calls that reached the device.
func (f *Fake) Reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// Opens returns the number of successful Open calls.
func (f *Fake) Opens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens
}

// enter is the common start of Read, Write and Open: it checks ctx, the
// closed state and the hang, and returns the device error.
func (f *Fake) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("drivertest: %w", err)
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return drivers.ErrClosed
	}
	hang := f.hang
	f.mu.Unlock()
	if hang != nil {
		select {
		case <-ctx.Done():
			err := fmt.Errorf("drivertest: %w (%w)", drivers.ErrTimeout, ctx.Err())
			f.stats.AddError(err)
			return err
		case <-hang:
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return drivers.ErrClosed
	}
	if f.devErr != nil {
		f.stats.AddError(f.devErr)
		return f.devErr
	}
	return nil
}

// Open implements drivers.Opener.
func (f *Fake) Open(ctx context.Context) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	f.opens++
	f.connected = true
	f.mu.Unlock()
	f.stats.SetConnected(true)
	return nil
}

// sampleLocked reads p; f.mu is held.
func (f *Fake) sampleLocked(p *fakePoint) drivers.Sample {
	s := drivers.Sample{Point: p, Time: f.now()}
	if err := f.pointErr[p.addr]; err != nil {
		s.Err = err
		return s
	}
	if !p.t.Access.CanRead() {
		s.Err = fmt.Errorf("drivertest: %s: %w: write-only", p, drivers.ErrBadPoint)
		return s
	}
	v := f.values[p.addr]
	if v == nil {
		v = drivers.MakeValue(p.t.Kind, p.t.Len)
	}
	v, err := drivers.Convert(v, p.t.Kind)
	switch {
	case err != nil:
		s.Err = err
	case v.Len() != p.t.Len:
		s.Err = fmt.Errorf("drivertest: %s: %w: holds %d elements", p, drivers.ErrBadPoint, v.Len())
	default:
		s.Value = v
	}
	return s
}

// Read implements drivers.Device.
func (f *Fake) Read(ctx context.Context, pts []drivers.Point) ([]drivers.Sample, error) {
	start := time.Now()
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	f.stats.AddRequests(1)
	f.mu.Lock()
	f.reads++
	out := make([]drivers.Sample, len(pts))
	for i, pt := range pts {
		p, err := f.point(pt)
		if err != nil {
			out[i] = drivers.Sample{Point: pt, Time: f.now(), Err: err}
			continue
		}
		out[i] = f.sampleLocked(p)
	}
	f.mu.Unlock()
	f.stats.ObserveRead(time.Since(start))
	return out, nil
}

// Write implements drivers.Device.
func (f *Fake) Write(ctx context.Context, pt drivers.Point, v drivers.Value) error {
	p, err := f.point(pt)
	if err != nil {
		return err
	}
	if err := f.enter(ctx); err != nil {
		return err
	}
	f.stats.AddRequests(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.pointErr[p.addr] != nil:
		err = f.pointErr[p.addr]
	case !p.t.Access.CanWrite():
		err = fmt.Errorf("drivertest: %s: %w", p, drivers.ErrReadOnly)
	case v == nil || v.Kind() != p.t.Kind || v.Len() != p.t.Len:
		err = fmt.Errorf("drivertest: %s: %w: want %s", p, drivers.ErrBadValue, p.t)
	}
	if err != nil {
		f.stats.AddError(err)
		return err
	}
	f.writes = append(f.writes, Write{Address: p.addr, Value: v})
	if f.writeHook != nil {
		v = f.writeHook(p.addr, v)
	}
	f.values[p.addr] = v
	return nil
}

// SetWriteHook makes f store what h returns for each written value
// instead of the value itself, like a device that clamps or rounds a
// setpoint; nil stores values as written. Writes still records what was
// written. h runs with f's lock held and must not call f.
func (f *Fake) SetWriteHook(h func(address string, v drivers.Value) drivers.Value) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeHook = h
}

// Subscribe implements drivers.Subscriber: it delivers the values that
// Push stores.
func (f *Fake) Subscribe(ctx context.Context, pts []drivers.Point, emit func(drivers.Sample)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("drivertest: %w", err)
	}
	s := &fakeSub{addrs: map[string]*fakePoint{}, wake: make(chan struct{}, 1)}
	for _, pt := range pts {
		p, err := f.point(pt)
		if err != nil {
			return err
		}
		s.addrs[p.addr] = p
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return drivers.ErrClosed
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("drivertest: %w", ctx.Err())
		case <-s.wake:
		}
		f.mu.Lock()
		q, devErr := s.queue, f.devErr
		s.queue = nil
		f.mu.Unlock()
		if devErr != nil {
			return devErr
		}
		for _, smp := range q {
			emit(smp)
		}
	}
}

// Close implements drivers.Device. Subscribe calls still running return
// when their contexts end.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.connected = false
	f.stats.SetConnected(false)
	return nil
}

// Stats implements drivers.StatsReporter.
func (f *Fake) Stats() drivers.Stats { return f.stats.Stats() }

// Addresses returns the addresses that hold a value, sorted.
func (f *Fake) Addresses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.values))
}
