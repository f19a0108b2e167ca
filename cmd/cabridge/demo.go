package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
)

// Demo IOC parameters.
const (
	demoWaveformLength = 1_000_000
	demoCounterPeriod  = 100 * time.Millisecond // 10 Hz
	shutdownTimeout    = 5 * time.Second
)

// namedPV is a PV and the name it is served under.
type namedPV struct {
	name string
	pv   ca.PV
}

// demoIOC is the demo's PVs and the handles its driver goroutine updates.
type demoIOC struct {
	pvs      []namedPV
	counter  *ca.Long
	setpoint *ca.Double
	readback *ca.Double
}

// newDemo builds the demo PVs under prefix: one PV of every native type,
// a large waveform, a long string, a 10 Hz counter and writable setpoints.
func newDemo(prefix string) *demoIOC {
	nan := math.NaN()
	d := &demoIOC{}
	add := func(name string, pv ca.PV) { d.pvs = append(d.pvs, namedPV{prefix + name, pv}) }

	add("ai", ca.NewDouble(ca.Options{
		ReadOnly: true, Units: "degC", Precision: 2,
		Limits: dbr.Limits{DisplayHigh: 100, DisplayLow: 0, AlarmHigh: 90, WarningHigh: 80,
			WarningLow: 10, AlarmLow: 5, ControlHigh: 100, ControlLow: 0},
	}, 21.5))
	add("float", ca.NewFloat(ca.Options{Units: "V", Precision: 3,
		Limits: dbr.Limits{DisplayHigh: 10, DisplayLow: -10, AlarmHigh: nan, WarningHigh: nan,
			WarningLow: nan, AlarmLow: nan, ControlHigh: 10, ControlLow: -10}}, 1.25))
	add("long", ca.NewLong(ca.Options{Units: "counts",
		Limits: dbr.Limits{DisplayHigh: 1000, ControlHigh: 1000, AlarmHigh: nan, WarningHigh: nan,
			WarningLow: nan, AlarmLow: nan}}, 42))
	add("short", ca.NewShort(ca.Options{Units: "steps"}, -7))
	add("char", ca.NewByte(ca.Options{}, 65))
	add("enum", ca.NewEnum(ca.Options{}, []string{"Off", "On", "Standby", "Fault"}, 1))
	add("string", ca.NewString(ca.Options{}, "hello from cabridge"))
	add("waveform", ca.NewDouble(ca.Options{Units: "V", Precision: 4, MaxLength: demoWaveformLength},
		sine(demoWaveformLength, 1000)...))
	add("longstring", ca.NewChar(ca.Options{MaxLength: 1024},
		"cabridge demo IOC: this char waveform holds a string longer than the 40 bytes of DBR_STRING"))

	d.counter = ca.NewLong(ca.Options{ReadOnly: true, Units: "ticks"})
	add("counter", d.counter)
	spOpts := ca.Options{Units: "mA", Precision: 3,
		Limits: dbr.Limits{DisplayHigh: 100, DisplayLow: -100, AlarmHigh: nan, WarningHigh: nan,
			WarningLow: nan, AlarmLow: nan, ControlHigh: 100, ControlLow: -100}}
	d.setpoint = ca.NewDouble(spOpts)
	add("setpoint", d.setpoint)
	rbOpts := spOpts
	rbOpts.ReadOnly = true
	d.readback = ca.NewDouble(rbOpts)
	add("setpoint_RBV", d.readback)

	slices.SortFunc(d.pvs, func(a, b namedPV) int { return cmp.Compare(a.name, b.name) })
	return d
}

// sine returns n samples of a unit sine wave with the given period.
func sine(n, period int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Sin(2 * math.Pi * float64(i) / float64(period))
	}
	return v
}

// wakeup is a Subscriber that wakes a goroutine without blocking.
type wakeup chan struct{}

func (s wakeup) Update(*ca.Snapshot, dbr.EventMask) {
	select {
	case s <- struct{}{}:
	default:
	}
}

// run drives the demo until ctx is done: it increments the counter at
// 10 Hz and copies each setpoint change to the readback.
func (d *demoIOC) run(ctx context.Context) {
	changed := make(wakeup, 1)
	cancel := d.setpoint.Subscribe(changed)
	defer cancel()
	changed <- struct{}{} // copy a setpoint written before Subscribe
	tick := time.NewTicker(demoCounterPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			d.counter.Set(d.counter.Value() + 1)
		case <-changed:
			s := d.setpoint.Snapshot()
			if r := d.readback.Snapshot(); r.Meta.Stamp == s.Meta.Stamp && r.Meta.Alarm == s.Meta.Alarm {
				continue
			}
			a := s.Meta.Alarm
			_ = d.readback.Post(ca.Post[float64]{Values: []float64(s.Value.(dbr.Doubles)), Alarm: &a, Stamp: s.Meta.Stamp})
		}
	}
}

// directory returns a Map serving pvs.
func directory(pvs []namedPV) (*ca.Map, error) {
	m := new(ca.Map)
	for _, p := range pvs {
		if err := m.Add(p.name, p.pv); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// runServe is the serve command: the demo IOC.
func runServe(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("serve", "Serves the demo IOC: one PV of every CA type, a 1,000,000-element waveform,\n"+
		"a 10 Hz counter and writable setpoints. Network settings come from the EPICS_CAS_* variables.")
	prefix := fs.String("prefix", "demo:", "PV name prefix")
	list := fs.Bool("list-pvs", false, "print the PV names, one per line, and exit")
	var lf logFlags
	lf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	d := newDemo(*prefix)
	if *list {
		return listPVs(a, d.pvs)
	}
	dir, err := directory(d.pvs)
	if err != nil {
		return err
	}
	log := lf.logger(a.stderr)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); d.run(ctx) }()
	defer func() { cancel(); <-done }()
	return a.serve(ctx, log, dir, fmt.Sprintf("demo IOC (%d PVs, prefix %q)", len(d.pvs), *prefix))
}

// listPVs prints the names of pvs, sorted, one per line.
func listPVs(a *app, pvs []namedPV) error {
	names := make([]string, len(pvs))
	for i, p := range pvs {
		names[i] = p.name
	}
	slices.Sort(names)
	for _, n := range names {
		if _, err := fmt.Fprintln(a.stdout, n); err != nil {
			return err
		}
	}
	return nil
}
