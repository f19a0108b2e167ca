package interop_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
)

// readCase is one PV of the read test and what libca must see.
type readCase struct {
	name    string
	pv      ca.PV
	native  int
	count   int      // native element count (CREATE_CHAN)
	values  []any    // native values as JSON decodes them (float64 or string)
	strings []string // the values read as DBR_STRING
	units   string
	prec    int // -1: the type has no precision field
	limits  *dbr.Limits
	enum    []string
	alarm   dbr.Alarm
}

func readCases() []readCase {
	lim := dbr.Limits{DisplayHigh: 100, DisplayLow: -100, AlarmHigh: 90, WarningHigh: 80,
		WarningLow: -80, AlarmLow: -90, ControlHigh: 50, ControlLow: -50}
	d := ca.NewDouble(ca.Options{Units: "mA", Precision: 3, Limits: lim}, 3.14159)
	d.SetAlarm(dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor})
	return []readCase{
		{name: "double", pv: d, native: dbrDouble, count: 1, values: []any{3.14159}, strings: []string{"3.142"},
			units: "mA", prec: 3, limits: &lim, alarm: dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor}},
		{name: "float", pv: ca.NewFloat(ca.Options{Units: "V", Precision: 2, Limits: lim}, 2.5), native: dbrFloat, count: 1,
			values: []any{2.5}, strings: []string{"2.50"}, units: "V", prec: 2, limits: &lim},
		{name: "long", pv: ca.NewLong(ca.Options{Units: "cnt", Limits: lim}, 123456), native: dbrLong, count: 1,
			values: []any{123456.0}, strings: []string{"123456"}, units: "cnt", prec: -1, limits: &lim},
		{name: "short", pv: ca.NewShort(ca.Options{Units: "st", Limits: lim}, -42), native: dbrShort, count: 1,
			values: []any{-42.0}, strings: []string{"-42"}, units: "st", prec: -1, limits: &lim},
		{name: "char", pv: ca.NewByte(ca.Options{Units: "b"}, 200), native: dbrChar, count: 1,
			values: []any{200.0}, strings: []string{"200"}, units: "b", prec: -1},
		{name: "enum", pv: ca.NewEnum(ca.Options{}, []string{"Zero", "One", "Two"}, 2), native: dbrEnum, count: 1,
			values: []any{2.0}, strings: []string{"Two"}, prec: -1, enum: []string{"Zero", "One", "Two"}},
		{name: "string", pv: ca.NewString(ca.Options{}, "hello, libca"), native: dbrString, count: 1,
			values: []any{"hello, libca"}, strings: []string{"hello, libca"}, prec: -1},
		{name: "doubles", pv: ca.NewDouble(ca.Options{Precision: 1, MaxLength: 10}, 1.5, -2.25, 1e9), native: dbrDouble, count: 10,
			values: []any{1.5, -2.25, 1e9}, strings: []string{"1.5", "-2.3", "1000000000.0"}, prec: 1},
		{name: "floats", pv: ca.NewFloat(ca.Options{MaxLength: 4}, 0.5, 0.25), native: dbrFloat, count: 4,
			values: []any{0.5, 0.25}, strings: []string{"1", "0"}, prec: 0},
		{name: "longs", pv: ca.NewLong(ca.Options{MaxLength: 5}, 1, -2, 3), native: dbrLong, count: 5,
			values: []any{1.0, -2.0, 3.0}, strings: []string{"1", "-2", "3"}, prec: -1},
		{name: "shorts", pv: ca.NewShort(ca.Options{MaxLength: 3}, 7, 8, 9), native: dbrShort, count: 3,
			values: []any{7.0, 8.0, 9.0}, strings: []string{"7", "8", "9"}, prec: -1},
		{name: "bytes", pv: ca.NewByte(ca.Options{MaxLength: 8}, 1, 2, 255), native: dbrChar, count: 8,
			values: []any{1.0, 2.0, 255.0}, strings: []string{"1", "2", "255"}, prec: -1},
		{name: "strings", pv: ca.NewString(ca.Options{MaxLength: 4}, "a", "bc"), native: dbrString, count: 4,
			values: []any{"a", "bc"}, strings: []string{"a", "bc"}, prec: -1},
		{name: "longstring", pv: ca.NewChar(ca.Options{MaxLength: 64}, "hi"), native: dbrChar, count: 64,
			values: []any{104.0, 105.0, 0.0}, strings: []string{"104", "105", "0"}, prec: -1},
	}
}

type readResult struct {
	FType int                  `json:"ftype"`
	Count int                  `json:"count"`
	Read  int                  `json:"read"`
	Write int                  `json:"write"`
	Reads map[string]dbrResult `json:"reads"`
}

// TestReadEveryType reads every native type, scalar and array, as every
// DBR family of its native type and of DBR_STRING.
func TestReadEveryType(t *testing.T) {
	requirePeer(t)
	cases := readCases()
	pvs := map[string]ca.PV{}
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = "rd:" + c.name
		pvs[names[i]] = c.pv
	}
	srv := startServer(t, pvs, nil)
	var got map[string]readResult
	runPy(t, 60*time.Second, "read.py", srv.Env(), map[string]any{"pvs": names}, &got)
	now := float64(time.Now().UnixNano()) / 1e9
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := got[names[i]]
			if !ok {
				t.Fatal("no result")
			}
			if r.FType != c.native || r.Count != c.count {
				t.Errorf("native %d[%d], want %d[%d]", r.FType, r.Count, c.native, c.count)
			}
			if r.Read != 1 || r.Write != 1 {
				t.Errorf("access read=%d write=%d, want 1 1", r.Read, r.Write)
			}
			for fam := famPlain; fam <= famCtrl; fam++ {
				for _, base := range []int{c.native, dbrString} {
					typ := dbrType(fam, base)
					res, ok := r.Reads[fmt.Sprint(typ)]
					if !ok {
						t.Errorf("DBR %d: no result", typ)
						continue
					}
					checkRead(t, c, fam, base, res, now)
				}
			}
		})
	}
}

func checkRead(t *testing.T, c readCase, fam, base int, r dbrResult, now float64) {
	t.Helper()
	typ := dbrType(fam, base)
	if fam == famPlain && r.Status != ecaNormal {
		t.Errorf("DBR %d: ECA status %d", typ, r.Status)
		return
	}
	want := c.values
	if base == dbrString && c.native != dbrString {
		want = make([]any, len(c.strings))
		for i, s := range c.strings {
			want[i] = s
		}
	}
	if r.Count != len(want) {
		t.Errorf("DBR %d: count %d, want %d", typ, r.Count, len(want))
	}
	if fmt.Sprint(r.Value) != fmt.Sprint(want) {
		t.Errorf("DBR %d: value %v, want %v", typ, r.Value, want)
	}
	if fam == famPlain {
		return
	}
	if r.Status != int(c.alarm.Status) || r.Severity != int(c.alarm.Severity) {
		t.Errorf("DBR %d: alarm %d/%d, want %d/%d", typ, r.Status, r.Severity, c.alarm.Status, c.alarm.Severity)
	}
	if fam == famTime && (r.Posix < now-120 || r.Posix > now+5) {
		t.Errorf("DBR %d: timestamp %.3f not near now %.3f", typ, r.Posix, now)
	}
	if fam < famGr || base == dbrString {
		return
	}
	if base == dbrEnum {
		if fmt.Sprint(r.Strs) != fmt.Sprint(c.enum) || r.NoStr != len(c.enum) {
			t.Errorf("DBR %d: enum strings %d %q, want %q", typ, r.NoStr, r.Strs, c.enum)
		}
		return
	}
	if r.Units == nil || *r.Units != c.units {
		t.Errorf("DBR %d: units %v, want %q", typ, deref(r.Units), c.units)
	}
	if (base == dbrFloat || base == dbrDouble) && (r.Precision == nil || *r.Precision != c.prec) {
		t.Errorf("DBR %d: precision %v, want %d", typ, deref(r.Precision), c.prec)
	}
	if c.limits == nil {
		return
	}
	check := func(what string, got *num, want float64) {
		if base != dbrFloat && base != dbrDouble {
			want = math.Trunc(want)
		}
		if base == dbrChar {
			want = float64(uint8(int64(want)))
		}
		if got == nil || (float64(*got) != want && !(math.IsNaN(want) && math.IsNaN(float64(*got)))) {
			t.Errorf("DBR %d: %s %v, want %v", typ, what, deref(got), want)
		}
	}
	l := c.limits
	check("upper_disp_limit", r.DispHigh, l.DisplayHigh)
	check("lower_disp_limit", r.DispLow, l.DisplayLow)
	check("upper_alarm_limit", r.AlarmHigh, l.AlarmHigh)
	check("upper_warning_limit", r.WarnHigh, l.WarningHigh)
	check("lower_warning_limit", r.WarnLow, l.WarningLow)
	check("lower_alarm_limit", r.AlarmLow, l.AlarmLow)
	if fam == famCtrl {
		check("upper_ctrl_limit", r.CtrlHigh, l.ControlHigh)
		check("lower_ctrl_limit", r.CtrlLow, l.ControlLow)
	} else if r.CtrlHigh != nil {
		t.Errorf("DBR %d: GR type carries control limits", typ)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
