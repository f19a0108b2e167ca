package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cabridge/cabridge/ca"
)

// Layout of the softIoc benchmark database.
const (
	benchCounters       = 1000
	benchWaveformLength = 1_000_000
	benchCounterPeriod  = 100 * time.Millisecond // 10 Hz
)

// benchIOC is the benchmark database: N static ai PVs, 1,000 counters,
// a writable ao and a 1,000,000-element waveform.
type benchIOC struct {
	pvs      []namedPV
	counters []*ca.Double
}

// newBench builds the layout of the softIoc database used for
// comparisons: BENCH:ai00000.. (n static doubles, units V, precision 3),
// BENCH:calc00000..BENCH:calc00999 (counters), BENCH:ao and BENCH:wf.
func newBench(n int) *benchIOC {
	b := &benchIOC{pvs: make([]namedPV, 0, n+benchCounters+2)}
	ai := ca.Options{Units: "V", Precision: 3}
	for i := range n {
		b.pvs = append(b.pvs, namedPV{fmt.Sprintf("BENCH:ai%05d", i), ca.NewDouble(ai, float64(i))})
	}
	calc := ca.Options{ReadOnly: true, ClassName: "calc"}
	b.counters = make([]*ca.Double, benchCounters)
	for i := range b.counters {
		b.counters[i] = ca.NewDouble(calc)
		b.pvs = append(b.pvs, namedPV{fmt.Sprintf("BENCH:calc%05d", i), b.counters[i]})
	}
	b.pvs = append(b.pvs, namedPV{"BENCH:ao", ca.NewDouble(ca.Options{Units: "V", Precision: 3})})
	wf := make([]float64, benchWaveformLength)
	for i := range wf {
		wf[i] = float64(i)
	}
	b.pvs = append(b.pvs, namedPV{"BENCH:wf", ca.NewDouble(ca.Options{MaxLength: benchWaveformLength}, wf...)})
	return b
}

// run increments every counter by 1 at 10 Hz, each stamped when it is
// updated, until ctx is done. A tick that overruns is skipped by the
// ticker, not queued.
func (b *benchIOC) run(ctx context.Context) {
	tick := time.NewTicker(benchCounterPeriod)
	defer tick.Stop()
	var n float64
	vals := make([]float64, 1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// Each counter is stamped when it is updated (the zero Stamp
			// means now), as softIoc stamps each record when it processes
			// it, not when the ticker fired.
			n++
			vals[0] = n
			for _, c := range b.counters {
				_ = c.Post(ca.Post[float64]{Values: vals})
			}
		}
	}
}

// runBenchServer is the bench-server command.
func runBenchServer(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("bench-server", "Serves the softIoc benchmark database: BENCH:ai00000.. (N static doubles),\n"+
		"BENCH:calc00000..BENCH:calc00999 (10 Hz counters), BENCH:ao and BENCH:wf (1,000,000 doubles).")
	n := fs.Int("n", 1000, "number of static BENCH:ai PVs (at most 100000)")
	list := fs.Bool("list-pvs", false, "print the PV names, one per line, and exit")
	var lf logFlags
	lf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *n < 0 || *n > 100000 {
		return &usageError{msg: fmt.Sprintf("-n %d: must be 0..100000", *n)}
	}
	b := newBench(*n)
	if *list {
		return listPVs(a, b.pvs)
	}
	dir, err := directory(b.pvs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.run(ctx) }()
	defer func() { cancel(); <-done }()
	return a.serve(ctx, lf.logger(a.stderr), dir, fmt.Sprintf("benchmark database (%d PVs)", len(b.pvs)))
}
