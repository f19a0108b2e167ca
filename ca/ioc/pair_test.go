package ioc_test

import (
	"context"
	"sync"
	"testing"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
)

// recorder is a ca.Subscriber that records the events it gets.
type recorder struct {
	mu     sync.Mutex
	events []dbr.EventMask
	last   *ca.Snapshot
}

func (r *recorder) Update(s *ca.Snapshot, ev dbr.EventMask) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.last = s
	r.mu.Unlock()
}

func TestAlarmGroup(t *testing.T) {
	g := ioc.NewGroup("A:", nil)
	var ag ioc.AlarmGroup
	a := ioc.Double(g, "A", ioc.Spec[float64]{AlarmGroup: &ag})
	b := ioc.Long(g, "B", ioc.Spec[int32]{AlarmGroup: &ag})
	own := ioc.Double(g, "OWN", ioc.Spec[float64]{})
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	var ra, rb recorder
	defer a.Subscribe(&ra)()
	defer b.Subscribe(&rb)()
	hihi := dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}
	b.SetAlarm(hihi) // through a member: the whole group
	if a.Alarm() != hihi || b.Alarm() != hihi || ag.Alarm() != hihi || own.Alarm() != (dbr.Alarm{}) {
		t.Errorf("alarms %v %v %v %v", a.Alarm(), b.Alarm(), ag.Alarm(), own.Alarm())
	}
	ag.Set(dbr.Alarm{})
	for _, r := range []*recorder{&ra, &rb} {
		if len(r.events) != 2 || r.events[0]&dbr.EventAlarm == 0 || r.events[1]&dbr.EventAlarm == 0 {
			t.Errorf("events %v", r.events)
		}
	}
	// A PV declared after the group has an alarm starts with it.
	ag.Set(hihi)
	c := ioc.Double(g, "C", ioc.Spec[float64]{AlarmGroup: &ag})
	if c.Alarm() != hihi {
		t.Errorf("late member alarm %v", c.Alarm())
	}
}

func TestPair(t *testing.T) {
	g := ioc.NewGroup("P:", nil)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	pos := ioc.DeclarePair(g, "POS", ioc.Double, ioc.Spec[float64]{Value: 1, Units: "mm", Precision: 2,
		Put: func(ctx context.Context, _ *ioc.PV[float64], v float64) (float64, error) {
			entered <- struct{}{}
			<-release
			return v * 2, nil
		}}, ioc.Follow)
	temp := ioc.DeclarePair(g, "T", ioc.Long, ioc.Spec[int32]{Value: 20}, ioc.Device)
	if got := g.Names(); len(got) != 4 || got[1] != "P:POS_RBV" || got[3] != "P:T_RBV" {
		t.Fatalf("names %v", got)
	}
	if pos.Readback.Access() != ca.AccessRead || pos.Readback.Snapshot().Meta.Properties.Units != "mm" || pos.Readback.Value() != 1 {
		t.Errorf("readback %v %+v", pos.Readback.Access(), pos.Readback.Snapshot().Meta.Properties)
	}
	srv := serve(t, g)
	ctx := tctx(t)
	sp := connect(t, srv, "P:POS")
	rbv := connect(t, srv, "P:POS_RBV")
	done := make(chan error, 1)
	go func() { done <- sp.PutWait(ctx, dbr.Doubles{3}) }()
	<-entered
	if v, _, err := rbv.Get(ctx, dbr.Double, 1); err != nil || v.(dbr.Doubles)[0] != 1 {
		t.Errorf("readback during the put: %v %v", v, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, _, err := rbv.Get(ctx, dbr.Double, 1); err != nil || v.(dbr.Doubles)[0] != 6 {
		t.Errorf("readback after the put: %v %v", v, err)
	}
	tsp := connect(t, srv, "P:T")
	if err := tsp.PutWait(ctx, dbr.Longs{25}); err != nil {
		t.Fatal(err)
	}
	if temp.Readback.Value() != 20 {
		t.Errorf("device readback followed the setpoint: %v", temp.Readback.Value())
	}
	if err := temp.Readback.Set(24); err != nil || temp.Readback.Value() != 24 {
		t.Error(err)
	}
}
