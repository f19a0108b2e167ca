package serial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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

// Device is one serial instrument (or several sharing one port and
// answering in turn). It runs one transaction at a time on its port: an
// output, then the wait for its reply. Read sends each distinct query
// once, however many points its reply fills. Lines that arrive outside a
// transaction, or that a transaction's reply format does not match, go
// to the running Subscribe calls. Its methods follow the concurrency
// rules of drivers.Device.
type Device struct {
	name     string
	log      *slog.Logger
	cfg      Config
	protos   map[string]*protocol
	unsol    []*protocol // input-only protocols: lines the instrument volunteers
	init     []*exchange
	initSet  resolved
	logEvery time.Duration
	stats    drivers.Counters
	l        *link  // the port, perhaps shared (see Driver)
	release  func() // gives up l; called once by Close

	mu      sync.Mutex
	c       *conn // the connection this device's last Open ran init on
	closed  bool
	lastLog map[string]time.Time
}

// New is the drivers.Factory of the serial driver: it decodes p's
// section into a Config, validates it and returns NewDevice's device.
func New(p drivers.Params) (drivers.Device, error) { return drivers.Build(p, NewDevice) }

// NewDevice validates cfg and returns an unopened device named name (for
// logs and errors) that logs to logger (nil discards), on a port of its
// own (see Driver for shared ports). It does no I/O.
func NewDevice(name string, cfg Config, logger *slog.Logger) (*Device, error) {
	d, err := newDevice(name, cfg, logger)
	if err != nil {
		return nil, err
	}
	l := newLink(linkKey(&cfg), &cfg, d.log)
	d.attach(l, l.close)
	return d, nil
}

// attach puts d on l; release is called when d closes.
func (d *Device) attach(l *link, release func()) {
	d.l, d.release = l, release
	l.mu.Lock()
	l.devs[d] = struct{}{}
	l.mu.Unlock()
}

// newDevice validates cfg and builds the device, not yet on a link.
func newDevice(name string, cfg Config, logger *slog.Logger) (*Device, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("serial: invalid config: %w", err)
	}
	d := &Device{
		name:     name,
		log:      drivers.DiscardLogger(logger).With("device", name, "driver", "serial"),
		cfg:      cfg,
		protos:   map[string]*protocol{},
		initSet:  resolve(&Settings{}, &cfg.Settings),
		logEvery: time.Duration(cfg.LogInterval),
		lastLog:  map[string]time.Time{},
	}
	if d.logEvery == 0 {
		d.logEvery = DefaultLogInterval
	}
	for name, p := range cfg.Protocols {
		pr, err := compileProtocol(name, &p, &cfg.Settings)
		if err != nil {
			return nil, fmt.Errorf("serial: protocol %s: %w", name, err)
		}
		d.protos[name] = pr
		if pr.read != nil && pr.read.out == nil {
			d.unsol = append(d.unsol, pr)
		}
	}
	for _, x := range cfg.Init {
		cx, err := compileExchange(x.Out, x.In, false)
		if err != nil {
			return nil, fmt.Errorf("serial: init: %w", err)
		}
		d.init = append(d.init, cx)
	}
	return d, nil
}

// ParsePoint implements drivers.Device. The address names a protocol of
// the config, or is the query of an inline protocol whose reply format is
// option "in" (and whose write is option "write", with the reply
// "write_in"). Option "field" picks a value field of the reply (from 0);
// Type overrides the kind the format implies (float64, float32, int16,
// int32, int64, uint16, uint32, uint64, bool, string); Len > 1 makes an
// array of a format with one conversion, its elements separated by the
// protocol's separator (for a string, Len is its maximum length).
func (d *Device) ParsePoint(spec drivers.PointSpec) (drivers.Point, error) {
	bad := func(err error) error {
		return fmt.Errorf("serial: %s: point %q: %w: %w", d.name, spec.String(), drivers.ErrBadPoint, err)
	}
	pr, ok := d.protos[spec.Address]
	name := spec.Address
	inline := spec.Options[OptIn] != "" || spec.Options[OptWrite] != ""
	_, hasWriteIn := spec.Options[OptWriteIn]
	switch {
	case ok && (inline || hasWriteIn):
		return nil, bad(errors.New("a named protocol takes no in, write or write_in option"))
	case !ok && !inline:
		return nil, bad(fmt.Errorf("no protocol named %q, and no in or write option for an inline one", spec.Address))
	case !ok:
		p := Protocol{Out: spec.Address, In: spec.Options[OptIn]}
		if w := spec.Options[OptWrite]; w != "" {
			p.Write = &Exchange{Out: w, In: spec.Options[OptWriteIn]}
		}
		if p.In == "" {
			p.Out = ""
		}
		var err error
		if pr, err = compileProtocol(spec.Address, &p, &d.cfg.Settings); err != nil {
			return nil, bad(err)
		}
		name = spec.Address
		if p.In != "" {
			name += " -> " + p.In
		}
		if p.Write != nil {
			name += " <- " + p.Write.Out
		}
		pr.key = name
	}
	pt, err := newPoint(pr, name, spec)
	if err != nil {
		return nil, bad(err)
	}
	if pt.typ.Len > 1 {
		pt.name += fmt.Sprintf("[%d]", pt.typ.Len)
	}
	return pt, nil
}

// Open implements drivers.Opener: it connects the port unless it is
// connected (a port shared with other devices may be), and runs the init
// sequence.
func (d *Device) Open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("serial: %s: open: %w", d.name, err)
	}
	d.mu.Lock()
	closed := d.closed
	d.c = nil
	d.mu.Unlock()
	if closed {
		return fmt.Errorf("serial: %s: open: %w", d.name, drivers.ErrClosed)
	}
	d.stats.SetConnected(false)
	c, err := d.l.connect(ctx)
	if err != nil {
		err = fmt.Errorf("serial: %s: %w", d.name, err)
		d.stats.AddError(err)
		return err
	}
	for i, x := range d.init {
		if _, err := d.transact(ctx, c, x, nil, d.initSet, 1, false); err != nil {
			err = fmt.Errorf("serial: %s: init[%d]: %w", d.name, i, err)
			d.stats.AddError(err)
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("serial: %s: open: %w", d.name, drivers.ErrClosed)
	}
	d.c = c
	d.stats.SetConnected(true)
	return nil
}

// current returns the open connection, or an error for a closed or
// unopened device or a done ctx.
func (d *Device) current(ctx context.Context, what string) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("serial: %s: %s: %w", d.name, what, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return nil, fmt.Errorf("serial: %s: %s: %w", d.name, what, drivers.ErrClosed)
	case d.c == nil:
		return nil, fmt.Errorf("serial: %s: %s: not open: %w", d.name, what, drivers.ErrDisconnected)
	}
	if !d.c.alive() {
		return nil, fmt.Errorf("serial: %s: %s: %w: %w", d.name, what, drivers.ErrDisconnected, d.c.failure())
	}
	if d.c != d.l.current() {
		return nil, fmt.Errorf("serial: %s: %s: %w: the port was reconnected; open again to run init", d.name, what, drivers.ErrDisconnected)
	}
	return d.c, nil
}

// Read implements drivers.Device: each distinct query is sent once and
// its reply fills all the points that use it. A reply that times out or
// does not match fails those points (TIMEOUT, or CALC for a mismatch)
// after the protocol's retries; a lost connection or a done ctx fails the
// whole Read.
func (d *Device) Read(ctx context.Context, pts []drivers.Point) ([]drivers.Sample, error) {
	c, err := d.current(ctx, "read")
	if err != nil {
		d.fail(err)
		return nil, err
	}
	if len(pts) == 0 {
		return nil, nil
	}
	start := time.Now()
	defer func() { d.stats.ObserveRead(time.Since(start)) }()
	out := make([]drivers.Sample, len(pts))
	var order []string
	groups := map[string][]int{}
	for i, p := range pts {
		sp, ok := p.(*point)
		if !ok || sp.proto.read == nil {
			out[i] = drivers.Sample{Point: p, Time: time.Now(),
				Err: fmt.Errorf("serial: %s: read %v: %w: not a readable point of this driver", d.name, p, drivers.ErrBadPoint)}
			continue
		}
		k := sp.proto.key
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		idx := groups[k]
		pr := pts[idx[0]].(*point).proto
		n := 1
		for _, i := range idx {
			n = max(n, pts[i].Type().Len)
		}
		var fields []Field
		var err error
		for range pr.set.retries + 1 {
			fields, err = d.transact(ctx, c, pr.read, nil, pr.set, n, false)
			if err == nil || !errors.Is(err, drivers.ErrTimeout) && !errors.Is(err, drivers.ErrMismatch) {
				break
			}
		}
		now := time.Now()
		if err != nil && !errors.Is(err, drivers.ErrTimeout) && !errors.Is(err, drivers.ErrMismatch) {
			err = fmt.Errorf("serial: %s: read %s: %w", d.name, k, err)
			d.fail(err)
			return nil, err
		}
		for _, i := range idx {
			sp := pts[i].(*point)
			s := drivers.Sample{Point: sp, Time: now}
			if err == nil {
				s.Value, s.Err = sp.value(fields)
			} else {
				s.Err = err
			}
			if s.Err != nil {
				s.Err = fmt.Errorf("serial: %s: read %s: %w", d.name, sp, s.Err)
				d.logBad(sp.name, s.Err)
			} else {
				d.logGood(sp.name)
			}
			out[i] = s
		}
	}
	return out, nil
}

// value extracts p's value from the fields of a reply.
func (p *point) value(fields []Field) (drivers.Value, error) {
	if p.typ.Len > 1 {
		if len(fields) < p.typ.Len {
			return nil, fmt.Errorf("%w: %d elements, want %d", drivers.ErrMismatch, len(fields), p.typ.Len)
		}
		out := drivers.MakeValue(p.typ.Kind, p.typ.Len)
		for i := range p.typ.Len {
			v, err := fieldValue(fields[i], p.typ.Kind)
			if err != nil {
				return nil, err
			}
			copyElem(out, v, i)
		}
		return out, nil
	}
	if p.field >= len(fields) {
		return nil, fmt.Errorf("%w: no field %d", drivers.ErrMismatch, p.field)
	}
	v, err := fieldValue(fields[p.field], p.typ.Kind)
	if err == nil && p.typ.MaxLen > 0 {
		if s := v.(drivers.Strings); len(s[0]) > p.typ.MaxLen {
			s[0] = s[0][:p.typ.MaxLen]
		}
	}
	return v, err
}

// copyElem sets dst[i] to the single element of src (same kind).
func copyElem(dst, src drivers.Value, i int) {
	switch d := dst.(type) {
	case drivers.Floats:
		d[i] = src.(drivers.Floats)[0]
	case drivers.Ints:
		d[i] = src.(drivers.Ints)[0]
	case drivers.Uints:
		d[i] = src.(drivers.Uints)[0]
	case drivers.Bools:
		d[i] = src.(drivers.Bools)[0]
	case drivers.Strings:
		d[i] = src.(drivers.Strings)[0]
	}
}

// Write implements drivers.Device: it formats v into the protocol's
// write output, sends it and, when the protocol expects a reply, waits
// for a matching one. A write is never retried; it goes ahead of the
// reads waiting for the port.
func (d *Device) Write(ctx context.Context, pt drivers.Point, v drivers.Value) error {
	c, err := d.current(ctx, "write")
	if err != nil {
		d.fail(err)
		return fmt.Errorf("%w (%w)", err, drivers.ErrNotSent)
	}
	sp, ok := pt.(*point)
	switch {
	case !ok:
		return fmt.Errorf("serial: %s: write %v: %w: not a point of this driver", d.name, pt, drivers.ErrBadPoint)
	case sp.proto.write == nil:
		return fmt.Errorf("serial: %s: write %s: %w", d.name, sp, drivers.ErrReadOnly)
	case v == nil || v.Kind() != sp.typ.Kind || v.Len() != sp.typ.Len:
		return fmt.Errorf("serial: %s: write %s: %w: want %v, got %v", d.name, sp, drivers.ErrBadValue, sp.typ, v)
	}
	d.l.writers.Add(1)
	_, err = d.transact(ctx, c, sp.proto.write, v, sp.proto.set, 1, true)
	if err != nil {
		err = fmt.Errorf("serial: %s: write %s: %w", d.name, sp, err)
		d.fail(err)
		return err
	}
	return nil
}

// transact runs one exchange on c: it takes the port, sends x.out (with
// v formatted in), and waits for a line matching x.in (an array of n
// elements) for the reply timeout. Lines that do not match but that a
// subscription wants are handed to it and the wait goes on.
func (d *Device) transact(ctx context.Context, c *conn, x *exchange, v drivers.Value, set resolved, n int, write bool) ([]Field, error) {
	err := d.l.acquire(ctx, set.lockTimeout, write)
	if write {
		d.l.writers.Add(-1)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", err, drivers.ErrNotSent)
	}
	defer d.l.release()
	var w chan frame
	if x.in != nil {
		w = make(chan frame, 16)
		c.setWaiter(w)
		defer c.setWaiter(nil)
	}
	if x.out != nil {
		c.flush.Store(true)
		msg, err := x.out.Append(nil, v, set.sep)
		if err != nil {
			return nil, err
		}
		msg = append(msg, set.outTerm...)
		d.stats.AddRequests(1)
		sent, err := c.p.writeWithin(msg, set.writeTimeout)
		if err != nil {
			c.broken.Store(true)
			err = fmt.Errorf("send %s: %w: %w", quote(msg), drivers.ErrDisconnected, err)
			if sent == 0 {
				err = fmt.Errorf("%w (%w)", err, drivers.ErrNotSent)
			}
			return nil, err
		}
	}
	if x.in == nil {
		return nil, nil
	}
	t := time.NewTimer(set.replyTimeout)
	defer t.Stop()
	var lastBad error // a line that matched nothing, on a port with unsolicited traffic
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.dead:
			return nil, fmt.Errorf("%w: %w", drivers.ErrDisconnected, c.failure())
		case <-t.C:
			if lastBad != nil {
				return nil, lastBad
			}
			return nil, fmt.Errorf("no reply within %v: %w", set.replyTimeout, drivers.ErrTimeout)
		case f := <-w:
			if f.partial {
				d.log.Debug("serial: partial input dropped", "bytes", quote(f.data))
				continue
			}
			fields, err := x.in.Match(f.data, set.sep, n, set.ignoreExtra)
			if err == nil {
				if x.out == nil {
					c.offer(f) // a volunteered line: the subscriptions get it too
				}
				return fields, nil
			}
			if c.offer(f) || d.l.volunteered(f.data) || x.out == nil {
				// Not the reply: a line the instrument volunteered (an
				// input-only read waits for the next line it matches).
				continue
			}
			bad := fmt.Errorf("reply %s: %w", quote(f.data), err)
			if d.l.streams(c) {
				// The port carries lines nobody asked for: this one may
				// be a garbled one of those, and the reply still come.
				d.log.Debug("serial: line skipped while waiting for a reply", "err", bad)
				lastBad = bad
				continue
			}
			return nil, bad
		}
	}
}

// fail counts err and marks a lost connection.
func (d *Device) fail(err error) {
	d.stats.AddError(err)
	if errors.Is(err, drivers.ErrDisconnected) || errors.Is(err, drivers.ErrClosed) {
		d.stats.SetConnected(false)
	}
}

// logBad logs a point's failure, at most once per log interval.
func (d *Device) logBad(key string, err error) {
	d.stats.AddError(err)
	now := time.Now()
	d.mu.Lock()
	last, seen := d.lastLog[key]
	ok := !seen || now.Sub(last) >= d.logEvery
	if ok {
		d.lastLog[key] = now
	}
	d.mu.Unlock()
	if ok {
		d.log.Warn("serial: bad reply", "point", key, "err", err)
	}
}

// logGood notes a good reply, so that the next failure logs at once.
func (d *Device) logGood(key string) {
	d.mu.Lock()
	if _, seen := d.lastLog[key]; seen {
		delete(d.lastLog, key)
		d.mu.Unlock()
		d.log.Info("serial: good reply again", "point", key)
		return
	}
	d.mu.Unlock()
}

// subscription is one running Subscribe call.
type subscription struct {
	groups  []*subGroup
	queue   chan frame
	dropped atomic.Int64
}

// subGroup is the subscribed points of one protocol.
type subGroup struct {
	proto *protocol
	pts   []*point
	n     int
}

// matches reports whether one of s's protocols matches line.
func (s *subscription) matches(line []byte) bool {
	for _, g := range s.groups {
		if _, err := g.proto.read.in.Match(line, g.proto.set.sep, g.n, g.proto.set.ignoreExtra); err == nil {
			return true
		}
	}
	return false
}

// Subscribe implements drivers.Subscriber: every line the instrument
// sends that no transaction claims is matched against the reply formats
// of pts' protocols, and each match emits the points of that protocol.
// Points must be readable.
func (d *Device) Subscribe(ctx context.Context, pts []drivers.Point, emit func(drivers.Sample)) error {
	c, err := d.current(ctx, "subscribe")
	if err != nil {
		return err
	}
	s := &subscription{queue: make(chan frame, 64)}
	byKey := map[string]*subGroup{}
	for _, p := range pts {
		sp, ok := p.(*point)
		if !ok || sp.proto.read == nil {
			return fmt.Errorf("serial: %s: subscribe %v: %w: not a readable point", d.name, p, drivers.ErrUnsupported)
		}
		g := byKey[sp.proto.key]
		if g == nil {
			g = &subGroup{proto: sp.proto, n: 1}
			byKey[sp.proto.key] = g
			s.groups = append(s.groups, g)
		}
		g.pts = append(g.pts, sp)
		g.n = max(g.n, sp.typ.Len)
	}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, s)
		c.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("serial: %s: subscribe: %w", d.name, ctx.Err())
		case <-c.dead:
			err := fmt.Errorf("serial: %s: subscribe: %w: %w", d.name, drivers.ErrDisconnected, c.failure())
			d.fail(err)
			return err
		case f := <-s.queue:
			if n := s.dropped.Swap(0); n > 0 {
				d.log.Warn("serial: unsolicited lines dropped: emit is too slow", "lines", n)
			}
			now := time.Now()
			for _, g := range s.groups {
				fields, err := g.proto.read.in.Match(f.data, g.proto.set.sep, g.n, g.proto.set.ignoreExtra)
				if err != nil {
					continue
				}
				for _, sp := range g.pts {
					v, err := sp.value(fields)
					if err != nil {
						err = fmt.Errorf("serial: %s: unsolicited %s: %w", d.name, sp, err)
						d.logBad(sp.name, err)
						v = nil
					}
					emit(drivers.Sample{Point: sp, Value: v, Err: err, Time: now})
				}
			}
		}
	}
}

// Stats implements drivers.StatsReporter.
func (d *Device) Stats() drivers.Stats { return d.stats.Stats() }

// Close implements drivers.Device: it leaves the port, closing it (and
// waiting for its reader goroutine) unless other devices still use it.
func (d *Device) Close() error {
	d.mu.Lock()
	was := d.closed
	d.closed = true
	d.c = nil
	d.mu.Unlock()
	d.stats.SetConnected(false)
	if was {
		return nil
	}
	d.l.mu.Lock()
	delete(d.l.devs, d)
	d.l.mu.Unlock()
	d.release()
	return nil
}
