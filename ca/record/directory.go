package record

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cabridge/cabridge/ca"
)

// Directory serves records by channel name: "REC" and "REC.VAL" are the
// record's value container, "REC.FIELD" and "REC.FIELD$" its fields (see
// Record.Field). Names that do not resolve (no such record or field, "$"
// on a field that is not a string or link, channel filters and array
// slices) are not found, so a server gives no search reply and fails
// CREATE_CHAN, as an IOC does. The zero Directory is empty and ready to
// use; it is safe for concurrent use and implements ca.RemovalNotifier, so
// a server serving it disconnects the channels of a removed record.
type Directory struct {
	mu       sync.RWMutex
	recs     map[string]*Record
	watchers map[*dirWatcher]struct{}
}

type dirWatcher struct{ f func(string, ca.PV) }

// Interface guards.
var (
	_ ca.Directory       = (*Directory)(nil)
	_ ca.RemovalNotifier = (*Directory)(nil)
)

// Add serves r under its name. It fails if a record of that name is
// already served.
func (d *Directory) Add(r *Record) error {
	if r == nil {
		return fmt.Errorf("record: nil record")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.recs[r.name]; dup {
		return fmt.Errorf("record: record %q already exists", r.name)
	}
	if d.recs == nil {
		d.recs = make(map[string]*Record)
	}
	d.recs[r.name] = r
	return nil
}

// Remove stops serving the record called name and reports whether it was
// served. Servers serving d disconnect the channels of the record's value
// and of every field PV made so far.
func (d *Directory) Remove(name string) bool {
	d.mu.Lock()
	r, ok := d.recs[name]
	if !ok {
		d.mu.Unlock()
		return false
	}
	delete(d.recs, name)
	fs := make([]func(string, ca.PV), 0, len(d.watchers))
	for w := range d.watchers {
		fs = append(fs, w.f)
	}
	d.mu.Unlock()
	if len(fs) == 0 {
		return true
	}
	type entry struct {
		name string
		pv   ca.PV
	}
	es := []entry{{name, r.val}, {name + ".", r.val}, {name + ".VAL", r.val}}
	r.mu.Lock()
	for key, f := range r.pvs {
		es = append(es, entry{name + "." + key, f})
		if f.ch.Field.Name == "VAL" {
			es = append(es, entry{name + ".$", f})
		}
	}
	r.mu.Unlock()
	for _, f := range fs {
		for _, e := range es {
			f(e.name, e.pv)
		}
	}
	return true
}

// Record returns the record called name.
func (d *Directory) Record(name string) (*Record, bool) {
	d.mu.RLock()
	r, ok := d.recs[name]
	d.mu.RUnlock()
	return r, ok
}

// Lookup resolves a channel name; see Directory. It implements
// ca.Directory.
func (d *Directory) Lookup(name string) (ca.PV, bool) {
	if !strings.Contains(name, ".") {
		r, ok := d.Record(name)
		if !ok {
			return nil, false
		}
		return r.val, true
	}
	n, err := ParseName(name)
	if err != nil {
		return nil, false
	}
	r, ok := d.Record(n.Record)
	if !ok {
		return nil, false
	}
	pv, err := r.Field(n.Field, n.Dollar)
	if err != nil {
		return nil, false
	}
	return pv, true
}

// Names returns the names of the records served, sorted.
func (d *Directory) Names() []string {
	d.mu.RLock()
	names := make([]string, 0, len(d.recs))
	for n := range d.recs {
		names = append(names, n)
	}
	d.mu.RUnlock()
	slices.Sort(names)
	return names
}

// Len returns the number of records served.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.recs)
}

// NotifyRemove registers f to be called for each channel name of a record
// removed by Remove; see ca.RemovalNotifier.
func (d *Directory) NotifyRemove(f func(name string, pv ca.PV)) (stop func()) {
	w := &dirWatcher{f: f}
	d.mu.Lock()
	if d.watchers == nil {
		d.watchers = make(map[*dirWatcher]struct{})
	}
	d.watchers[w] = struct{}{}
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		delete(d.watchers, w)
		d.mu.Unlock()
	}
}
