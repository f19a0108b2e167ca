package ca

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
)

// fakeClock is a test clock that advances by one second on every call.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// last returns the time the clock returned last.
func (c *fakeClock) last() dbr.Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return dbr.NewTimestamp(c.t)
}

// update is one Subscriber.Update call.
type update struct {
	s    *Snapshot
	mask dbr.EventMask
}

// recorder is a Subscriber that keeps every update.
type recorder struct {
	mu  sync.Mutex
	got []update
}

func (r *recorder) Update(s *Snapshot, m dbr.EventMask) {
	r.mu.Lock()
	r.got = append(r.got, update{s, m})
	r.mu.Unlock()
}

// take returns and forgets the updates received so far.
func (r *recorder) take() []update {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.got
	r.got = nil
	return g
}

// masks returns and forgets the masks received so far.
func (r *recorder) masks() []dbr.EventMask {
	var m []dbr.EventMask
	for _, u := range r.take() {
		m = append(m, u.mask)
	}
	return m
}

func TestNewDefaults(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name      string
		pv        PV
		native    dbr.Type
		count     int
		access    Access
		class     string
		value     dbr.Value
		wantUnits string
	}{
		{"double scalar", NewDouble(Options{Units: "mm"}, 3.14), dbr.Double, 1, ReadWrite, "ao", dbr.Doubles{3.14}, "mm"},
		{"double ro", NewDouble(Options{ReadOnly: true}), dbr.Double, 1, AccessRead, "ai", dbr.Doubles{0}, ""},
		{"double array empty", NewDouble(Options{MaxLength: 10}), dbr.Double, 10, ReadWrite, "waveform", dbr.Doubles{}, ""},
		{"double array grows", NewDouble(Options{MaxLength: 2}, 1, 2, 3), dbr.Double, 3, ReadWrite, "waveform", dbr.Doubles{1, 2, 3}, ""},
		{"float", NewFloat(Options{}, 1.5), dbr.Float, 1, ReadWrite, "ao", dbr.Floats{1.5}, ""},
		{"long ro", NewLong(Options{ReadOnly: true}, 7), dbr.Long, 1, AccessRead, "longin", dbr.Longs{7}, ""},
		{"long", NewLong(Options{}, 7), dbr.Long, 1, ReadWrite, "longout", dbr.Longs{7}, ""},
		{"short", NewShort(Options{}, -2), dbr.Short, 1, ReadWrite, "longout", dbr.Shorts{-2}, ""},
		{"byte", NewByte(Options{}, 200), dbr.Char, 1, ReadWrite, "longout", dbr.Chars{200}, ""},
		{"byte array", NewByte(Options{MaxLength: 4}, 1, 2), dbr.Char, 4, ReadWrite, "waveform", dbr.Chars{1, 2}, ""},
		{"enum", NewEnum(Options{}, []string{"Off", "On"}, 1), dbr.Enum, 1, ReadWrite, "mbbo", dbr.Enums{1}, ""},
		{"enum ro", NewEnum(Options{ReadOnly: true}, []string{"Off", "On"}), dbr.Enum, 1, AccessRead, "mbbi", dbr.Enums{0}, ""},
		{"string", NewString(Options{}, "hello"), dbr.String, 1, ReadWrite, "stringout", dbr.Strings{"hello"}, ""},
		{"string empty", NewString(Options{ReadOnly: true}), dbr.String, 1, AccessRead, "stringin", dbr.Strings{""}, ""},
		{"string array", NewString(Options{MaxLength: 3}, "a"), dbr.String, 3, ReadWrite, "waveform", dbr.Strings{"a"}, ""},
		{"char", NewChar(Options{}, "long text"), dbr.Char, 256, ReadWrite, "waveform", dbr.Chars("long text\x00"), ""},
		{"char grows", NewChar(Options{MaxLength: 3}, "abcd"), dbr.Char, 5, ReadWrite, "waveform", dbr.Chars("abcd\x00"), ""},
		{"char cut at NUL", NewChar(Options{MaxLength: 8}, "ab\x00cd"), dbr.Char, 8, ReadWrite, "waveform", dbr.Chars("ab\x00"), ""},
		{"class override", NewDouble(Options{ClassName: "calc"}), dbr.Double, 1, ReadWrite, "calc", dbr.Doubles{0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, n := tt.pv.Native()
			if typ != tt.native || n != tt.count {
				t.Errorf("Native() = %v, %d; want %v, %d", typ, n, tt.native, tt.count)
			}
			if a := tt.pv.Access(); a != tt.access {
				t.Errorf("Access() = %v, want %v", a, tt.access)
			}
			s := tt.pv.Snapshot()
			if !reflect.DeepEqual(s.Value, tt.value) {
				t.Errorf("value = %#v, want %#v", s.Value, tt.value)
			}
			p := s.Meta.Properties
			if p == nil {
				t.Fatal("nil Properties")
			}
			if p.ClassName != tt.class {
				t.Errorf("ClassName = %q, want %q", p.ClassName, tt.class)
			}
			if p.Units != tt.wantUnits {
				t.Errorf("Units = %q, want %q", p.Units, tt.wantUnits)
			}
			if s.Meta.Alarm != (dbr.Alarm{}) || !s.Meta.AckT || s.Meta.AckS != dbr.SeverityNone {
				t.Errorf("alarm meta = %+v, want NO_ALARM, AckT, AckS NO_ALARM", s.Meta)
			}
			if s.Meta.Stamp.IsZero() {
				t.Error("zero timestamp")
			}
			l := p.Limits
			if l.DisplayHigh != 0 || l.ControlLow != 0 || !math.IsNaN(l.AlarmHigh) || !math.IsNaN(l.AlarmLow) ||
				!math.IsNaN(l.WarningHigh) || !math.IsNaN(l.WarningLow) {
				t.Errorf("default limits = %+v, want 0 and NaN alarm limits (%v)", l, nan)
			}
		})
	}
}

func TestNewKeepsGivenLimitsAndClock(t *testing.T) {
	clk := newFakeClock()
	l := dbr.Limits{DisplayHigh: 10, DisplayLow: -10, AlarmHigh: 9, WarningHigh: 8, WarningLow: -8, AlarmLow: -9, ControlHigh: 5, ControlLow: -5}
	d := NewDouble(Options{Limits: l, Precision: 3, Clock: clk.Now}, 1)
	s := d.Snapshot()
	if s.Meta.Properties.Limits != l || s.Meta.Properties.Precision != 3 {
		t.Errorf("properties = %+v", *s.Meta.Properties)
	}
	if s.Meta.Stamp != clk.last() {
		t.Errorf("stamp = %v, want %v", s.Meta.Stamp, clk.last())
	}
}

func TestEnumStringsTruncated(t *testing.T) {
	states := make([]string, 20)
	for i := range states {
		states[i] = strings.Repeat("x", 30)
	}
	e := NewEnum(Options{}, states)
	got := e.EnumStrings()
	if len(got) != 16 {
		t.Fatalf("%d states, want 16", len(got))
	}
	for _, s := range got {
		if len(s) != 25 {
			t.Fatalf("state of %d bytes, want 25", len(s))
		}
	}
}

func TestSetValue(t *testing.T) {
	clk := newFakeClock()
	d := NewDouble(Options{Clock: clk.Now}, 1)
	d.SetAlarm(dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor})
	d.Set(2.5)
	if v := d.Value(); v != 2.5 {
		t.Errorf("Value() = %v", v)
	}
	if vs := d.Values(); !reflect.DeepEqual(vs, []float64{2.5}) {
		t.Errorf("Values() = %v", vs)
	}
	s := d.Snapshot()
	if s.Meta.Stamp != clk.last() {
		t.Errorf("Set did not stamp now: %v, want %v", s.Meta.Stamp, clk.last())
	}
	if d.Alarm() != (dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor}) {
		t.Errorf("Set changed the alarm: %v", d.Alarm())
	}
	// Values is a copy.
	vs := d.Values()
	vs[0] = 99
	if d.Value() != 2.5 {
		t.Error("Values aliases the snapshot")
	}
}

func TestSetArray(t *testing.T) {
	d := NewDouble(Options{MaxLength: 3})
	if err := d.SetArray([]float64{1, 2, 3, 4}); !errors.Is(err, ErrInvalid) {
		t.Errorf("too long: err = %v, want ErrInvalid", err)
	}
	if vs := d.Values(); len(vs) != 0 {
		t.Errorf("rejected SetArray changed the value to %v", vs)
	}
	in := []float64{1, 2, 3}
	if err := d.SetArray(in); err != nil {
		t.Fatal(err)
	}
	in[0] = 100 // SetArray copied
	if vs := d.Values(); !reflect.DeepEqual(vs, []float64{1, 2, 3}) {
		t.Errorf("Values() = %v", vs)
	}
	if err := d.SetArray([]float64{}); err != nil {
		t.Fatal(err)
	}
	if vs := d.Values(); len(vs) != 0 || d.Value() != 0 {
		t.Errorf("empty array: Values() = %v, Value() = %v", vs, d.Value())
	}
	d.Set(7)
	if vs := d.Values(); !reflect.DeepEqual(vs, []float64{7}) {
		t.Errorf("Set on array: Values() = %v", vs)
	}

	sc := NewLong(Options{}, 5)
	for _, bad := range [][]int32{{}, {1, 2}} {
		if err := sc.SetArray(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("scalar SetArray(%v): err = %v, want ErrInvalid", bad, err)
		}
	}
	if sc.Value() != 5 {
		t.Errorf("rejected SetArray changed the scalar to %d", sc.Value())
	}
}

func TestPostAtomic(t *testing.T) {
	d := NewDouble(Options{})
	r := new(recorder)
	d.Subscribe(r)
	stamp := dbr.Timestamp{Sec: 1000, Nsec: 5}
	alarm := dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}
	if err := d.Post(Post[float64]{Values: []float64{42}, Alarm: &alarm, Stamp: stamp}); err != nil {
		t.Fatal(err)
	}
	got := r.take()
	if len(got) != 1 {
		t.Fatalf("%d updates, want 1", len(got))
	}
	s := got[0].s
	if s != d.Snapshot() || !reflect.DeepEqual(s.Value, dbr.Doubles{42}) || s.Meta.Alarm != alarm || s.Meta.Stamp != stamp {
		t.Errorf("snapshot = %+v", *s)
	}
	if want := dbr.EventValue | dbr.EventLog | dbr.EventAlarm; got[0].mask != want {
		t.Errorf("mask = %v, want %v", got[0].mask, want)
	}
	// Alarm only, value kept.
	ok := dbr.Alarm{}
	if err := d.Post(Post[float64]{Alarm: &ok}); err != nil {
		t.Fatal(err)
	}
	if d.Value() != 42 || d.Alarm() != ok {
		t.Errorf("alarm-only post: value %v alarm %v", d.Value(), d.Alarm())
	}
	if m := r.masks(); !reflect.DeepEqual(m, []dbr.EventMask{dbr.EventAlarm}) {
		t.Errorf("masks = %v", m)
	}
	if err := d.Post(Post[float64]{Values: []float64{1, 2}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("two values to a scalar: err = %v", err)
	}
}

func TestStringContainer(t *testing.T) {
	s := NewString(Options{}, strings.Repeat("y", 50))
	if v := s.Value(); len(v) != 39 {
		t.Errorf("constructor kept %d bytes, want 39", len(v))
	}
	if err := s.Set(strings.Repeat("z", 40)); !errors.Is(err, ErrInvalid) {
		t.Errorf("40 bytes: err = %v", err)
	}
	if err := s.Set("hello"); err != nil || s.Value() != "hello" {
		t.Errorf("Set: err %v, value %q", err, s.Value())
	}
	a := NewString(Options{MaxLength: 2})
	if err := a.SetArray([]string{"a", "b", "c"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("too long: err = %v", err)
	}
	if err := a.SetArray([]string{"a", "b"}); err != nil || !reflect.DeepEqual(a.Values(), []string{"a", "b"}) {
		t.Errorf("SetArray: err %v, values %q", err, a.Values())
	}
	// UTF-8 truncation stops at a character boundary.
	u := NewString(Options{}, strings.Repeat("é", 20)) // 40 bytes
	if v := u.Value(); len(v) != 38 {
		t.Errorf("UTF-8 cut to %d bytes, want 38", len(v))
	}
}

func TestEncodingLatin1(t *testing.T) {
	s := NewString(Options{Encoding: Latin1}, "café")
	if got := s.Snapshot().Value.(dbr.Strings)[0]; got != "caf\xe9" {
		t.Errorf("wire bytes = %q", got)
	}
	if s.Value() != "café" {
		t.Errorf("Value() = %q", s.Value())
	}
	if err := s.Set("€5"); err != nil || s.Value() != "?5" {
		t.Errorf("unrepresentable rune: err %v, value %q", err, s.Value())
	}
	c := NewChar(Options{Encoding: Latin1, MaxLength: 6}, "über")
	if got := c.Snapshot().Value.(dbr.Chars); string(got) != "\xfcber\x00" {
		t.Errorf("wire bytes = %q", got)
	}
	if c.Value() != "über" {
		t.Errorf("Value() = %q", c.Value())
	}
	if UTF8.String() != "UTF-8" || Latin1.String() != "Latin-1" {
		t.Error("Encoding.String")
	}
}

func TestCharContainer(t *testing.T) {
	c := NewChar(Options{MaxLength: 6}, "abc")
	if err := c.Set("hello"); err != nil || c.Value() != "hello" {
		t.Errorf("Set 5 bytes: err %v, value %q", err, c.Value())
	}
	if got := c.Snapshot().Value; !reflect.DeepEqual(got, dbr.Chars("hello\x00")) {
		t.Errorf("stored %q", got)
	}
	for _, bad := range []string{"toolong", "a\x00b"} {
		if err := c.Set(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Set(%q): err = %v", bad, err)
		}
	}
	if err := c.Post(Post[string]{Values: []string{"a", "b"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("two strings: err = %v", err)
	}
	if c.Value() != "hello" {
		t.Errorf("rejected sets changed the text to %q", c.Value())
	}
	if err := c.Set(""); err != nil || c.Snapshot().Value.Len() != 1 {
		t.Errorf("empty text: err %v, value %q", err, c.Snapshot().Value)
	}
}

func TestEnumStrings(t *testing.T) {
	e := NewEnum(Options{}, []string{"Off", "On"})
	r := new(recorder)
	e.Subscribe(r)
	if err := e.SetEnumStrings([]string{"Off", "On", "Fault"}); err != nil {
		t.Fatal(err)
	}
	if m := r.masks(); !reflect.DeepEqual(m, []dbr.EventMask{dbr.EventProperty}) {
		t.Errorf("masks = %v", m)
	}
	if err := e.SetEnumStrings([]string{"Off", "On", "Fault"}); err != nil {
		t.Fatal(err)
	}
	if m := r.masks(); len(m) != 0 {
		t.Errorf("identical strings raised %v", m)
	}
	if err := e.SetEnumStrings(make([]string, 17)); !errors.Is(err, ErrInvalid) {
		t.Errorf("17 states: err = %v", err)
	}
	if err := e.SetEnumStrings([]string{strings.Repeat("s", 26)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("26-byte state: err = %v", err)
	}
	if got := e.EnumStrings(); !reflect.DeepEqual(got, []string{"Off", "On", "Fault"}) {
		t.Errorf("EnumStrings() = %q", got)
	}
	e.Set(7) // the driver may set an index without a string
	if e.Value() != 7 {
		t.Errorf("Value() = %d", e.Value())
	}
}

func TestSubscribeCancel(t *testing.T) {
	d := NewLong(Options{})
	r1, r2 := new(recorder), new(recorder)
	c1 := d.Subscribe(r1)
	c2 := d.Subscribe(r2)
	d.Set(1)
	c1()
	c1() // harmless
	d.Set(2)
	c2()
	d.Set(3)
	if n := len(r1.take()); n != 1 {
		t.Errorf("r1 got %d updates, want 1", n)
	}
	got := r2.take()
	if len(got) != 2 || got[0].s.Value.(dbr.Longs)[0] != 1 || got[1].s.Value.(dbr.Longs)[0] != 2 {
		t.Errorf("r2 got %+v", got)
	}
	c2()
	// The same subscriber twice gets two updates; each cancel removes one.
	c3 := d.Subscribe(r1)
	d.Subscribe(r1)
	d.Set(4)
	c3()
	d.Set(5)
	if n := len(r1.take()); n != 3 {
		t.Errorf("double subscription: %d updates, want 3", n)
	}
}

func TestSnapshotImmutable(t *testing.T) {
	d := NewDouble(Options{Units: "V"}, 1)
	s1 := d.Snapshot()
	d.Set(2)
	d.SetAlarm(dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityInvalid})
	if !reflect.DeepEqual(s1.Value, dbr.Doubles{1}) || s1.Meta.Alarm != (dbr.Alarm{}) {
		t.Errorf("old snapshot changed: %+v", *s1)
	}
	s2 := d.Snapshot()
	if s2.Meta.Properties != s1.Meta.Properties {
		t.Error("a value update replaced the Properties pointer")
	}
	d.SetUnits("mV")
	if d.Snapshot().Meta.Properties == s1.Meta.Properties || s1.Meta.Properties.Units != "V" {
		t.Error("SetUnits modified the shared Properties in place")
	}
}
