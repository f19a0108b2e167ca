package record

import (
	"math"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

func TestExceedsDeadband(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name           string
		last, val, del float64
		want           bool
	}{
		{"unchanged", 1, 1, 0, false},
		{"changed, MDEL 0", 1, 2, 0, true},
		{"equal to deadband", 0, 0.5, 0.5, false},
		{"beyond deadband", 0, 0.6, 0.5, true},
		{"negative change beyond deadband", 0, -0.6, 0.5, true},
		{"MDEL < 0 fires unchanged", 3, 3, -1, true},
		{"NaN to NaN", nan, nan, 0, false},
		{"NaN to NaN, MDEL < 0", nan, nan, -1, true},
		{"finite to NaN", 0, nan, 1e300, true},
		{"NaN to finite", nan, 0, 1e300, true},
		{"finite to NaN, MDEL +Inf", 0, nan, inf, false},
		{"Inf to same Inf", inf, inf, 0, false},
		{"+Inf to -Inf", inf, -inf, 0, true},
		{"Inf to NaN", inf, nan, 0, true},
		{"NaN to -Inf", nan, -inf, 0, true},
		{"finite to Inf", 0, inf, math.MaxFloat64, true},
		{"NaN deadband never fires", 1, 2, nan, false},
		{"-Inf to -Inf, MDEL < 0", -inf, -inf, -1, true},
	}
	for _, tt := range tests {
		if got := ExceedsDeadband(tt.last, tt.val, tt.del); got != tt.want {
			t.Errorf("%s: ExceedsDeadband(%v, %v, %v) = %v", tt.name, tt.last, tt.val, tt.del, got)
		}
	}
}

func TestExceedsDeadbandLong(t *testing.T) {
	tests := []struct {
		last, val, del int32
		want           bool
	}{
		{0, 0, 0, false},
		{0, 1, 0, true},
		{0, -5, 5, false},
		{0, -6, 5, true},
		{5, 5, -1, true},
		{math.MinInt32, math.MaxInt32, math.MaxInt32, true},
		{math.MaxInt32, math.MinInt32, 0, true},
		{math.MaxInt32, math.MinInt32, math.MaxInt32, true},
		{-1, 1, 2, false},
	}
	for _, tt := range tests {
		if got := ExceedsDeadbandLong(tt.last, tt.val, tt.del); got != tt.want {
			t.Errorf("ExceedsDeadbandLong(%d, %d, %d) = %v", tt.last, tt.val, tt.del, got)
		}
	}
}

func TestClampDrive(t *testing.T) {
	tests := []struct {
		name          string
		v, drvh, drvl float64
		want          float64
	}{
		{"inside", 3, 5, -5, 3},
		{"above", 10, 5, -5, 5},
		{"below", -10, 5, -5, -5},
		{"at limit", 5, 5, -5, 5},
		{"unset limits", 1e9, 0, 0, 1e9},
		{"inverted limits ignored", 10, -5, 5, 10},
		{"NaN value passes", nan, 5, -5, nan},
		{"NaN limit ignored", 10, nan, 0, 10},
		{"+Inf clamped", math.Inf(1), 5, -5, 5},
	}
	for _, tt := range tests {
		if got := ClampDrive(tt.v, tt.drvh, tt.drvl); !sameFloat(got, tt.want) {
			t.Errorf("%s: ClampDrive(%v, %v, %v) = %v, want %v", tt.name, tt.v, tt.drvh, tt.drvl, got, tt.want)
		}
	}
	longs := []struct{ v, drvh, drvl, want int32 }{
		{3, 5, -5, 3}, {10, 5, -5, 5}, {-10, 5, -5, -5}, {100, 0, 0, 100}, {100, 5, 5, 100}, {100, -5, 5, 100},
	}
	for _, tt := range longs {
		if got := ClampDriveLong(tt.v, tt.drvh, tt.drvl); got != tt.want {
			t.Errorf("ClampDriveLong(%d, %d, %d) = %d, want %d", tt.v, tt.drvh, tt.drvl, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	f := LimitFields{HOPR: 100, LOPR: -100, DRVH: 50, DRVL: -50,
		Alarm: LimitAlarm{HIHI: 90, HIGH: 80, LOW: -80, LOLO: -90, HHSV: dbr.SeverityMajor, LSV: dbr.SeverityMinor}}
	inverted := f
	inverted.DRVH, inverted.DRVL = -50, 50
	tests := []struct {
		rtyp string
		f    LimitFields
		want dbr.Limits
	}{
		{"ai", f, dbr.Limits{DisplayHigh: 100, DisplayLow: -100, ControlHigh: 100, ControlLow: -100,
			AlarmHigh: 90, WarningHigh: nan, WarningLow: -80, AlarmLow: nan}},
		{"ao", f, dbr.Limits{DisplayHigh: 100, DisplayLow: -100, ControlHigh: 50, ControlLow: -50,
			AlarmHigh: 90, WarningHigh: nan, WarningLow: -80, AlarmLow: nan}},
		{"ao", inverted, dbr.Limits{DisplayHigh: 100, DisplayLow: -100, ControlHigh: -50, ControlLow: 50,
			AlarmHigh: 90, WarningHigh: nan, WarningLow: -80, AlarmLow: nan}},
		{"ao", LimitFields{HOPR: 10}, dbr.Limits{DisplayHigh: 10,
			AlarmHigh: nan, WarningHigh: nan, WarningLow: nan, AlarmLow: nan}},
		{"longout", f, dbr.Limits{DisplayHigh: 100, DisplayLow: -100, ControlHigh: 50, ControlLow: -50,
			AlarmHigh: 90, WarningHigh: nan, WarningLow: -80, AlarmLow: nan}},
		{"longout", inverted, dbr.Limits{DisplayHigh: 100, DisplayLow: -100, ControlHigh: 100, ControlLow: -100,
			AlarmHigh: 90, WarningHigh: nan, WarningLow: -80, AlarmLow: nan}},
		{"longin", f, dbr.Limits{DisplayHigh: 100, DisplayLow: -100, ControlHigh: 100, ControlLow: -100,
			AlarmHigh: 90, WarningHigh: nan, WarningLow: -80, AlarmLow: nan}},
		{"waveform", f, dbr.Limits{DisplayHigh: 100, DisplayLow: -100, ControlHigh: 100, ControlLow: -100,
			AlarmHigh: nan, WarningHigh: nan, WarningLow: nan, AlarmLow: nan}},
	}
	for _, tt := range tests {
		got := Limits(tt.rtyp, tt.f)
		g := []float64{got.DisplayHigh, got.DisplayLow, got.AlarmHigh, got.WarningHigh, got.WarningLow, got.AlarmLow, got.ControlHigh, got.ControlLow}
		w := []float64{tt.want.DisplayHigh, tt.want.DisplayLow, tt.want.AlarmHigh, tt.want.WarningHigh, tt.want.WarningLow, tt.want.AlarmLow, tt.want.ControlHigh, tt.want.ControlLow}
		for i := range g {
			if !sameFloat(g[i], w[i]) {
				t.Errorf("%s %+v: got %+v, want %+v", tt.rtyp, tt.f, got, tt.want)
				break
			}
		}
	}
}
