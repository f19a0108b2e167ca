package record

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// ErrNoMod rejects a put to a record-type attribute such as RTYP, which an
// IOC reports writable but never changes (S_db_noMod, ECA_PUTFAIL).
var ErrNoMod = &eca.Error{Code: eca.PutFail, Msg: "record: field cannot be modified"}

// ErrBadType reports a value container that does not fit the record type
// given to New, e.g. a *ca.String for an ai.
var ErrBadType = errors.New("record: value container does not fit the record type")

// Container is what a Record needs of its value: the methods every typed
// container of package ca (*ca.Double, *ca.Long, *ca.Enum, *ca.String,
// ...) has.
type Container interface {
	ca.PV
	Alarm() dbr.Alarm
	SetUnits(units string)
	SetPrecision(prec int16)
	SetLimits(l dbr.Limits)
	SetDeadbands(value, archive float64)
	Deadbands() (value, archive float64)
	SetClassName(name string)
	SetProcessor(f ca.Processor)
	Reprocess()
}

// enumContainer is the state-string part of *ca.Enum.
type enumContainer interface {
	SetEnumStrings(states []string) error
}

// Config sets the initial fields of a Record.
type Config struct {
	// Type is the record type ("ai", "ao", "bi", "bo", "longin",
	// "longout", "mbbi", "mbbo", "stringin", "stringout", "waveform").
	// Empty selects the container's DBR_CLASS_NAME.
	Type string
	// DESC is the description.
	DESC string
	// SCAN is the initial scan menu index.
	SCAN Scan
	// Alarm holds HIHI..LOLO, their severities and HYST (ai, ao, longin,
	// longout). Nil takes the limits from the container's alarm limits:
	// a non-NaN AlarmHigh becomes HIHI with severity MAJOR, WarningHigh
	// HIGH with MINOR, WarningLow LOW with MINOR, AlarmLow LOLO with MAJOR.
	Alarm *LimitAlarm
	// DRVH and DRVL are the drive limits of ao and longout. When both are 0
	// they are taken from the container's control limits.
	DRVH, DRVL float64
	// ASG is the access security group of the record and all its fields
	// (the ASG field); empty takes the value PV's AccessGroup if it has
	// one, else the server's default group.
	ASG string
}

// limitKind says which limit-alarm arithmetic a record type uses.
type limitKind uint8

const (
	limitNone   limitKind = iota // no limit alarms (bi, mbbi, stringin, waveform, ...)
	limitDouble                  // ai, ao: LimitAlarm
	limitLong                    // longin, longout: LongLimitAlarm
)

// Record serves a value container as an EPICS record of one of the types
// this package describes: the container itself is VAL, and Field returns
// a PV for each of the other fields of the record type. Fields that act
// on the value (EGU, PREC, HOPR/LOPR, the alarm limits and severities,
// HYST, DRVH/DRVL, MDEL/ADEL, ZNAM/ONAM, ZRST..FFST) change the
// container's metadata, deadbands and, for ai, ao, longin and longout,
// the alarm it computes on every value update. A Record is safe for
// concurrent use.
//
// Locks: a field put takes putMu, then calls the container (whose lock is
// taken before mu by the Processor), then mu. mu is never held while
// calling a container method that writes.
type Record struct {
	name   string
	typ    *RecordType
	val    Container
	enum   enumContainer // bi, bo, mbbi, mbbo
	limits limitKind
	clamp  bool // ao, longout: puts to VAL are clamped to DRVL..DRVH

	putMu sync.Mutex // serialises field puts and their effects on the container

	mu         sync.Mutex // guards the fields below
	desc       string
	asg        string // access security group; fixed at New
	scan       Scan
	lf         LimitFields
	mdel, adel float64
	lalm       float64
	srcAlarm   dbr.Alarm // the alarm the driver set last (raised with the limit alarm)
	onScan     func(Scan)
	onProcess  func(ctx context.Context) error
	putHooks   map[string]FieldPutHook // by field name
	extra      map[string]dbr.Value    // other fields written by clients
	subs       map[*fieldSub]struct{}
	pvs        map[string]*fieldPV // field PVs by "FIELD" or "FIELD$"
}

// New returns a Record called name (the record part of its channel names)
// whose VAL is pv, with the fields set from cfg. pv must be one of the
// containers of package ca (see Container) and fit the record type: a
// numeric scalar for ai, ao, longin and longout, a *ca.Enum for bi, bo,
// mbbi and mbbo (bi and bo take at most 2 states, which become ZNAM and
// ONAM; mbbi and mbbo states are padded to the 16 of ZRST..FFST), a
// string scalar for stringin and stringout, anything for waveform. New
// sets the container's DBR_CLASS_NAME to the record type, its limits to
// those the record reports, and for ai, ao, longin and longout installs
// the Processor that computes the limit alarm (and clamps puts for ao and
// longout), replacing any other.
func New(name string, pv ca.PV, cfg Config) (*Record, error) {
	if name == "" {
		return nil, fmt.Errorf("record: empty record name")
	}
	c, ok := pv.(Container)
	if !ok {
		return nil, fmt.Errorf("%w: %s: %T is not a data container", ErrBadType, name, pv)
	}
	snap := c.Snapshot()
	rtyp := cfg.Type
	if rtyp == "" && snap.Meta.Properties != nil {
		rtyp = snap.Meta.Properties.ClassName
	}
	typ, ok := LookupType(rtyp)
	if !ok {
		return nil, fmt.Errorf("record: %s: unknown record type %q", name, rtyp)
	}
	if cfg.SCAN >= Scan(MenuScan.Len()) {
		return nil, fmt.Errorf("record: %s: SCAN index %d out of range", name, cfg.SCAN)
	}
	r := &Record{name: name, typ: typ, val: c, desc: truncText(cfg.DESC, 40), scan: cfg.SCAN, asg: cfg.ASG}
	if g, ok := pv.(ca.AccessGrouper); ok && r.asg == "" {
		r.asg = g.AccessGroup()
	}
	native, count := c.Native()
	if err := r.checkFit(native, count); err != nil {
		return nil, err
	}
	props := snap.Meta.Properties
	if props == nil {
		props = &dbr.Properties{}
	}
	r.mdel, r.adel = c.Deadbands()
	r.lalm = dbr.FirstFloat(snap.Value)
	r.srcAlarm = snap.Meta.Alarm
	if _, ok := typ.Field("HOPR"); ok {
		r.lf.HOPR, r.lf.LOPR = props.Limits.DisplayHigh, props.Limits.DisplayLow
	}
	if r.limits != limitNone {
		if cfg.Alarm != nil {
			r.lf.Alarm = *cfg.Alarm
		} else {
			r.lf.Alarm = alarmFromLimits(props.Limits)
		}
	}
	if _, ok := typ.Field("DRVH"); ok {
		r.lf.DRVH, r.lf.DRVL = cfg.DRVH, cfg.DRVL
		if cfg.DRVH == 0 && cfg.DRVL == 0 {
			r.lf.DRVH, r.lf.DRVL = zeroNaN(props.Limits.ControlHigh), zeroNaN(props.Limits.ControlLow)
		}
		r.clamp = true
	}
	if r.enum != nil {
		if (typ.name == "bi" || typ.name == "bo") && len(props.EnumStrings) > 2 {
			return nil, fmt.Errorf("%w: %s: %s takes 2 states, not %d", ErrBadType, name, typ.name, len(props.EnumStrings))
		}
		if err := r.enum.SetEnumStrings(normalStates(typ.name, props.EnumStrings)); err != nil {
			return nil, fmt.Errorf("record: %s: %w", name, err)
		}
	}
	c.SetClassName(typ.name)
	if _, ok := typ.Field("HOPR"); ok {
		c.SetLimits(Limits(typ.name, r.lf))
	}
	if r.limits != limitNone {
		c.SetProcessor(r.process)
		c.Reprocess()
	}
	return r, nil
}

// checkFit validates the container against the record type and sets the
// type-dependent behaviour.
func (r *Record) checkFit(native dbr.Type, count int) error {
	bad := func() error {
		return fmt.Errorf("%w: %s: %s %d of %v", ErrBadType, r.name, r.typ.name, count, native)
	}
	switch r.typ.name {
	case "ai", "ao", "longin", "longout":
		if count != 1 || native == dbr.String || native == dbr.Enum {
			return bad()
		}
		r.limits = limitDouble
		if r.typ.name == "longin" || r.typ.name == "longout" {
			r.limits = limitLong
		}
	case "bi", "bo", "mbbi", "mbbo":
		e, ok := r.val.(enumContainer)
		if !ok || count != 1 || native != dbr.Enum {
			return bad()
		}
		r.enum = e
	case "stringin", "stringout":
		if count != 1 || native != dbr.String {
			return bad()
		}
	}
	return nil
}

// normalStates returns the state strings a bi/bo (ZNAM, ONAM) or an
// mbbi/mbbo reports: ZRST..FFST up to the last one set (an empty state
// before it stays), as mbbiRecord's get_enum_strs counts no_str; none
// when no state is set.
func normalStates(rtyp string, states []string) []string {
	switch rtyp {
	case "bi", "bo":
		out := make([]string, 2)
		copy(out, states)
		return out
	}
	states = states[:min(len(states), dbr.MaxEnumStates)]
	n := len(states)
	for n > 0 && states[n-1] == "" {
		n--
	}
	if n == 0 {
		return nil
	}
	return slices.Clone(states[:n])
}

// alarmFromLimits derives the limit-alarm fields from a container's alarm
// limits.
func alarmFromLimits(l dbr.Limits) LimitAlarm {
	var a LimitAlarm
	set := func(level *float64, sevr *dbr.Severity, v float64, s dbr.Severity) {
		if !math.IsNaN(v) {
			*level, *sevr = v, s
		}
	}
	set(&a.HIHI, &a.HHSV, l.AlarmHigh, dbr.SeverityMajor)
	set(&a.HIGH, &a.HSV, l.WarningHigh, dbr.SeverityMinor)
	set(&a.LOW, &a.LSV, l.WarningLow, dbr.SeverityMinor)
	set(&a.LOLO, &a.LLSV, l.AlarmLow, dbr.SeverityMajor)
	return a
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// Name returns the record name.
func (r *Record) Name() string { return r.name }

// Type returns the record type.
func (r *Record) Type() *RecordType { return r.typ }

// Value returns the value container, the PV of VAL.
func (r *Record) Value() Container { return r.val }

// Scan returns the SCAN menu index.
func (r *Record) Scan() Scan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scan
}

// OnScan sets the function called, after the change, with the new index
// each time a client writes SCAN; nil removes it. f must not block for
// long: the client's put completes when it returns.
func (r *Record) OnScan(f func(Scan)) {
	r.mu.Lock()
	r.onScan = f
	r.mu.Unlock()
}

// FieldPutHook validates, transforms or rejects a client's put to a
// field before the record applies it (caproto's FieldProxy putter). It
// gets the value converted to the field's CA type (DBR_STRING for "$"
// forms) and returns the value to apply, or an error that becomes the
// client's status (eca.Of; ECA_PUTFAIL by default). It may block; ctx ends
// when the client's circuit closes.
type FieldPutHook func(ctx context.Context, v dbr.Value) (dbr.Value, error)

// OnFieldPut sets the put hook of field ("DESC", "EGU", "HIHI", ...; not
// VAL, whose puts go to the value PV, which has hooks of its own, and not
// read-only fields, which clients cannot write). It applies to the field
// with and without "$". nil removes the hook. It returns ErrFieldNotFound
// for a field the record type does not have.
func (r *Record) OnFieldPut(field string, hook FieldPutHook) error {
	if _, ok := r.typ.Field(field); !ok || field == "VAL" {
		return fmt.Errorf("%w: %s.%s", ErrFieldNotFound, r.name, field)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if hook == nil {
		delete(r.putHooks, field)
		return nil
	}
	if r.putHooks == nil {
		r.putHooks = make(map[string]FieldPutHook)
	}
	r.putHooks[field] = hook
	return nil
}

// OnProcess sets the function called for each put to PROC; its error is
// the put's result. nil restores the default, which reprocesses the
// current value (ca Reprocess: new timestamp, alarm recomputed). f may
// block; ctx ends when the client's circuit closes.
func (r *Record) OnProcess(f func(ctx context.Context) error) {
	r.mu.Lock()
	r.onProcess = f
	r.mu.Unlock()
}

// process is the container's Processor for ai, ao, longin and longout: it
// clamps puts to DRVL..DRVH and computes the limit alarm, raised over the
// alarm the driver set last.
func (r *Record) process(p *ca.Processing) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.AlarmSet {
		r.srcAlarm = p.Alarm
	}
	if p.Value == nil || p.Value.Len() != 1 {
		p.Alarm = r.srcAlarm
		return
	}
	x := dbr.FirstFloat(p.Value)
	if r.clamp && p.Cause == ca.CausePut {
		if c := ClampDrive(x, r.lf.DRVH, r.lf.DRVL); c != x {
			p.Value, x = scalarOf(p.Value.Type(), c), c
		}
	}
	if r.limits == limitLong {
		a := r.lf.Alarm
		l := LongLimitAlarm{HIHI: toInt32(a.HIHI), HIGH: toInt32(a.HIGH), LOW: toInt32(a.LOW), LOLO: toInt32(a.LOLO),
			HHSV: a.HHSV, HSV: a.HSV, LSV: a.LSV, LLSV: a.LLSV, HYST: toInt32(a.HYST)}
		al, lalm := l.Check(AlarmInput[int32]{VAL: toInt32(x), LALM: toInt32(r.lalm), Pending: r.srcAlarm})
		p.Alarm, r.lalm = al, float64(lalm)
		return
	}
	al, lalm := r.lf.Alarm.Check(AlarmInput[float64]{VAL: x, LALM: r.lalm, UDF: math.IsNaN(x),
		UDFS: dbr.SeverityInvalid, Pending: r.srcAlarm})
	p.Alarm, r.lalm = al, lalm
}

// toInt32 converts as a DBF_LONG field stores a double: truncated and
// saturated.
func toInt32(x float64) int32 {
	switch {
	case math.IsNaN(x):
		return 0
	case x >= math.MaxInt32:
		return math.MaxInt32
	case x <= math.MinInt32:
		return math.MinInt32
	}
	return int32(x)
}

// scalarOf returns x as a one-element value of numeric type t.
func scalarOf(t dbr.Type, x float64) dbr.Value {
	switch t {
	case dbr.Float:
		return dbr.Floats{float32(x)}
	case dbr.Long:
		return dbr.Longs{toInt32(x)}
	case dbr.Short:
		return dbr.Shorts{int16(max(math.MinInt16, min(math.MaxInt16, x)))}
	case dbr.Char:
		return dbr.Chars{uint8(max(0, min(math.MaxUint8, x)))}
	case dbr.Enum:
		return dbr.Enums{uint16(max(0, min(math.MaxUint16, x)))}
	}
	return dbr.Doubles{x}
}

// truncText cuts s to at most n bytes.
func truncText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// AccessGroup returns the record's access security group (its ASG field),
// or "" for the server's default group. Every field PV of the record
// reports the same group, so access security treats the record as a
// whole, as an IOC does.
func (r *Record) AccessGroup() string { return r.asg }
