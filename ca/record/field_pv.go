package record

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
)

// Field returns the PV of the field called field ("DESC", "HHSV", ...),
// opened as a CHAR array when dollar is set (the "$" suffix). VAL without
// "$" is the value container itself. It fails with ErrFieldNotFound for a
// field the record type does not have and with ErrNoDollar for "$" on a
// field that is neither a string nor a link. Field PVs are made on first
// use and kept, so Field returns the same PV for the same field.
func (r *Record) Field(field string, dollar bool) (ca.PV, error) {
	if field == "VAL" && !dollar {
		return r.val, nil
	}
	key := field
	if dollar {
		key += "$"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.pvs[key]; ok {
		return f, nil
	}
	ch, err := r.typ.Resolve(field, dollar)
	if err != nil {
		return nil, err
	}
	f := &fieldPV{r: r, ch: ch, derived: derivedField(ch.Field.Name)}
	if !dollar {
		// The CA type of a field: for VAL$ Resolve gives CHAR.
		f.typ, f.count = ch.Type, ch.Count
	} else {
		f.typ, f.count = dbr.Char, ch.Count
	}
	if ch.Field.DBF == DBFMenu {
		f.menu = ch.Field.Menu.Choices()
	}
	if r.pvs == nil {
		r.pvs = make(map[string]*fieldPV)
	}
	r.pvs[key] = f
	return f, nil
}

// derivedField reports whether a field's value comes from the container
// (its alarm, metadata, value or length), so that its monitors follow the
// container's updates.
func derivedField(name string) bool {
	switch name {
	case "VAL", "SEVR", "STAT", "ACKS", "ACKT", "NORD", "EGU", "PREC", "ZNAM", "ONAM":
		return true
	}
	return stateIndex(name) >= 0
}

// stateIndex returns the state index of an mbbi/mbbo state string field
// (ZRST 0 .. FFST 15), or -1.
func stateIndex(name string) int {
	if len(name) != 4 || !strings.HasSuffix(name, "ST") {
		return -1
	}
	return slices.Index(stateNames("ST"), name)
}

// fieldPV is the PV of one field of a record (not VAL without "$").
type fieldPV struct {
	r       *Record
	ch      Channel
	typ     dbr.Type // the CA type served: the field's, or CHAR for "$"
	count   int
	menu    []string // menu choices of a DBF_MENU field
	derived bool     // value follows the container; see derivedField
}

// Interface guards.
var (
	_ ca.PV            = (*fieldPV)(nil)
	_ ca.AccessGrouper = (*fieldPV)(nil)
	_ ca.Subscriber    = (*derivedSub)(nil)
)

// AccessGroup returns the record's access security group; it implements
// ca.AccessGrouper.
func (f *fieldPV) AccessGroup() string { return f.r.asg }

// Native returns the field's CA type and element count. It implements
// ca.PV.
func (f *fieldPV) Native() (dbr.Type, int) { return f.typ, f.count }

// Access reports read-only fields as read-only. It implements ca.PV.
func (f *fieldPV) Access() ca.Access {
	if !f.ch.Field.Access.Writable() {
		return ca.AccessRead
	}
	return ca.ReadWrite
}

// Snapshot returns the field's value with the record's alarm and
// timestamp. It implements ca.PV.
func (f *fieldPV) Snapshot() *ca.Snapshot {
	vs := f.r.val.Snapshot()
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	return f.snapshotLocked(vs)
}

// snapshotLocked builds the field's snapshot from the container snapshot
// vs. r.mu must be held.
func (f *fieldPV) snapshotLocked(vs *ca.Snapshot) *ca.Snapshot {
	v := f.r.valueLocked(f.ch.Field, vs)
	if f.ch.Dollar {
		text := ""
		if s, ok := v.(dbr.Strings); ok && len(s) > 0 {
			text = truncText(s[0], f.count-1)
		}
		c := make(dbr.Chars, len(text)+1)
		copy(c, text)
		v = c
	} else if s, ok := v.(dbr.Strings); ok && len(s) == 1 && len(s[0]) > dbr.MaxStringSize-1 {
		v = dbr.Strings{truncText(s[0], dbr.MaxStringSize-1)}
	}
	s := &ca.Snapshot{Value: v, Meta: vs.Meta}
	s.Meta.Properties = f.propsLocked(vs.Meta.Properties)
	return s
}

// graphicFields are the fields whose DBR_GR/DBR_CTRL limits are HOPR/LOPR
// (get_graphic_double of ai/ao/longin/longout).
func graphicField(name string) bool {
	switch name {
	case "HIHI", "HIGH", "LOW", "LOLO", "LALM", "ALST", "MLST", "OVAL", "IVOV", "HOPR", "LOPR", "DRVH", "DRVL":
		return true
	}
	return false
}

// propsLocked returns the metadata of the field: the record type as the
// class name, the menu choices as enum strings, and for numeric fields of
// records with units the units, precision and display limits an IOC
// reports. r.mu must be held.
func (f *fieldPV) propsLocked(vp *dbr.Properties) *dbr.Properties {
	nan := math.NaN()
	p := &dbr.Properties{ClassName: f.r.typ.name, EnumStrings: f.menu}
	p.Limits.AlarmHigh, p.Limits.WarningHigh, p.Limits.WarningLow, p.Limits.AlarmLow = nan, nan, nan, nan
	if f.ch.Dollar || vp == nil {
		return p
	}
	fld := f.ch.Field
	switch fld.DBF {
	case DBFDouble, DBFFloat, DBFLong:
		if _, ok := f.r.typ.Field("EGU"); ok {
			p.Units = vp.Units
		}
		if _, ok := f.r.typ.Field("PREC"); ok && fld.DBF != DBFLong {
			p.Precision = vp.Precision
		}
		if graphicField(fld.Name) {
			p.Limits.DisplayHigh, p.Limits.DisplayLow = f.r.lf.HOPR, f.r.lf.LOPR
			p.Limits.ControlHigh, p.Limits.ControlLow = f.r.lf.HOPR, f.r.lf.LOPR
		}
	}
	return p
}

// valueLocked returns the value of field fld in its CA type (DBR_STRING
// for string and link fields, at full length), given the container
// snapshot vs. r.mu must be held.
func (r *Record) valueLocked(fld Field, vs *ca.Snapshot) dbr.Value {
	props := vs.Meta.Properties
	if props == nil {
		props = &dbr.Properties{}
	}
	num := func(x float64) dbr.Value {
		t, _ := fld.DBF.CAType()
		return scalarOf(t, x)
	}
	switch fld.Name {
	case "VAL":
		if s, ok := vs.Value.(dbr.Strings); ok {
			return s
		}
		return dbr.Strings{""}
	case "NAME":
		return dbr.Strings{r.name}
	case "RTYP":
		return dbr.Strings{r.typ.name}
	case "DESC":
		return dbr.Strings{r.desc}
	case "ASG":
		return dbr.Strings{r.asg}
	case "SCAN":
		return dbr.Enums{uint16(r.scan)}
	case "PROC":
		return dbr.Chars{0}
	case "SEVR":
		return dbr.Enums{uint16(vs.Meta.Severity)}
	case "STAT":
		return dbr.Enums{uint16(vs.Meta.Status)}
	case "ACKS":
		return dbr.Enums{uint16(vs.Meta.AckS)}
	case "ACKT":
		if vs.Meta.AckT {
			return dbr.Enums{1}
		}
		return dbr.Enums{0}
	case "EGU":
		return dbr.Strings{props.Units}
	case "PREC":
		return dbr.Shorts{props.Precision}
	case "HOPR":
		return num(r.lf.HOPR)
	case "LOPR":
		return num(r.lf.LOPR)
	case "DRVH":
		return num(r.lf.DRVH)
	case "DRVL":
		return num(r.lf.DRVL)
	case "HIHI":
		return num(r.lf.Alarm.HIHI)
	case "HIGH":
		if r.limits != limitNone {
			return num(r.lf.Alarm.HIGH)
		}
	case "LOW":
		return num(r.lf.Alarm.LOW)
	case "LOLO":
		return num(r.lf.Alarm.LOLO)
	case "HYST":
		return num(r.lf.Alarm.HYST)
	case "HHSV":
		return dbr.Enums{uint16(r.lf.Alarm.HHSV)}
	case "HSV":
		return dbr.Enums{uint16(r.lf.Alarm.HSV)}
	case "LSV":
		return dbr.Enums{uint16(r.lf.Alarm.LSV)}
	case "LLSV":
		return dbr.Enums{uint16(r.lf.Alarm.LLSV)}
	case "MDEL":
		return num(r.mdel)
	case "ADEL":
		return num(r.adel)
	case "LALM":
		if r.limits != limitNone {
			return num(r.lalm)
		}
	case "NELM":
		_, n := r.val.Native()
		return num(float64(n))
	case "NORD":
		return num(float64(vs.Value.Len()))
	case "FTVL":
		t, _ := r.val.Native()
		return dbr.Enums{ftvl(t)}
	case "ZNAM", "ONAM":
		i := 0
		if fld.Name == "ONAM" {
			i = 1
		}
		return dbr.Strings{stateString(props.EnumStrings, i)}
	}
	if i := stateIndex(fld.Name); i >= 0 && r.enum != nil {
		return dbr.Strings{stateString(props.EnumStrings, i)}
	}
	if v, ok := r.extra[fld.Name]; ok {
		return v
	}
	t, _ := fld.DBF.CAType()
	return dbr.MakeValue(t, 1)
}

// stateString returns states[i], or "" beyond them.
func stateString(states []string, i int) string {
	if i < len(states) {
		return states[i]
	}
	return ""
}

// ftvl returns the menuFtype index of a waveform of CA type t.
func ftvl(t dbr.Type) uint16 {
	switch t {
	case dbr.String:
		return 0
	case dbr.Char:
		return 2 // UCHAR: bytes
	case dbr.Short:
		return 3
	case dbr.Long:
		return 5
	case dbr.Float:
		return 9
	case dbr.Enum:
		return 11
	}
	return 10 // DOUBLE
}

// Put writes a field: it converts v to the field's type and applies it to
// the record. Read-only fields refuse with ca.ErrReadOnly, RTYP with
// ErrNoMod; a menu index out of the menu or a text that is not a menu
// choice fails with an error wrapping ca.ErrInvalid; text longer than the
// field is truncated, as an IOC does. It implements ca.PV.
func (f *fieldPV) Put(ctx context.Context, v dbr.Value) error {
	switch f.ch.Field.Access {
	case ReadOnly:
		return ca.ErrReadOnly
	case WriteFails:
		return ErrNoMod
	}
	if v == nil || v.Len() == 0 {
		return nil
	}
	nv, err := f.convert(v)
	if err != nil {
		return err
	}
	f.r.mu.Lock()
	hook := f.r.putHooks[f.ch.Field.Name]
	f.r.mu.Unlock()
	if hook != nil {
		if nv, err = hook(ctx, nv); err != nil {
			return err
		}
		if nv == nil || nv.Len() == 0 {
			return fmt.Errorf("%w: %s.%s: the put hook returned no value", ca.ErrInvalid, f.r.name, f.ch.Field.Name)
		}
		// The hook may return any type; bring it back to the field's.
		if nv, err = f.convert(nv); err != nil {
			return err
		}
	}
	return f.r.put(ctx, f.ch.Field, nv)
}

// convert converts a put value to the field's CA type (DBR_STRING for
// "$" forms).
func (f *fieldPV) convert(v dbr.Value) (dbr.Value, error) {
	fld := f.ch.Field
	if f.ch.Dollar {
		var text string
		switch x := v.(type) {
		case dbr.Strings:
			text = x[0]
		default:
			c, err := dbr.Convert(v, dbr.Char, nil)
			if err != nil {
				return nil, err
			}
			b := []byte(c.(dbr.Chars))
			if i := slices.Index(b, 0); i >= 0 {
				b = b[:i]
			}
			text = string(b)
		}
		return dbr.Strings{truncText(text, f.count-1)}, nil
	}
	var p *dbr.Properties
	if f.menu != nil {
		p = &dbr.Properties{EnumStrings: f.menu}
	}
	nv, err := dbr.Convert(v, f.typ, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ca.ErrInvalid, fld.Name, err)
	}
	switch x := nv.(type) {
	case dbr.Enums:
		if f.menu != nil && int(x[0]) >= len(f.menu) {
			return nil, fmt.Errorf("%w: %s: menu index %d of %d", ca.ErrInvalid, fld.Name, x[0], len(f.menu))
		}
	case dbr.Strings:
		size := fld.Size
		if fld.DBF.IsLink() {
			size = LinkStringSize
		}
		return dbr.Strings{truncText(x[0], max(size-1, 0))}, nil
	}
	if nv.Len() == 1 {
		return nv, nil
	}
	return scalarOf(f.typ, dbr.FirstFloat(nv)), nil
}

// put applies a converted value to field fld.
func (r *Record) put(ctx context.Context, fld Field, v dbr.Value) error {
	switch name := fld.Name; {
	case name == "PROC":
		r.mu.Lock()
		f := r.onProcess
		r.mu.Unlock()
		if f != nil {
			return f(ctx)
		}
		r.val.Reprocess()
		return nil
	case name == "VAL":
		return r.val.Put(ctx, v)
	case name == "EGU":
		r.val.SetUnits(v.(dbr.Strings)[0])
		return nil
	case name == "PREC":
		r.val.SetPrecision(v.(dbr.Shorts)[0])
		return nil
	case name == "ZNAM" || name == "ONAM" || stateIndex(name) >= 0 && r.enum != nil:
		return r.putState(fld, v.(dbr.Strings)[0])
	}
	return r.putStored(fld, v)
}

// putState writes ZNAM/ONAM or one of ZRST..FFST: a new enum state string
// of the container.
func (r *Record) putState(fld Field, text string) error {
	r.putMu.Lock()
	defer r.putMu.Unlock()
	i := stateIndex(fld.Name)
	switch fld.Name {
	case "ZNAM":
		i = 0
	case "ONAM":
		i = 1
	}
	var states []string
	if p := r.val.Snapshot().Meta.Properties; p != nil {
		states = slices.Clone(p.EnumStrings)
	}
	if len(states) <= i {
		states = append(states, make([]string, i+1-len(states))...)
	}
	states[i] = text
	return r.enum.SetEnumStrings(normalStates(r.typ.name, states))
}

// putStored writes a field kept by the record and applies its effects on
// the container.
func (r *Record) putStored(fld Field, v dbr.Value) error {
	r.putMu.Lock()
	x := dbr.FirstFloat(v)
	r.mu.Lock()
	var limits, reprocess, deadbands bool
	switch fld.Name {
	case "DESC":
		r.desc = v.(dbr.Strings)[0]
	case "SCAN":
		r.scan = Scan(x)
	case "HOPR":
		r.lf.HOPR, limits = x, true
	case "LOPR":
		r.lf.LOPR, limits = x, true
	case "DRVH":
		r.lf.DRVH, limits = x, true
	case "DRVL":
		r.lf.DRVL, limits = x, true
	case "HIHI", "HIGH", "LOW", "LOLO", "HHSV", "HSV", "LSV", "LLSV", "HYST":
		if r.limits == limitNone { // bo HIGH: seconds to hold high
			r.setExtraLocked(fld.Name, v)
			break
		}
		r.setAlarmFieldLocked(fld.Name, x)
		limits, reprocess = fld.Name != "HYST", true
	case "MDEL":
		r.mdel, deadbands = x, true
	case "ADEL":
		r.adel, deadbands = x, true
	default:
		r.setExtraLocked(fld.Name, v)
	}
	r.postLocked(fld)
	lim, mdel, adel, scan, onScan := Limits(r.typ.name, r.lf), r.mdel, r.adel, r.scan, r.onScan
	r.mu.Unlock()
	if limits {
		r.val.SetLimits(lim)
	}
	if deadbands {
		r.val.SetDeadbands(mdel, adel)
	}
	if reprocess {
		r.val.Reprocess()
	}
	r.putMu.Unlock()
	if fld.Name == "SCAN" && onScan != nil {
		onScan(scan)
	}
	return nil
}

// setAlarmFieldLocked stores one of the limit-alarm fields. r.mu must be
// held.
func (r *Record) setAlarmFieldLocked(name string, x float64) {
	a := &r.lf.Alarm
	sevr := dbr.Severity(x)
	switch name {
	case "HIHI":
		a.HIHI = x
	case "HIGH":
		a.HIGH = x
	case "LOW":
		a.LOW = x
	case "LOLO":
		a.LOLO = x
	case "HYST":
		a.HYST = x
	case "HHSV":
		a.HHSV = sevr
	case "HSV":
		a.HSV = sevr
	case "LSV":
		a.LSV = sevr
	case "LLSV":
		a.LLSV = sevr
	}
}

// setExtraLocked stores a field the record has no behaviour for. r.mu must
// be held.
func (r *Record) setExtraLocked(name string, v dbr.Value) {
	if r.extra == nil {
		r.extra = make(map[string]dbr.Value)
	}
	r.extra[name] = v
}

// fieldSub is a monitor of a stored field.
type fieldSub struct {
	f *fieldPV
	s ca.Subscriber
}

// postLocked sends the new state of a stored field to its monitors, both
// forms ("FIELD" and "FIELD$"). r.mu must be held.
func (r *Record) postLocked(fld Field) {
	if len(r.subs) == 0 {
		return
	}
	vs := r.val.Snapshot()
	for fs := range r.subs {
		if fs.f.ch.Field.Name == fld.Name {
			fs.s.Update(fs.f.snapshotLocked(vs), dbr.EventValue|dbr.EventLog)
		}
	}
}

// Subscribe registers s for the field's changes: puts for fields kept by
// the record, and for fields that follow the value (SEVR, STAT, EGU, PREC,
// NORD, the state strings, ...) each container update that changes them
// (DBE_VALUE|DBE_LOG, plus DBE_ALARM for SEVR and STAT). It implements
// ca.PV.
func (f *fieldPV) Subscribe(s ca.Subscriber) (cancel func()) {
	if f.derived {
		ds := &derivedSub{f: f, s: s}
		ds.mu.Lock()
		defer ds.mu.Unlock()
		cancel := f.r.val.Subscribe(ds)
		ds.last = f.Snapshot().Value
		return cancel
	}
	fs := &fieldSub{f: f, s: s}
	f.r.mu.Lock()
	if f.r.subs == nil {
		f.r.subs = make(map[*fieldSub]struct{})
	}
	f.r.subs[fs] = struct{}{}
	f.r.mu.Unlock()
	return func() {
		f.r.mu.Lock()
		delete(f.r.subs, fs)
		f.r.mu.Unlock()
	}
}

// derivedSub is a container subscription that turns container updates into
// updates of one field that follows the value.
type derivedSub struct {
	f    *fieldPV
	s    ca.Subscriber
	mu   sync.Mutex // held while the subscription is set up
	last dbr.Value  // the value last posted
}

// Update posts the field if the container update changed it. It
// implements ca.Subscriber; it runs under the container's lock.
func (d *derivedSub) Update(vs *ca.Snapshot, events dbr.EventMask) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.f.r.mu.Lock()
	s := d.f.snapshotLocked(vs)
	d.f.r.mu.Unlock()
	if sameValue(d.last, s.Value) {
		return
	}
	d.last = s.Value
	mask := dbr.EventValue | dbr.EventLog
	if n := d.f.ch.Field.Name; n == "SEVR" || n == "STAT" {
		mask |= events & dbr.EventAlarm
	}
	d.s.Update(s, mask)
}

// sameValue reports whether a and b hold equal elements.
func sameValue(a, b dbr.Value) bool {
	if a == nil || b == nil || a.Type() != b.Type() || a.Len() != b.Len() {
		return false
	}
	switch x := a.(type) {
	case dbr.Strings:
		return slices.Equal(x, b.(dbr.Strings))
	case dbr.Shorts:
		return slices.Equal(x, b.(dbr.Shorts))
	case dbr.Enums:
		return slices.Equal(x, b.(dbr.Enums))
	case dbr.Chars:
		return slices.Equal(x, b.(dbr.Chars))
	case dbr.Longs:
		return slices.Equal(x, b.(dbr.Longs))
	case dbr.Floats:
		return slices.Equal(x, b.(dbr.Floats))
	case dbr.Doubles:
		return slices.Equal(x, b.(dbr.Doubles))
	}
	return false
}
