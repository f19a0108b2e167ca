package ioc

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestScanPause runs a task in a synctest bubble: paused, it does not run;
// resumed, it runs at its period again.
func TestScanPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup("P:", nil)
		task := g.Scan(ScanOptions{Period: time.Second}, func(context.Context) error { return nil })
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { task.run(ctx, nil) })
		defer func() { cancel(); wg.Wait() }()

		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		if n := task.Stats().Runs; n != 3 {
			t.Fatalf("%d runs in 3.5 periods", n)
		}
		task.Pause()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := task.Stats().Runs; n != 3 {
			t.Fatalf("%d runs while paused", n)
		}
		task.SetPeriod(time.Minute) // stays paused
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := task.Stats().Runs; n != 3 || !task.Paused() {
			t.Fatalf("%d runs, paused %v after SetPeriod", n, task.Paused())
		}
		task.Resume()
		time.Sleep(150 * time.Second)
		synctest.Wait()
		if n := task.Stats().Runs; n != 5 {
			t.Fatalf("%d runs 2.5 periods after Resume, want 5", n)
		}
		if err := task.RunOnce(ctx); err != nil || task.Stats().Runs != 6 {
			t.Fatalf("RunOnce: %v, runs %d", err, task.Stats().Runs)
		}
	})
}
