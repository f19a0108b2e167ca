package mapping

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/macro"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
)

// exportRecorder is an Exporter device that records what it is handed.
type exportRecorder struct {
	*drivertest.Fake
	names []string
	mu    sync.Mutex
	got   []drivers.Export
	ch    chan struct{}
}

func (r *exportRecorder) Exports() []string { return r.names }

func (r *exportRecorder) Export(u drivers.Export) {
	r.mu.Lock()
	r.got = append(r.got, u)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *exportRecorder) last() []drivers.Export {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]drivers.Export(nil), r.got...)
}

func TestRunExports(t *testing.T) {
	temp := ca.NewDouble(ca.Options{Units: "degC"}, 21.5)
	mode := ca.NewEnum(ca.Options{}, []string{"Off", "On"}, 1)
	msg := ca.NewChar(ca.Options{MaxLength: 64}, "a long text")
	pvs := map[string]ca.PV{"LAB:TEMP": temp, "LAB:MODE": mode, "LAB:MSG": msg}
	rec := &exportRecorder{names: []string{"$(P)TEMP", "LAB:MODE", "LAB:MSG", "LAB:NONE"}, ch: make(chan struct{}, 1)}
	devs := map[string]drivers.Device{"ex": rec, "other": newFake()}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { runExports(ctx, devs, macro.Set{"P": "LAB:"}, func(n string) ca.PV { return pvs[n] }, nil) })
	defer func() { cancel(); wg.Wait() }()

	waitFor := func(what string, ok func([]drivers.Export) bool) {
		t.Helper()
		deadline := time.NewTimer(5 * time.Second)
		defer deadline.Stop()
		for !ok(rec.last()) {
			select {
			case <-rec.ch:
			case <-deadline.C:
				t.Fatalf("no export with %s: %+v", what, rec.last())
			}
		}
	}
	waitFor("the initial states", func(us []drivers.Export) bool { return len(us) >= 3 })
	byPV := map[string]drivers.Export{}
	for _, u := range rec.last() {
		byPV[u.PV] = u
	}
	if u := byPV["LAB:TEMP"]; !drivers.Equal(u.Value, drivers.Floats{21.5}) || u.Units != "degC" {
		t.Errorf("TEMP export %+v", u)
	}
	if u := byPV["LAB:MODE"]; !drivers.Equal(u.Value, drivers.Ints{1}) || u.Enum != "On" {
		t.Errorf("MODE export %+v", u)
	}
	if u := byPV["LAB:MSG"]; !drivers.Equal(u.Value, drivers.Strings{"a long text"}) {
		t.Errorf("MSG export %+v", u)
	}
	a := dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}
	stamp := dbr.NewTimestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err := temp.Post(ca.Post[float64]{Values: []float64{99}, Alarm: &a, Stamp: stamp}); err != nil {
		t.Fatal(err)
	}
	waitFor("99 HIHI/MAJOR", func(us []drivers.Export) bool {
		u := us[len(us)-1]
		return u.PV == "LAB:TEMP" && drivers.Equal(u.Value, drivers.Floats{99}) && u.Alarm == a && u.Time.Equal(stamp.Time())
	})
}
