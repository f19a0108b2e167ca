package mqtt

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cabridge/cabridge/drivers"
)

// Sparkplug B payloads (Eclipse Sparkplug 3.0, topic namespace
// spBv1.0/GROUP/{N,D}{BIRTH,DATA,DEATH,CMD}/NODE[/DEVICE]) are protobuf
// messages: a timestamp and a list of metrics, each with a name (or, in
// DATA messages, only the alias its BIRTH gave it), a data type, a value
// and properties. A point with the option "sparkplug" names its metric;
// the metadata of the metric's BIRTH (the properties engUnit, engLow,
// engHigh and description, as Ignition and most edge nodes publish them)
// becomes the PV's units, display limits and description.

// errNoMetric: the payload does not carry the point's metric (another
// metric's DATA, a DEATH): no sample, and no error.
var errNoMetric = errors.New("mqtt: sparkplug: metric not in payload")

// Sparkplug B data types whose values need a sign (the others are
// unsigned, float, boolean or string by the field that holds them).
const (
	spbInt8  = 1
	spbInt16 = 2
	spbInt32 = 3
	spbInt64 = 4
)

// spbMetric is one decoded metric.
type spbMetric struct {
	name     string
	alias    uint64
	hasAlias bool
	time     time.Time
	datatype uint32
	isNull   bool
	value    drivers.Value
	meta     drivers.Meta
	hasMeta  bool
}

// spbState is what a point learns from BIRTH messages: its metric's
// alias. It is used by the device's dispatcher only.
type spbState struct {
	metric   string
	alias    uint64
	hasAlias bool
}

// decodeSparkplug finds the point's metric in a Sparkplug B payload,
// learning its alias from a BIRTH, and returns its value, time and
// metadata. A payload without the metric gives errNoMetric.
func (s *spbState) decode(d *decoder, payload []byte) (decoded, error) {
	ts, metrics, err := parseSparkplug(payload)
	if err != nil {
		return decoded{}, fmt.Errorf("%w: sparkplug: %w", ErrPayload, err)
	}
	for _, m := range metrics {
		switch {
		case m.name == s.metric:
			if m.hasAlias {
				s.alias, s.hasAlias = m.alias, true
			}
		case m.name == "" && m.hasAlias && s.hasAlias && m.alias == s.alias:
		default:
			continue
		}
		var out decoded
		if m.hasMeta {
			meta := m.meta
			out.meta = &meta
		}
		out.time = m.time
		if out.time.IsZero() {
			out.time = ts
		}
		if m.isNull || m.value == nil {
			return decoded{}, fmt.Errorf("%w: sparkplug: metric %q is null", ErrPayload, s.metric)
		}
		v, err := drivers.Convert(m.value, d.typ.Kind)
		if err != nil {
			return decoded{}, fmt.Errorf("%w: sparkplug: metric %q: %w", ErrPayload, s.metric, err)
		}
		out.value = v
		return out, nil
	}
	return decoded{}, errNoMetric
}

// parseSparkplug decodes the timestamp and metrics of a Payload message.
// Unknown fields are skipped, as protobuf readers do.
func parseSparkplug(b []byte) (time.Time, []spbMetric, error) {
	var ts time.Time
	var out []spbMetric
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			ts = time.UnixMilli(int64(v))
		case num == 2 && typ == protowire.BytesType:
			m, err := parseMetric(data)
			if err != nil {
				return fmt.Errorf("metric %d: %w", len(out), err)
			}
			out = append(out, m)
		}
		return nil
	})
	return ts, out, err
}

// parseMetric decodes one Metric message.
func parseMetric(b []byte) (spbMetric, error) {
	var m spbMetric
	var raw struct {
		u32, u64 uint64
		f32      uint32
		f64      uint64
		b        bool
		s        string
		field    protowire.Number
	}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		switch num {
		case 1:
			m.name = string(data)
		case 2:
			m.alias, m.hasAlias = v, true
		case 3:
			m.time = time.UnixMilli(int64(v))
		case 4:
			m.datatype = uint32(v)
		case 7:
			m.isNull = v != 0
		case 9:
			if typ == protowire.BytesType {
				meta, ok, err := parseProperties(data)
				if err != nil {
					return fmt.Errorf("properties: %w", err)
				}
				m.meta, m.hasMeta = meta, ok
			}
		case 10:
			raw.u32, raw.field = v, num
		case 11:
			raw.u64, raw.field = v, num
		case 12:
			raw.f32, raw.field = uint32(v), num
		case 13:
			raw.f64, raw.field = v, num
		case 14:
			raw.b, raw.field = v != 0, num
		case 15:
			raw.s, raw.field = string(data), num
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	switch raw.field {
	case 0:
	case 10: // int_value: Int8/16/32 as two's complement, UInt8/16/32
		switch m.datatype {
		case spbInt8:
			m.value = drivers.Ints{int64(int8(raw.u32))}
		case spbInt16:
			m.value = drivers.Ints{int64(int16(raw.u32))}
		case spbInt32:
			m.value = drivers.Ints{int64(int32(raw.u32))}
		default:
			m.value = drivers.Uints{uint64(uint32(raw.u32))}
		}
	case 11: // long_value: Int64, UInt64, UInt32, DateTime
		if m.datatype == spbInt64 {
			m.value = drivers.Ints{int64(raw.u64)}
		} else {
			m.value = drivers.Uints{raw.u64}
		}
	case 12:
		m.value = drivers.Floats{float64(math.Float32frombits(raw.f32))}
	case 13:
		m.value = drivers.Floats{math.Float64frombits(raw.f64)}
	case 14:
		m.value = drivers.Bools{raw.b}
	case 15:
		m.value = drivers.Strings{raw.s}
	}
	return m, nil
}

// parseProperties reads the PropertySet of a metric: parallel lists of
// keys and values. It keeps the metadata cabridge maps to a PV.
func parseProperties(b []byte) (drivers.Meta, bool, error) {
	var keys []string
	var vals []spbMetric // reuses the value decoding of metrics
	err := eachField(b, func(num protowire.Number, typ protowire.Type, _ uint64, data []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			keys = append(keys, string(data))
		case num == 2 && typ == protowire.BytesType:
			v, err := parsePropertyValue(data)
			if err != nil {
				return err
			}
			vals = append(vals, v)
		}
		return nil
	})
	if err != nil {
		return drivers.Meta{}, false, err
	}
	var meta drivers.Meta
	found := false
	for i, k := range keys {
		if i >= len(vals) || vals[i].value == nil {
			continue
		}
		v := vals[i].value
		switch k {
		case "engUnit", "engUnits", "EngUnit", "units":
			if s, ok := v.(drivers.Strings); ok {
				meta.Units, found = s[0], true
			}
		case "description", "Documentation":
			if s, ok := v.(drivers.Strings); ok {
				meta.Desc, found = s[0], true
			}
		case "engLow", "EngLow":
			if f, err := drivers.Convert(v, drivers.KindFloat); err == nil {
				x := f.(drivers.Floats)[0]
				meta.DisplayLow, found = &x, true
			}
		case "engHigh", "EngHigh":
			if f, err := drivers.Convert(v, drivers.KindFloat); err == nil {
				x := f.(drivers.Floats)[0]
				meta.DisplayHigh, found = &x, true
			}
		}
	}
	return meta, found, nil
}

// parsePropertyValue decodes a PropertyValue: a type and one value.
func parsePropertyValue(b []byte) (spbMetric, error) {
	// PropertyValue numbers its fields like Metric, shifted: type 1,
	// is_null 2, int 3, long 4, float 5, double 6, boolean 7, string 8.
	var m spbMetric
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		switch num {
		case 1:
			m.datatype = uint32(v)
		case 3:
			m.value = drivers.Uints{uint64(uint32(v))}
			if m.datatype >= spbInt8 && m.datatype <= spbInt32 {
				m.value = drivers.Ints{int64(int32(uint32(v)))}
			}
		case 4:
			m.value = drivers.Uints{v}
			if m.datatype == spbInt64 {
				m.value = drivers.Ints{int64(v)}
			}
		case 5:
			m.value = drivers.Floats{float64(math.Float32frombits(uint32(v)))}
		case 6:
			m.value = drivers.Floats{math.Float64frombits(v)}
		case 7:
			m.value = drivers.Bools{v != 0}
		case 8:
			if typ == protowire.BytesType {
				m.value = drivers.Strings{string(data)}
			}
		}
		return nil
	})
	return m, err
}

// eachField calls f with every field of the protobuf message b: its
// number, wire type and value (varints and fixed-size numbers in v,
// length-delimited bytes in data). Groups are skipped.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var (
			v    uint64
			data []byte
		)
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			data, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, data); err != nil {
			return err
		}
	}
	return nil
}

// spbCommand encodes a Sparkplug B NCMD/DCMD payload that sets metric to
// v (one element), with the data type that fits v's kind and the point's
// width (bits).
func spbCommand(metric string, v drivers.Value, bits int, now time.Time) ([]byte, error) {
	if v == nil || v.Len() != 1 {
		return nil, fmt.Errorf("mqtt: sparkplug: a command sets one value")
	}
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.BytesType)
	m = protowire.AppendString(m, metric)
	dt := func(t uint64) {
		m = protowire.AppendTag(m, 4, protowire.VarintType)
		m = protowire.AppendVarint(m, t)
	}
	switch x := v.(type) {
	case drivers.Floats:
		if bits == 32 {
			dt(9) // Float
			m = protowire.AppendTag(m, 12, protowire.Fixed32Type)
			m = protowire.AppendFixed32(m, math.Float32bits(float32(x[0])))
		} else {
			dt(10) // Double
			m = protowire.AppendTag(m, 13, protowire.Fixed64Type)
			m = protowire.AppendFixed64(m, math.Float64bits(x[0]))
		}
	case drivers.Ints:
		if bits > 0 && bits <= 32 {
			dt(spbInt32)
			m = protowire.AppendTag(m, 10, protowire.VarintType)
			m = protowire.AppendVarint(m, uint64(uint32(int32(x[0]))))
		} else {
			dt(spbInt64)
			m = protowire.AppendTag(m, 11, protowire.VarintType)
			m = protowire.AppendVarint(m, uint64(x[0]))
		}
	case drivers.Uints:
		dt(8) // UInt64
		m = protowire.AppendTag(m, 11, protowire.VarintType)
		m = protowire.AppendVarint(m, x[0])
	case drivers.Bools:
		dt(11) // Boolean
		m = protowire.AppendTag(m, 14, protowire.VarintType)
		m = protowire.AppendVarint(m, protowire.EncodeBool(x[0]))
	case drivers.Strings:
		dt(12) // String
		m = protowire.AppendTag(m, 15, protowire.BytesType)
		m = protowire.AppendString(m, x[0])
	default:
		return nil, fmt.Errorf("mqtt: sparkplug: cannot encode %T", v)
	}
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(now.UnixMilli()))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, m), nil
}

// sparkplugNodes returns the NCMD topics of the edge nodes the Sparkplug
// points of pts read (spBv1.0/GROUP/NCMD/NODE), once each, sorted.
func sparkplugNodes(pts map[string]*point) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pts {
		if p.dec.spb == nil {
			continue
		}
		parts := strings.Split(p.filter, "/")
		if len(parts) < 4 || strings.ContainsAny(parts[1]+parts[3], "+#") {
			continue // a filter over several groups or nodes names no one node
		}
		topic := strings.Join([]string{parts[0], parts[1], "NCMD", parts[3]}, "/")
		if !seen[topic] {
			seen[topic] = true
			out = append(out, topic)
		}
	}
	slices.Sort(out)
	return out
}
