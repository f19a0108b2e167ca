package ioc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/macro"
	"github.com/cabridge/cabridge/ca/record"
)

// Group is a set of PVs under a common prefix, the Go counterpart of
// caproto's PVGroup. PV names are the concatenation of the prefixes of the
// group and its parents and the PV's own name, with the EPICS macros of
// the group ($(P), ${P}, $(P=default)) expanded.
//
// A group "type" is a Go function that declares PVs on the *Group it is
// given; calling it on several groups with different macros instantiates
// it several times. Declaring a PV never fails: construction errors (an
// unresolved macro, a duplicate name, an invalid spec) are collected,
// each naming the PV, and reported by Err, PVs and AddTo.
//
// A Group is built by one goroutine; once built (PVs, AddTo or Start
// called) it must not be changed. The PVs it declares are safe for
// concurrent use.
type Group struct {
	root   *groupRoot
	prefix string // the raw (unexpanded) prefix, parents' included
	macros macro.Set
}

// groupRoot holds what a group and all its subgroups share.
type groupRoot struct {
	mu        sync.Mutex
	errs      []error
	names     []string
	pvs       map[string]ca.PV
	startups  []hook
	shutdowns []hook
	scans     []*ScanTask
	recs      map[string]*record.Record // records by name (Spec.Record)
}

// hook is a named startup or shutdown function.
type hook struct {
	name string
	f    func(ctx context.Context) error
}

// NewGroup returns an empty group whose PV names start with prefix, in
// which macros are expanded with macros (which may be nil).
func NewGroup(prefix string, macros macro.Set) *Group {
	return &Group{root: &groupRoot{pvs: make(map[string]ca.PV)}, prefix: prefix, macros: macros.With(nil)}
}

// Sub returns a subgroup (caproto's SubGroup) whose PV names start with
// g's prefix followed by prefix, and whose macros are g's overlaid by
// macros. Its PVs, hooks and scans belong to g.
func (g *Group) Sub(prefix string, macros macro.Set) *Group {
	return &Group{root: g.root, prefix: g.prefix + prefix, macros: g.macros.With(macros)}
}

// Macros returns a copy of the group's macros.
func (g *Group) Macros() macro.Set { return g.macros.With(nil) }

// Expand returns the full PV name of name in g: the prefix followed by
// name, with macros expanded. The error wraps the *macro.UnresolvedError
// or other macro error and names the PV.
func (g *Group) Expand(name string) (string, error) {
	raw := g.prefix + name
	full, err := g.macros.Expand(raw)
	if err != nil {
		return raw, fmt.Errorf("ioc: PV %q: %w", raw, err)
	}
	return full, nil
}

// errorf records a construction error.
func (g *Group) fail(err error) {
	g.root.mu.Lock()
	g.root.errs = append(g.root.errs, err)
	g.root.mu.Unlock()
}

// add registers pv under the expanded name, recording a duplicate.
func (g *Group) add(name string, pv ca.PV) {
	r := g.root
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.pvs[name]; dup {
		r.errs = append(r.errs, fmt.Errorf("ioc: PV %q declared twice", name))
		return
	}
	r.pvs[name] = pv
	r.names = append(r.names, name)
}

// Err returns the construction errors of g and its subgroups, joined, or
// nil if there are none.
func (g *Group) Err() error {
	g.root.mu.Lock()
	defer g.root.mu.Unlock()
	return errors.Join(g.root.errs...)
}

// Names returns the full names of the PVs declared in g and its
// subgroups, in declaration order.
func (g *Group) Names() []string {
	g.root.mu.Lock()
	defer g.root.mu.Unlock()
	return append([]string(nil), g.root.names...)
}

// PVs returns the PVs declared in g and its subgroups by full name, ready
// for a ca.Map or catest, or the construction errors.
func (g *Group) PVs() (map[string]ca.PV, error) {
	if err := g.Err(); err != nil {
		return nil, err
	}
	g.root.mu.Lock()
	defer g.root.mu.Unlock()
	m := make(map[string]ca.PV, len(g.root.pvs))
	for k, v := range g.root.pvs {
		m[k] = v
	}
	return m, nil
}

// AddTo adds the PVs of g to m; a record is added as its value alone
// (serve a Directory for its fields). It adds nothing and returns the
// construction errors if there are any, and otherwise returns the errors
// of names already in m (the other names are added).
func (g *Group) AddTo(m *ca.Map) error {
	pvs, err := g.PVs()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range g.Names() {
		if err := m.Add(name, pvs[name]); err != nil {
			errs = append(errs, fmt.Errorf("ioc: %w", err))
		}
	}
	return errors.Join(errs...)
}

// OnStartup registers f to run when the IOC starts (Start or Run), in its
// own goroutine, with a context cancelled when the IOC shuts down. f may
// run for the whole life of the IOC. An error or panic is logged.
func (g *Group) OnStartup(f func(ctx context.Context) error) {
	g.root.mu.Lock()
	g.root.startups = append(g.root.startups, hook{name: g.prefix, f: f})
	g.root.mu.Unlock()
}

// OnShutdown registers f to run when the IOC shuts down, after the
// startup hooks and scan tasks have stopped, with the context given to
// the shutdown. An error or panic is logged.
func (g *Group) OnShutdown(f func(ctx context.Context) error) {
	g.root.mu.Lock()
	g.root.shutdowns = append(g.root.shutdowns, hook{name: g.prefix, f: f})
	g.root.mu.Unlock()
}
