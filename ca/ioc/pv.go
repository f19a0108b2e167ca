package ioc

import (
	"context"
	"fmt"
	"strings"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/record"
)

// Spec declares one PV of element type E (caproto's pvproperty): its
// initial value, metadata and hooks. The zero Spec is a writable scalar
// holding the zero value.
type Spec[E any] struct {
	// Value is the initial value of a scalar.
	Value E
	// Values, if not nil, is the initial value of an array (or of a
	// scalar, with exactly one element); it overrides Value.
	Values []E
	// MaxLength is the maximum element count (NELM); above 1 the PV is an
	// array. For Char it is the maximum text length in bytes plus the NUL.
	MaxLength int
	// ReadOnly rejects CA puts with ECA_NOWTACCESS; the IOC can still set
	// the value.
	ReadOnly bool
	// Doc describes the PV (the record's DESC).
	Doc string
	// Units are the engineering units (EGU).
	Units string
	// Precision is the display precision (PREC).
	Precision int16
	// Limits are the display, alarm and control limits; the zero Limits
	// means none.
	Limits dbr.Limits
	// EnumStrings are the state strings of an Enum; other types reject
	// them.
	EnumStrings []string
	// ValueDeadband and ArchiveDeadband are MDEL and ADEL; see ca.Options.
	ValueDeadband, ArchiveDeadband float64
	// AlarmGroup, if not nil, makes the PV share the group's alarm state
	// instead of having its own.
	AlarmGroup *AlarmGroup
	// Record, if not empty, serves the PV as an EPICS record of this type
	// (ai, ao, bi, bo, longin, longout, mbbi, mbbo, stringin, stringout,
	// waveform; see package record), or of the type AutoRecord picks:
	// clients then also reach its fields as NAME.DESC, NAME.EGU,
	// NAME.HIHI, NAME.SCAN, NAME.PROC and so on, through a Directory (Run
	// uses one). Doc becomes DESC, the alarm limits HIHI..LOLO with
	// severities MAJOR and MINOR, the control limits DRVH/DRVL of ao and
	// longout. With a Scan the record's SCAN field shows the task's
	// period, and a put to SCAN changes it (Passive, Event and I/O Intr
	// pause the task); a put to PROC runs the scan function once, or the
	// get hook, or reprocesses the value.
	Record string
	// AccessGroup is the PV's access security group (ASG) in the server's
	// access rules (an ACF file: Config.AccessRules, --acf); empty means
	// DEFAULT. A record's fields share its group.
	AccessGroup string

	// Put validates, transforms or rejects a CA put to a scalar (caproto's
	// putter). It gets the value converted to E and returns the value to
	// store, or an error that rejects the put: the client gets the status
	// eca.Of maps the error to (ECA_PUTFAIL by default). It runs on the
	// putting client's circuit worker and may be slow: the client's put
	// callback completes when it returns, while other clients are served.
	Put func(ctx context.Context, pv *PV[E], v E) (E, error)
	// PutArray is Put for arrays: it gets and returns all the elements.
	// A PV may have Put or PutArray, not both.
	PutArray func(ctx context.Context, pv *PV[E], v []E) ([]E, error)
	// Get computes a scalar's value when a client reads it (caproto's
	// getter). The value is stored (monitors see it) and sent. An error
	// fails the read with the status eca.Of maps it to (ECA_GETFAIL by
	// default).
	Get func(ctx context.Context, pv *PV[E]) (E, error)
	// GetArray is Get for arrays. A PV may have Get or GetArray, not both.
	GetArray func(ctx context.Context, pv *PV[E]) ([]E, error)
	// Startup runs when the IOC starts, as Group.OnStartup.
	Startup func(ctx context.Context, pv *PV[E]) error
	// Shutdown runs when the IOC shuts down, as Group.OnShutdown.
	Shutdown func(ctx context.Context, pv *PV[E]) error
	// Scan, if its Func is set, runs periodically with the PV; a failure
	// sets the PV's alarm. See ScanOptions.
	Scan Scan[E]
}

// Scan is a periodic task declared with a PV (caproto's scan_wrapper).
type Scan[E any] struct {
	ScanOptions
	// Func runs once per period. An error or panic sets the PV's alarm to
	// ScanOptions.FailSeverity.
	Func func(ctx context.Context, pv *PV[E]) error
}

// store is what PV needs of a ca container with element type E.
type store[E any] interface {
	ca.PV
	ca.Acknowledger
	Alarm() dbr.Alarm
	SetAlarm(dbr.Alarm)
	SetUnits(string)
	SetPrecision(int16)
	SetLimits(dbr.Limits)
	Post(ca.Post[E]) error
	SetDeadbands(value, archive float64)
	Deadbands() (value, archive float64)
	SetClassName(name string)
	SetProcessor(f ca.Processor)
	Reprocess()
}

// kind holds the conversions of one container type.
type kind[E any] struct {
	name string
	// unwrap returns the elements of a stored value.
	unwrap func(dbr.Value) []E
	// wrap returns the dbr.Value that stores vs.
	wrap func(vs []E) dbr.Value
	// decode converts a CA put value to elements.
	decode func(v dbr.Value, p *dbr.Properties) ([]E, error)
}

// PV is a PV declared in a Group. It implements ca.PV (and
// ca.Acknowledger) on top of a ca container and runs the hooks of its
// Spec. All its methods are safe for concurrent use.
type PV[E any] struct {
	name     string
	doc      string
	s        store[E]
	k        *kind[E]
	readOnly bool
	scalar   bool
	put      func(ctx context.Context, pv *PV[E], v []E) ([]E, error)
	get      func(ctx context.Context, pv *PV[E]) ([]E, error)
	alarm    *AlarmGroup
	afterPut []func(vs []E)
	rec      *record.Record
	asg      string // access security group
	task     *ScanTask
}

// Interface guards.
var (
	_ ca.PV            = (*PV[float64])(nil)
	_ ca.Acknowledger  = (*PV[float64])(nil)
	_ ca.AccessGrouper = (*PV[float64])(nil)
	_ ca.Reader        = readerPV[float64]{}
)

// Name returns the full PV name.
func (p *PV[E]) Name() string { return p.name }

// Doc returns the doc string of the Spec.
func (p *PV[E]) Doc() string { return p.doc }

// Native returns the native DBR type and element count. It implements ca.PV.
func (p *PV[E]) Native() (dbr.Type, int) { return p.s.Native() }

// Access implements ca.PV.
func (p *PV[E]) Access() ca.Access { return p.s.Access() }

// Snapshot implements ca.PV.
func (p *PV[E]) Snapshot() *ca.Snapshot { return p.s.Snapshot() }

// Subscribe implements ca.PV.
func (p *PV[E]) Subscribe(s ca.Subscriber) func() { return p.s.Subscribe(s) }

// AckT implements ca.Acknowledger.
func (p *PV[E]) AckT(ack bool) { p.s.AckT(ack) }

// AckS implements ca.Acknowledger.
func (p *PV[E]) AckS(sev dbr.Severity) { p.s.AckS(sev) }

// Put applies a CA put: it converts v, runs the put hook if there is one,
// stores the result and updates a paired readback. It implements ca.PV.
func (p *PV[E]) Put(ctx context.Context, v dbr.Value) error {
	if p.readOnly {
		return ca.ErrReadOnly
	}
	if p.put == nil && len(p.afterPut) == 0 {
		return p.s.Put(ctx, v)
	}
	vs, err := p.k.decode(v, p.s.Snapshot().Meta.Properties)
	if err != nil {
		return err
	}
	if _, n := p.s.Native(); len(vs) > n {
		vs = vs[:n]
	}
	if p.scalar && len(vs) == 0 {
		return nil
	}
	if p.put != nil {
		if vs, err = p.put(ctx, p, vs); err != nil {
			return err
		}
	}
	if err := p.s.Put(ctx, p.k.wrap(vs)); err != nil {
		return err
	}
	if len(p.afterPut) > 0 {
		stored := p.Values()
		for _, f := range p.afterPut {
			f(stored)
		}
	}
	return nil
}

// Value returns the first element of the current value (the text of a
// Char), or the zero E if the value is empty.
func (p *PV[E]) Value() E {
	vs := p.k.unwrap(p.s.Snapshot().Value)
	if len(vs) == 0 {
		var zero E
		return zero
	}
	return vs[0]
}

// Values returns a copy of the current elements.
func (p *PV[E]) Values() []E {
	return append([]E(nil), p.k.unwrap(p.s.Snapshot().Value)...)
}

// Set stores v as the value (of a scalar) with the timestamp now. Puts
// made by the IOC do not run the put hook.
func (p *PV[E]) Set(v E) error { return p.s.Post(ca.Post[E]{Values: []E{v}}) }

// SetArray stores vs as the value.
func (p *PV[E]) SetArray(vs []E) error { return p.s.Post(ca.Post[E]{Values: vs}) }

// Post stores value, alarm and timestamp together; see ca.Post. The alarm
// is the PV's own, even if it is in an alarm group.
func (p *PV[E]) Post(u ca.Post[E]) error { return p.s.Post(u) }

// Alarm returns the current alarm.
func (p *PV[E]) Alarm() dbr.Alarm { return p.s.Alarm() }

// SetAlarm sets the PV's alarm, or that of its alarm group (and so of all
// the group's PVs) if it has one.
func (p *PV[E]) SetAlarm(a dbr.Alarm) {
	if p.alarm != nil {
		p.alarm.Set(a)
		return
	}
	p.s.SetAlarm(a)
}

// setOwnAlarm sets the container's alarm; it implements alarmed.
func (p *PV[E]) setOwnAlarm(a dbr.Alarm) { p.s.SetAlarm(a) }

// SetUnits changes the engineering units (DBE_PROPERTY).
func (p *PV[E]) SetUnits(u string) { p.s.SetUnits(u) }

// SetPrecision changes the display precision (DBE_PROPERTY).
func (p *PV[E]) SetPrecision(prec int16) { p.s.SetPrecision(prec) }

// SetLimits changes the limits (DBE_PROPERTY).
func (p *PV[E]) SetLimits(l dbr.Limits) { p.s.SetLimits(l) }

// readerPV is a PV with a get hook; the server calls its Read for reads.
type readerPV[E any] struct{ *PV[E] }

// Read runs the get hook, stores its value and returns the new snapshot.
// It implements ca.Reader.
func (r readerPV[E]) Read(ctx context.Context) (*ca.Snapshot, error) {
	vs, err := r.get(ctx, r.PV)
	if err != nil {
		return nil, err
	}
	if err := r.s.Post(ca.Post[E]{Values: vs}); err != nil {
		return nil, &getError{name: r.name, err: err}
	}
	return r.s.Snapshot(), nil
}

// getError is a get hook's value the PV could not store.
type getError struct {
	name string
	err  error
}

func (e *getError) Error() string {
	return fmt.Sprintf("ioc: PV %q: get hook value: %v", e.name, e.err)
}
func (e *getError) Unwrap() error { return e.err }

// declare builds the PV name in g from spec, creates its container with
// mk and registers it.
func declare[E any](g *Group, name string, sp Spec[E], k *kind[E], mk func(o ca.Options, vs []E) store[E]) *PV[E] {
	full, err := g.Expand(name)
	if err != nil {
		g.fail(err)
	}
	bad := func(format string, args ...any) {
		g.fail(fmt.Errorf("ioc: PV %q: %s", full, fmt.Sprintf(format, args...)))
	}
	vs := sp.Values
	if vs == nil {
		vs = []E{sp.Value}
	}
	n := max(sp.MaxLength, len(vs), 1)
	if k.name == "char" {
		n = 1 // a long string is one Go string
	}
	o := ca.Options{MaxLength: sp.MaxLength, ReadOnly: sp.ReadOnly, Units: sp.Units, Precision: sp.Precision,
		Limits: sp.Limits, ValueDeadband: sp.ValueDeadband, ArchiveDeadband: sp.ArchiveDeadband}
	p := &PV[E]{name: full, doc: sp.Doc, k: k, readOnly: sp.ReadOnly, scalar: n == 1, alarm: sp.AlarmGroup, asg: sp.AccessGroup}
	if len(sp.EnumStrings) > 0 && k.name != "enum" {
		bad("enum strings on a %s PV", k.name)
	}
	if len(sp.EnumStrings) > dbr.MaxEnumStates {
		bad("%d enum strings, maximum %d", len(sp.EnumStrings), dbr.MaxEnumStates)
	}
	if len(sp.Units) > 7 {
		bad("units %q longer than 7 bytes", sp.Units)
	}
	switch {
	case sp.Put != nil && sp.PutArray != nil:
		bad("both Put and PutArray hooks")
	case sp.Put != nil && !p.scalar:
		bad("Put hook on an array; use PutArray")
	case sp.Put != nil:
		f := sp.Put
		p.put = func(ctx context.Context, pv *PV[E], v []E) ([]E, error) {
			r, err := f(ctx, pv, v[0])
			return []E{r}, err
		}
	case sp.PutArray != nil:
		p.put = sp.PutArray
	}
	if (sp.Put != nil || sp.PutArray != nil) && sp.ReadOnly {
		bad("put hook on a read-only PV")
	}
	switch {
	case sp.Get != nil && sp.GetArray != nil:
		bad("both Get and GetArray hooks")
	case sp.Get != nil && !p.scalar:
		bad("Get hook on an array; use GetArray")
	case sp.Get != nil:
		f := sp.Get
		p.get = func(ctx context.Context, pv *PV[E]) ([]E, error) {
			r, err := f(ctx, pv)
			return []E{r}, err
		}
	case sp.GetArray != nil:
		p.get = sp.GetArray
	}
	p.s = mk(o, vs)
	if sp.AlarmGroup != nil {
		sp.AlarmGroup.add(p)
	}
	if sp.Startup != nil {
		f := sp.Startup
		g.OnStartup(func(ctx context.Context) error { return f(ctx, p) })
	}
	if sp.Shutdown != nil {
		f := sp.Shutdown
		g.OnShutdown(func(ctx context.Context) error { return f(ctx, p) })
	}
	if sp.Scan.Func != nil {
		f := sp.Scan.Func
		opts := sp.Scan.ScanOptions
		opts.Alarm = append(append([]Alarmed(nil), opts.Alarm...), p)
		if t := g.Scan(opts, func(ctx context.Context) error { return f(ctx, p) }); t != nil {
			t.name = full
			p.task = t
		}
	}
	var served ca.PV = p
	if p.get != nil {
		served = readerPV[E]{p}
	}
	if sp.Record != "" {
		rtyp := sp.Record
		if rtyp == AutoRecord {
			rtyp = autoRecordType(k.name, sp, n)
		}
		rec, err := newRecord(full, p, rtyp, sp.Doc)
		if err != nil {
			bad("%v", err)
		} else {
			p.rec = rec
			served = rec.Value()
			g.addRecord(rec)
		}
	}
	g.add(full, served)
	return p
}

// numericKind returns the conversions of a numeric container with native
// type t and element type E.
func numericKind[E float64 | float32 | int32 | int16 | uint8 | uint16](name string, t dbr.Type) *kind[E] {
	return &kind[E]{
		name:   name,
		unwrap: dbr.Elements[E],
		wrap:   wrapElems[E],
		decode: func(v dbr.Value, p *dbr.Properties) ([]E, error) {
			if x, ok := v.(dbr.Strings); ok && t == dbr.Enum && len(p.EnumStrings) > 0 {
				out := make([]E, len(x))
				for i, s := range x {
					idx, err := dbr.ParseEnum(s, p.EnumStrings)
					if err != nil {
						return nil, fmt.Errorf("%w: %w", ca.ErrInvalid, err)
					}
					out[i] = E(idx)
				}
				return out, nil
			}
			nv, err := dbr.Convert(v, t, p)
			if err != nil {
				return nil, err
			}
			return dbr.Elements[E](nv), nil
		},
	}
}

// wrapElems returns vs as a dbr.Value, without copying.
func wrapElems[E float64 | float32 | int32 | int16 | uint8 | uint16](vs []E) dbr.Value {
	switch x := any(vs).(type) {
	case []float64:
		return dbr.Doubles(x)
	case []float32:
		return dbr.Floats(x)
	case []int32:
		return dbr.Longs(x)
	case []int16:
		return dbr.Shorts(x)
	case []uint8:
		return dbr.Chars(x)
	case []uint16:
		return dbr.Enums(x)
	}
	return nil
}

// The conversions of each container type. They hold no state.
func doubleKind() *kind[float64] { return numericKind[float64]("double", dbr.Double) }
func floatKind() *kind[float32]  { return numericKind[float32]("float", dbr.Float) }
func longKind() *kind[int32]     { return numericKind[int32]("long", dbr.Long) }
func shortKind() *kind[int16]    { return numericKind[int16]("short", dbr.Short) }
func byteKind() *kind[uint8]     { return numericKind[uint8]("byte", dbr.Char) }
func enumKind() *kind[uint16]    { return numericKind[uint16]("enum", dbr.Enum) }

func stringKind() *kind[string] {
	return &kind[string]{
		name:   "string",
		unwrap: func(v dbr.Value) []string { x, _ := v.(dbr.Strings); return x },
		wrap:   func(vs []string) dbr.Value { return dbr.Strings(vs) },
		decode: func(v dbr.Value, p *dbr.Properties) ([]string, error) {
			nv, err := dbr.Convert(v, dbr.String, p)
			if err != nil {
				return nil, err
			}
			return nv.(dbr.Strings), nil
		},
	}
}

func charKind() *kind[string] {
	return &kind[string]{
		name: "char",
		unwrap: func(v dbr.Value) []string {
			x, _ := v.(dbr.Chars)
			if i := strings.IndexByte(string(x), 0); i >= 0 {
				x = x[:i]
			}
			return []string{string(x)}
		},
		wrap: func(vs []string) dbr.Value {
			if len(vs) == 0 {
				return dbr.Strings{}
			}
			return dbr.Strings{vs[0]}
		},
		decode: func(v dbr.Value, p *dbr.Properties) ([]string, error) {
			switch x := v.(type) {
			case dbr.Strings:
				if len(x) != 1 {
					return nil, fmt.Errorf("%w: %d strings to a long string", ca.ErrInvalid, len(x))
				}
				return []string{x[0]}, nil
			}
			nv, err := dbr.Convert(v, dbr.Char, nil)
			if err != nil {
				return nil, err
			}
			b := nv.(dbr.Chars)
			if i := strings.IndexByte(string(b), 0); i >= 0 {
				b = b[:i]
			}
			return []string{string(b)}, nil
		},
	}
}

// Double declares a DBR_DOUBLE PV (an ai/ao record or a double waveform).
func Double(g *Group, name string, s Spec[float64]) *PV[float64] {
	return declare(g, name, s, doubleKind(), func(o ca.Options, vs []float64) store[float64] { return ca.NewDouble(o, vs...) })
}

// Float declares a DBR_FLOAT PV.
func Float(g *Group, name string, s Spec[float32]) *PV[float32] {
	return declare(g, name, s, floatKind(), func(o ca.Options, vs []float32) store[float32] { return ca.NewFloat(o, vs...) })
}

// Long declares a DBR_LONG PV (a longin/longout record).
func Long(g *Group, name string, s Spec[int32]) *PV[int32] {
	return declare(g, name, s, longKind(), func(o ca.Options, vs []int32) store[int32] { return ca.NewLong(o, vs...) })
}

// Short declares a DBR_SHORT PV.
func Short(g *Group, name string, s Spec[int16]) *PV[int16] {
	return declare(g, name, s, shortKind(), func(o ca.Options, vs []int16) store[int16] { return ca.NewShort(o, vs...) })
}

// Byte declares a DBR_CHAR PV holding numbers.
func Byte(g *Group, name string, s Spec[uint8]) *PV[uint8] {
	return declare(g, name, s, byteKind(), func(o ca.Options, vs []uint8) store[uint8] { return ca.NewByte(o, vs...) })
}

// Enum declares a DBR_ENUM PV (an mbbi/mbbo record) with s.EnumStrings.
func Enum(g *Group, name string, s Spec[uint16]) *PV[uint16] {
	st := s.EnumStrings
	return declare(g, name, s, enumKind(), func(o ca.Options, vs []uint16) store[uint16] { return ca.NewEnum(o, st, vs...) })
}

// String declares a DBR_STRING PV (a stringin/stringout record) of
// elements of at most 39 bytes.
func String(g *Group, name string, s Spec[string]) *PV[string] {
	for _, v := range s.Values {
		if len(v) > dbr.MaxStringSize-1 {
			full, _ := g.Expand(name)
			g.fail(fmt.Errorf("ioc: PV %q: initial string of %d bytes, maximum %d", full, len(v), dbr.MaxStringSize-1))
		}
	}
	return declare(g, name, s, stringKind(), func(o ca.Options, vs []string) store[string] { return ca.NewString(o, vs...) })
}

// Char declares a long string stored as a DBR_CHAR array (a NAME$
// channel, caproto's ChannelChar); the value is one Go string and
// MaxLength bounds its bytes plus the NUL (default 256).
func Char(g *Group, name string, s Spec[string]) *PV[string] {
	if len(s.Values) > 1 {
		full, _ := g.Expand(name)
		g.fail(fmt.Errorf("ioc: PV %q: %d initial values for a long string", full, len(s.Values)))
	}
	return declare(g, name, s, charKind(), func(o ca.Options, vs []string) store[string] {
		text := ""
		if len(vs) > 0 {
			text = vs[0]
		}
		return ca.NewChar(o, text)
	})
}
