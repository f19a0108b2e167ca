package record

import (
	"math"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

var nan = math.NaN()

func alarm(st dbr.Status, sv dbr.Severity) dbr.Alarm { return dbr.Alarm{Status: st, Severity: sv} }

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// TestLimitAlarmSequence walks a value through every band and back and
// checks the alarm and LALM after each step, carrying LALM as an ai does.
func TestLimitAlarmSequence(t *testing.T) {
	lim := LimitAlarm{HIHI: 20, HIGH: 10, LOW: -10, LOLO: -20,
		HHSV: dbr.SeverityMajor, HSV: dbr.SeverityMinor, LSV: dbr.SeverityMinor, LLSV: dbr.SeverityMajor, HYST: 2}
	steps := []struct {
		name     string
		val      float64
		want     dbr.Alarm
		wantLALM float64
	}{
		{"normal", 0, dbr.Alarm{}, 0},
		{"reaches HIGH", 10, alarm(dbr.StatusHigh, dbr.SeverityMinor), 10},
		{"below HIHI", 19, alarm(dbr.StatusHigh, dbr.SeverityMinor), 10},
		{"reaches HIHI", 20, alarm(dbr.StatusHiHi, dbr.SeverityMajor), 20},
		{"HYST holds HIHI", 18.5, alarm(dbr.StatusHiHi, dbr.SeverityMajor), 20},
		{"HYST edge holds HIHI", 18, alarm(dbr.StatusHiHi, dbr.SeverityMajor), 20},
		{"leaves HIHI band to HIGH", 17.9, alarm(dbr.StatusHigh, dbr.SeverityMinor), 10},
		{"HYST holds HIGH", 8.5, alarm(dbr.StatusHigh, dbr.SeverityMinor), 10},
		{"clears", 7.9, dbr.Alarm{}, 7.9},
		{"no hysteresis once cleared", 9, dbr.Alarm{}, 9},
		{"reaches LOW", -10, alarm(dbr.StatusLow, dbr.SeverityMinor), -10},
		{"HYST holds LOW", -8.5, alarm(dbr.StatusLow, dbr.SeverityMinor), -10},
		{"jumps below LOLO", -25, alarm(dbr.StatusLoLo, dbr.SeverityMajor), -20},
		{"HYST holds LOLO", -18, alarm(dbr.StatusLoLo, dbr.SeverityMajor), -20},
		{"back to LOW", -17, alarm(dbr.StatusLow, dbr.SeverityMinor), -10},
		{"NaN matches nothing", nan, dbr.Alarm{}, nan},
		{"after NaN", 15, alarm(dbr.StatusHigh, dbr.SeverityMinor), 10},
		{"+Inf", math.Inf(1), alarm(dbr.StatusHiHi, dbr.SeverityMajor), 20},
		{"-Inf", math.Inf(-1), alarm(dbr.StatusLoLo, dbr.SeverityMajor), -20},
	}
	lalm := 0.0
	for _, s := range steps {
		a, l := lim.Check(AlarmInput[float64]{VAL: s.val, LALM: lalm})
		if a != s.want || !sameFloat(l, s.wantLALM) {
			t.Fatalf("%s: VAL %v LALM %v: got %v LALM %v, want %v LALM %v", s.name, s.val, lalm, a, l, s.want, s.wantLALM)
		}
		lalm = l
	}
}

func TestLimitAlarmCases(t *testing.T) {
	full := LimitAlarm{HIHI: 20, HIGH: 10, LOW: -10, LOLO: -20,
		HHSV: dbr.SeverityMajor, HSV: dbr.SeverityMinor, LSV: dbr.SeverityMinor, LLSV: dbr.SeverityMajor, HYST: 2}
	tests := []struct {
		name     string
		lim      LimitAlarm
		in       AlarmInput[float64]
		want     dbr.Alarm
		wantLALM float64
	}{
		{"UDF raises UDFS and keeps LALM", full,
			AlarmInput[float64]{VAL: 100, LALM: 3, UDF: true, UDFS: dbr.SeverityInvalid},
			alarm(dbr.StatusUDF, dbr.SeverityInvalid), 3},
		{"UDF with UDFS NO_ALARM raises nothing", full,
			AlarmInput[float64]{VAL: 100, LALM: 3, UDF: true},
			dbr.Alarm{}, 3},
		{"higher pending alarm wins and LALM is not latched", full,
			AlarmInput[float64]{VAL: 12, LALM: 0, Pending: alarm(dbr.StatusRead, dbr.SeverityMajor)},
			alarm(dbr.StatusRead, dbr.SeverityMajor), 0},
		{"equal pending severity wins (strictly greater needed)", full,
			AlarmInput[float64]{VAL: 12, LALM: 0, Pending: alarm(dbr.StatusSoft, dbr.SeverityMinor)},
			alarm(dbr.StatusSoft, dbr.SeverityMinor), 0},
		{"limit beats lower pending alarm", full,
			AlarmInput[float64]{VAL: 25, LALM: 0, Pending: alarm(dbr.StatusRead, dbr.SeverityMinor)},
			alarm(dbr.StatusHiHi, dbr.SeverityMajor), 20},
		{"pending alarm kept when no limit matches, LALM = VAL", full,
			AlarmInput[float64]{VAL: 1, LALM: 10, Pending: alarm(dbr.StatusLink, dbr.SeverityInvalid)},
			alarm(dbr.StatusLink, dbr.SeverityInvalid), 1},
		{"NaN HIHI never matches", LimitAlarm{HIHI: nan, HHSV: dbr.SeverityMajor, HIGH: 10, HSV: dbr.SeverityMinor},
			AlarmInput[float64]{VAL: 1e300, LALM: nan},
			alarm(dbr.StatusHigh, dbr.SeverityMinor), 10},
		{"all NaN limits", LimitAlarm{HIHI: nan, HIGH: nan, LOW: nan, LOLO: nan, HHSV: 2, HSV: 1, LSV: 1, LLSV: 2, HYST: 1},
			AlarmInput[float64]{VAL: 5, LALM: nan},
			dbr.Alarm{}, 5},
		{"limit with NO_ALARM severity skipped", LimitAlarm{HIHI: 5, HIGH: 10, HSV: dbr.SeverityMinor},
			AlarmInput[float64]{VAL: 100},
			alarm(dbr.StatusHigh, dbr.SeverityMinor), 10},
		{"LOLO checked before HIGH", LimitAlarm{HIGH: 0, HSV: dbr.SeverityMinor, LOLO: 10, LLSV: dbr.SeverityMajor},
			AlarmInput[float64]{VAL: 5},
			alarm(dbr.StatusLoLo, dbr.SeverityMajor), 10},
		{"HIHI checked before LOLO", LimitAlarm{HIHI: 0, HHSV: dbr.SeverityMinor, LOLO: 10, LLSV: dbr.SeverityMajor},
			AlarmInput[float64]{VAL: 5},
			alarm(dbr.StatusHiHi, dbr.SeverityMinor), 0},
		{"hysteresis needs LALM equal to the limit", full,
			AlarmInput[float64]{VAL: 19, LALM: 19.5},
			alarm(dbr.StatusHigh, dbr.SeverityMinor), 10},
		{"negative HYST gives no hold", LimitAlarm{HIGH: 10, HSV: dbr.SeverityMinor, HYST: -1},
			AlarmInput[float64]{VAL: 9.5, LALM: 10},
			dbr.Alarm{}, 9.5},
		{"all severities NO_ALARM", LimitAlarm{HIHI: 1, HIGH: 1, LOW: 1, LOLO: 1},
			AlarmInput[float64]{VAL: 1, LALM: 1},
			dbr.Alarm{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, l := tt.lim.Check(tt.in)
			if a != tt.want || !sameFloat(l, tt.wantLALM) {
				t.Errorf("got %v LALM %v, want %v LALM %v", a, l, tt.want, tt.wantLALM)
			}
		})
	}
}

func TestLongLimitAlarm(t *testing.T) {
	lim := LongLimitAlarm{HIHI: 100, HIGH: 50, LOW: -50, LOLO: -100,
		HHSV: dbr.SeverityMajor, HSV: dbr.SeverityMinor, LSV: dbr.SeverityMinor, LLSV: dbr.SeverityMajor, HYST: 5}
	steps := []struct {
		val      int32
		want     dbr.Alarm
		wantLALM int32
	}{
		{0, dbr.Alarm{}, 0},
		{50, alarm(dbr.StatusHigh, dbr.SeverityMinor), 50},
		{45, alarm(dbr.StatusHigh, dbr.SeverityMinor), 50},
		{44, dbr.Alarm{}, 44},
		{-100, alarm(dbr.StatusLoLo, dbr.SeverityMajor), -100},
		{-95, alarm(dbr.StatusLoLo, dbr.SeverityMajor), -100},
		{-94, alarm(dbr.StatusLow, dbr.SeverityMinor), -50},
	}
	var lalm int32
	for _, s := range steps {
		a, l := lim.Check(AlarmInput[int32]{VAL: s.val, LALM: lalm})
		if a != s.want || l != s.wantLALM {
			t.Fatalf("VAL %d LALM %d: got %v %d, want %v %d", s.val, lalm, a, l, s.want, s.wantLALM)
		}
		lalm = l
	}

	// HIHI-HYST wraps in int32 as in the IOC: MinInt32+1-5 is near
	// MaxInt32, so MinInt32 is not held in alarm.
	wrap := LongLimitAlarm{HIHI: math.MinInt32 + 1, HHSV: dbr.SeverityMajor, HYST: 5}
	a, l := wrap.Check(AlarmInput[int32]{VAL: math.MinInt32, LALM: math.MinInt32 + 1})
	if a != (dbr.Alarm{}) || l != math.MinInt32 {
		t.Errorf("wrap: got %v %d", a, l)
	}
	a, _ = lim.Check(AlarmInput[int32]{UDF: true, UDFS: dbr.SeverityInvalid})
	if a != alarm(dbr.StatusUDF, dbr.SeverityInvalid) {
		t.Errorf("UDF: got %v", a)
	}
}

func TestRaise(t *testing.T) {
	tests := []struct {
		pending, a, want dbr.Alarm
		raised           bool
	}{
		{dbr.Alarm{}, alarm(dbr.StatusHigh, dbr.SeverityMinor), alarm(dbr.StatusHigh, dbr.SeverityMinor), true},
		{alarm(dbr.StatusRead, dbr.SeverityMinor), alarm(dbr.StatusHigh, dbr.SeverityMinor), alarm(dbr.StatusRead, dbr.SeverityMinor), false},
		{alarm(dbr.StatusRead, dbr.SeverityMinor), alarm(dbr.StatusHiHi, dbr.SeverityMajor), alarm(dbr.StatusHiHi, dbr.SeverityMajor), true},
		{dbr.Alarm{}, alarm(dbr.StatusHigh, dbr.SeverityNone), dbr.Alarm{}, false},
	}
	for _, tt := range tests {
		got, raised := Raise(tt.pending, tt.a)
		if got != tt.want || raised != tt.raised {
			t.Errorf("Raise(%v, %v) = %v %v, want %v %v", tt.pending, tt.a, got, raised, tt.want, tt.raised)
		}
	}
}
