package ca

import (
	"context"
	"sync"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// procRecorder is a Subscriber that keeps every update.
type procRecorder struct {
	mu    sync.Mutex
	snaps []*Snapshot
	masks []dbr.EventMask
}

func (r *procRecorder) Update(s *Snapshot, m dbr.EventMask) {
	r.mu.Lock()
	r.snaps = append(r.snaps, s)
	r.masks = append(r.masks, m)
	r.mu.Unlock()
}

func (r *procRecorder) last(t *testing.T) (*Snapshot, dbr.EventMask) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.snaps) == 0 {
		t.Fatal("no update")
	}
	return r.snaps[len(r.snaps)-1], r.masks[len(r.masks)-1]
}

func TestProcessor(t *testing.T) {
	high := dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}
	var seen []Processing
	d := NewDouble(Options{}, 1)
	d.SetProcessor(func(p *Processing) {
		seen = append(seen, *p)
		v := p.Value.(dbr.Doubles)[0]
		if p.Cause == CausePut && v > 10 {
			p.Value = dbr.Doubles{10}
			v = 10
		}
		if p.AlarmSet && p.Alarm.Severity != dbr.SeverityNone {
			return // keep an alarm the driver sets
		}
		p.Alarm = dbr.Alarm{}
		if v >= 5 {
			p.Alarm = high
		}
	})
	rec := new(procRecorder)
	defer d.Subscribe(rec)()

	tests := []struct {
		name      string
		do        func()
		wantVal   float64
		wantAlarm dbr.Alarm
		wantMask  dbr.EventMask
		wantCause ProcessCause
	}{
		{"set raises alarm", func() { d.Set(7) }, 7, high, dbr.EventValue | dbr.EventLog | dbr.EventAlarm, CauseDriver},
		{"put is clamped", func() {
			if err := d.Put(context.Background(), dbr.Doubles{20}); err != nil {
				t.Fatal(err)
			}
		}, 10, high, dbr.EventValue | dbr.EventLog, CausePut},
		{"driver set is not clamped", func() { d.Set(20) }, 20, high, dbr.EventValue | dbr.EventLog, CauseDriver},
		{"set clears alarm", func() { d.Set(1) }, 1, dbr.Alarm{}, dbr.EventValue | dbr.EventLog | dbr.EventAlarm, CauseDriver},
		{"set alarm kept", func() { d.SetAlarm(dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityInvalid}) }, 1,
			dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityInvalid}, dbr.EventAlarm, CauseDriver},
		{"set alarm none recomputed", func() { d.Set(6); d.SetAlarm(dbr.Alarm{}) }, 6, high, dbr.EventValue | dbr.EventLog | dbr.EventAlarm, CauseDriver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do()
			s, m := rec.last(t)
			if got := s.Value.(dbr.Doubles)[0]; got != tt.wantVal {
				t.Errorf("value %v, want %v", got, tt.wantVal)
			}
			if s.Meta.Alarm != tt.wantAlarm {
				t.Errorf("alarm %v, want %v", s.Meta.Alarm, tt.wantAlarm)
			}
			if m != tt.wantMask {
				t.Errorf("mask %v, want %v", m, tt.wantMask)
			}
			if c := seen[len(seen)-1].Cause; c != tt.wantCause {
				t.Errorf("cause %v, want %v", c, tt.wantCause)
			}
		})
	}

	// Metadata changes do not run the processor.
	n := len(seen)
	d.SetUnits("mm")
	d.AckS(dbr.SeverityMajor)
	if len(seen) != n {
		t.Errorf("processor ran %d times for metadata changes", len(seen)-n)
	}

	// Reprocess re-evaluates with the current value.
	d.SetProcessor(func(p *Processing) { p.Alarm = dbr.Alarm{} })
	d.Reprocess()
	if s, m := rec.last(t); s.Meta.Alarm != (dbr.Alarm{}) || m != dbr.EventAlarm {
		t.Errorf("after Reprocess: alarm %v mask %v", s.Meta.Alarm, m)
	}
	if seen := len(seen); seen != n {
		t.Errorf("old processor ran after SetProcessor")
	}
}

func TestReprocessWithoutProcessor(t *testing.T) {
	d := NewDouble(Options{}, 1)
	rec := new(procRecorder)
	defer d.Subscribe(rec)()
	before := d.Snapshot()
	d.Reprocess()
	after := d.Snapshot()
	if after == before || after.Value.(dbr.Doubles)[0] != 1 {
		t.Errorf("Reprocess did not republish the value: %v", after.Value)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.snaps) != 0 {
		t.Errorf("unchanged value raised %v", rec.masks)
	}
}

func TestDeadbandsAndClassName(t *testing.T) {
	d := NewLong(Options{ValueDeadband: 2, ArchiveDeadband: 3}, 1)
	if v, a := d.Deadbands(); v != 2 || a != 3 {
		t.Errorf("Deadbands() = %v, %v", v, a)
	}
	rec := new(procRecorder)
	defer d.Subscribe(rec)()
	d.SetClassName("longin")
	if s, m := rec.last(t); s.Meta.Properties.ClassName != "longin" || m != dbr.EventProperty {
		t.Errorf("class %q mask %v", s.Meta.Properties.ClassName, m)
	}
}
