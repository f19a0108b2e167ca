package mapping

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/record"
	"github.com/cabridge/cabridge/drivers"
)

// Options configure a Bridge.
type Options struct {
	// Logger receives the bridge's logs; nil discards them.
	Logger *slog.Logger
	// Previous, if not nil, is the Bridge this one replaces (a reloaded
	// configuration). Its PVs whose config is unchanged, and whose point
	// has the same type, are kept rather than declared again, so their
	// clients stay connected; so are the health PVs of devices whose
	// health prefix is unchanged. New only reads Previous, which may go
	// on running; the kept PVs move to the new bridge when its Run
	// starts, so Previous must have stopped by then, and must not run
	// again. See Bridge.Kept.
	Previous *Bridge
}

// Bridge serves the PVs of a Config: it declares them in an ioc.Group and,
// while Run runs, polls, subscribes to and writes the devices, one
// goroutine per device serializing its Reads and Writes.
type Bridge struct {
	devs     []*device
	log      *slog.Logger
	bindings map[string]*binding   // by PV name
	health   map[string]*health    // by prefix
	names    []string              // every PV name the bridge serves, health PVs included
	kept     map[string]bool       // names taken over from Options.Previous
	rebinds  []rebind              // kept bindings to move over when Run starts
	exports  func(context.Context) // feeds drivers.Exporter devices while Run runs; nil for none (mqtt_export.go)
	group    *ioc.Group            // where New declared the PVs
	prev     *Bridge               // Options.Previous, until Run
	served   map[string]ca.PV      // every PV served, kept ones included; set when Run starts
}

// rebind moves a kept binding to its new device and point.
type rebind struct {
	b  *binding
	d  *device
	pt drivers.Point
}

// binding is one PV bound to one point.
type binding struct {
	name     string
	dir      string
	pc       PVConfig     // the config it was built from
	typ      string       // its PV type
	ptType   drivers.Type // its point's type
	pt       drivers.Point
	dev      atomic.Pointer[device] // the device runtime CA puts go to
	scale    float64
	offset   float64
	linear   bool
	readBack bool                                                    // read the point after each write
	post     func(v drivers.Value, ts time.Time, a *dbr.Alarm) error // converts and stores a value with alarm a (nil: none)
	meta     func(m *drivers.Meta)                                   // applies device metadata the config leaves open
	alarmed  func(a dbr.Alarm)                                       // sets the alarm, keeping value and timestamp
}

// scanGroup is the points of one device scanned with one period.
type scanGroup struct {
	period  time.Duration
	pts     []drivers.Point
	bs      []*binding
	pending atomic.Bool // a tick is queued or being scanned
}

// writeReq is a CA put on its way to the device.
type writeReq struct {
	ctx  context.Context //nolint:containedctx // the put's context, carried to the device goroutine
	b    *binding
	v    drivers.Value
	done chan writeResult // capacity 1
}

// writeResult is the outcome of a writeReq: the error, and what the
// device holds after the write when the binding reads back.
type writeResult struct {
	err  error
	back drivers.Value
}

// device is the runtime state of one device.
type device struct {
	name    string
	dev     drivers.Device
	timeout time.Duration
	backoff time.Duration
	maxBack time.Duration
	log     *slog.Logger

	scans   []*scanGroup
	intr    []*binding
	outputs []*binding // output-only bindings, initialised from the device
	all     []*binding

	writes  chan *writeReq
	ticks   chan *scanGroup
	subErr  chan error
	stopped chan struct{} // closed when run returns
	handed  chan struct{} // closed when a reloaded bridge took over this device's PVs

	overruns atomic.Uint64
	own      drivers.Counters // stats of devices that are not StatsReporters
	health   *health
	status   atomic.Pointer[DeviceStatus] // published by the run goroutine

	// owned by the run goroutine
	failed   bool
	failures int
	needOpen bool
	subStop  context.CancelFunc
	subDone  chan struct{}
	pollLast time.Duration
	pollMax  time.Duration
	polls    uint64        // scans done
	pollSum  time.Duration // their total duration
	everUp   bool          // connected at least once
	delay    time.Duration // next reconnect back-off
	retry    *time.Timer   // reopens or resubscribes when it fires
	armed    bool          // retry is running
}

// New declares the PVs of cfg (and each device's health PVs) in g and
// returns the Bridge that serves them once Run is called. devs holds the
// constructed devices by name; New validates cfg against them first and
// returns every problem of the config at once.
func New(cfg *Config, devs map[string]drivers.Device, g *ioc.Group, opts Options) (*Bridge, error) {
	if err := cfg.Validate(devs); err != nil {
		return nil, err
	}
	log := drivers.DiscardLogger(opts.Logger)
	br := &Bridge{log: log, bindings: map[string]*binding{}, health: map[string]*health{}, kept: map[string]bool{}}
	prev := opts.Previous
	if prev == nil {
		prev = &Bridge{}
	}
	byName := map[string]*device{}
	for _, dc := range cfg.Devices {
		dev := devs[dc.Name]
		if dev == nil {
			return nil, fmt.Errorf("mapping: device %q: not constructed", dc.Name)
		}
		d := &device{
			name: dc.Name, dev: dev, log: log.With("device", dc.Name),
			timeout: orDefault(dc.Timeout, DefaultTimeout), backoff: orDefault(dc.Backoff, DefaultBackoff),
			maxBack: orDefault(dc.MaxBackoff, DefaultMaxBackoff),
			writes:  make(chan *writeReq), ticks: make(chan *scanGroup), subErr: make(chan error, 1),
			stopped: make(chan struct{}), handed: make(chan struct{}),
		}
		prefix, _ := cfg.healthPrefix(dc) // validated
		if h := prev.health[prefix]; h != nil {
			d.health = h
			for _, n := range h.names {
				br.kept[n] = true
			}
		} else {
			d.health = newHealth(g, prefix)
		}
		br.health[prefix] = d.health
		br.names = append(br.names, d.health.names...)
		byName[dc.Name] = d
		br.devs = append(br.devs, d)
	}
	var es errs
	for i, pc := range cfg.PVs {
		name, _ := cfg.pvName(pc) // validated
		d := byName[pc.Binding.Device]
		pt, _ := d.dev.ParsePoint(pc.Binding.PointSpec())
		dir := pc.direction()
		typ := pvType(pc, pt.Type())
		b := prev.bindings[name]
		if b != nil && reflect.DeepEqual(b.pc, pc) && b.typ == typ && b.ptType == pt.Type() {
			br.rebinds = append(br.rebinds, rebind{b, d, pt})
			br.kept[name] = true
		} else {
			b = &binding{name: name, dir: dir, pc: pc, typ: typ, ptType: pt.Type(), pt: pt, scale: pc.Binding.scale(),
				offset: pc.Binding.Offset, linear: pc.Binding.linear(), readBack: pc.ReadAfterWrite && pt.Type().Access.CanRead()}
			b.dev.Store(d)
			rec := declarePV(g, b, pc, typ)
			if err := setFields(rec, pc.severities()); err != nil {
				es.add(fmt.Sprintf("pvs[%d]", i), name, strings.ToLower(err.field), "", "%v", err.err)
			}
		}
		br.bindings[name] = b
		br.names = append(br.names, name)
		d.all = append(d.all, b)
		if dir == DirOutput {
			if pt.Type().Access.CanRead() {
				d.outputs = append(d.outputs, b)
			}
			continue
		}
		if dir == DirOutputReadback {
			d.outputs = append(d.outputs, b)
		}
		period, _ := scanPeriod(pc.Scan)
		if period == 0 {
			d.intr = append(d.intr, b)
			continue
		}
		i := slices.IndexFunc(d.scans, func(s *scanGroup) bool { return s.period == period })
		if i < 0 {
			d.scans = append(d.scans, &scanGroup{period: period})
			i = len(d.scans) - 1
		}
		d.scans[i].pts = append(d.scans[i].pts, pt)
		d.scans[i].bs = append(d.scans[i].bs, b)
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	if len(es) > 0 {
		return nil, errors.Join(es...)
	}
	br.group, br.prev = g, opts.Previous
	br.exports = newExports(cfg, devs, func(name string) ca.PV { return br.served[name] }, log)
	return br, nil
}

// Names returns the names of every PV the bridge serves, its devices'
// health PVs included, in declaration order.
func (br *Bridge) Names() []string { return slices.Clone(br.names) }

// Kept reports whether the PV called name was taken over from
// Options.Previous: it is still served by the same object, and its
// clients need not notice the change. Every other name of Previous is
// gone or was declared anew.
func (br *Bridge) Kept(name string) bool { return br.kept[name] }

// fieldError is a record field that could not be set.
type fieldError struct {
	field string
	err   error
}

// setFields puts the record fields of fs (by field name) into rec, which
// may be nil (a plain PV: then fs must be empty).
func setFields(rec *record.Record, fs map[string]string) *fieldError {
	for _, name := range slices.Sorted(maps.Keys(fs)) {
		if rec == nil {
			return &fieldError{name, errors.New("needs a record (record: none has no fields)")}
		}
		pv, err := rec.Field(name, false)
		if err != nil {
			return &fieldError{name, err}
		}
		if err := pv.Put(context.Background(), dbr.Strings{fs[name]}); err != nil {
			return &fieldError{name, fmt.Errorf("%q: %w", fs[name], err)}
		}
	}
	return nil
}

// orDefault returns d, or def when d is 0.
func orDefault(d drivers.Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return time.Duration(d)
}

// declarePV declares the PV of b in g as typ, sets b's hooks and
// returns the PV's record (nil for a plain PV).
func declarePV(g *ioc.Group, b *binding, pc PVConfig, typ string) *record.Record {
	switch typ {
	case "float":
		return declare(g, b, pc, ioc.Float, fromFloat[float32], toFloat[float32])
	case "long":
		return declare(g, b, pc, ioc.Long, fromInt[int32](math.MinInt32, math.MaxInt32), toFloat[int32])
	case "short":
		return declare(g, b, pc, ioc.Short, fromInt[int16](math.MinInt16, math.MaxInt16), toFloat[int16])
	case "enum":
		return declare(g, b, pc, ioc.Enum, fromInt[uint16](0, math.MaxUint16), toFloat[uint16])
	case "string":
		return declare(g, b, pc, ioc.String, fromString, toString)
	}
	return declare(g, b, pc, ioc.Double, fromFloat[float64], toFloat[float64])
}

// fromFloat converts a PV-side float to E.
func fromFloat[E float32 | float64](f float64, _ string) (E, error) { return E(f), nil }

// fromInt returns a converter of PV-side floats to the integer type E.
func fromInt[E int16 | int32 | uint16](lo, hi float64) func(float64, string) (E, error) {
	return func(f float64, _ string) (E, error) {
		r := math.Round(f)
		if math.IsNaN(r) || r < lo || r > hi {
			return 0, fmt.Errorf("mapping: %w: %g out of range %g..%g", drivers.ErrBadValue, f, lo, hi)
		}
		return E(r), nil
	}
}

// toFloat converts E to a float.
func toFloat[E float32 | float64 | int16 | int32 | uint16](v E) (float64, string) {
	return float64(v), ""
}

// fromString and toString convert strings.
func fromString(_ float64, s string) (string, error) { return s, nil }
func toString(v string) (float64, string)            { return 0, v }

// declare declares one PV of element type E with the constructor mk and
// returns its record (nil for a plain PV).
func declare[E any](g *ioc.Group, b *binding, pc PVConfig,
	mk func(*ioc.Group, string, ioc.Spec[E]) *ioc.PV[E],
	from func(float64, string) (E, error), to func(E) (float64, string)) *record.Record {
	t := b.ptType
	isString := t.Kind == drivers.KindString
	rtyp := pc.Record
	switch rtyp {
	case "":
		rtyp = ioc.AutoRecord
	case RecordNone:
		rtyp = ""
	}
	sp := ioc.Spec[E]{
		ReadOnly: b.dir == DirInput, Doc: pc.Desc, Units: pc.EGU, Precision: pc.Prec, Limits: pc.limits(),
		EnumStrings: pc.EnumStrings, ValueDeadband: pc.MDEL, ArchiveDeadband: pc.ADEL, Record: rtyp,
	}
	if t.Len > 1 {
		sp.MaxLength = t.Len
		sp.Values = make([]E, t.Len)
	}
	// toE converts device values to PV elements; fromE the other way.
	toE := func(raw drivers.Value) ([]E, error) {
		fs, ss, err := b.fromRaw(raw, isString)
		if err != nil {
			return nil, err
		}
		out := make([]E, max(len(fs), len(ss)))
		for i := range out {
			var f float64
			var s string
			if isString {
				s = ss[i]
			} else {
				f = fs[i]
			}
			if out[i], err = from(f, s); err != nil {
				return nil, fmt.Errorf("mapping: %s: element %d: %w", b.name, i, err)
			}
		}
		return out, nil
	}
	put := func(ctx context.Context, vs []E) ([]E, error) {
		fs := make([]float64, len(vs))
		ss := make([]string, len(vs))
		for i, v := range vs {
			fs[i], ss[i] = to(v)
		}
		raw, err := b.toRaw(fs, ss, isString)
		var back drivers.Value
		if err == nil {
			back, err = b.dev.Load().write(ctx, b, raw)
		}
		if err != nil {
			b.alarmed(drivers.AlarmFor(drivers.OpWrite, err))
			return vs, err
		}
		if back != nil {
			if got, err := toE(back); err == nil && len(got) == len(vs) {
				vs = got
			}
		}
		b.alarmed(dbr.Alarm{})
		return vs, nil
	}
	if b.dir != DirInput {
		if t.Len > 1 {
			sp.PutArray = func(ctx context.Context, _ *ioc.PV[E], vs []E) ([]E, error) { return put(ctx, vs) }
		} else {
			sp.Put = func(ctx context.Context, _ *ioc.PV[E], v E) (E, error) {
				vs, err := put(ctx, []E{v})
				return vs[0], err
			}
		}
	}
	pv := mk(g, b.name, sp)
	// Until the device gave a value the PV is undefined, as a record
	// that never processed.
	_ = pv.Post(ca.Post[E]{Alarm: &dbr.Alarm{Status: dbr.StatusUDF, Severity: dbr.SeverityInvalid}})
	var stamp atomic.Pointer[dbr.Timestamp]
	b.post = func(raw drivers.Value, ts time.Time, a *dbr.Alarm) error {
		vs, err := toE(raw)
		if err != nil {
			return err
		}
		if t.Len > 1 && len(vs) > t.Len {
			vs = vs[:t.Len]
		}
		st := dbr.NewTimestamp(ts)
		stamp.Store(&st)
		if a == nil {
			a = &dbr.Alarm{}
		}
		return pv.Post(ca.Post[E]{Values: vs, Alarm: a, Stamp: st})
	}
	rec := pv.Record()
	b.meta = func(m *drivers.Meta) {
		props := pv.Snapshot().Meta.Properties
		if m.Units != "" && pc.EGU == "" && (props == nil || props.Units != m.Units) {
			pv.SetUnits(m.Units)
		}
		if (m.DisplayLow != nil || m.DisplayHigh != nil) && pc.HOPR == nil && pc.LOPR == nil && props != nil {
			l := props.Limits
			if m.DisplayLow != nil {
				l.DisplayLow = *m.DisplayLow
			}
			if m.DisplayHigh != nil {
				l.DisplayHigh = *m.DisplayHigh
			}
			if l != props.Limits {
				pv.SetLimits(l)
			}
		}
		if m.Desc != "" && pc.Desc == "" && rec != nil {
			if f, err := rec.Field("DESC", false); err == nil && fmt.Sprint(f.Snapshot().Value) != fmt.Sprint(dbr.Strings{m.Desc}) {
				_ = f.Put(context.Background(), dbr.Strings{m.Desc})
			}
		}
	}
	b.alarmed = func(a dbr.Alarm) {
		var st dbr.Timestamp
		if p := stamp.Load(); p != nil {
			st = *p
		} else {
			st = pv.Snapshot().Meta.Stamp
		}
		_ = pv.Post(ca.Post[E]{Alarm: &a, Stamp: st})
	}
	return rec
}

// fromRaw converts a device value to PV-side floats or strings, applying
// the linear conversion.
func (b *binding) fromRaw(raw drivers.Value, isString bool) ([]float64, []string, error) {
	if isString {
		v, err := drivers.Convert(raw, drivers.KindString)
		if err != nil || v.Len() < 1 {
			return nil, nil, fmt.Errorf("mapping: %s: bad string value: %w", b.name, err)
		}
		return nil, v.(drivers.Strings), nil
	}
	v, err := drivers.Convert(raw, drivers.KindFloat)
	if err != nil || v.Len() < 1 {
		return nil, nil, fmt.Errorf("mapping: %s: bad value %v: %w", b.name, raw, err)
	}
	fs := v.(drivers.Floats)
	if b.linear {
		out := make([]float64, len(fs))
		for i, f := range fs {
			out[i] = f*b.scale + b.offset
		}
		fs = out
	}
	return fs, nil, nil
}

// toRaw converts PV-side values to a device value of the point's kind,
// inverting the linear conversion.
func (b *binding) toRaw(fs []float64, ss []string, isString bool) (drivers.Value, error) {
	if isString {
		return drivers.Strings(ss), nil
	}
	if b.linear {
		out := make([]float64, len(fs))
		for i, f := range fs {
			out[i] = (f - b.offset) / b.scale
		}
		fs = out
	}
	v, err := drivers.Convert(drivers.Floats(fs), b.ptType.Kind)
	if err != nil {
		return nil, fmt.Errorf("mapping: %s: %w", b.name, err)
	}
	return v, nil
}

// write hands v to the device goroutine of b and waits for the device
// to confirm it. A put that meets a stopped bridge waits until a
// reloaded one takes the PV over, or until its context ends.
func (d *device) write(ctx context.Context, b *binding, v drivers.Value) (back drivers.Value, err error) {
	req := &writeReq{ctx: ctx, b: b, v: v, done: make(chan writeResult, 1)}
	for {
		select {
		case d.writes <- req:
			r := <-req.done
			return r.back, r.err
		case <-d.stopped:
			select {
			case <-d.handed:
				d = b.dev.Load()
				continue
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
		return nil, fmt.Errorf("mapping: %s: device %q: %w (%w)", b.name, d.name, ctx.Err(), drivers.ErrNotSent)
	}
}

// Run serves the devices until ctx is done: it starts one goroutine per
// device and per scan period, and returns once all of them have stopped.
// Puts made while Run is not running wait for it (or for their context).
func (br *Bridge) Run(ctx context.Context) error {
	handed := map[*device]bool{}
	for _, r := range br.rebinds {
		handed[r.b.dev.Load()] = true
		r.b.pt = r.pt
		r.b.dev.Store(r.d)
	}
	for old := range handed {
		close(old.handed) // puts waiting on the old device retry here
	}
	br.rebinds = nil
	br.served, _ = br.group.PVs() // the group was checked in New
	if br.prev != nil {
		for name, pv := range br.prev.served {
			if br.kept[name] {
				br.served[name] = pv
			}
		}
		br.prev = nil // a chain of reloads keeps no old bridge alive
	}
	var wg sync.WaitGroup
	for _, d := range br.devs {
		wg.Go(func() {
			defer close(d.stopped)
			d.run(ctx)
		})
		for _, sg := range d.scans {
			wg.Go(func() { d.tick(ctx, sg) })
		}
	}
	if br.exports != nil {
		wg.Go(func() { br.exports(ctx) })
	}
	wg.Wait()
	return nil
}

// tick sends sg to the device goroutine every period; a tick that comes
// while the previous one is still queued or scanning is skipped and
// counted as an overrun.
func (d *device) tick(ctx context.Context, sg *scanGroup) {
	t := time.NewTicker(sg.period)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// A Ticker drops the ticks its receiver was too slow for:
			// count those periods as overruns too.
			if missed := int64(now.Sub(last)/sg.period) - 1; missed > 0 {
				d.overruns.Add(uint64(missed))
			}
			last = now
			if !sg.pending.CompareAndSwap(false, true) {
				d.overruns.Add(1)
				continue
			}
			select {
			case d.ticks <- sg:
			case <-ctx.Done():
				return
			}
		}
	}
}

// run is the device goroutine: it serializes Open, Read and Write.
func (d *device) run(ctx context.Context) {
	_, isOpener := d.dev.(drivers.Opener)
	d.needOpen = isOpener
	d.delay = d.backoff
	d.retry = time.NewTimer(time.Hour)
	d.retry.Stop()
	defer d.retry.Stop()
	defer d.stopSub()
	// The first connection attempt comes before anything else, so that a
	// put made right after start finds the device open.
	if isOpener {
		if err := d.open(ctx); err != nil {
			d.fail(err)
			d.retryLater()
		} else {
			d.connected(ctx)
		}
	} else {
		d.connected(ctx)
	}
	for {
		d.updateHealth()
		// Writes go ahead of scans that are already due.
		select {
		case w := <-d.writes:
			w.done <- d.doWrite(ctx, w)
			continue
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-d.retry.C:
			d.armed = false
			if d.needOpen {
				if err := d.open(ctx); err != nil {
					d.fail(err)
					d.retryLater()
					continue
				}
				d.connected(ctx)
			} else if d.subDone == nil && len(d.intr) > 0 {
				d.startSub(ctx)
			}
		case err := <-d.subErr:
			d.stopSub()
			if ctx.Err() != nil {
				return
			}
			d.fail(err)
			d.retryLater()
		case sg := <-d.ticks:
			if !d.needOpen {
				d.scan(ctx, sg)
			}
			sg.pending.Store(false)
		case w := <-d.writes:
			w.done <- d.doWrite(ctx, w)
		}
	}
}

// retryLater arms the retry timer with the back-off, unless it is
// running, and doubles the back-off up to the cap.
func (d *device) retryLater() {
	if d.armed {
		return
	}
	d.armed = true
	d.retry.Reset(d.delay)
	d.delay = min(2*d.delay, d.maxBack)
}

// open opens the device within the timeout.
func (d *device) open(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	err := d.dev.(drivers.Opener).Open(octx)
	if err != nil {
		d.own.AddError(err)
	}
	return err
}

// connected runs after a successful Open (or at start): it initialises
// the outputs from the device and (re)starts the subscription.
func (d *device) connected(ctx context.Context) {
	d.needOpen = false
	d.everUp = true
	d.own.SetConnected(true)
	if len(d.outputs) > 0 {
		pts := make([]drivers.Point, len(d.outputs))
		for i, b := range d.outputs {
			pts[i] = b.pt
		}
		d.scan(ctx, &scanGroup{pts: pts, bs: d.outputs})
	} else {
		d.recovered()
	}
	// Scanned PVs get their values now rather than one period later, as
	// an IOC processes its records at init.
	for _, sg := range d.scans {
		if d.needOpen {
			break
		}
		d.scan(ctx, sg)
	}
	if len(d.intr) > 0 && d.subDone == nil {
		d.startSub(ctx)
	}
}

// scan reads the points of sg in one Read and posts the samples.
func (d *device) scan(ctx context.Context, sg *scanGroup) {
	rctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := time.Now()
	d.own.AddRequests(1)
	samples, err := d.dev.Read(rctx, sg.pts)
	d.pollLast = time.Since(start)
	d.pollMax = max(d.pollMax, d.pollLast)
	d.polls++
	d.pollSum += d.pollLast
	if err == nil && len(samples) != len(sg.pts) {
		err = fmt.Errorf("mapping: device %q: %d samples for %d points", d.name, len(samples), len(sg.pts))
	}
	if err != nil {
		d.own.AddError(err)
		d.fail(err)
		return
	}
	d.recovered()
	for i, s := range samples {
		d.apply(sg.bs[i], s)
	}
}

// apply posts one sample to b.
func (d *device) apply(b *binding, s drivers.Sample) {
	err := s.Err
	if err == nil {
		if s.Meta != nil {
			b.meta(s.Meta)
		}
		err = b.post(s.Value, s.Time, s.Alarm)
	}
	if err != nil {
		b.alarmed(drivers.AlarmFor(drivers.OpRead, err))
	}
}

// doWrite performs a write request, retrying only writes that certainly
// did not reach the device, and reads the point back when the binding
// asks for it.
func (d *device) doWrite(ctx context.Context, w *writeReq) writeResult {
	if d.needOpen {
		return writeResult{err: fmt.Errorf("mapping: write %s: device %q: %w (%w)", w.b.name, d.name, drivers.ErrDisconnected, drivers.ErrNotSent)}
	}
	var err error
	for range 2 {
		wctx, cancel := context.WithTimeout(w.ctx, d.timeout)
		stop := context.AfterFunc(ctx, cancel)
		d.own.AddRequests(1)
		err = d.dev.Write(wctx, w.b.pt, w.v)
		stop()
		cancel()
		if err == nil || !drivers.Retryable(err) {
			break
		}
	}
	if err != nil {
		d.own.AddError(err)
		if isConnErr(err) {
			d.fail(err)
		}
		return writeResult{err: fmt.Errorf("mapping: write %s: %w", w.b.name, err)}
	}
	if !w.b.readBack {
		return writeResult{}
	}
	rctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	d.own.AddRequests(1)
	ss, rerr := d.dev.Read(rctx, []drivers.Point{w.b.pt})
	if rerr == nil && len(ss) == 1 && ss[0].Err == nil {
		return writeResult{back: ss[0].Value}
	}
	// The write was confirmed; a failed read-back only costs the PV its
	// device value until the next scan.
	d.own.AddError(cmp.Or(rerr, sampleErr(ss)))
	d.log.Warn("mapping: read-back after write failed", "pv", w.b.name, "err", cmp.Or(rerr, sampleErr(ss)))
	return writeResult{}
}

// sampleErr returns the error of the first sample, or one saying that
// there is none.
func sampleErr(ss []drivers.Sample) error {
	if len(ss) == 0 {
		return errors.New("mapping: no sample")
	}
	return ss[0].Err
}

// isConnErr reports whether err concerns the device rather than a point.
func isConnErr(err error) bool {
	return errors.Is(err, drivers.ErrDisconnected) || errors.Is(err, drivers.ErrClosed) || errors.Is(err, drivers.ErrTimeout)
}

// fail puts every PV of the device into the alarm of err, logs once on
// entering the failure state, and schedules a reopen for lost
// connections.
func (d *device) fail(err error) {
	d.failures++
	if !d.failed {
		d.failed = true
		d.log.Warn("mapping: device failed", "err", err)
	}
	a := drivers.AlarmFor(drivers.OpRead, err)
	for _, b := range d.all {
		b.alarmed(a)
	}
	if _, ok := d.dev.(drivers.Opener); ok && (errors.Is(err, drivers.ErrDisconnected) || errors.Is(err, drivers.ErrClosed)) {
		d.needOpen = true
		d.own.SetConnected(false)
		d.retryLater()
	}
}

// recovered leaves the failure state, logging once with the count of
// failures.
func (d *device) recovered() {
	if d.failed {
		d.log.Info("mapping: device recovered", "failures", d.failures)
		d.failed = false
		d.failures = 0
		d.delay = d.backoff
		// Output-only PVs are not rescanned: clear their alarm now.
		for _, b := range d.all {
			if b.dir == DirOutput && !b.ptType.Access.CanRead() {
				b.alarmed(dbr.Alarm{})
			}
		}
	}
}

// startSub starts the I/O Intr subscription.
func (d *device) startSub(ctx context.Context) {
	sub, ok := d.dev.(drivers.Subscriber)
	if !ok {
		err := fmt.Errorf("mapping: device %q: %w: I/O Intr", d.name, drivers.ErrUnsupported)
		for _, b := range d.intr {
			b.alarmed(drivers.AlarmFor(drivers.OpRead, err))
		}
		return
	}
	byKey := map[string][]*binding{}
	pts := make([]drivers.Point, 0, len(d.intr))
	for _, b := range d.intr {
		k := b.pt.String()
		if byKey[k] == nil {
			pts = append(pts, b.pt)
		}
		byKey[k] = append(byKey[k], b)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	d.subStop, d.subDone = cancel, done
	go func() {
		defer close(done)
		err := sub.Subscribe(sctx, pts, func(s drivers.Sample) {
			for _, b := range byKey[s.Point.String()] {
				d.apply(b, s)
			}
		})
		if sctx.Err() == nil {
			d.subErr <- err
		}
	}()
}

// stopSub stops the subscription and waits for it.
func (d *device) stopSub() {
	if d.subDone == nil {
		return
	}
	d.subStop()
	<-d.subDone
	d.subStop, d.subDone = nil, nil
	select {
	case err := <-d.subErr:
		_ = err // the stopped subscription's last error: nobody needs it now
	default:
	}
}

// stats returns the device's counters.
func (d *device) stats() drivers.Stats {
	if r, ok := d.dev.(drivers.StatsReporter); ok {
		return r.Stats()
	}
	return d.own.Stats()
}

// updateHealth publishes the health PVs.
func (d *device) updateHealth() {
	s := d.stats()
	up := int32(0)
	if !d.failed && !d.needOpen {
		up = 1
	}
	state := StateOK
	switch {
	case d.needOpen && !d.everUp:
		state = StateConnecting
	case d.needOpen:
		state = StateDisconnected
	case d.failed:
		state = StateFailing
	}
	d.status.Store(&DeviceStatus{Name: d.name, State: state, Stats: s, PollLast: d.pollLast, PollMax: d.pollMax,
		Polls: d.polls, PollTotal: d.pollSum, Overruns: d.overruns.Load(), Failures: d.failures})
	h := d.health
	_ = h.state.Set(uint16(state))
	_ = h.connected.Set(up)
	_ = h.requests.Set(float64(s.Requests))
	_ = h.errors.Set(float64(s.Errors))
	if h.lastError.Value() != s.LastError {
		_ = h.lastError.Set(s.LastError)
	}
	_ = h.lastException.Set(int32(s.LastException))
	_ = h.pollLast.Set(d.pollLast.Seconds())
	_ = h.pollMax.Set(d.pollMax.Seconds())
	_ = h.overruns.Set(float64(d.overruns.Load()))
}

// health holds a device's health PVs.
type health struct {
	names                                         []string
	state                                         *ioc.PV[uint16]
	connected, lastException                      *ioc.PV[int32]
	requests, errors, pollLast, pollMax, overruns *ioc.PV[float64]
	lastError                                     *ioc.PV[string]
}

// newHealth declares the health PVs under prefix.
func newHealth(g *ioc.Group, prefix string) *health {
	ro := func(doc, units string) ioc.Spec[float64] {
		prec := int16(0) // counts
		if units != "" {
			prec = 3
		}
		return ioc.Spec[float64]{ReadOnly: true, Doc: doc, Units: units, Precision: prec}
	}
	h := &health{
		state: ioc.Enum(g, prefix+"STATE", ioc.Spec[uint16]{ReadOnly: true, Doc: "device state", Record: "mbbi",
			EnumStrings: stateNames[:]}),
		connected:     ioc.Long(g, prefix+"CONNECTED", ioc.Spec[int32]{ReadOnly: true, Doc: "device connected"}),
		requests:      ioc.Double(g, prefix+"REQUESTS", ro("requests sent", "")),
		errors:        ioc.Double(g, prefix+"ERRORS", ro("failed requests", "")),
		lastError:     ioc.Char(g, prefix+"LAST_ERROR", ioc.Spec[string]{ReadOnly: true, MaxLength: 256, Doc: "last error"}),
		lastException: ioc.Long(g, prefix+"LAST_EXCEPTION", ioc.Spec[int32]{ReadOnly: true, Doc: "last exception code"}),
		pollLast:      ioc.Double(g, prefix+"POLL_LAST", ro("last poll duration", "s")),
		pollMax:       ioc.Double(g, prefix+"POLL_MAX", ro("longest poll duration", "s")),
		overruns:      ioc.Double(g, prefix+"OVERRUNS", ro("skipped scans", "")),
	}
	for _, n := range []string{"STATE", "CONNECTED", "REQUESTS", "ERRORS", "LAST_ERROR", "LAST_EXCEPTION", "POLL_LAST", "POLL_MAX", "OVERRUNS"} {
		h.names = append(h.names, prefix+n)
	}
	return h
}

// DeviceState is what a device is doing, as its STATE health PV and
// DeviceStatus show it.
type DeviceState uint16

// The device states.
const (
	StateConnecting   DeviceState = iota // not connected yet
	StateOK                              // connected, last request answered
	StateFailing                         // connected, but requests fail (timeouts, errors)
	StateDisconnected                    // the connection was lost; reconnecting with back-off
)

// stateNames are the STATE PV's enum strings.
//
//nolint:gochecknoglobals // read-only table
var stateNames = [...]string{"Connecting", "OK", "Failing", "Disconnected"}

// String returns the state's name.
func (s DeviceState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("DeviceState(%d)", uint16(s))
}

// DeviceStatus is a snapshot of one device's health, for metrics.
type DeviceStatus struct {
	Name     string
	State    DeviceState
	Stats    drivers.Stats // requests, errors, last error and exception, connected
	PollLast time.Duration // duration of the last scan
	PollMax  time.Duration // longest scan
	Polls    uint64        // scans done
	// PollTotal is the time all Polls took together.
	PollTotal time.Duration
	Overruns  uint64 // scans skipped because the previous one was still running
	Failures  int    // failed attempts since the device last worked
}

// Status returns a snapshot of every device's health, in config order.
// It is safe to call at any time; devices whose Run has not started yet
// show StateConnecting.
func (br *Bridge) Status() []DeviceStatus {
	out := make([]DeviceStatus, len(br.devs))
	for i, d := range br.devs {
		if st := d.status.Load(); st != nil {
			out[i] = *st
		} else {
			out[i] = DeviceStatus{Name: d.name, State: StateConnecting}
		}
	}
	return out
}
