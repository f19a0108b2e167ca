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
	"github.com/cabridge/cabridge/ca/ioc"
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

// demoIOC is the demo's PVs, declared as an ioc.Group, and the handles
// the tests look at.
type demoIOC struct {
	group    *ioc.Group
	pvs      []namedPV // sorted by name
	counter  *ioc.PV[int32]
	setpoint *ioc.PV[float64]
	readback *ioc.PV[float64]
}

// newDemo builds the demo PVs under prefix: one PV of every native type,
// a large waveform, a long string, a 10 Hz counter (a scan task) and a
// setpoint/readback pair. Each PV but the CHAR scalar is a record, so
// clients also read fields such as demo:ai.EGU, demo:ai.HIHI and
// demo:counter.SCAN.
func newDemo(prefix string) (*demoIOC, error) {
	nan := math.NaN()
	g := ioc.NewGroup(prefix, nil)
	d := &demoIOC{group: g}

	ioc.Double(g, "ai", ioc.Spec[float64]{Value: 21.5, ReadOnly: true, Units: "degC", Precision: 2,
		Doc: "demo temperature", Record: "ai",
		Limits: dbr.Limits{DisplayHigh: 100, DisplayLow: 0, AlarmHigh: 90, WarningHigh: 80,
			WarningLow: 10, AlarmLow: 5, ControlHigh: 100, ControlLow: 0}})
	ioc.Float(g, "float", ioc.Spec[float32]{Value: 1.25, Units: "V", Precision: 3, Doc: "demo float", Record: "ao",
		Limits: dbr.Limits{DisplayHigh: 10, DisplayLow: -10, AlarmHigh: nan, WarningHigh: nan,
			WarningLow: nan, AlarmLow: nan, ControlHigh: 10, ControlLow: -10}})
	ioc.Long(g, "long", ioc.Spec[int32]{Value: 42, Units: "counts", Doc: "demo long", Record: "longout",
		Limits: dbr.Limits{DisplayHigh: 1000, ControlHigh: 1000, AlarmHigh: nan, WarningHigh: nan,
			WarningLow: nan, AlarmLow: nan}})
	ioc.Short(g, "short", ioc.Spec[int16]{Value: -7, Units: "steps", Doc: "demo short", Record: "longout"})
	ioc.Byte(g, "char", ioc.Spec[uint8]{Value: 65})
	ioc.Enum(g, "enum", ioc.Spec[uint16]{Value: 1, EnumStrings: []string{"Off", "On", "Standby", "Fault"},
		Doc: "demo mode", Record: "mbbo"})
	ioc.String(g, "string", ioc.Spec[string]{Value: "hello from cabridge", Doc: "demo string", Record: "stringout"})
	ioc.Double(g, "waveform", ioc.Spec[float64]{Values: sine(demoWaveformLength, 1000), MaxLength: demoWaveformLength,
		Units: "V", Precision: 4, Doc: "demo sine", Record: "waveform"})
	ioc.Char(g, "longstring", ioc.Spec[string]{MaxLength: 1024, Doc: "demo long string", Record: "waveform",
		Value: "cabridge demo IOC: this char waveform holds a string longer than the 40 bytes of DBR_STRING"})
	d.counter = ioc.Long(g, "counter", ioc.Spec[int32]{ReadOnly: true, Units: "ticks", Doc: "demo counter",
		Record: "longin", Scan: ioc.Scan[int32]{
			ScanOptions: ioc.ScanOptions{Period: demoCounterPeriod},
			Func:        func(_ context.Context, pv *ioc.PV[int32]) error { return pv.Set(pv.Value() + 1) },
		}})
	pair := ioc.DeclarePair(g, "setpoint", ioc.Double, ioc.Spec[float64]{Units: "mA", Precision: 3,
		Doc: "demo setpoint", Record: "ao",
		Limits: dbr.Limits{DisplayHigh: 100, DisplayLow: -100, AlarmHigh: nan, WarningHigh: nan,
			WarningLow: nan, AlarmLow: nan, ControlHigh: 100, ControlLow: -100}}, ioc.Follow)
	d.setpoint, d.readback = pair.Setpoint, pair.Readback

	pvs, err := g.PVs() // fails only for a bad prefix (an unresolved macro)
	if err != nil {
		return nil, err
	}
	for name, pv := range pvs {
		d.pvs = append(d.pvs, namedPV{name, pv})
	}
	slices.SortFunc(d.pvs, func(a, b namedPV) int { return cmp.Compare(a.name, b.name) })
	return d, nil
}

// sine returns n samples of a unit sine wave with the given period.
func sine(n, period int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Sin(2 * math.Pi * float64(i) / float64(period))
	}
	return v
}

// run runs the demo's scan task (the counter) until ctx is done; the
// readback follows the setpoint by itself.
func (d *demoIOC) run(ctx context.Context) {
	r, err := ioc.Start(ctx, nil, d.group)
	if err != nil {
		return // cannot happen: newDemo checked the group
	}
	<-ctx.Done()
	_ = r.Stop(context.WithoutCancel(ctx))
}

// runDemo is the demo command: the demo IOC.
func runDemo(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("demo", "Serves the demo IOC: one PV of every CA type, a 1,000,000-element waveform,\n"+
		"a 10 Hz counter and writable setpoints. Network settings come from the EPICS_CAS_* variables.")
	prefix := fs.String("prefix", "demo:", "PV name prefix")
	list := fs.Bool("list-pvs", false, "print the PV names, one per line, and exit")
	var lf logFlags
	lf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := newDemo(*prefix)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("-prefix %q: %v", *prefix, err)}
	}
	if *list {
		return listPVs(a, d.pvs)
	}
	dir, err := ioc.NewDirectory(d.group)
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
