package mapping

import (
	"context"
	"log/slog"
	"maps"
	"slices"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/macro"
	"github.com/cabridge/cabridge/drivers"
)

// exportSink hands the updates of one PV to an Exporter device. It
// implements ca.Subscriber.
type exportSink struct {
	name string
	to   drivers.Exporter
}

// Update converts the snapshot and hands it over; it never blocks
// (Exporter.Export must not).
func (e *exportSink) Update(s *ca.Snapshot, _ dbr.EventMask) {
	e.to.Export(ExportOf(e.name, s))
}

// ExportOf converts a PV's snapshot into what an Exporter publishes:
// numbers as Floats (enums as Ints of the index, with the state string),
// strings and char waveforms as Strings, the alarm, timestamp and units.
func ExportOf(name string, s *ca.Snapshot) drivers.Export {
	u := drivers.Export{PV: name, Alarm: s.Meta.Alarm}
	if !s.Meta.Stamp.IsZero() {
		u.Time = s.Meta.Stamp.Time()
	}
	p := s.Meta.Properties
	if p != nil {
		u.Units = p.Units
	}
	switch v := s.Value.(type) {
	case dbr.Strings:
		u.Value = drivers.Strings(slices.Clone(v))
	case dbr.Chars:
		// A char waveform holds a long string up to its first NUL.
		b := []byte(v)
		if i := slices.Index(b, 0); i >= 0 {
			b = b[:i]
		}
		u.Value = drivers.Strings{string(b)}
	case dbr.Enums:
		ints := make(drivers.Ints, len(v))
		for i, e := range v {
			ints[i] = int64(e)
		}
		u.Value = ints
		if len(v) == 1 && p != nil && int(v[0]) < len(p.EnumStrings) {
			u.Enum = p.EnumStrings[v[0]]
		}
	default:
		if v == nil {
			break
		}
		fs := make(drivers.Floats, v.Len())
		for i := range fs {
			fs[i] = floatAt(v, i)
		}
		u.Value = fs
	}
	return u
}

// floatAt returns element i of a numeric DBR value.
func floatAt(v dbr.Value, i int) float64 {
	switch x := v.(type) {
	case dbr.Doubles:
		return x[i]
	case dbr.Floats:
		return float64(x[i])
	case dbr.Longs:
		return float64(x[i])
	case dbr.Shorts:
		return float64(x[i])
	case dbr.Chars:
		return float64(x[i])
	case dbr.Enums:
		return float64(x[i])
	}
	return 0
}

// runExports subscribes every Exporter of devs to the PVs it exports
// (names are macro-expanded with macros; lookup finds a served PV by
// name; log may be nil), hands it the current state of each at once, and cancels the
// subscriptions when ctx is done. A name that no PV has is logged and
// skipped. It returns once ctx is done.
func runExports(ctx context.Context, devs map[string]drivers.Device, macros macro.Set, lookup func(string) ca.PV, log *slog.Logger) {
	log = drivers.DiscardLogger(log)
	var cancels []func()
	for _, devName := range slices.Sorted(maps.Keys(devs)) {
		ex, ok := devs[devName].(drivers.Exporter)
		if !ok {
			continue
		}
		for _, raw := range ex.Exports() {
			name, err := macros.Expand(raw)
			if err != nil {
				log.Warn("mapping: export: bad PV name", "device", devName, "pv", raw, "err", err)
				continue
			}
			pv := lookup(name)
			if pv == nil {
				log.Warn("mapping: export: no such PV", "device", devName, "pv", name)
				continue
			}
			sink := &exportSink{name: name, to: ex}
			cancels = append(cancels, pv.Subscribe(sink))
			sink.Update(pv.Snapshot(), 0)
		}
	}
	<-ctx.Done()
	for _, c := range cancels {
		c()
	}
}

// newExports returns the function Run starts to feed the Exporter devices
// of devs (nil when there are none): it finds the exported PVs with
// lookup, the bridge's PVs (kept ones of a reload included) once Run
// starts.
func newExports(cfg *Config, devs map[string]drivers.Device, lookup func(string) ca.PV, log *slog.Logger) func(ctx context.Context) {
	some := false
	for _, d := range devs {
		if ex, ok := d.(drivers.Exporter); ok && len(ex.Exports()) > 0 {
			some = true
		}
	}
	if !some {
		return nil
	}
	macros, _ := cfg.macros() // validated
	log = drivers.DiscardLogger(log)
	return func(ctx context.Context) { runExports(ctx, devs, macros, lookup, log) }
}
