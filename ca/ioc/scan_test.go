package ioc_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
)

// runFor starts g, lets fake time advance by d, and stops it.
func runFor(t *testing.T, g *ioc.Group, d time.Duration) {
	t.Helper()
	r, err := ioc.Start(t.Context(), nil, g)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	synctest.Wait()
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestScanPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := ioc.NewGroup("S:", nil)
		tick := ioc.Long(g, "TICK", ioc.Spec[int32]{Scan: ioc.Scan[int32]{
			ScanOptions: ioc.ScanOptions{Period: time.Second},
			Func:        func(_ context.Context, pv *ioc.PV[int32]) error { return pv.Set(pv.Value() + 1) },
		}})
		runFor(t, g, 3500*time.Millisecond)
		if tick.Value() != 3 {
			t.Errorf("3.5 periods: %d runs", tick.Value())
		}
	})
}

func TestScanOverrun(t *testing.T) {
	for _, tc := range []struct {
		name           string
		subtract       bool
		runs, overruns uint64
	}{
		// Runs start at 1, 4 (the run at 1 ends at 3.5, skipping 2 and 3),
		// 7, 10: each run skips two ticks.
		{"fixed rate", true, 4, 6},
		// Runs start at 1, 4.5, 8: a full period after each 2.5 s run,
		// which overlapped two periods.
		{"fixed delay", false, 3, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := ioc.NewGroup("S:", nil)
				task := g.Scan(ioc.ScanOptions{Period: time.Second, SubtractElapsed: tc.subtract}, func(ctx context.Context) error {
					select {
					case <-time.After(2500 * time.Millisecond):
					case <-ctx.Done():
					}
					return nil
				})
				runFor(t, g, 10500*time.Millisecond)
				if s := task.Stats(); s.Runs != tc.runs || s.Overruns != tc.overruns {
					t.Errorf("stats %+v, want %d runs %d overruns", s, tc.runs, tc.overruns)
				}
			})
		})
	}
}

func TestScanErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := ioc.NewGroup("S:", nil)
		fail := true
		var seen []dbr.Alarm
		pv := ioc.Double(g, "X", ioc.Spec[float64]{Scan: ioc.Scan[float64]{
			ScanOptions: ioc.ScanOptions{Period: time.Second, FailSeverity: dbr.SeverityInvalid},
			Func: func(_ context.Context, pv *ioc.PV[float64]) error {
				seen = append(seen, pv.Alarm())
				if fail {
					fail = false
					return errors.New("read failed")
				}
				panic("and then a panic")
			},
		}})
		stop := g.Scan(ioc.ScanOptions{Period: time.Second, StopOnError: true}, func(context.Context) error {
			return errors.New("once")
		})
		var ok int
		okTask := g.Scan(ioc.ScanOptions{Period: 500 * time.Millisecond, Alarm: []ioc.Alarmed{pv}}, func(context.Context) error {
			ok++
			return nil
		})
		_ = okTask
		runFor(t, g, 2500*time.Millisecond)
		want := dbr.Alarm{Status: dbr.StatusScan, Severity: dbr.SeverityInvalid}
		if pv.Alarm() != want || len(seen) != 2 || seen[1] != want {
			t.Errorf("alarm %v, seen %v", pv.Alarm(), seen)
		}
		if s := stop.Stats(); s.Runs != 1 || s.Failures != 1 {
			t.Errorf("stop-on-error task: %+v", s)
		}
		if ok != 5 {
			t.Errorf("ok task ran %d times", ok)
		}
	})
}

func TestScanRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := ioc.NewGroup("S:", nil)
		n := 0
		pv := ioc.Double(g, "X", ioc.Spec[float64]{Scan: ioc.Scan[float64]{
			ScanOptions: ioc.ScanOptions{Period: time.Second},
			Func: func(_ context.Context, pv *ioc.PV[float64]) error {
				n++
				if n == 1 {
					return errors.New("first fails")
				}
				return pv.Set(float64(n))
			},
		}})
		runFor(t, g, 1500*time.Millisecond)
		if a := pv.Alarm(); a.Severity != dbr.SeverityMajor {
			t.Errorf("after failure: %v", a)
		}
		runFor(t, g, 1500*time.Millisecond)
		if a := pv.Alarm(); a != (dbr.Alarm{}) || pv.Value() != 2 {
			t.Errorf("after success: %v %v", a, pv.Value())
		}
	})
}

func TestScanSetPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := ioc.NewGroup("S:", nil)
		n := 0
		task := g.Scan(ioc.ScanOptions{Period: time.Second, SubtractElapsed: true}, func(context.Context) error { n++; return nil })
		r, err := ioc.Start(t.Context(), nil, g)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond) // runs at 1, 2
		synctest.Wait()
		task.SetPeriod(100 * time.Millisecond)
		synctest.Wait()
		time.Sleep(1050 * time.Millisecond) // 10 more
		synctest.Wait()
		if err := r.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n != 12 || task.Period() != 100*time.Millisecond {
			t.Errorf("%d runs, period %v", n, task.Period())
		}
	})
}
