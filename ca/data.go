package ca

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
)

// This file holds the generic core shared by the typed data containers
// (Double, Float, Long, Short, Byte, Char, Enum, String; see data_types.go).
//
// Every container keeps its current state as an immutable *Snapshot behind
// an atomic pointer. Readers load the pointer and never lock. Writers
// (driver pushes, CA puts, metadata setters) serialise on a mutex, build a
// new Snapshot, compute the DBE event mask of the change, publish the
// snapshot and call the subscribers while still holding the mutex, so
// every subscriber sees the changes in the order they were published.

// Options configures a data container at construction. The zero Options is
// a writable scalar with no units, precision 0, no limits, no deadbands and
// the default record type name.
type Options struct {
	// MaxLength is the maximum number of elements (the record's NELM),
	// which CREATE_CHAN reports as the native count. A value of 0 or 1
	// makes a scalar; a larger one an array whose current length may vary
	// from 0 to MaxLength. It grows to fit the initial values given to the
	// constructor. For Char it is the maximum number of bytes including the
	// terminating NUL (default 256).
	MaxLength int
	// ReadOnly makes CA puts fail with ErrReadOnly. The driver can still
	// change the value with Set, SetArray and Post.
	ReadOnly bool
	// Units are the engineering units (EGU); the wire carries at most 7 bytes.
	Units string
	// Precision is the display precision (PREC), also used when a floating
	// value is read or converted as DBR_STRING.
	Precision int16
	// Limits are the display, alarm and control limits. The zero Limits
	// means "no limits": display and control limits 0 and NaN alarm limits.
	Limits dbr.Limits
	// ClassName is the record type name that DBR_CLASS_NAME reports. Empty
	// selects a name from the type, length and ReadOnly: "ai"/"ao" for
	// Double and Float, "longin"/"longout" for Long, Short and Byte,
	// "mbbi"/"mbbo" for Enum, "stringin"/"stringout" for String, and
	// "waveform" for arrays and for Char.
	ClassName string
	// ValueDeadband is the monitor deadband (MDEL) of numeric scalars: a
	// value change raises DBE_VALUE only if it differs from the last value
	// that raised DBE_VALUE by more than this. 0 means any change; a
	// negative value raises DBE_VALUE on every update, even an identical
	// one. For arrays, strings, enums and Char only its sign matters.
	ValueDeadband float64
	// ArchiveDeadband is the archive deadband (ADEL), which decides
	// DBE_LOG the same way ValueDeadband decides DBE_VALUE.
	ArchiveDeadband float64
	// Encoding is the text encoding of String and Char values on the wire
	// (UTF-8 by default). Other containers ignore it.
	Encoding Encoding
	// Clock returns the current time for timestamps; nil means time.Now.
	Clock func() time.Time
}

// Encoding is how a String or Char container stores Go strings (always
// UTF-8 in Go) as CA bytes.
type Encoding uint8

// The text encodings.
const (
	// UTF8 stores the Go string's bytes unchanged.
	UTF8 Encoding = iota
	// Latin1 stores each rune as one ISO 8859-1 byte; runes above U+00FF
	// become '?'. Bytes read back are decoded as Latin-1.
	Latin1
)

// String returns "UTF-8" or "Latin-1".
func (e Encoding) String() string {
	switch e {
	case UTF8:
		return "UTF-8"
	case Latin1:
		return "Latin-1"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// Post is an atomic driver update of a container whose Go element type is
// E: value, alarm and timestamp change together in one snapshot.
type Post[E any] struct {
	// Values are the new elements; nil keeps the current value (use an
	// empty non-nil slice to publish an empty array). A scalar takes
	// exactly one element. Post copies them.
	Values []E
	// Alarm is the new alarm; nil keeps the current one.
	Alarm *dbr.Alarm
	// Stamp is the new timestamp; the zero Timestamp means now.
	Stamp dbr.Timestamp
}

// Acknowledger is implemented by PVs that support alarm acknowledgement.
// The server calls it for a put of DBR_PUT_ACKT and DBR_PUT_ACKS instead
// of PV.Put; a PV that does not implement it rejects those puts. Both
// methods are safe for concurrent use, and both raise DBE_ALARM when they
// change Snapshot.Meta.AckT or AckS, as an IOC does.
type Acknowledger interface {
	// AckT sets whether transient alarms must be acknowledged (ACKT).
	// Turning it off lowers AckS to the current severity if it was higher.
	AckT(ack bool)
	// AckS acknowledges alarms up to severity sev: if sev is at least the
	// unacknowledged severity AckS, AckS is cleared to NO_ALARM.
	AckS(sev dbr.Severity)
}

// dataKind selects the put conversion, validation and event rules of a core.
type dataKind uint8

const (
	kindNumeric dataKind = iota // numbers: deadbands apply to scalars
	kindEnum                    // state index, validated against the strings
	kindString                  // DBR_STRING, at most 39 bytes per element
	kindChar                    // a long string stored as a NUL-terminated DBR_CHAR array
)

// maxStringBytes is the longest DBR_STRING element in bytes (40 with the NUL).
const maxStringBytes = dbr.MaxStringSize - 1

// defaultCharLength is the MaxLength of a Char when Options leave it 0.
const defaultCharLength = 256

// subEntry is one Subscribe registration; its address identifies it.
type subEntry struct{ s Subscriber }

// dataCore is the type-independent part of every container: state, locking,
// events, subscribers, puts and metadata setters.
type dataCore struct {
	snap atomic.Pointer[Snapshot] // the current state; never nil after construction
	mu   sync.Mutex               // serialises writers and subscriber calls

	// The fields below are guarded by mu.
	subs       []*subEntry // copy-on-write: replaced, never modified in place
	proc       Processor   // computes value and alarm of each update; nil: none
	mdel, adel float64     // value and archive deadbands
	mlst, alst float64     // last value that raised DBE_VALUE / DBE_LOG (numeric scalars)

	// The fields below are fixed at construction.
	clock    func() time.Time
	maxLen   int32
	native   dbr.Type
	kind     dataKind
	readOnly bool
	enc      Encoding
}

// init sets up b with the initial value v (already validated), the
// metadata from o and the enum state strings states. className is the
// default record type name.
func (b *dataCore) init(o Options, native dbr.Type, k dataKind, maxLen int, v dbr.Value, className string, states []string) {
	b.native, b.kind, b.maxLen = native, k, int32(maxLen)
	b.readOnly, b.enc, b.clock = o.ReadOnly, o.Encoding, o.Clock
	b.mdel, b.adel = o.ValueDeadband, o.ArchiveDeadband
	if k == kindNumeric && maxLen == 1 {
		b.mlst = dbr.FirstFloat(v)
		b.alst = b.mlst
	}
	p := &dbr.Properties{Units: o.Units, Precision: o.Precision, Limits: o.Limits, ClassName: o.ClassName, EnumStrings: states}
	if p.Limits == (dbr.Limits{}) {
		nan := math.NaN()
		p.Limits.AlarmHigh, p.Limits.WarningHigh, p.Limits.WarningLow, p.Limits.AlarmLow = nan, nan, nan, nan
	}
	if p.ClassName == "" {
		p.ClassName = className
	}
	b.snap.Store(&Snapshot{Value: v, Meta: dbr.Metadata{Stamp: b.now(), AckT: true, Properties: p}})
}

// now returns the current time as an EPICS timestamp.
func (b *dataCore) now() dbr.Timestamp {
	if b.clock != nil {
		return dbr.NewTimestamp(b.clock())
	}
	return dbr.NewTimestamp(time.Now())
}

// scalar reports whether the container holds exactly one element.
func (b *dataCore) scalar() bool { return b.maxLen == 1 }

// Native returns the native DBR type and the maximum element count. It
// implements PV.
func (b *dataCore) Native() (dbr.Type, int) { return b.native, int(b.maxLen) }

// Access returns AccessRead for a read-only container and ReadWrite
// otherwise. It implements PV.
func (b *dataCore) Access() Access {
	if b.readOnly {
		return AccessRead
	}
	return ReadWrite
}

// Snapshot returns the current state without locking. The result is
// immutable and stays valid; a later change publishes a new Snapshot. It
// implements PV.
func (b *dataCore) Snapshot() *Snapshot { return b.snap.Load() }

// Alarm returns the current alarm status and severity.
func (b *dataCore) Alarm() dbr.Alarm { return b.snap.Load().Meta.Alarm }

// Subscribe registers s to receive every published change whose event mask
// is not empty, with the new snapshot and the mask. Update is called from
// the goroutine making the change while the container's write lock is
// held, so updates arrive in order; Update must therefore return quickly,
// must not block and must not call any method of the container that
// changes it (reads such as Snapshot are fine). The returned cancel
// removes s; once cancel returns, s gets no more updates. Calling cancel
// more than once is harmless. Subscribe does not deliver the current
// state; call Snapshot after Subscribe for that. It implements PV.
func (b *dataCore) Subscribe(s Subscriber) (cancel func()) {
	e := &subEntry{s: s}
	b.mu.Lock()
	subs := make([]*subEntry, len(b.subs), len(b.subs)+1)
	copy(subs, b.subs)
	b.subs = append(subs, e)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, x := range b.subs {
			if x == e {
				subs := make([]*subEntry, 0, len(b.subs)-1)
				subs = append(subs, b.subs[:i]...)
				b.subs = append(subs, b.subs[i+1:]...)
				return
			}
		}
	}
}

// dataChange describes one update to publish.
type dataChange struct {
	value dbr.Value       // nil keeps the value
	alarm *dbr.Alarm      // nil keeps the alarm
	stamp dbr.Timestamp   // with touch: zero means now
	props *dbr.Properties // nil keeps the properties
	touch bool            // set the timestamp (value and alarm updates)
	mask  dbr.EventMask   // extra events to raise
	cause ProcessCause    // what made the update, for the Processor
	proc  bool            // run the Processor even without value or alarm (Reprocess)
}

// ProcessCause says what made a container publish an update, as a
// Processor sees it.
type ProcessCause uint8

// The causes of an update.
const (
	// CauseDriver is an update from the program: Set, SetArray, Post or
	// SetAlarm.
	CauseDriver ProcessCause = iota
	// CausePut is a CA put (PV.Put).
	CausePut
	// CauseReprocess is a call of Reprocess.
	CauseReprocess
)

// String returns "driver", "put" or "reprocess".
func (c ProcessCause) String() string {
	switch c {
	case CauseDriver:
		return "driver"
	case CausePut:
		return "put"
	case CauseReprocess:
		return "reprocess"
	}
	return fmt.Sprintf("ProcessCause(%d)", uint8(c))
}

// Processing is the update a Processor is asked about: the value and the
// alarm the container is about to publish.
type Processing struct {
	// Value is the value about to be published, already converted to the
	// container's native type: the new value, or the current one when the
	// update carries none (SetAlarm, Post without Values, Reprocess). The
	// Processor may replace it with another value of the same native type
	// and an element count the container accepts (1 for a scalar, at most
	// MaxLength); the replacement is ignored when the update carries no
	// value, except for Reprocess. It must not modify the elements in place.
	Value dbr.Value
	// Alarm is the alarm the update carries (AlarmSet) or else the current
	// alarm. The Processor sets the alarm to publish.
	Alarm dbr.Alarm
	// AlarmSet reports whether the update carries an alarm (SetAlarm, or
	// Post with an Alarm).
	AlarmSet bool
	// Cause says what made the update.
	Cause ProcessCause
}

// Processor computes, inside a container's write lock, the value and alarm
// an update publishes, as record processing does in an IOC (e.g. limit
// alarms and drive limits; see package record). It runs for every value
// or alarm update and for Reprocess, never for metadata changes or alarm
// acknowledgements, and its result is published atomically with the
// value. It must be fast, must not block and must not call any method of
// the container (reads of other state under its own locks are fine).
type Processor func(p *Processing)

// SetProcessor installs f to run on every later value and alarm update;
// nil removes it. Without a Processor a container publishes values and
// alarms as given.
func (b *dataCore) SetProcessor(f Processor) {
	b.mu.Lock()
	b.proc = f
	b.mu.Unlock()
}

// Reprocess republishes the current value with the timestamp set to now,
// after running the Processor (see SetProcessor), as an IOC record does
// when it is processed without a new value (a put to PROC, a changed alarm
// limit). Events are raised as for any update: an unchanged value raises
// DBE_VALUE only with a negative deadband, a changed alarm DBE_ALARM.
func (b *dataCore) Reprocess() {
	b.commit(dataChange{touch: true, proc: true, cause: CauseReprocess})
}

// Deadbands returns the value (MDEL) and archive (ADEL) deadbands.
func (b *dataCore) Deadbands() (value, archive float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mdel, b.adel
}

// SetClassName changes the record type name that DBR_CLASS_NAME reports,
// raising DBE_PROPERTY if it differs from the current one.
func (b *dataCore) SetClassName(name string) {
	_ = b.setProps(func(p *dbr.Properties) error { p.ClassName = name; return nil })
}

// process runs the Processor on c. b.mu must be held.
func (b *dataCore) process(old *Snapshot, c *dataChange) {
	if b.proc == nil || (c.value == nil && c.alarm == nil && !c.proc) {
		return
	}
	p := Processing{Value: c.value, Alarm: old.Meta.Alarm, Cause: c.cause}
	if p.Value == nil {
		p.Value = old.Value
	}
	if c.alarm != nil {
		p.Alarm, p.AlarmSet = *c.alarm, true
	}
	b.proc(&p)
	if c.value != nil || c.proc {
		c.value = p.Value
	}
	c.alarm = &p.Alarm
}

// commitLocked publishes the snapshot s filled from the current one and c,
// and notifies the subscribers if the change raised any event. b.mu must
// be held. s is a fresh allocation owned by commitLocked.
func (b *dataCore) commitLocked(s *Snapshot, c dataChange) {
	old := b.snap.Load()
	*s = *old
	b.process(old, &c)
	mask := c.mask
	if c.value != nil {
		mask |= b.valueEvents(old.Value, c.value)
		s.Value = c.value
	}
	if c.alarm != nil && *c.alarm != old.Meta.Alarm {
		mask |= dbr.EventAlarm
		s.Meta.Alarm = *c.alarm
		// recGblResetAlarms: ACKS follows the severity when transient
		// alarms need no acknowledgement, and only rises otherwise.
		if !s.Meta.AckT || c.alarm.Severity >= s.Meta.AckS {
			s.Meta.AckS = c.alarm.Severity
		}
	}
	if c.props != nil {
		s.Meta.Properties = c.props
		mask |= dbr.EventProperty
	}
	if c.touch {
		if c.stamp.IsZero() {
			s.Meta.Stamp = b.now()
		} else {
			s.Meta.Stamp = c.stamp
		}
	}
	b.snap.Store(s)
	if mask != 0 {
		for _, e := range b.subs {
			e.s.Update(s, mask)
		}
	}
}

// commit locks b and publishes a new snapshot for c.
func (b *dataCore) commit(c dataChange) {
	s := new(Snapshot)
	b.mu.Lock()
	b.commitLocked(s, c)
	b.mu.Unlock()
}

// valueEvents returns the DBE_VALUE and DBE_LOG bits raised by replacing
// old with v, updating the last posted values of numeric scalars.
func (b *dataCore) valueEvents(old, v dbr.Value) dbr.EventMask {
	var m dbr.EventMask
	if b.kind == kindNumeric && b.scalar() && v.Len() == 1 {
		f := dbr.FirstFloat(v)
		if exceedsDeadband(b.mlst, f, b.mdel) {
			m |= dbr.EventValue
			b.mlst = f
		}
		if exceedsDeadband(b.alst, f, b.adel) {
			m |= dbr.EventLog
			b.alst = f
		}
		return m
	}
	changed := !sameValues(old, v)
	if changed || b.mdel < 0 {
		m |= dbr.EventValue
	}
	if changed || b.adel < 0 {
		m |= dbr.EventLog
	}
	return m
}

// exceedsDeadband reports whether v differs from last by more than deadband, as
// recGblCheckDeadband decides: a change between a finite and a non-finite
// value, or between +Inf and -Inf, is an infinite difference; NaN to NaN
// is none.
func exceedsDeadband(last, v, deadband float64) bool {
	var delta float64
	switch {
	case !math.IsInf(v, 0) && !math.IsNaN(v) && !math.IsInf(last, 0) && !math.IsNaN(last):
		delta = math.Abs(last - v)
	case math.IsNaN(v) && math.IsNaN(last):
	case v != last:
		delta = math.Inf(1)
	}
	return delta > deadband
}

// SetAlarm publishes a new alarm status and severity with the timestamp
// set to now and the value unchanged. A change of status or severity raises
// DBE_ALARM.
func (b *dataCore) SetAlarm(a dbr.Alarm) { b.commit(dataChange{alarm: &a, touch: true}) }

// SetDeadbands changes the value (MDEL) and archive (ADEL) deadbands; see
// Options.ValueDeadband. They apply from the next update on.
func (b *dataCore) SetDeadbands(value, archive float64) {
	b.mu.Lock()
	b.mdel, b.adel = value, archive
	b.mu.Unlock()
}

// setProps publishes a copy of the current properties modified by f, with
// DBE_PROPERTY if f changed anything. f runs under the write lock.
func (b *dataCore) setProps(f func(p *dbr.Properties) error) error {
	s := new(Snapshot)
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.snap.Load().Meta.Properties
	p := *old
	if err := f(&p); err != nil {
		return err
	}
	if sameProps(&p, old) {
		return nil
	}
	b.commitLocked(s, dataChange{props: &p})
	return nil
}

// SetUnits changes the engineering units, raising DBE_PROPERTY if they
// differ from the current ones.
func (b *dataCore) SetUnits(units string) {
	_ = b.setProps(func(p *dbr.Properties) error { p.Units = units; return nil })
}

// SetPrecision changes the display precision, raising DBE_PROPERTY if it
// differs from the current one.
func (b *dataCore) SetPrecision(prec int16) {
	_ = b.setProps(func(p *dbr.Properties) error { p.Precision = prec; return nil })
}

// SetLimits changes the display, alarm and control limits, raising
// DBE_PROPERTY if they differ from the current ones (NaN equals NaN here).
func (b *dataCore) SetLimits(l dbr.Limits) {
	_ = b.setProps(func(p *dbr.Properties) error { p.Limits = l; return nil })
}

// AckT sets the alarm acknowledge transient flag (ACKT, DBR_PUT_ACKT).
// When it is turned off and AckS is above the current severity, AckS drops
// to the current severity. A change raises DBE_ALARM. It implements
// Acknowledger.
func (b *dataCore) AckT(ack bool) {
	s := new(Snapshot)
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.snap.Load()
	if old.Meta.AckT == ack {
		return
	}
	*s = *old
	s.Meta.AckT = ack
	if !ack && s.Meta.AckS > s.Meta.Severity {
		s.Meta.AckS = s.Meta.Severity
	}
	b.publishAckLocked(s)
}

// AckS acknowledges alarms (DBR_PUT_ACKS): if sev is at least the highest
// unacknowledged severity, that severity is cleared to NO_ALARM and
// DBE_ALARM is raised; otherwise nothing changes. It implements
// Acknowledger.
func (b *dataCore) AckS(sev dbr.Severity) {
	s := new(Snapshot)
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.snap.Load()
	if old.Meta.AckS == dbr.SeverityNone || sev < old.Meta.AckS {
		return
	}
	*s = *old
	s.Meta.AckS = dbr.SeverityNone
	b.publishAckLocked(s)
}

// publishAckLocked stores s, a modified copy of the current snapshot, and
// raises DBE_ALARM. b.mu must be held.
func (b *dataCore) publishAckLocked(s *Snapshot) {
	b.snap.Store(s)
	for _, e := range b.subs {
		e.s.Update(s, dbr.EventAlarm)
	}
}

// Put converts v to the native type and publishes it with the timestamp
// set to now and the alarm unchanged; see PV.Put. It rejects the put with
// ErrReadOnly on a read-only container, with an error wrapping ErrInvalid
// for an enum index without a state string, a DBR_STRING element longer
// than 39 bytes or a Char text longer than MaxLength-1 bytes, and passes
// dbr conversion errors through. An array longer than MaxLength is
// truncated to MaxLength (as an IOC does); zero elements empty an array and
// leave a scalar unchanged. A rejected put changes nothing. v is kept, not
// copied, so the caller must not modify it afterwards. ctx is not used: a
// put completes in memory without blocking. It implements PV.
func (b *dataCore) Put(ctx context.Context, v dbr.Value) error {
	if b.readOnly {
		return ErrReadOnly
	}
	n := 0
	if v != nil {
		n = v.Len()
	}
	if n == 0 && b.scalar() && b.kind != kindChar {
		return nil
	}
	s := new(Snapshot)
	b.mu.Lock()
	defer b.mu.Unlock()
	nv, err := b.convertPut(v, b.snap.Load().Meta.Properties)
	if err != nil {
		return err
	}
	b.commitLocked(s, dataChange{value: nv, touch: true, cause: CausePut})
	return nil
}

// convertPut converts and validates a put value. b.mu must be held.
func (b *dataCore) convertPut(v dbr.Value, p *dbr.Properties) (dbr.Value, error) {
	if v == nil {
		v = dbr.MakeValue(b.native, 0)
	}
	if b.kind == kindChar {
		return b.convertText(v)
	}
	if v.Len() > int(b.maxLen) {
		v = truncValue(v, int(b.maxLen))
	}
	var states []string
	if b.kind == kindEnum {
		states = p.EnumStrings
		if x, ok := v.(dbr.Strings); ok && len(states) > 0 {
			out := make(dbr.Enums, len(x))
			for i, str := range x {
				idx, err := dbr.ParseEnum(str, states)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
				}
				out[i] = idx
			}
			return out, nil
		}
	}
	nv, err := dbr.Convert(v, b.native, p)
	if err != nil {
		return nil, err
	}
	switch x := nv.(type) {
	case dbr.Enums:
		if len(states) > 0 {
			for _, idx := range x {
				if int(idx) >= len(states) {
					return nil, fmt.Errorf("%w: enum index %d, %d states", ErrInvalid, idx, len(states))
				}
			}
		}
	case dbr.Strings:
		for _, str := range x {
			if len(str) > maxStringBytes {
				return nil, fmt.Errorf("%w: string of %d bytes, maximum %d", ErrInvalid, len(str), maxStringBytes)
			}
		}
	}
	return nv, nil
}

// convertText converts a put to a Char container: DBR_STRING (one element)
// gives the text; anything else is converted to DBR_CHAR and cut at its
// first NUL. The result is the text followed by one NUL.
func (b *dataCore) convertText(v dbr.Value) (dbr.Value, error) {
	var text dbr.Chars
	switch x := v.(type) {
	case dbr.Strings:
		switch len(x) {
		case 0:
		case 1:
			text = dbr.Chars(x[0])
		default:
			return nil, fmt.Errorf("%w: %d strings to a long string", ErrInvalid, len(x))
		}
	default:
		cv, err := dbr.Convert(v, dbr.Char, nil)
		if err != nil {
			return nil, err
		}
		text = cv.(dbr.Chars)
	}
	for i, c := range text {
		if c == 0 {
			if i > int(b.maxLen)-1 {
				break
			}
			return text[: i+1 : i+1], nil
		}
	}
	if len(text) > int(b.maxLen)-1 {
		return nil, fmt.Errorf("%w: text of %d bytes, maximum %d", ErrInvalid, charTextLen(text), b.maxLen-1)
	}
	out := make(dbr.Chars, len(text)+1)
	copy(out, text)
	return out, nil
}

// charTextLen returns the length of text up to its first NUL.
func charTextLen(text []byte) int {
	for i, c := range text {
		if c == 0 {
			return i
		}
	}
	return len(text)
}

// sameProps reports whether a and b are equal, comparing limits bitwise
// so that NaN limits equal each other.
func sameProps(a, b *dbr.Properties) bool {
	if a.Units != b.Units || a.Precision != b.Precision || a.ClassName != b.ClassName ||
		len(a.EnumStrings) != len(b.EnumStrings) {
		return false
	}
	for i := range a.EnumStrings {
		if a.EnumStrings[i] != b.EnumStrings[i] {
			return false
		}
	}
	la, lb := limitArray(&a.Limits), limitArray(&b.Limits)
	for i := range la {
		if math.Float64bits(la[i]) != math.Float64bits(lb[i]) {
			return false
		}
	}
	return true
}

// limitArray returns the eight limits in order.
func limitArray(l *dbr.Limits) [8]float64 {
	return [8]float64{l.DisplayHigh, l.DisplayLow, l.AlarmHigh, l.WarningHigh, l.WarningLow, l.AlarmLow, l.ControlHigh, l.ControlLow}
}

// dataElem is the set of Go element types the containers store.
type dataElem interface {
	float64 | float32 | int32 | int16 | uint8 | uint16 | string
}

// wrapValue returns v as the dbr.Value of its element type. It does not copy.
func wrapValue[E dataElem](v []E) dbr.Value {
	switch x := any(v).(type) {
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
	case []string:
		return dbr.Strings(x)
	}
	return nil
}

// truncValue returns the first n elements of v (n <= v.Len()), with the
// capacity cut to n.
func truncValue(v dbr.Value, n int) dbr.Value {
	switch x := v.(type) {
	case dbr.Strings:
		return x[:n:n]
	case dbr.Shorts:
		return x[:n:n]
	case dbr.Floats:
		return x[:n:n]
	case dbr.Enums:
		return x[:n:n]
	case dbr.Chars:
		return x[:n:n]
	case dbr.Longs:
		return x[:n:n]
	case dbr.Doubles:
		return x[:n:n]
	}
	return v
}

// sameValues reports whether a and b hold the same elements; floating
// NaNs equal each other.
func sameValues(a, b dbr.Value) bool {
	if a == nil || b == nil || a.Type() != b.Type() || a.Len() != b.Len() {
		return false
	}
	switch x := a.(type) {
	case dbr.Doubles:
		return sameFloats(x, b.(dbr.Doubles))
	case dbr.Floats:
		return sameFloats(x, b.(dbr.Floats))
	case dbr.Longs:
		return sameElems(x, b.(dbr.Longs))
	case dbr.Shorts:
		return sameElems(x, b.(dbr.Shorts))
	case dbr.Chars:
		return sameElems(x, b.(dbr.Chars))
	case dbr.Enums:
		return sameElems(x, b.(dbr.Enums))
	case dbr.Strings:
		return sameElems(x, b.(dbr.Strings))
	}
	return false
}

func sameElems[E comparable](a, b []E) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameFloats[E float32 | float64](a, b []E) bool {
	for i := range a {
		if a[i] != b[i] && (a[i] == a[i] || b[i] == b[i]) {
			return false
		}
	}
	return true
}

// typedCore adds the methods that take and return values of the Go element
// type E to dataCore. Double, Float, Long, Short, Byte and Enum embed it.
type typedCore[E dataElem] struct{ dataCore }

// scalarSnap lets a scalar update allocate its snapshot and its element
// together.
type scalarSnap[E dataElem] struct {
	s Snapshot
	a [1]E
}

// Set publishes v as the new value (a scalar, or an array of length 1)
// with the timestamp set to now and the alarm unchanged.
func (t *typedCore[E]) Set(v E) {
	x := new(scalarSnap[E])
	x.a[0] = v
	val := wrapValue(x.a[:])
	t.mu.Lock()
	t.commitLocked(&x.s, dataChange{value: val, touch: true})
	t.mu.Unlock()
}

// SetArray publishes a copy of vs as the new value with the timestamp set
// to now and the alarm unchanged. It returns an error wrapping ErrInvalid,
// and changes nothing, if vs is longer than MaxLength or if the container
// is a scalar and vs does not hold exactly one element.
func (t *typedCore[E]) SetArray(vs []E) error {
	return t.Post(Post[E]{Values: vs})
}

// Post publishes value, alarm and timestamp together in one snapshot; see
// Post for the fields. It fails like SetArray, changing nothing.
func (t *typedCore[E]) Post(p Post[E]) error {
	c := dataChange{alarm: p.Alarm, stamp: p.Stamp, touch: true}
	if p.Values != nil {
		if err := t.checkLen(len(p.Values)); err != nil {
			return err
		}
		c.value = wrapValue(append(make([]E, 0, len(p.Values)), p.Values...))
	}
	t.commit(c)
	return nil
}

// checkLen validates the element count of a driver update.
func (b *dataCore) checkLen(n int) error {
	if b.scalar() && n != 1 {
		return fmt.Errorf("%w: %d elements to a scalar", ErrInvalid, n)
	}
	if n > int(b.maxLen) {
		return fmt.Errorf("%w: %d elements, maximum %d", ErrInvalid, n, b.maxLen)
	}
	return nil
}

// Value returns the first element of the current value, or the zero value
// of E if the array is empty.
func (t *typedCore[E]) Value() E {
	vs := dbr.Elements[E](t.snap.Load().Value)
	if len(vs) == 0 {
		var zero E
		return zero
	}
	return vs[0]
}

// Values returns a copy of the current elements.
func (t *typedCore[E]) Values() []E {
	vs := dbr.Elements[E](t.snap.Load().Value)
	return append(make([]E, 0, len(vs)), vs...)
}
