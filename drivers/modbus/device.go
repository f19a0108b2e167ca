package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	gmb "github.com/goburrow/modbus"
	"github.com/goburrow/serial"

	"github.com/cabridge/cabridge/drivers"
)

// maxPlans is how many distinct point sets a Device keeps plans for.
const maxPlans = 16

// link is the connection under a goburrow client.
type link interface {
	// Connect connects unless connected.
	Connect(ctx context.Context) error
	// Begin prepares one request bounded by ctx and timeout (<= 0: the
	// link's own); end must be called after.
	Begin(ctx context.Context, timeout time.Duration) (end func(), err error)
	// Connected reports whether there is a connection.
	Connected() bool
	// Close closes the connection.
	Close() error
}

// Device is a Modbus device (one unit id behind a connection): a
// drivers.Device, drivers.Opener and drivers.StatsReporter. Build it
// with New (a connection of its own) or Driver.New (a connection shared
// with the other devices of the same address).
type Device struct {
	name    string
	log     *slog.Logger
	lim     Limits
	wopt    WriteOptions
	unit    byte
	timeout time.Duration
	conn    *conn
	client  gmb.Client
	drv     *Driver // nil for a device of its own connection

	stats drivers.Counters

	mu     sync.Mutex // one call at a time; guards the fields below
	closed bool
	plans  []*planEntry
	probe  probe
}

// probe is the fail-fast state of a unit that does not answer.
type probe struct {
	on       bool          // fail fast after timeouts (devices of a Driver)
	min, max time.Duration // back-off bounds
	since    time.Time     // first timeout of the outage; zero when answering
	misses   int           // timeouts in the outage
	wait     time.Duration // current back-off
	next     time.Time     // no request before this time
}

// planEntry is the memoised read plan of one set of points.
type planEntry struct {
	pts   []Point
	plan  *Plan
	codes map[int]ExceptionCode // last exception per point index
}

var (
	_ drivers.Device        = (*Device)(nil)
	_ drivers.Opener        = (*Device)(nil)
	_ drivers.StatsReporter = (*Device)(nil)
	_ drivers.Factory       = New
)

// New is the drivers.Factory of Modbus devices: it decodes and
// validates a Config and builds an unconnected Device.
func New(p drivers.Params) (drivers.Device, error) {
	var c Config
	if p.Decode != nil {
		if err := p.Decode(&c); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newDevice(p.Name, c, p.Logger, newConn(c, false)), nil
}

// NewDevice builds an unconnected Device from a config, which it
// validates; logger nil discards the logs.
func NewDevice(name string, c Config, logger *slog.Logger) (*Device, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newDevice(name, c, logger, newConn(c, false)), nil
}

// newDevice builds a device of a valid config on cn.
func newDevice(name string, c Config, logger *slog.Logger, cn *conn) *Device {
	unit := c.unitID()
	return &Device{
		name: name, log: drivers.DiscardLogger(logger), lim: c.limits(), wopt: c.writeOptions(),
		unit: unit, timeout: c.timeout(), conn: cn, client: cn.client(unit),
	}
}

// ParsePoint parses a binding: Address, Type, Order, Bit and Len as
// ParsePoint of this package takes them, and the option "padding" for
// strings.
func (d *Device) ParsePoint(spec drivers.PointSpec) (drivers.Point, error) {
	ms := PointSpec{Address: spec.Address, Type: spec.Type, Order: spec.Order, Bit: spec.Bit, Len: spec.Len}
	for k, v := range spec.Options {
		if k != "padding" {
			return nil, fmt.Errorf("%w: %v: unknown option %q (want padding)", drivers.ErrBadPoint, spec, k)
		}
		ms.Padding = v
	}
	n := 1
	if spec.Len > 1 && !isStringType(spec.Type) {
		n, ms.Len = spec.Len, 0 // an array of n values
	}
	p, err := ParsePoint(ms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", drivers.ErrBadPoint, spec, err)
	}
	dp := newDriverPoint(p, d.wopt)
	if n > 1 {
		if err := dp.makeArray(n); err != nil {
			return nil, fmt.Errorf("%w: %v: %w", drivers.ErrBadPoint, spec, err)
		}
	}
	return dp, nil
}

// driverPoint is a Point as a drivers.Point.
type driverPoint struct {
	p     Point
	typ   drivers.Type
	elems []Point // the elements of an array (p is the first); nil for a scalar
}

func newDriverPoint(p Point, opt WriteOptions) *driverPoint {
	t := drivers.Type{Kind: drivers.Kind(p.Type.Kind()), Bits: p.Type.Format.Bits(), Len: 1, Access: drivers.AccessRead}
	if p.Type.Format == Bool {
		t.Bits = 1
	}
	if p.Type.Format.IsString() {
		t.Bits, t.MaxLen = 0, p.Type.Length
	}
	_, isBit := p.Address.Bit()
	if p.Writable() && (!isBit || opt.Bits != BitWriteRefuse) {
		t.Access = drivers.AccessReadWrite
	}
	return &driverPoint{p: p, typ: t}
}

// String returns the canonical form, e.g. "hr:100 float32 CDAB".
func (p *driverPoint) String() string {
	if p.elems != nil {
		return fmt.Sprintf("%v[%d]", p.p, len(p.elems))
	}
	return p.p.String()
}

// Type returns the point's drivers.Type.
func (p *driverPoint) Type() drivers.Type { return p.typ }

// Open connects. A device of its own connection (New) discards any old
// connection first; a device of a Driver connects the shared link
// unless it is connected, so that it never breaks the other devices'
// requests.
func (d *Device) Open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("modbus: %s: open: %w", d.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("modbus: %s: open: %w", d.name, drivers.ErrClosed)
	}
	release, err := d.takeTurn(ctx)
	if err != nil {
		err = fmt.Errorf("modbus: %s: open: %w", d.name, err)
		d.stats.AddError(err)
		return err
	}
	defer release()
	if !d.conn.shared {
		_ = d.conn.link.Close()
	}
	if err := d.conn.link.Connect(ctx); err != nil {
		err = fmt.Errorf("modbus: %s: open: %w", d.name, err)
		d.stats.AddError(err)
		d.stats.SetConnected(false)
		return err
	}
	d.stats.SetConnected(true)
	return nil
}

// Close closes the connection. Later calls fail with drivers.ErrClosed.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.stats.SetConnected(false)
	if d.drv != nil {
		return d.drv.release(d.conn)
	}
	return d.conn.close()
}

// Stats returns the device's counters.
func (d *Device) Stats() drivers.Stats { return d.stats.Stats() }

// Read reads pts with the fewest requests the plan allows. A Modbus
// exception on a coalesced read is learned as a hole and the read is
// split into probes in the same call, so only the points at the refused
// address fail (with a *drivers.DeviceError).
func (d *Device) Read(ctx context.Context, pts []drivers.Point) ([]drivers.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("modbus: %s: read: %w", d.name, err)
	}
	start := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("modbus: %s: read: %w", d.name, drivers.ErrClosed)
	}
	if len(pts) == 0 {
		return nil, nil
	}
	defer func() { d.stats.ObserveRead(time.Since(start)) }()
	out := make([]drivers.Sample, len(pts))
	var (
		idx []int // for each of mps, the index into pts of its point
		mps []Point
	)
	for i, p := range pts {
		out[i].Point = p
		if dp, ok := p.(*driverPoint); ok {
			for _, e := range dp.elements() {
				idx = append(idx, i)
				mps = append(mps, e)
			}
		} else {
			out[i].Err = fmt.Errorf("modbus: %s: %w: %v is not a point of this driver", d.name, drivers.ErrBadPoint, p)
			out[i].Time = start
		}
	}
	if len(mps) == 0 {
		return out, nil
	}
	e, err := d.planFor(mps)
	if err != nil {
		err = fmt.Errorf("modbus: %s: %w: %w", d.name, drivers.ErrBadPoint, err)
		for _, i := range idx {
			out[i].Err, out[i].Time = err, start
		}
		return out, nil
	}
	served := make([]bool, len(mps))
	vals := make([]Value, len(mps))
	queue := slices.Clone(e.plan.Blocks())
	for n := 0; len(queue) > 0 && n < 4*len(mps)+64; n++ {
		b := queue[0]
		queue = queue[1:]
		data, err := d.readBlock(ctx, b)
		var me *gmb.ModbusError
		switch {
		case errors.As(err, &me):
			code := ExceptionCode(me.ExceptionCode)
			for _, m := range b.Members {
				e.codes[m.Point] = code
			}
			d.stats.AddError(deviceError(code))
			np, probes := e.plan.Failed(b, code)
			if np != e.plan {
				d.log.Info("modbus: read refused; learned a hole", "device", d.name, "read", b.String(), "exception", code.String())
				e.plan = np
			}
			queue = append(queue, probes...)
			continue
		case err != nil:
			return nil, err
		}
		now := time.Now()
		for _, m := range b.Members {
			if served[m.Point] {
				continue
			}
			served[m.Point] = true
			s := &out[idx[m.Point]]
			s.Time = now
			v, err := mps[m.Point].DecodeReply(data, m.Index)
			if err != nil {
				if s.Err == nil {
					s.Err = fmt.Errorf("modbus: %s: %w: %w", d.name, drivers.ErrBadValue, err)
				}
				continue
			}
			vals[m.Point] = v
		}
	}
	now := time.Now()
	for i := range out {
		if out[i].Time.IsZero() {
			out[i].Time = now
		}
	}
	for k, i := range idx {
		if served[k] || out[i].Err != nil {
			continue
		}
		code, ok := e.codes[k]
		if !ok {
			code = ExceptionIllegalDataAddress
		}
		out[i].Err = fmt.Errorf("modbus: %s: read %v: %w", d.name, mps[k].Address, deviceError(code))
	}
	// Each point's value from its elements (one for a scalar), in order.
	for k := 0; k < len(idx); {
		i, j := idx[k], k+1
		for j < len(idx) && idx[j] == i {
			j++
		}
		if out[i].Err == nil {
			out[i].Value = joinValues(vals[k:j])
		}
		k = j
	}
	return out, nil
}

// deviceError returns the drivers error of a Modbus exception.
func deviceError(code ExceptionCode) *drivers.DeviceError {
	text, _, _ := strings.Cut(code.String(), " (0x")
	return &drivers.DeviceError{Code: int(code), Text: text}
}

// planFor returns the memoised plan of pts, making one if needed.
func (d *Device) planFor(pts []Point) (*planEntry, error) {
	for _, e := range d.plans {
		if slices.Equal(e.pts, pts) {
			return e, nil
		}
	}
	rs := make([]Range, len(pts))
	for i, p := range pts {
		rs[i] = p.Range()
	}
	p, err := NewPlan(rs, d.lim)
	if err != nil {
		return nil, err
	}
	// One line at info (the summary), the requests at debug (-v): a
	// plan of hundreds of reads would flood a quiet log.
	full := p.String()
	summary, _, _ := strings.Cut(full, "\n")
	d.log.Info("modbus: read plan", "device", d.name, "plan", summary)
	d.log.Debug("modbus: read plan requests", "device", d.name, "plan", full)
	e := &planEntry{pts: slices.Clone(pts), plan: p, codes: map[int]ExceptionCode{}}
	if len(d.plans) >= maxPlans {
		d.plans = d.plans[1:]
	}
	d.plans = append(d.plans, e)
	return e, nil
}

// readBlock sends the read request of b. A Modbus exception comes back
// as a *gmb.ModbusError; other errors are wrapped for the caller.
func (d *Device) readBlock(ctx context.Context, b Block) ([]byte, error) {
	var data []byte
	err := d.do(ctx, "read "+b.Range.String(), func(c gmb.Client) error {
		var err error
		start, n := b.Start, uint16(b.Count)
		switch b.Table {
		case Coil:
			data, err = c.ReadCoils(start, n)
		case DiscreteInput:
			data, err = c.ReadDiscreteInputs(start, n)
		case InputRegister:
			data, err = c.ReadInputRegisters(start, n)
		default:
			data, err = c.ReadHoldingRegisters(start, n)
		}
		return err
	})
	return data, err
}

// do runs one exchange (one or more requests) bounded by ctx and counts
// it, classifying its error.
func (d *Device) do(ctx context.Context, what string, f func(gmb.Client) error) error {
	if p := &d.probe; p.on && !p.next.IsZero() {
		if now := time.Now(); now.Before(p.next) {
			err := fmt.Errorf("modbus: %s: %s: unit %d not answering since %s (%d timeouts); next probe at %s (in %s): %w: %w",
				d.name, what, d.unit, p.since.Format("15:04:05.000"), p.misses, p.next.Format("15:04:05.000"),
				p.next.Sub(now).Round(time.Millisecond), drivers.ErrTimeout, drivers.ErrNotSent)
			d.stats.AddError(err)
			return err
		}
	}
	release, err := d.takeTurn(ctx)
	if err != nil {
		err = fmt.Errorf("modbus: %s: %s: %w", d.name, what, err)
		d.stats.AddError(err)
		return err
	}
	defer release()
	link := d.conn.link
	end, err := link.Begin(ctx, d.timeout)
	defer end()
	if err == nil {
		d.stats.AddRequests(1)
		err = f(d.client)
	}
	var me *gmb.ModbusError
	switch {
	case err == nil:
		d.stats.SetConnected(true)
		d.answered()
		return nil
	case errors.As(err, &me):
		d.answered()
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("modbus: %s: %s: %w: %w (%s)", d.name, what, drivers.ErrTimeout, ctx.Err(), err.Error())
	case ctx.Err() != nil:
		err = fmt.Errorf("modbus: %s: %s: %w (%s)", d.name, what, ctx.Err(), err.Error())
	case errors.Is(err, serial.ErrTimeout):
		// A late reply on the line could be taken for the next one.
		_ = link.Close()
		err = fmt.Errorf("modbus: %s: %s: %w: %w", d.name, what, drivers.ErrTimeout, err)
	case errors.Is(err, drivers.ErrTimeout), errors.Is(err, drivers.ErrDisconnected):
		err = fmt.Errorf("modbus: %s: %s: %w", d.name, what, err)
	default:
		// goburrow's checks of a reply (size, count, echo) failed: the
		// device or the line is confused; drop the connection.
		_ = link.Close()
		err = fmt.Errorf("modbus: %s: %s: %w: %w", d.name, what, drivers.ErrDisconnected, err)
	}
	if errors.Is(err, drivers.ErrTimeout) {
		d.missed()
	}
	d.stats.AddError(err)
	d.stats.SetConnected(link.Connected())
	return err
}

// takeTurn waits for the connection's turn, in order, or for ctx; the
// returned release ends the turn.
func (d *Device) takeTurn(ctx context.Context) (release func(), err error) {
	select {
	case d.conn.turn <- struct{}{}:
		return func() { <-d.conn.turn }, nil
	default:
	}
	select {
	case d.conn.turn <- struct{}{}:
		return func() { <-d.conn.turn }, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("waiting for the link %s: %w: %w: %w", d.conn.key, drivers.ErrTimeout, drivers.ErrNotSent, ctx.Err())
		}
		return nil, fmt.Errorf("waiting for the link %s: %w: %w", d.conn.key, drivers.ErrNotSent, ctx.Err())
	}
}

// answered notes that the unit answered, ending an outage.
func (d *Device) answered() {
	p := &d.probe
	if p.since.IsZero() {
		return
	}
	d.log.Info("modbus: unit answers again", "device", d.name, "unit", d.unit,
		"down", time.Since(p.since).Round(time.Millisecond), "timeouts", p.misses)
	p.since, p.misses, p.wait, p.next = time.Time{}, 0, 0, time.Time{}
}

// missed notes a timeout of the unit and, for devices of a Driver, sets
// the next probe time with an exponential back-off.
func (d *Device) missed() {
	p := &d.probe
	if !p.on {
		return
	}
	now := time.Now()
	if p.since.IsZero() {
		p.since, p.wait = now, p.min
		d.log.Warn("modbus: unit not answering; failing fast until it is probed again", "device", d.name, "unit", d.unit, "probe_in", p.wait)
	} else {
		p.wait = min(2*p.wait, p.max)
	}
	p.misses++
	p.next = now.Add(p.wait)
}

// Write writes v to pt with the function code PlanWrite chooses. It is
// never retried.
func (d *Device) Write(ctx context.Context, pt drivers.Point, v drivers.Value) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("modbus: %s: write: %w", d.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("modbus: %s: write: %w", d.name, drivers.ErrClosed)
	}
	dp, ok := pt.(*driverPoint)
	if !ok {
		return fmt.Errorf("modbus: %s: write: %w: %v is not a point of this driver", d.name, drivers.ErrBadPoint, pt)
	}
	if !dp.typ.Access.CanWrite() {
		return fmt.Errorf("modbus: %s: write %v: %w", d.name, dp.p.Address, drivers.ErrReadOnly)
	}
	if v == nil || v.Len() != dp.typ.Len {
		return fmt.Errorf("modbus: %s: write %v: %w: want %d elements", d.name, dp.p.Address, drivers.ErrBadValue, dp.typ.Len)
	}
	cv, err := drivers.Convert(v, dp.typ.Kind)
	if err != nil {
		return fmt.Errorf("modbus: %s: write %v: %w", d.name, dp.p.Address, err)
	}
	var w Write
	if dp.elems != nil {
		w, err = dp.planArrayWrite(cv)
	} else {
		w, err = dp.p.PlanWrite(toModbusValue(cv), d.wopt)
	}
	if err != nil {
		return fmt.Errorf("modbus: %s: write %v: %w: %w", d.name, dp.p.Address, drivers.ErrBadValue, err)
	}
	if w.ReadModifyWrite {
		d.stats.AddRequests(1) // the FC3 before the FC6 that do counts
	}
	err = d.do(ctx, w.String(), func(c gmb.Client) error { return execWrite(c, w) })
	var me *gmb.ModbusError
	if errors.As(err, &me) {
		de := deviceError(ExceptionCode(me.ExceptionCode))
		d.stats.AddError(de)
		return fmt.Errorf("modbus: %s: %v: %w", d.name, w, de)
	}
	return err
}

// execWrite sends the requests of w.
func execWrite(c gmb.Client, w Write) error {
	var err error
	switch {
	case w.ReadModifyWrite:
		var cur []byte
		if cur, err = c.ReadHoldingRegisters(w.Address, 1); err == nil {
			if len(cur) != 2 {
				return fmt.Errorf("modbus: read of %d bytes for one register", len(cur))
			}
			_, err = c.WriteSingleRegister(w.Address, w.Apply(uint16(cur[0])<<8|uint16(cur[1])))
		}
	case w.Function == FuncWriteSingleCoil:
		_, err = c.WriteSingleCoil(w.Address, w.CoilValue())
	case w.Function == FuncWriteMultipleCoils:
		_, err = c.WriteMultipleCoils(w.Address, 1, w.Bytes())
	case w.Function == FuncWriteSingleRegister:
		_, err = c.WriteSingleRegister(w.Address, w.Registers[0])
	case w.Function == FuncWriteMultipleRegisters:
		_, err = c.WriteMultipleRegisters(w.Address, uint16(len(w.Registers)), w.Bytes())
	case w.Function == FuncMaskWriteRegister:
		_, err = c.MaskWriteRegister(w.Address, w.AndMask, w.OrMask)
	default:
		err = fmt.Errorf("modbus: cannot send %v", w)
	}
	return err
}

// toDriverValue converts a decoded value to a one-element drivers.Value.
func toDriverValue(v Value) drivers.Value {
	switch v.Kind() {
	case KindBool:
		return drivers.Bools{v.Bool()}
	case KindInt:
		return drivers.Ints{v.Int()}
	case KindUint:
		return drivers.Uints{v.Uint()}
	case KindFloat:
		return drivers.Floats{v.Float()}
	case KindString:
		return drivers.Strings{v.Str()}
	}
	return nil
}

// toModbusValue converts the first element of a drivers.Value.
func toModbusValue(v drivers.Value) Value { return elementValue(v, 0) }

// elementValue returns element i of v as a Value.
func elementValue(v drivers.Value, i int) Value {
	switch v := v.(type) {
	case drivers.Bools:
		return BoolValue(v[i])
	case drivers.Ints:
		return IntValue(v[i])
	case drivers.Uints:
		return UintValue(v[i])
	case drivers.Floats:
		return FloatValue(v[i])
	case drivers.Strings:
		return StringValue(v[i])
	}
	return Value{}
}

// serialLink is an RTU or ASCII serial line through goburrow's handlers;
// one handler is the transporter of every unit on the line, each unit
// has its own packager. The line's read timeout is set when it opens.
type serialLink struct {
	timeout time.Duration
	rtu     *gmb.RTUClientHandler
	ascii   *gmb.ASCIIClientHandler

	mu sync.Mutex // guards up
	up bool
}

func newSerialLink(c Config) *serialLink {
	l := &serialLink{timeout: c.timeout()}
	parity, _ := parseParity(c.Parity)
	set := func(cfg *serial.Config) {
		cfg.Address, cfg.BaudRate, cfg.DataBits, cfg.StopBits, cfg.Parity = c.Device, c.BaudRate, c.DataBits, c.StopBits, parity
		if cfg.BaudRate == 0 {
			cfg.BaudRate = DefaultBaudRate
		}
		if cfg.DataBits == 0 {
			cfg.DataBits = 8
		}
		if cfg.StopBits == 0 {
			cfg.StopBits = 1
		}
		cfg.Timeout = l.timeout
	}
	if c.transport() == TransportASCII {
		l.ascii = gmb.NewASCIIClientHandler(c.Device)
		l.ascii.IdleTimeout = 0
		set(&l.ascii.Config)
	} else {
		l.rtu = gmb.NewRTUClientHandler(c.Device)
		l.rtu.IdleTimeout = 0
		set(&l.rtu.Config)
	}
	return l
}

// newClient returns a client of one unit on the line.
func (l *serialLink) newClient(unit byte) gmb.Client {
	if l.ascii != nil {
		pk := gmb.NewASCIIClientHandler("")
		pk.SlaveId = unit
		return gmb.NewClient2(pk, l.ascii)
	}
	pk := gmb.NewRTUClientHandler("")
	pk.SlaveId = unit
	return gmb.NewClient2(pk, l.rtu)
}

func (l *serialLink) Connect(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.up {
		return nil
	}
	var err error
	if l.rtu != nil {
		err = l.rtu.Connect()
	} else {
		err = l.ascii.Connect()
	}
	if err != nil {
		return fmt.Errorf("modbus: open serial: %w: %w: %w", drivers.ErrDisconnected, drivers.ErrNotSent, err)
	}
	l.up = true
	return nil
}

func (l *serialLink) Begin(ctx context.Context, _ time.Duration) (func(), error) {
	if err := l.Connect(ctx); err != nil {
		return func() {}, err
	}
	return func() {}, nil
}

func (l *serialLink) Connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

func (l *serialLink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up {
		return nil
	}
	l.up = false
	if l.rtu != nil {
		return l.rtu.Close()
	}
	return l.ascii.Close()
}
