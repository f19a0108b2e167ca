package ioc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/record"
)

// AutoRecord as Spec.Record picks the record type from the PV: ai for a
// read-only floating-point scalar and ao for a writable one, longin and
// longout for integer scalars, bi and bo for an Enum of at most 2 states,
// mbbi and mbbo for other Enums, stringin and stringout for a String
// scalar, waveform for arrays and Char long strings.
const AutoRecord = "auto"

// autoRecordType returns the record type AutoRecord picks for a PV of
// container kind kname with n elements.
func autoRecordType[E any](kname string, sp Spec[E], n int) string {
	pick := func(in, out string) string {
		if sp.ReadOnly {
			return in
		}
		return out
	}
	if n > 1 || kname == "char" {
		return "waveform"
	}
	switch kname {
	case "double", "float":
		return pick("ai", "ao")
	case "long", "short", "byte":
		return pick("longin", "longout")
	case "enum":
		if len(sp.EnumStrings) <= 2 {
			return pick("bi", "bo")
		}
		return pick("mbbi", "mbbo")
	case "string":
		return pick("stringin", "stringout")
	}
	return "waveform"
}

// recordValue is a PV as the VAL of a record: it adds the container
// methods package record needs, delegating them to the PV's container,
// while CA puts still run the PV's hooks.
type recordValue[E any] struct{ *PV[E] }

// recordReader is a recordValue whose PV has a get hook.
type recordReader[E any] struct{ recordValue[E] }

// Interface guards.
var (
	_ record.Container = recordValue[float64]{}
	_ record.Container = recordReader[float64]{}
	_ ca.Reader        = recordReader[float64]{}
)

// SetDeadbands implements record.Container.
func (r recordValue[E]) SetDeadbands(value, archive float64) { r.s.SetDeadbands(value, archive) }

// Deadbands implements record.Container.
func (r recordValue[E]) Deadbands() (value, archive float64) { return r.s.Deadbands() }

// SetClassName implements record.Container.
func (r recordValue[E]) SetClassName(name string) { r.s.SetClassName(name) }

// SetProcessor implements record.Container.
func (r recordValue[E]) SetProcessor(f ca.Processor) { r.s.SetProcessor(f) }

// Reprocess implements record.Container.
func (r recordValue[E]) Reprocess() { r.s.Reprocess() }

// SetEnumStrings changes the state strings of an Enum PV (the record's
// ZNAM/ONAM or ZRST..FFST).
func (r recordValue[E]) SetEnumStrings(states []string) error {
	e, ok := r.s.(interface{ SetEnumStrings([]string) error })
	if !ok {
		return fmt.Errorf("ioc: PV %q has no enum strings", r.name)
	}
	return e.SetEnumStrings(states)
}

// Read runs the get hook; it implements ca.Reader.
func (r recordReader[E]) Read(ctx context.Context) (*ca.Snapshot, error) {
	return readerPV[E]{r.PV}.Read(ctx)
}

// AccessGroup returns the PV's access security group (Spec.AccessGroup);
// it implements ca.AccessGrouper.
func (p *PV[E]) AccessGroup() string { return p.asg }

// Record returns the record the PV is served as, or nil if its Spec named
// no record type. Use it to read or set fields from Go (Field).
func (p *PV[E]) Record() *record.Record { return p.rec }

// Task returns the scan task declared with the PV's Spec.Scan, or nil.
func (p *PV[E]) Task() *ScanTask { return p.task }

// newRecord builds the record of type rtyp around p and binds its SCAN
// and PROC fields to p's scan task and get hook.
func newRecord[E any](name string, p *PV[E], rtyp, desc string) (*record.Record, error) {
	var val ca.PV = recordValue[E]{p}
	if p.get != nil {
		val = recordReader[E]{recordValue[E]{p}}
	}
	cfg := record.Config{Type: rtyp, DESC: desc}
	if p.task != nil {
		cfg.SCAN = scanOf(p.task)
	}
	rec, err := record.New(name, val, cfg)
	if err != nil {
		return nil, err
	}
	switch {
	case p.task != nil:
		bindScan(rec, p.task)
		rec.OnProcess(p.task.RunOnce)
	case p.get != nil:
		rec.OnProcess(func(ctx context.Context) error {
			_, err := readerPV[E]{p}.Read(ctx)
			return err
		})
	}
	return rec, nil
}

// bindScan makes a put to rec's SCAN change t's period or pause it, and
// t's SetPeriod, Pause and Resume show in SCAN.
func bindScan(rec *record.Record, t *ScanTask) {
	var syncing atomic.Bool // SCAN is being written to follow t
	rec.OnScan(func(s record.Scan) {
		if syncing.Load() {
			return
		}
		if s.Periodic() {
			t.setPeriod(s.Period())
			t.setPaused(false)
		} else {
			t.setPaused(true)
		}
	})
	scan, err := rec.Field("SCAN", false)
	if err != nil {
		return // every record type has SCAN
	}
	t.watch(func() {
		s := scanOf(t)
		if rec.Scan() == s {
			return
		}
		syncing.Store(true)
		defer syncing.Store(false)
		_ = scan.Put(context.Background(), dbr.Enums{uint16(s)})
	})
}

// scanOf returns the menuScan choice that describes t: Passive if it is
// paused, else the periodic choice nearest its period (by ratio).
func scanOf(t *ScanTask) record.Scan {
	if t.Paused() {
		return record.ScanPassive
	}
	return NearestScan(t.Period())
}

// NearestScan returns the periodic menuScan choice ("10 second" ..
// ".1 second") whose period is nearest d by ratio, the SCAN a record
// reports for a scan task of period d.
func NearestScan(d time.Duration) record.Scan {
	best, bestDist := record.Scan1s, math.Inf(1)
	for s := record.Scan10s; s <= record.Scan100ms; s++ {
		dist := math.Abs(math.Log(float64(d) / float64(s.Period())))
		if d <= 0 {
			dist = float64(s.Period()) // the fastest choice
		}
		if dist < bestDist {
			best, bestDist = s, dist
		}
	}
	return best
}

// addRecord registers rec as served by the group.
func (g *Group) addRecord(rec *record.Record) {
	g.root.mu.Lock()
	defer g.root.mu.Unlock()
	if g.root.recs == nil {
		g.root.recs = make(map[string]*record.Record)
	}
	if _, dup := g.root.recs[rec.Name()]; !dup {
		g.root.recs[rec.Name()] = rec
	}
}

// Records returns the records of g and its subgroups (the PVs declared
// with Spec.Record), in declaration order.
func (g *Group) Records() []*record.Record {
	g.root.mu.Lock()
	defer g.root.mu.Unlock()
	var out []*record.Record
	for _, n := range g.root.names {
		if r, ok := g.root.recs[n]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Directory serves the PVs of groups to a ca.Server: plain PVs by name,
// records (PVs declared with Spec.Record) by name, NAME.FIELD and
// NAME.FIELD$ as package record's Directory does. The zero Directory is
// empty and ready to use. It is safe for concurrent use and implements
// ca.RemovalNotifier, so clients of a removed PV or record are
// disconnected (SERVER_DISCONN).
type Directory struct {
	m    ca.Map
	recs record.Directory
}

// Interface guards.
var (
	_ ca.Directory       = (*Directory)(nil)
	_ ca.RemovalNotifier = (*Directory)(nil)
)

// NewDirectory returns a Directory serving the PVs of groups; see Add.
func NewDirectory(groups ...*Group) (*Directory, error) {
	d := &Directory{}
	for _, g := range groups {
		if err := d.Add(g); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Add serves the PVs of g. It adds nothing and returns the construction
// errors if there are any, and otherwise returns the errors of names
// already served (the other names are added).
func (d *Directory) Add(g *Group) error {
	pvs, err := g.PVs()
	if err != nil {
		return err
	}
	g.root.mu.Lock()
	recs := make(map[string]*record.Record, len(g.root.recs))
	for k, v := range g.root.recs {
		recs[k] = v
	}
	g.root.mu.Unlock()
	var errs []error
	for _, name := range g.Names() {
		if _, dup := d.Lookup(name); dup {
			errs = append(errs, fmt.Errorf("ioc: PV %q already served", name))
			continue
		}
		if r, ok := recs[name]; ok {
			err = d.recs.Add(r)
		} else {
			err = d.m.Add(name, pvs[name])
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("ioc: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Lookup resolves a channel name; it implements ca.Directory.
func (d *Directory) Lookup(name string) (ca.PV, bool) {
	if pv, ok := d.m.Lookup(name); ok {
		return pv, true
	}
	return d.recs.Lookup(name)
}

// Remove stops serving the PV or record called name and reports whether
// it was served. The clients of its channels (a record's fields included)
// are disconnected.
func (d *Directory) Remove(name string) bool {
	return d.m.Remove(name) || d.recs.Remove(name)
}

// Names returns the names of the PVs and records served, sorted.
func (d *Directory) Names() []string {
	names := append(d.m.Names(), d.recs.Names()...)
	slices.Sort(names)
	return names
}

// Record returns the record served as name.
func (d *Directory) Record(name string) (*record.Record, bool) { return d.recs.Record(name) }

// NotifyRemove implements ca.RemovalNotifier.
func (d *Directory) NotifyRemove(f func(name string, pv ca.PV)) (stop func()) {
	s1 := d.m.NotifyRemove(f)
	s2 := d.recs.NotifyRemove(f)
	return func() { s1(); s2() }
}
