package ca

import (
	"fmt"
	"slices"
	"sync"
)

// Directory resolves the names clients search for and create channels to.
// The server calls Lookup for every UDP or TCP search and every
// CREATE_CHAN, from many goroutines at once, so it must be fast, safe for
// concurrent use, and must not block. A name found by Lookup must stay
// valid for CREATE_CHAN.
type Directory interface {
	Lookup(name string) (PV, bool)
}

// RemovalNotifier is an optional interface of a Directory whose names can
// go away while the server runs. The server calls NotifyRemove once when
// Serve starts, and the returned stop function when Serve returns. The
// Directory calls f, never while holding its own locks, after a name has
// been removed; the server then sends SERVER_DISCONN to every client that
// holds a channel created under that name, and those clients search again.
type RemovalNotifier interface {
	NotifyRemove(f func(name string, pv PV)) (stop func())
}

// Map is a concurrent Directory from names to PVs. The zero Map is empty
// and ready to use. It implements RemovalNotifier, so a server serving a
// Map disconnects the clients of a removed name.
type Map struct {
	mu       sync.RWMutex
	pvs      map[string]PV
	watchers map[*mapWatcher]struct{}
}

type mapWatcher struct{ f func(string, PV) }

// Interface guards.
var (
	_ Directory       = (*Map)(nil)
	_ RemovalNotifier = (*Map)(nil)
)

// Add serves pv under name. It returns an error if name is empty or is
// already in the Map.
func (m *Map) Add(name string, pv PV) error {
	if name == "" {
		return fmt.Errorf("ca: empty PV name")
	}
	if pv == nil {
		return fmt.Errorf("ca: nil PV for %q", name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.pvs[name]; dup {
		return fmt.Errorf("ca: PV %q already exists", name)
	}
	if m.pvs == nil {
		m.pvs = make(map[string]PV)
	}
	m.pvs[name] = pv
	return nil
}

// Remove removes name and reports whether it was present. Servers serving
// the Map disconnect the channels created under name.
func (m *Map) Remove(name string) bool {
	m.mu.Lock()
	pv, ok := m.pvs[name]
	if !ok {
		m.mu.Unlock()
		return false
	}
	delete(m.pvs, name)
	fs := make([]func(string, PV), 0, len(m.watchers))
	for w := range m.watchers {
		fs = append(fs, w.f)
	}
	m.mu.Unlock()
	for _, f := range fs {
		f(name, pv)
	}
	return true
}

// Lookup returns the PV served under name.
func (m *Map) Lookup(name string) (PV, bool) {
	m.mu.RLock()
	pv, ok := m.pvs[name]
	m.mu.RUnlock()
	return pv, ok
}

// lookupBytes is Lookup for a name still in a receive buffer; it does not
// allocate.
func (m *Map) lookupBytes(name []byte) (PV, bool) {
	m.mu.RLock()
	pv, ok := m.pvs[string(name)]
	m.mu.RUnlock()
	return pv, ok
}

// Names returns the names in the Map, sorted.
func (m *Map) Names() []string {
	m.mu.RLock()
	names := make([]string, 0, len(m.pvs))
	for n := range m.pvs {
		names = append(names, n)
	}
	m.mu.RUnlock()
	slices.Sort(names)
	return names
}

// Len returns the number of names in the Map.
func (m *Map) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.pvs)
}

// NotifyRemove registers f to be called after each Remove; see
// RemovalNotifier.
func (m *Map) NotifyRemove(f func(name string, pv PV)) (stop func()) {
	w := &mapWatcher{f: f}
	m.mu.Lock()
	if m.watchers == nil {
		m.watchers = make(map[*mapWatcher]struct{})
	}
	m.watchers[w] = struct{}{}
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.watchers, w)
		m.mu.Unlock()
	}
}
