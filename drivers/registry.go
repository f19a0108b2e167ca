package drivers

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Registry maps driver names ("modbus", "sim") to their factories. The
// daemon fills one explicitly at start-up; there is no global registry
// and no registration from init functions. The zero value is an empty
// registry ready to use; it is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Factory
}

// Register adds f under name. It fails with an error wrapping
// ErrDuplicate when name is taken, and refuses an empty name or a nil f.
func (r *Registry) Register(name string, f Factory) error {
	if name == "" || f == nil {
		return fmt.Errorf("drivers: register %q: empty name or nil factory", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	if r.m == nil {
		r.m = make(map[string]Factory)
	}
	r.m[name] = f
	return nil
}

// Lookup returns the factory registered under name.
func (r *Registry) Lookup(name string) (Factory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.m[name]
	return f, ok
}

// Names returns the registered names in sorted order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.m)
}

// New constructs a device with the factory registered under driver. An
// unknown driver gives an error wrapping ErrUnknownDriver that lists the
// known ones; a factory's error is wrapped with the device's name.
func (r *Registry) New(driver string, p Params) (Device, error) {
	f, ok := r.Lookup(driver)
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownDriver, driver, strings.Join(r.Names(), ", "))
	}
	d, err := f(p)
	if err != nil {
		return nil, fmt.Errorf("drivers: device %q (%s): %w", p.Name, driver, err)
	}
	return d, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
