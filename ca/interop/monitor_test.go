package interop_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
)

type monitorSub struct {
	Name  string `json:"name"`
	PV    string `json:"pv"`
	Type  int    `json:"type"`
	Mask  int    `json:"mask"`
	Count int    `json:"count"`
}

type monitorLine struct {
	Error        string                 `json:"error"`
	MarkerEvents []dbrResult            `json:"marker_events"`
	Ready        map[string][]dbrResult `json:"ready"`
	Step         int                    `json:"step"`
	Events       map[string][]dbrResult `json:"events"`
}

// TestMonitor checks initial updates, DBE masks, deadbands and count-0
// subscriptions that follow a waveform's length.
func TestMonitor(t *testing.T) {
	requirePeer(t)
	m := ca.NewDouble(ca.Options{Units: "V", Precision: 2, ValueDeadband: 1, ArchiveDeadband: 5})
	wf := ca.NewDouble(ca.Options{MaxLength: 100}, 1, 2)
	marker := ca.NewLong(ca.Options{})
	srv := startServer(t, map[string]ca.PV{"mon:m": m, "mon:wf": wf, "mon:marker": marker}, nil)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server stats: %+v; marker %d", srv.Stats(), marker.Value())
		}
	})

	const (
		value, log, alarm, property = 1, 2, 4, 8
	)
	subs := []monitorSub{
		{"value", "mon:m", dbrType(famTime, dbrDouble), value, 1},
		{"log", "mon:m", dbrType(famTime, dbrDouble), log, 1},
		{"alarm", "mon:m", dbrType(famTime, dbrDouble), alarm, 1},
		{"property", "mon:m", dbrType(famCtrl, dbrDouble), property, 1},
		{"value|alarm", "mon:m", dbrType(famTime, dbrDouble), value | alarm, 1},
		{"wf0", "mon:wf", dbrType(famTime, dbrDouble), value, 0},
		{"wf4", "mon:wf", dbrDouble, value, 4},
	}
	type want map[string][]string // sub name → the values of its updates, formatted
	steps := []struct {
		what   string
		change func()
		want   want
	}{
		{"inside MDEL", func() { m.Set(0.5) }, want{}},
		{"past MDEL", func() { m.Set(1.6) }, want{"value": {"[1.6]"}, "value|alarm": {"[1.6]"}}},
		{"past ADEL", func() { m.Set(6) }, want{"value": {"[6]"}, "log": {"[6]"}, "value|alarm": {"[6]"}}},
		{"alarm", func() { m.SetAlarm(dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}) },
			want{"alarm": {"[6]"}, "value|alarm": {"[6]"}}},
		{"property", func() { m.SetUnits("kV") }, want{"property": {"[6]"}}},
		{"same value", func() { m.Set(6) }, want{}},
		{"wf grows", func() { _ = wf.SetArray([]float64{1, 2, 3, 4, 5, 6, 7}) },
			want{"wf0": {"[1 2 3 4 5 6 7]"}, "wf4": {"[1 2 3 4]"}}},
		{"wf shrinks", func() { _ = wf.SetArray([]float64{9}) },
			want{"wf0": {"[9]"}, "wf4": {"[9 0 0 0]"}}},
		{"wf empty", func() { _ = wf.SetArray([]float64{}) }, want{"wf4": {"[0 0 0 0]"}}},
	}
	p := startPy(t, 60*time.Second, "monitor.py", srv.Env(),
		map[string]any{"subs": subs, "marker": "mon:marker", "steps": len(steps)})
	var ready monitorLine
	p.next(&ready)
	for _, s := range subs {
		ev := ready.Ready[s.Name]
		if len(ev) != 1 {
			t.Errorf("%s: %d initial updates, want 1", s.Name, len(ev))
			continue
		}
		if ev[0].Status != 0 && s.Type != dbrDouble {
			t.Errorf("%s: initial alarm status %d", s.Name, ev[0].Status)
		}
	}
	if ev := ready.Ready["wf0"]; len(ev) == 1 && (ev[0].Count != 2 || fmt.Sprint(ev[0].Value) != "[1 2]") {
		t.Errorf("wf0 initial: count %d value %v, want 2 [1 2]", ev[0].Count, ev[0].Value)
	}
	if ev := ready.Ready["wf4"]; len(ev) == 1 && (ev[0].Count != 4 || fmt.Sprint(ev[0].Value) != "[1 2 0 0]") {
		t.Errorf("wf4 initial: count %d value %v, want 4 [1 2 0 0]", ev[0].Count, ev[0].Value)
	}
	for i, st := range steps {
		st.change()
		marker.Set(int32(i + 1))
		var line monitorLine
		p.next(&line)
		if line.Error != "" {
			t.Fatalf("step %q: %s; marker updates %+v; other updates %+v", st.what, line.Error, line.MarkerEvents, line.Events)
		}
		if line.Step != i+1 {
			t.Fatalf("step %d: script reported step %d", i+1, line.Step)
		}
		for _, s := range subs {
			if st.what == "wf empty" && s.Name == "wf0" {
				continue // checked below
			}
			var got []string
			for _, ev := range line.Events[s.Name] {
				got = append(got, fmt.Sprint(ev.Value))
			}
			if fmt.Sprint(got) != fmt.Sprint(st.want[s.Name]) {
				t.Errorf("step %q: %s got %v, want %v", st.what, s.Name, got, st.want[s.Name])
			}
		}
		switch st.what {
		case "alarm":
			if ev := line.Events["alarm"]; len(ev) == 1 && (ev[0].Status != int(dbr.StatusHiHi) || ev[0].Severity != int(dbr.SeverityMajor)) {
				t.Errorf("alarm update carries %d/%d, want HIHI/MAJOR", ev[0].Status, ev[0].Severity)
			}
		case "property":
			if ev := line.Events["property"]; len(ev) == 1 && (ev[0].Units == nil || *ev[0].Units != "kV") {
				t.Errorf("property update carries units %v, want kV", deref(ev[0].Units))
			}
		case "wf empty":
			// A count-0 subscription of an empty array: libca drops a
			// zero-length plain update but delivers a TIME one with its
			// metadata; if one arrives its count must be 0.
			if n := len(line.Events["wf0"]); n > 1 {
				t.Errorf("wf0: %d updates for one change", n)
			}
			for _, ev := range line.Events["wf0"] {
				if ev.Count != 0 || len(ev.Value) != 0 {
					t.Errorf("wf0 update of the empty array has count %d", ev.Count)
				}
			}
		}
	}
	p.wait()
}
