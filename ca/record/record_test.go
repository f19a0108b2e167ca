package record_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/record"
)

// recorder is a ca.Subscriber that keeps every update.
type recorder struct {
	mu    sync.Mutex
	snaps []*ca.Snapshot
	masks []dbr.EventMask
}

func (r *recorder) Update(s *ca.Snapshot, m dbr.EventMask) {
	r.mu.Lock()
	r.snaps = append(r.snaps, s)
	r.masks = append(r.masks, m)
	r.mu.Unlock()
}

func (r *recorder) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.snaps)
}

func (r *recorder) last(t *testing.T) (*ca.Snapshot, dbr.EventMask) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.snaps) == 0 {
		t.Fatal("no update")
	}
	return r.snaps[len(r.snaps)-1], r.masks[len(r.masks)-1]
}

func newRecord(t *testing.T, name string, pv ca.PV, cfg record.Config) (*record.Record, *record.Directory) {
	t.Helper()
	r, err := record.New(name, pv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := new(record.Directory)
	if err := d.Add(r); err != nil {
		t.Fatal(err)
	}
	return r, d
}

func lookup(t *testing.T, d *record.Directory, name string) ca.PV {
	t.Helper()
	pv, ok := d.Lookup(name)
	if !ok {
		t.Fatalf("%s not found", name)
	}
	return pv
}

func put(t *testing.T, d *record.Directory, name string, v dbr.Value) {
	t.Helper()
	if err := lookup(t, d, name).Put(context.Background(), v); err != nil {
		t.Fatalf("put %s %v: %v", name, v, err)
	}
}

func TestFieldChannels(t *testing.T) {
	val := ca.NewDouble(ca.Options{Units: "degC", Precision: 2}, 1.5)
	_, d := newRecord(t, "TEMP", val, record.Config{Type: "ai", DESC: "a thermometer",
		Alarm: &record.LimitAlarm{HIHI: 90, HHSV: dbr.SeverityMajor}})
	sevr := dbr.SeverityNames()
	scan := record.MenuScan.Choices()
	tests := []struct {
		name   string
		typ    dbr.Type
		count  int
		access ca.Access
		value  dbr.Value
		strs   []string
	}{
		{"TEMP.DESC", dbr.String, 1, ca.ReadWrite, dbr.Strings{"a thermometer"}, nil},
		{"TEMP.DESC$", dbr.Char, 41, ca.ReadWrite, dbr.Chars("a thermometer\x00"), nil},
		{"TEMP.NAME", dbr.String, 1, ca.AccessRead, dbr.Strings{"TEMP"}, nil},
		{"TEMP.NAME$", dbr.Char, 61, ca.AccessRead, dbr.Chars("TEMP\x00"), nil},
		{"TEMP.RTYP", dbr.String, 1, ca.ReadWrite, dbr.Strings{"ai"}, nil},
		{"TEMP.EGU", dbr.String, 1, ca.ReadWrite, dbr.Strings{"degC"}, nil},
		{"TEMP.EGU$", dbr.Char, 16, ca.ReadWrite, dbr.Chars("degC\x00"), nil},
		{"TEMP.PREC", dbr.Short, 1, ca.ReadWrite, dbr.Shorts{2}, nil},
		{"TEMP.HIHI", dbr.Double, 1, ca.ReadWrite, dbr.Doubles{90}, nil},
		{"TEMP.HHSV", dbr.Enum, 1, ca.ReadWrite, dbr.Enums{2}, sevr},
		{"TEMP.HSV", dbr.Enum, 1, ca.ReadWrite, dbr.Enums{0}, sevr},
		{"TEMP.HYST", dbr.Double, 1, ca.ReadWrite, dbr.Doubles{0}, nil},
		{"TEMP.SCAN", dbr.Enum, 1, ca.ReadWrite, dbr.Enums{0}, scan},
		{"TEMP.PROC", dbr.Char, 1, ca.ReadWrite, dbr.Chars{0}, nil},
		{"TEMP.SEVR", dbr.Enum, 1, ca.AccessRead, dbr.Enums{0}, sevr},
		{"TEMP.STAT", dbr.Enum, 1, ca.AccessRead, dbr.Enums{0}, dbr.StatusNames()},
		{"TEMP.MDEL", dbr.Double, 1, ca.ReadWrite, dbr.Doubles{0}, nil},
		{"TEMP.INP", dbr.String, 1, ca.ReadWrite, dbr.Strings{""}, nil},
		{"TEMP.INP$", dbr.Char, record.LinkStringSize, ca.ReadWrite, dbr.Chars{0}, nil},
		{"TEMP.LALM", dbr.Double, 1, ca.AccessRead, dbr.Doubles{1.5}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pv := lookup(t, d, tt.name)
			if typ, n := pv.Native(); typ != tt.typ || n != tt.count {
				t.Errorf("Native() = %v %d, want %v %d", typ, n, tt.typ, tt.count)
			}
			if a := pv.Access(); a != tt.access {
				t.Errorf("Access() = %v, want %v", a, tt.access)
			}
			s := pv.Snapshot()
			if !slices.Equal(formatValues(s.Value), formatValues(tt.value)) || s.Value.Type() != tt.value.Type() {
				t.Errorf("value %#v, want %#v", s.Value, tt.value)
			}
			if s.Meta.Properties.ClassName != "ai" {
				t.Errorf("class %q", s.Meta.Properties.ClassName)
			}
			if !slices.Equal(s.Meta.Properties.EnumStrings, tt.strs) {
				t.Errorf("enum strings %q, want %q", s.Meta.Properties.EnumStrings, tt.strs)
			}
		})
	}
	if got := val.Snapshot().Meta.Properties.ClassName; got != "ai" {
		t.Errorf("value class %q", got)
	}
	for _, name := range []string{"TEMP", "TEMP.VAL", "TEMP."} {
		if pv := lookup(t, d, name); pv != ca.PV(val) {
			t.Errorf("%s is %T, want the container", name, pv)
		}
	}
	if a, b := lookup(t, d, "TEMP.DESC"), lookup(t, d, "TEMP.DESC"); a != b {
		t.Errorf("field PVs are not reused")
	}
}

func TestNotFound(t *testing.T) {
	_, d := newRecord(t, "TEMP", ca.NewDouble(ca.Options{}), record.Config{Type: "ai"})
	for _, name := range []string{"NOPE", "NOPE.DESC", "TEMP.NOPE", "TEMP.desc", "TEMP.PREC$", "TEMP.VAL$",
		"TEMP.ZNAM", "TEMP.NELM", "TEMP.DESC{}", "TEMP.VAL[1:2]", "TEMP.DESC$x", ".DESC", "TEMP.DRVH"} {
		if pv, ok := d.Lookup(name); ok {
			t.Errorf("%s found: %T", name, pv)
		}
	}
}

func TestFieldPutErrors(t *testing.T) {
	_, d := newRecord(t, "TEMP", ca.NewDouble(ca.Options{}), record.Config{Type: "ai"})
	tests := []struct {
		name string
		v    dbr.Value
		code eca.Code
	}{
		{"TEMP.RTYP", dbr.Strings{"ao"}, eca.PutFail},
		{"TEMP.SEVR", dbr.Enums{1}, eca.NoWtAccess},
		{"TEMP.NAME$", dbr.Chars("X\x00"), eca.NoWtAccess},
		{"TEMP.HHSV", dbr.Enums{4}, eca.PutFail},
		{"TEMP.HHSV", dbr.Strings{"BAD"}, eca.PutFail},
		{"TEMP.SCAN", dbr.Enums{10}, eca.PutFail},
		{"TEMP.PREC", dbr.Strings{"x"}, eca.PutFail},
	}
	for _, tt := range tests {
		err := lookup(t, d, tt.name).Put(context.Background(), tt.v)
		if got := eca.Of(err, eca.PutFail); err == nil || got != tt.code {
			t.Errorf("put %s %v: %v (%v), want %v", tt.name, tt.v, err, got, tt.code)
		}
	}
	if !errors.Is(lookup(t, d, "TEMP.SEVR").Put(context.Background(), dbr.Enums{1}), ca.ErrReadOnly) {
		t.Error("SEVR put is not ErrReadOnly")
	}
}

func TestPropertyFields(t *testing.T) {
	val := ca.NewDouble(ca.Options{}, 1)
	_, d := newRecord(t, "TEMP", val, record.Config{Type: "ao"})
	valRec, eguRec, hihiRec := new(recorder), new(recorder), new(recorder)
	defer val.Subscribe(valRec)()
	defer lookup(t, d, "TEMP.EGU").Subscribe(eguRec)()
	defer lookup(t, d, "TEMP.HIHI").Subscribe(hihiRec)()

	put(t, d, "TEMP.EGU", dbr.Strings{"mm"})
	if s, m := valRec.last(t); s.Meta.Properties.Units != "mm" || m != dbr.EventProperty {
		t.Errorf("value after EGU put: units %q mask %v", s.Meta.Properties.Units, m)
	}
	if s, m := eguRec.last(t); s.Value.(dbr.Strings)[0] != "mm" || m&dbr.EventValue == 0 {
		t.Errorf("EGU monitor: %v %v", s.Value, m)
	}
	put(t, d, "TEMP.EGU$", dbr.Chars("a very long unit string\x00"))
	if got := val.Snapshot().Meta.Properties.Units; got != "a very long uni" {
		t.Errorf("EGU$ put: units %q", got)
	}

	put(t, d, "TEMP.PREC", dbr.Strings{"3"})
	put(t, d, "TEMP.HOPR", dbr.Doubles{100})
	put(t, d, "TEMP.LOPR", dbr.Doubles{-100})
	put(t, d, "TEMP.DRVH", dbr.Doubles{50})
	put(t, d, "TEMP.DRVL", dbr.Doubles{-50})
	put(t, d, "TEMP.HIHI", dbr.Doubles{40})
	put(t, d, "TEMP.HHSV", dbr.Strings{"MAJOR"})
	p := val.Snapshot().Meta.Properties
	if p.Precision != 3 {
		t.Errorf("precision %d", p.Precision)
	}
	l := p.Limits
	if l.DisplayHigh != 100 || l.DisplayLow != -100 || l.ControlHigh != 50 || l.ControlLow != -50 ||
		l.AlarmHigh != 40 || !math.IsNaN(l.WarningHigh) {
		t.Errorf("limits %+v", l)
	}
	if _, m := valRec.last(t); m != dbr.EventProperty {
		t.Errorf("last value mask %v", m)
	}
	if s, m := hihiRec.last(t); s.Value.(dbr.Doubles)[0] != 40 || m != dbr.EventValue|dbr.EventLog {
		t.Errorf("HIHI monitor %v %v", s.Value, m)
	}
	// Field metadata: HIHI reports the units and the display limits.
	hp := lookup(t, d, "TEMP.HIHI").Snapshot().Meta.Properties
	if hp.Units != "a very long uni" || hp.Precision != 3 || hp.Limits.DisplayHigh != 100 {
		t.Errorf("HIHI properties %+v", hp)
	}
}

func TestLimitAlarm(t *testing.T) {
	val := ca.NewDouble(ca.Options{}, 0)
	_, d := newRecord(t, "TEMP", val, record.Config{Type: "ai"})
	for name, v := range map[string]dbr.Value{
		"TEMP.HIHI": dbr.Doubles{10}, "TEMP.HIGH": dbr.Doubles{5}, "TEMP.LOW": dbr.Doubles{-5},
		"TEMP.LOLO": dbr.Doubles{-10}, "TEMP.HHSV": dbr.Strings{"MAJOR"}, "TEMP.HSV": dbr.Strings{"MINOR"},
		"TEMP.LSV": dbr.Strings{"MINOR"}, "TEMP.LLSV": dbr.Strings{"MAJOR"}, "TEMP.HYST": dbr.Doubles{1},
	} {
		put(t, d, name, v)
	}
	sevrRec, statRec := new(recorder), new(recorder)
	defer lookup(t, d, "TEMP.SEVR").Subscribe(sevrRec)()
	defer lookup(t, d, "TEMP.STAT").Subscribe(statRec)()
	major := dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}
	high := dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor}
	low := dbr.Alarm{Status: dbr.StatusLow, Severity: dbr.SeverityMinor}
	lolo := dbr.Alarm{Status: dbr.StatusLoLo, Severity: dbr.SeverityMajor}
	steps := []struct {
		v    float64
		want dbr.Alarm
	}{
		{3, dbr.Alarm{}},
		{5, high},
		{4.5, high}, // within HYST of HIGH
		{3.9, dbr.Alarm{}},
		{10.5, major},
		{9.2, major}, // within HYST of HIHI
		{8.9, high},
		{-5, low},
		{-10, lolo},
		{-9.5, lolo},
		{0, dbr.Alarm{}},
		{math.NaN(), dbr.Alarm{Status: dbr.StatusUDF, Severity: dbr.SeverityInvalid}},
		{0, dbr.Alarm{}},
	}
	for i, st := range steps {
		val.Set(st.v)
		if a := val.Alarm(); a != st.want {
			t.Errorf("step %d: value %v: alarm %v, want %v", i, st.v, a, st.want)
		}
		sevr := lookup(t, d, "TEMP.SEVR").Snapshot().Value.(dbr.Enums)[0]
		stat := lookup(t, d, "TEMP.STAT").Snapshot().Value.(dbr.Enums)[0]
		if dbr.Severity(sevr) != st.want.Severity || dbr.Status(stat) != st.want.Status {
			t.Errorf("step %d: SEVR %d STAT %d", i, sevr, stat)
		}
	}
	// SEVR changes: 0→1→0→2→1→2→0→3→0: 8 posts; STAT also changes HIGH→LOW.
	if n := sevrRec.n(); n != 8 {
		t.Errorf("SEVR monitor got %d updates, want 8", n)
	}
	if s, m := sevrRec.last(t); s.Value.(dbr.Enums)[0] != 0 || m != dbr.EventValue|dbr.EventLog|dbr.EventAlarm {
		t.Errorf("SEVR monitor last %v %v", s.Value, m)
	}
	if n := statRec.n(); n != 9 {
		t.Errorf("STAT monitor got %d updates, want 9", n)
	}

	// Changing a limit re-evaluates the alarm at once.
	val.Set(3)
	put(t, d, "TEMP.HIGH", dbr.Doubles{2})
	if a := val.Alarm(); a != high {
		t.Errorf("after HIGH=2: %v", a)
	}
	put(t, d, "TEMP.HSV", dbr.Strings{"NO_ALARM"})
	if a := val.Alarm(); a != (dbr.Alarm{}) {
		t.Errorf("after HSV=NO_ALARM: %v", a)
	}
	// A driver alarm is kept and raised with the limit alarm.
	val.SetAlarm(dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityMinor})
	val.Set(20)
	if a := val.Alarm(); a != major {
		t.Errorf("driver MINOR + HIHI: %v", a)
	}
	val.Set(0)
	if a := val.Alarm(); a != (dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityMinor}) {
		t.Errorf("driver alarm lost: %v", a)
	}
	if lalm := lookup(t, d, "TEMP.LALM").Snapshot().Value.(dbr.Doubles)[0]; lalm != 0 {
		t.Errorf("LALM %v", lalm)
	}
}

func TestLongLimitAlarm(t *testing.T) {
	val := ca.NewLong(ca.Options{}, 0)
	_, d := newRecord(t, "CNT", val, record.Config{Type: "longin",
		Alarm: &record.LimitAlarm{HIGH: 10, HSV: dbr.SeverityMinor, HYST: 2}})
	if typ, _ := lookup(t, d, "CNT.HIGH").Native(); typ != dbr.Long {
		t.Errorf("HIGH type %v", typ)
	}
	for _, st := range []struct {
		v    int32
		sevr dbr.Severity
	}{{10, dbr.SeverityMinor}, {8, dbr.SeverityMinor}, {7, dbr.SeverityNone}} {
		val.Set(st.v)
		if a := val.Alarm(); a.Severity != st.sevr {
			t.Errorf("value %d: %v", st.v, a)
		}
	}
}

func TestAlarmLimitsFromContainer(t *testing.T) {
	nan := math.NaN()
	val := ca.NewDouble(ca.Options{Limits: dbr.Limits{DisplayHigh: 100, AlarmHigh: 90, WarningHigh: nan,
		WarningLow: nan, AlarmLow: -90}}, 95)
	_, d := newRecord(t, "T", val, record.Config{Type: "ai"})
	if a := val.Alarm(); a != (dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}) {
		t.Errorf("initial alarm %v", a)
	}
	if v := lookup(t, d, "T.LLSV").Snapshot().Value.(dbr.Enums)[0]; v != uint16(dbr.SeverityMajor) {
		t.Errorf("LLSV %d", v)
	}
	if v := lookup(t, d, "T.HOPR").Snapshot().Value.(dbr.Doubles)[0]; v != 100 {
		t.Errorf("HOPR %v", v)
	}
}

func TestDriveLimits(t *testing.T) {
	tests := []struct {
		rtyp       string
		pv         ca.PV
		drvh, drvl float64
		in, want   float64
	}{
		{"ao", ca.NewDouble(ca.Options{}), 10, -10, 20, 10},
		{"ao", ca.NewDouble(ca.Options{}), 10, -10, -20, -10},
		{"ao", ca.NewDouble(ca.Options{}), 10, -10, 5, 5},
		{"ao", ca.NewDouble(ca.Options{}), 0, 0, 20, 20},    // DRVH == DRVL: no clamp
		{"ao", ca.NewDouble(ca.Options{}), -10, 10, 20, 20}, // inverted: no clamp
		{"longout", ca.NewLong(ca.Options{}), 100, 0, 1000, 100},
		{"longout", ca.NewLong(ca.Options{}), 100, 0, -5, 0},
		{"ai", ca.NewDouble(ca.Options{}), 0, 0, 1000, 1000},
	}
	for _, tt := range tests {
		_, d := newRecord(t, "OUT", tt.pv, record.Config{Type: tt.rtyp})
		if tt.drvh != 0 || tt.drvl != 0 {
			put(t, d, "OUT.DRVH", dbr.Doubles{tt.drvh})
			put(t, d, "OUT.DRVL", dbr.Doubles{tt.drvl})
		}
		put(t, d, "OUT.VAL", dbr.Doubles{tt.in})
		got, _ := dbr.Convert(tt.pv.Snapshot().Value, dbr.Double, nil)
		if got.(dbr.Doubles)[0] != tt.want {
			t.Errorf("%s DRVH %v DRVL %v: put %v gives %v, want %v", tt.rtyp, tt.drvh, tt.drvl, tt.in, got, tt.want)
		}
	}
	// The driver's own updates are not clamped.
	val := ca.NewDouble(ca.Options{})
	_, err := record.New("OUT", val, record.Config{Type: "ao", DRVH: 1, DRVL: -1})
	if err != nil {
		t.Fatal(err)
	}
	val.Set(5)
	if v := val.Value(); v != 5 {
		t.Errorf("driver set clamped to %v", v)
	}
}

func TestDeadbandFields(t *testing.T) {
	val := ca.NewDouble(ca.Options{ValueDeadband: 0.5}, 0)
	_, d := newRecord(t, "T", val, record.Config{Type: "ai"})
	if v := lookup(t, d, "T.MDEL").Snapshot().Value.(dbr.Doubles)[0]; v != 0.5 {
		t.Errorf("MDEL %v", v)
	}
	put(t, d, "T.MDEL", dbr.Doubles{2})
	put(t, d, "T.ADEL", dbr.Doubles{5})
	if m, a := val.Deadbands(); m != 2 || a != 5 {
		t.Errorf("deadbands %v %v", m, a)
	}
	rec := new(recorder)
	defer val.Subscribe(rec)()
	val.Set(1)
	if rec.n() != 0 {
		t.Errorf("change within MDEL posted")
	}
	val.Set(3)
	if _, m := rec.last(t); m != dbr.EventValue {
		t.Errorf("mask %v, want VALUE", m)
	}
}

func TestScanAndProc(t *testing.T) {
	val := ca.NewDouble(ca.Options{}, 1)
	r, d := newRecord(t, "T", val, record.Config{Type: "ai", SCAN: record.Scan1s})
	var scans []record.Scan
	r.OnScan(func(s record.Scan) { scans = append(scans, s) })
	put(t, d, "T.SCAN", dbr.Strings{".1 second"})
	put(t, d, "T.SCAN", dbr.Enums{uint16(record.ScanPassive)})
	if !slices.Equal(scans, []record.Scan{record.Scan100ms, record.ScanPassive}) || r.Scan() != record.ScanPassive {
		t.Errorf("scans %v, Scan() %v", scans, r.Scan())
	}
	scanRec := new(recorder)
	defer lookup(t, d, "T.SCAN").Subscribe(scanRec)()
	put(t, d, "T.SCAN", dbr.Enums{uint16(record.Scan2s)})
	if s, _ := scanRec.last(t); s.Value.(dbr.Enums)[0] != uint16(record.Scan2s) {
		t.Errorf("SCAN monitor %v", s.Value)
	}

	// Default PROC: reprocess, a new timestamp.
	before := val.Snapshot()
	put(t, d, "T.PROC", dbr.Chars{1})
	if after := val.Snapshot(); after == before {
		t.Error("PROC did not republish")
	}
	var procs int
	r.OnProcess(func(ctx context.Context) error { procs++; return nil })
	put(t, d, "T.PROC", dbr.Longs{0})
	if procs != 1 {
		t.Errorf("OnProcess called %d times", procs)
	}
	r.OnProcess(func(ctx context.Context) error { return errors.New("boom") })
	if err := lookup(t, d, "T.PROC").Put(context.Background(), dbr.Chars{1}); err == nil {
		t.Error("OnProcess error lost")
	}
}

func TestEnumRecords(t *testing.T) {
	bo := ca.NewEnum(ca.Options{}, []string{"Off", "On"})
	_, d := newRecord(t, "SW", bo, record.Config{Type: "bo"})
	rec := new(recorder)
	defer bo.Subscribe(rec)()
	onam := new(recorder)
	defer lookup(t, d, "SW.ONAM").Subscribe(onam)()
	if v := lookup(t, d, "SW.ZNAM").Snapshot().Value.(dbr.Strings)[0]; v != "Off" {
		t.Errorf("ZNAM %q", v)
	}
	put(t, d, "SW.ONAM", dbr.Strings{"Running"})
	if s, m := rec.last(t); !slices.Equal(s.Meta.Properties.EnumStrings, []string{"Off", "Running"}) || m != dbr.EventProperty {
		t.Errorf("bo states %q mask %v", s.Meta.Properties.EnumStrings, m)
	}
	if s, _ := onam.last(t); s.Value.(dbr.Strings)[0] != "Running" {
		t.Errorf("ONAM monitor %v", s.Value)
	}
	put(t, d, "SW", dbr.Strings{"Running"})
	if bo.Value() != 1 {
		t.Errorf("bo value %d", bo.Value())
	}
	if _, ok := d.Lookup("SW.HIGH"); !ok { // bo HIGH: seconds to hold high
		t.Error("bo HIGH not found")
	}
	put(t, d, "SW.HIGH", dbr.Doubles{2.5})
	if v := lookup(t, d, "SW.HIGH").Snapshot().Value.(dbr.Doubles)[0]; v != 2.5 {
		t.Errorf("bo HIGH %v", v)
	}

	mbbo := ca.NewEnum(ca.Options{}, []string{"A", "B"})
	_, d = newRecord(t, "M", mbbo, record.Config{})
	if c := mbbo.Snapshot().Meta.Properties.ClassName; c != "mbbo" {
		t.Errorf("class %q", c)
	}
	// As mbboRecord's get_enum_strs: states up to the last one set.
	if n := len(mbbo.EnumStrings()); n != 2 {
		t.Errorf("mbbo reports %d states, want 2", n)
	}
	put(t, d, "M.FFST", dbr.Strings{"Last"})
	if s := mbbo.EnumStrings(); len(s) != 16 || s[15] != "Last" || s[0] != "A" || s[2] != "" {
		t.Errorf("states %q, want 16 with the gap kept", s)
	}
	if v := lookup(t, d, "M.ONST").Snapshot().Value.(dbr.Strings)[0]; v != "B" {
		t.Errorf("ONST %q", v)
	}
	if _, ok := d.Lookup("M.ZNAM"); ok {
		t.Error("mbbo has ZNAM")
	}
}

func TestWaveformAndString(t *testing.T) {
	wf := ca.NewFloat(ca.Options{MaxLength: 10}, 1, 2, 3)
	_, d := newRecord(t, "WF", wf, record.Config{})
	for name, want := range map[string]float64{"WF.NELM": 10, "WF.NORD": 3, "WF.FTVL": 9} {
		v, _ := dbr.Convert(lookup(t, d, name).Snapshot().Value, dbr.Double, nil)
		if v.(dbr.Doubles)[0] != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	nord := new(recorder)
	defer lookup(t, d, "WF.NORD").Subscribe(nord)()
	if err := wf.SetArray([]float32{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	if s, _ := nord.last(t); s.Value.(dbr.Doubles)[0] != 5 {
		t.Errorf("NORD monitor %v", s.Value)
	}
	if err := lookup(t, d, "WF.NORD").Put(context.Background(), dbr.Doubles{1}); !errors.Is(err, ca.ErrReadOnly) {
		t.Errorf("NORD put: %v", err)
	}

	si := ca.NewString(ca.Options{ReadOnly: true}, "hello")
	_, d = newRecord(t, "S", si, record.Config{})
	if c := si.Snapshot().Meta.Properties.ClassName; c != "stringin" {
		t.Errorf("class %q", c)
	}
	pv := lookup(t, d, "S.VAL$")
	if typ, n := pv.Native(); typ != dbr.Char || n != 40 {
		t.Errorf("VAL$ %v %d", typ, n)
	}
	if v := string(pv.Snapshot().Value.(dbr.Chars)); v != "hello\x00" {
		t.Errorf("VAL$ %q", v)
	}
	if err := pv.Put(context.Background(), dbr.Chars("x\x00")); !errors.Is(err, ca.ErrReadOnly) {
		t.Errorf("VAL$ put to read-only: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		pv   ca.PV
		cfg  record.Config
	}{
		{"string ai", ca.NewString(ca.Options{}), record.Config{Type: "ai"}},
		{"array ai", ca.NewDouble(ca.Options{MaxLength: 4}), record.Config{Type: "ai"}},
		{"double bi", ca.NewDouble(ca.Options{}), record.Config{Type: "bi"}},
		{"enum stringin", ca.NewEnum(ca.Options{}, nil), record.Config{Type: "stringin"}},
		{"unknown type", ca.NewDouble(ca.Options{}), record.Config{Type: "calc"}},
		{"bad scan", ca.NewDouble(ca.Options{}), record.Config{Type: "ai", SCAN: 42}},
		{"bi three states", ca.NewEnum(ca.Options{}, []string{"a", "b", "c"}), record.Config{Type: "bi"}},
	}
	for _, tt := range tests {
		if _, err := record.New("R", tt.pv, tt.cfg); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestDirectoryRemove(t *testing.T) {
	val := ca.NewDouble(ca.Options{})
	_, d := newRecord(t, "T", val, record.Config{Type: "ai"})
	desc := lookup(t, d, "T.DESC$")
	var got []string
	stop := d.NotifyRemove(func(name string, pv ca.PV) {
		got = append(got, name)
		if name == "T.DESC$" && pv != desc {
			t.Errorf("T.DESC$ removed with another PV")
		}
	})
	defer stop()
	if err := d.Add(mustNew(t, "T", ca.NewDouble(ca.Options{}))); err == nil {
		t.Error("duplicate Add accepted")
	}
	if d.Len() != 1 || !slices.Equal(d.Names(), []string{"T"}) {
		t.Errorf("Names %v", d.Names())
	}
	if !d.Remove("T") || d.Remove("T") {
		t.Error("Remove results")
	}
	slices.Sort(got)
	if want := []string{"T", "T.", "T.DESC$", "T.VAL"}; !slices.Equal(got, want) {
		t.Errorf("removed names %q, want %q", got, want)
	}
	if _, ok := d.Lookup("T.DESC"); ok {
		t.Error("removed record still found")
	}
}

func mustNew(t *testing.T, name string, pv ca.PV) *record.Record {
	t.Helper()
	r, err := record.New(name, pv, record.Config{Type: "ai"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestConcurrentFieldPuts runs field puts, value updates, reads and
// monitors at once (for -race).
func TestConcurrentFieldPuts(t *testing.T) {
	val := ca.NewDouble(ca.Options{})
	_, d := newRecord(t, "T", val, record.Config{Type: "ao"})
	rec := new(recorder)
	defer lookup(t, d, "T.SEVR").Subscribe(rec)()
	defer lookup(t, d, "T.HIHI").Subscribe(rec)()
	defer lookup(t, d, "T.EGU").Subscribe(rec)()
	var wg sync.WaitGroup
	ctx := context.Background()
	wg.Go(func() {
		for i := range 200 {
			val.Set(float64(i % 20))
		}
	})
	wg.Go(func() {
		for i := range 200 {
			_ = lookup(t, d, "T.HIHI").Put(ctx, dbr.Doubles{float64(i % 15)})
			_ = lookup(t, d, "T.HHSV").Put(ctx, dbr.Enums{uint16(i % 3)})
		}
	})
	wg.Go(func() {
		for i := range 200 {
			_ = lookup(t, d, "T.EGU").Put(ctx, dbr.Strings{string(rune('a' + i%26))})
			_ = lookup(t, d, "T").Put(ctx, dbr.Doubles{float64(i)})
		}
	})
	wg.Go(func() {
		for range 200 {
			_ = lookup(t, d, "T.SEVR").Snapshot()
			_ = lookup(t, d, "T.LALM").Snapshot()
		}
	})
	wg.Wait()
}

// BenchmarkRecordMemory reports the heap bytes per ai record served by a
// Directory (value container included), before any field is used.
func BenchmarkRecordMemory(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		var before, after runtimeMem
		before.read()
		d := new(record.Directory)
		for i := range n {
			r, err := record.New(recName(i), ca.NewDouble(ca.Options{}, 0), record.Config{Type: "ai"})
			if err != nil {
				b.Fatal(err)
			}
			if err := d.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		after.read()
		b.ReportMetric(float64(after.heap-before.heap)/n, "bytes/record")
		if d.Len() != n {
			b.Fatal("lost records")
		}
	}
}

// BenchmarkLookupField measures resolving a field name.
func BenchmarkLookupField(b *testing.B) {
	d := new(record.Directory)
	r, err := record.New("TEMP", ca.NewDouble(ca.Options{}), record.Config{Type: "ai"})
	if err != nil {
		b.Fatal(err)
	}
	_ = d.Add(r)
	for b.Loop() {
		if _, ok := d.Lookup("TEMP.HIHI"); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkSetWithAlarm measures a value update of an ai record with limit
// alarms.
func BenchmarkSetWithAlarm(b *testing.B) {
	val := ca.NewDouble(ca.Options{})
	if _, err := record.New("T", val, record.Config{Type: "ai",
		Alarm: &record.LimitAlarm{HIHI: 10, HHSV: dbr.SeverityMajor, HYST: 1}}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		val.Set(float64(i % 20))
		i++
	}
}

// BenchmarkContainerMemory is the baseline of BenchmarkRecordMemory: the
// same containers served by a ca.Map, without records.
func BenchmarkContainerMemory(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		var before, after runtimeMem
		before.read()
		m := new(ca.Map)
		for i := range n {
			if err := m.Add(recName(i), ca.NewDouble(ca.Options{ClassName: "ai"}, 0)); err != nil {
				b.Fatal(err)
			}
		}
		after.read()
		b.ReportMetric(float64(after.heap-before.heap)/n, "bytes/record")
		if m.Len() != n {
			b.Fatal("lost PVs")
		}
	}
}

// TestFieldPutHooks: a field's put hook transforms or rejects client puts
// (caproto's FieldProxy putter), for the field and its "$" form.
func TestFieldPutHooks(t *testing.T) {
	val := ca.NewDouble(ca.Options{Units: "V"})
	r, err := record.New("PS", val, record.Config{Type: "ao"})
	if err != nil {
		t.Fatal(err)
	}
	upper := func(_ context.Context, v dbr.Value) (dbr.Value, error) {
		s := v.(dbr.Strings)[0]
		out := []byte(s)
		for i, c := range out {
			if 'a' <= c && c <= 'z' {
				out[i] = c - 'a' + 'A'
			}
		}
		return dbr.Strings{string(out)}, nil
	}
	if err := r.OnFieldPut("DESC", upper); err != nil {
		t.Fatal(err)
	}
	noKV := errors.New("kV not allowed")
	if err := r.OnFieldPut("EGU", func(_ context.Context, v dbr.Value) (dbr.Value, error) {
		if v.(dbr.Strings)[0] == "kV" {
			return nil, &eca.Error{Code: eca.NoWtAccess, Msg: noKV.Error()}
		}
		return v, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"VAL", "NOPE"} {
		if err := r.OnFieldPut(bad, upper); !errors.Is(err, record.ErrFieldNotFound) {
			t.Errorf("OnFieldPut(%s) = %v, want ErrFieldNotFound", bad, err)
		}
	}
	ctx := context.Background()
	put := func(field string, dollar bool, v dbr.Value) error {
		pv, err := r.Field(field, dollar)
		if err != nil {
			t.Fatal(err)
		}
		return pv.Put(ctx, v)
	}
	read := func(field string) string {
		pv, _ := r.Field(field, false)
		return pv.Snapshot().Value.(dbr.Strings)[0]
	}
	if err := put("DESC", false, dbr.Strings{"main supply"}); err != nil || read("DESC") != "MAIN SUPPLY" {
		t.Errorf("DESC put: %v, DESC = %q", err, read("DESC"))
	}
	if err := put("DESC", true, dbr.Chars("spare\x00")); err != nil || read("DESC") != "SPARE" {
		t.Errorf("DESC$ put: %v, DESC = %q", err, read("DESC"))
	}
	err = put("EGU", false, dbr.Strings{"kV"})
	if eca.Of(err, eca.PutFail) != eca.NoWtAccess || read("EGU") != "V" {
		t.Errorf("EGU kV: %v, EGU = %q; want ECA_NOWTACCESS and V kept", err, read("EGU"))
	}
	if err := put("EGU", false, dbr.Strings{"mV"}); err != nil || val.Snapshot().Meta.Properties.Units != "mV" {
		t.Errorf("EGU mV: %v", err)
	}
	if err := r.OnFieldPut("DESC", nil); err != nil {
		t.Fatal(err)
	}
	if err := put("DESC", false, dbr.Strings{"plain"}); err != nil || read("DESC") != "plain" {
		t.Errorf("after removing the hook: %v, DESC = %q", err, read("DESC"))
	}
}
