package ca

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

const (
	evV  = dbr.EventValue
	evL  = dbr.EventLog
	evVL = dbr.EventValue | dbr.EventLog
	evA  = dbr.EventAlarm
	evP  = dbr.EventProperty
)

func TestDeadbands(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name       string
		mdel, adel float64
		initial    float64
		sets       []float64
		want       []dbr.EventMask // per Set; 0 means no update delivered
	}{
		{"any change", 0, 0, 0, []float64{1, 1, 2, 2, 1}, []dbr.EventMask{evVL, 0, evVL, 0, evVL}},
		{"deadbands", 1, 2, 0, []float64{0.5, 1.5, 2.1, 3, 3.2, 4.2}, []dbr.EventMask{0, evV, evL, evV, 0, evVL}},
		{"deadband equal is not more", 1, 1, 0, []float64{1, 2.5}, []dbr.EventMask{0, evVL}},
		{"negative mdel posts every update", -1, 0, 5, []float64{5, 5, 6}, []dbr.EventMask{evV, evV, evVL}},
		{"negative adel posts every update", 0, -1, 5, []float64{5, 6}, []dbr.EventMask{evL, evVL}},
		{"NaN transitions always post", 10, 10, 1, []float64{nan, nan, 1, 2}, []dbr.EventMask{evVL, 0, evVL, 0}},
		{"Inf transitions always post", 10, 10, 1, []float64{inf, inf, -inf, -inf, 0, nan, inf}, []dbr.EventMask{evVL, 0, evVL, 0, evVL, evVL, evVL}},
		{"NaN with zero deadband", 0, 0, nan, []float64{nan, 0}, []dbr.EventMask{0, evVL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDouble(Options{ValueDeadband: tt.mdel, ArchiveDeadband: tt.adel}, tt.initial)
			r := new(recorder)
			d.Subscribe(r)
			for i, v := range tt.sets {
				before := d.Snapshot()
				d.Set(v)
				got := r.take()
				if tt.want[i] == 0 {
					if len(got) != 0 {
						t.Errorf("Set(%v) #%d: mask %v, want no update", v, i, got[0].mask)
					}
					if d.Snapshot() == before {
						t.Errorf("Set(%v) #%d: no new snapshot", v, i)
					}
					continue
				}
				if len(got) != 1 || got[0].mask != tt.want[i] {
					t.Errorf("Set(%v) #%d: updates %v, want one with %v", v, i, got, tt.want[i])
				}
			}
		})
	}
}

func TestDeadbandsOtherNumericTypes(t *testing.T) {
	l := NewLong(Options{ValueDeadband: 2})
	r := new(recorder)
	l.Subscribe(r)
	for _, v := range []int32{1, 2, 3, 6} {
		l.Set(v)
	}
	if m := r.masks(); !reflect.DeepEqual(m, []dbr.EventMask{evL, evL, evVL, evVL}) {
		t.Errorf("long masks = %v", m)
	}
	l.SetDeadbands(0, 0)
	l.Set(7)
	if m := r.masks(); !reflect.DeepEqual(m, []dbr.EventMask{evVL}) {
		t.Errorf("after SetDeadbands(0, 0): masks = %v", m)
	}
	f := NewFloat(Options{ArchiveDeadband: 0.5})
	f.Subscribe(r)
	f.Set(0.25)
	f.Set(float32(math.NaN()))
	if m := r.masks(); !reflect.DeepEqual(m, []dbr.EventMask{evV, evVL}) {
		t.Errorf("float masks = %v", m)
	}
}

func TestValueEventsNonNumeric(t *testing.T) {
	type step struct {
		do   func(pv PV)
		want dbr.EventMask
	}
	put := func(v dbr.Value) func(PV) {
		return func(pv PV) {
			if err := pv.Put(context.Background(), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		pv    PV
		steps []step
	}{
		{"array", NewDouble(Options{MaxLength: 4, ValueDeadband: 100}, 1, 2), []step{
			{put(dbr.Doubles{1, 2}), 0},
			{put(dbr.Doubles{1, 2.5}), evVL},
			{put(dbr.Doubles{1, 2.5, 3}), evVL},
			{put(dbr.Doubles{}), evVL},
			{put(dbr.Doubles{}), 0},
		}},
		{"array NaN equals NaN", NewDouble(Options{MaxLength: 2}, math.NaN()), []step{
			{put(dbr.Doubles{math.NaN()}), 0},
			{put(dbr.Doubles{0}), evVL},
		}},
		{"array negative deadbands", NewLong(Options{MaxLength: 2, ValueDeadband: -1, ArchiveDeadband: -1}, 1, 2), []step{
			{put(dbr.Longs{1, 2}), evVL},
		}},
		{"array negative mdel only", NewShort(Options{MaxLength: 2, ValueDeadband: -1}, 1, 2), []step{
			{put(dbr.Shorts{1, 2}), evV},
		}},
		{"string", NewString(Options{ValueDeadband: 5}, "a"), []step{
			{put(dbr.Strings{"a"}), 0},
			{put(dbr.Strings{"b"}), evVL},
		}},
		{"enum", NewEnum(Options{ValueDeadband: 5}, []string{"A", "B"}), []step{
			{put(dbr.Enums{0}), 0},
			{put(dbr.Strings{"B"}), evVL},
		}},
		{"char", NewChar(Options{}, "x"), []step{
			{put(dbr.Chars("x\x00")), 0},
			{put(dbr.Chars("x")), 0},
			{put(dbr.Chars("y")), evVL},
		}},
		{"byte array", NewByte(Options{MaxLength: 3}, 1), []step{
			{put(dbr.Chars{1}), 0},
			{put(dbr.Chars{1, 1}), evVL},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := new(recorder)
			tt.pv.Subscribe(r)
			for i, st := range tt.steps {
				st.do(tt.pv)
				got := r.masks()
				var want []dbr.EventMask
				if st.want != 0 {
					want = []dbr.EventMask{st.want}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("step %d: masks %v, want %v", i, got, want)
				}
			}
		})
	}
}

func TestAlarmAndPropertyEvents(t *testing.T) {
	hihi := dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}
	tests := []struct {
		name string
		do   func(d *Double)
		want []dbr.EventMask
	}{
		{"alarm change", func(d *Double) { d.SetAlarm(hihi) }, []dbr.EventMask{evA}},
		{"same alarm", func(d *Double) { d.SetAlarm(dbr.Alarm{}) }, nil},
		{"status only", func(d *Double) { d.SetAlarm(dbr.Alarm{Status: dbr.StatusComm}) }, []dbr.EventMask{evA}},
		{"value and alarm", func(d *Double) {
			_ = d.Post(Post[float64]{Values: []float64{9}, Alarm: &hihi})
		}, []dbr.EventMask{evVL | evA}},
		{"alarm then value in alarm", func(d *Double) {
			_ = d.Post(Post[float64]{Values: []float64{9}, Alarm: &hihi})
			_ = d.Post(Post[float64]{Values: []float64{10}, Alarm: &hihi})
		}, []dbr.EventMask{evVL | evA, evVL}},
		{"identical value and alarm", func(d *Double) {
			_ = d.Post(Post[float64]{Values: []float64{1}, Alarm: &dbr.Alarm{}})
		}, nil},
		{"units", func(d *Double) { d.SetUnits("V") }, []dbr.EventMask{evP}},
		{"same units", func(d *Double) { d.SetUnits("mm") }, nil},
		{"precision", func(d *Double) { d.SetPrecision(4) }, []dbr.EventMask{evP}},
		{"same precision", func(d *Double) { d.SetPrecision(2) }, nil},
		{"limits", func(d *Double) { d.SetLimits(dbr.Limits{DisplayHigh: 10}) }, []dbr.EventMask{evP}},
		{"same NaN limits", func(d *Double) { d.SetLimits(d.Snapshot().Meta.Properties.Limits) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDouble(Options{Units: "mm", Precision: 2}, 1)
			r := new(recorder)
			d.Subscribe(r)
			tt.do(d)
			got := r.take()
			var masks []dbr.EventMask
			for _, u := range got {
				masks = append(masks, u.mask)
			}
			if !reflect.DeepEqual(masks, tt.want) {
				t.Fatalf("masks = %v, want %v", masks, tt.want)
			}
			for _, u := range got {
				if u.mask&evP != 0 && u.s.Meta.Stamp != got[0].s.Meta.Stamp {
					t.Error("property change moved the timestamp")
				}
			}
		})
	}
}

func TestPropertyEventKeepsValueAndStamp(t *testing.T) {
	clk := newFakeClock()
	d := NewDouble(Options{Clock: clk.Now}, 1)
	before := d.Snapshot()
	d.SetUnits("A")
	after := d.Snapshot()
	if after.Meta.Stamp != before.Meta.Stamp || !reflect.DeepEqual(after.Value, before.Value) {
		t.Errorf("SetUnits changed stamp or value: %+v -> %+v", before, after)
	}
	if after.Meta.Properties.Units != "A" {
		t.Errorf("units = %q", after.Meta.Properties.Units)
	}
}

func TestAcknowledge(t *testing.T) {
	sev := func(s dbr.Severity) dbr.Alarm { return dbr.Alarm{Status: dbr.StatusHiHi, Severity: s} }
	d := NewDouble(Options{})
	var ack Acknowledger = d
	r := new(recorder)
	d.Subscribe(r)
	check := func(step string, ackT bool, ackS dbr.Severity, masks []dbr.EventMask) {
		t.Helper()
		m := d.Snapshot().Meta
		if m.AckT != ackT || m.AckS != ackS {
			t.Errorf("%s: AckT %v AckS %v, want %v %v", step, m.AckT, m.AckS, ackT, ackS)
		}
		if got := r.masks(); !reflect.DeepEqual(got, masks) {
			t.Errorf("%s: masks %v, want %v", step, got, masks)
		}
	}
	check("initial", true, dbr.SeverityNone, nil)
	d.SetAlarm(sev(dbr.SeverityMajor))
	check("major", true, dbr.SeverityMajor, []dbr.EventMask{evA})
	d.SetAlarm(sev(dbr.SeverityMinor))
	check("minor keeps unacknowledged major", true, dbr.SeverityMajor, []dbr.EventMask{evA})
	ack.AckS(dbr.SeverityMinor)
	check("ack below", true, dbr.SeverityMajor, nil)
	ack.AckS(dbr.SeverityMajor)
	check("ack major", true, dbr.SeverityNone, []dbr.EventMask{evA})
	ack.AckS(dbr.SeverityInvalid)
	check("ack with nothing to ack", true, dbr.SeverityNone, nil)
	d.SetAlarm(sev(dbr.SeverityInvalid))
	check("invalid", true, dbr.SeverityInvalid, []dbr.EventMask{evA})
	ack.AckT(true)
	check("AckT unchanged", true, dbr.SeverityInvalid, nil)
	d.SetAlarm(sev(dbr.SeverityMinor))
	ack.AckT(false)
	check("AckT off lowers AckS", false, dbr.SeverityMinor, []dbr.EventMask{evA, evA})
	d.SetAlarm(dbr.Alarm{})
	check("transient alarm clears AckS", false, dbr.SeverityNone, []dbr.EventMask{evA})
	d.SetAlarm(sev(dbr.SeverityMajor))
	ack.AckT(true)
	check("AckT on", true, dbr.SeverityMajor, []dbr.EventMask{evA, evA})
}
