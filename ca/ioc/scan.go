package ioc

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
)

// ScanOptions configures a periodic task (caproto's scan_wrapper).
type ScanOptions struct {
	// Period is the time between runs; it must be positive. It can be
	// changed while the task runs with ScanTask.SetPeriod.
	Period time.Duration
	// SubtractElapsed runs the task at a fixed rate: the next run starts
	// one Period after the previous one started. Otherwise the task waits
	// a full Period after each run ends. Either way a run that takes longer
	// than the period makes the runs it overlapped be skipped and counted
	// as overruns, never queued.
	SubtractElapsed bool
	// StopOnError ends the task at its first failure.
	StopOnError bool
	// FailSeverity is the alarm severity (with status SCAN) set on Alarm
	// when a run fails; the zero value selects MAJOR. The next successful
	// run clears the alarm it set.
	FailSeverity dbr.Severity
	// Alarm lists the PVs or alarm groups whose alarm reports failures.
	Alarm []Alarmed
}

// ScanTask is a periodic task of a group. It runs while the IOC runs
// (Start or Run). Its methods are safe for concurrent use.
type ScanTask struct {
	name     string
	opts     ScanOptions
	f        func(ctx context.Context) error
	period   atomic.Int64 // time.Duration
	reset    chan struct{}
	paused   atomic.Bool
	runMu    sync.Mutex // serialises runs (periodic and RunOnce) and guards failed
	watchMu  sync.Mutex
	watchers []func() // called after SetPeriod, Pause and Resume
	runs     atomic.Uint64
	overruns atomic.Uint64
	failures atomic.Uint64
	failed   bool // the last run failed and set the alarm; guarded by runMu
}

// ScanStats are the counters of a ScanTask.
type ScanStats struct {
	Runs     uint64 // runs started
	Overruns uint64 // periods skipped because a run was still going
	Failures uint64 // runs that returned an error or panicked
}

// Scan registers f to run every opts.Period while the IOC runs, and
// returns the task. A period that is not positive is a construction error.
func (g *Group) Scan(opts ScanOptions, f func(ctx context.Context) error) *ScanTask {
	t := &ScanTask{name: g.prefix, opts: opts, f: f, reset: make(chan struct{}, 1)}
	if opts.Period <= 0 {
		g.fail(fmt.Errorf("ioc: scan task in group %q: period %v is not positive", g.prefix, opts.Period))
		opts.Period = time.Second
	}
	t.period.Store(int64(opts.Period))
	g.root.mu.Lock()
	g.root.scans = append(g.root.scans, t)
	g.root.mu.Unlock()
	return t
}

// Period returns the current period.
func (t *ScanTask) Period() time.Duration { return time.Duration(t.period.Load()) }

// SetPeriod changes the period; the next run is one new period after the
// last one (started or ended, as SubtractElapsed says). A period that is
// not positive is ignored. It does not resume a paused task. A record
// declared with the task reports the new period in its SCAN field.
func (t *ScanTask) SetPeriod(d time.Duration) {
	if t.setPeriod(d) {
		t.changed()
	}
}

// setPeriod is SetPeriod without telling the watchers; it reports whether
// the period was valid.
func (t *ScanTask) setPeriod(d time.Duration) bool {
	if d <= 0 {
		return false
	}
	t.period.Store(int64(d))
	t.kick()
	return true
}

// Pause stops the periodic runs until Resume; a run in progress ends
// normally. RunOnce still runs the task. A record declared with the task
// reports SCAN Passive.
func (t *ScanTask) Pause() {
	t.setPaused(true)
	t.changed()
}

// Resume restarts the periodic runs of a paused task: the next run is one
// period later.
func (t *ScanTask) Resume() {
	t.setPaused(false)
	t.changed()
}

// Paused reports whether the task is paused.
func (t *ScanTask) Paused() bool { return t.paused.Load() }

// setPaused is Pause or Resume without telling the watchers.
func (t *ScanTask) setPaused(p bool) {
	t.paused.Store(p)
	t.kick()
}

// kick wakes the run loop to read the period and pause state again.
func (t *ScanTask) kick() {
	select {
	case t.reset <- struct{}{}:
	default:
	}
}

// watch registers f to be called after each SetPeriod, Pause and Resume.
func (t *ScanTask) watch(f func()) {
	t.watchMu.Lock()
	t.watchers = append(t.watchers, f)
	t.watchMu.Unlock()
}

// changed calls the watchers.
func (t *ScanTask) changed() {
	t.watchMu.Lock()
	fs := append([]func(){}, t.watchers...)
	t.watchMu.Unlock()
	for _, f := range fs {
		f()
	}
}

// RunOnce runs the task's function once now, as a periodic run does
// (a failure sets the alarm, a success clears it), and returns its
// error. Runs never overlap: RunOnce waits for a run in progress. It works
// whether the IOC runs or not, and on a paused task (a record's PROC).
func (t *ScanTask) RunOnce(ctx context.Context) error {
	t.runMu.Lock()
	defer t.runMu.Unlock()
	t.runs.Add(1)
	err := t.once(ctx)
	t.report(err, nil)
	return err
}

// Stats returns the task's counters.
func (t *ScanTask) Stats() ScanStats {
	return ScanStats{Runs: t.runs.Load(), Overruns: t.overruns.Load(), Failures: t.failures.Load()}
}

// run runs the task until ctx is done or it stops on an error.
func (t *ScanTask) run(ctx context.Context, log *slog.Logger) {
	period := t.Period()
	timer := time.NewTimer(period)
	defer timer.Stop()
	if t.Paused() {
		timer.Stop()
	}
	next := time.Now().Add(period)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.reset:
			period = t.Period()
			next = time.Now().Add(period)
			timer.Stop()
			if !t.Paused() {
				timer.Reset(period)
			}
			continue
		case <-timer.C:
		}
		if t.Paused() {
			continue
		}
		start := time.Now()
		t.runMu.Lock()
		t.runs.Add(1)
		err := t.once(ctx)
		if ctx.Err() != nil {
			t.runMu.Unlock()
			return
		}
		t.report(err, log)
		t.runMu.Unlock()
		if err != nil && t.opts.StopOnError {
			return
		}
		period = t.Period()
		now := time.Now()
		if t.opts.SubtractElapsed {
			next = next.Add(period)
			if !next.After(now) {
				// Skip the periods the run overlapped.
				missed := now.Sub(next)/period + 1
				t.overruns.Add(uint64(missed))
				next = next.Add(missed * period)
			}
		} else {
			if el := now.Sub(start); el > period {
				t.overruns.Add(uint64(el / period))
			}
			next = now.Add(period)
		}
		timer.Reset(next.Sub(now))
	}
}

// report counts a failed run and sets the alarm of a failure, or clears
// the alarm a previous failure set. t.runMu must be held.
func (t *ScanTask) report(err error, log *slog.Logger) {
	if err != nil {
		t.failures.Add(1)
		if log != nil {
			log.Warn("ioc: scan task failed", "task", t.name, "err", err)
		}
		sev := t.opts.FailSeverity
		if sev == dbr.SeverityNone {
			sev = dbr.SeverityMajor
		}
		for _, a := range t.opts.Alarm {
			a.SetAlarm(dbr.Alarm{Status: dbr.StatusScan, Severity: sev})
		}
		t.failed = true
		return
	}
	if t.failed {
		t.failed = false
		for _, a := range t.opts.Alarm {
			if a.Alarm().Status == dbr.StatusScan {
				a.SetAlarm(dbr.Alarm{})
			}
		}
	}
}

// once runs the task's function once, recovering a panic.
func (t *ScanTask) once(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ioc: scan task %q panicked: %v\n%s", t.name, r, debug.Stack())
		}
	}()
	return t.f(ctx)
}

// Tasks returns the scan tasks of g and its subgroups in declaration
// order, including those declared with a PV's Spec.Scan.
func (g *Group) Tasks() []*ScanTask {
	g.root.mu.Lock()
	defer g.root.mu.Unlock()
	return append([]*ScanTask(nil), g.root.scans...)
}
