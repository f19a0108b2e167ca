package mqtt

import (
	"errors"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cabridge/cabridge/drivers"
)

// spbTestMetric is a metric to encode: name and/or alias, a data type,
// one value (by field number) and string or float properties.
type spbTestMetric struct {
	name     string
	alias    uint64
	datatype uint64
	field    protowire.Number // 10 int, 11 long, 12 float, 13 double, 14 bool, 15 string
	u        uint64
	s        string
	props    map[string]any
}

// spbEncode builds a Sparkplug B Payload, as an edge node sends it.
func spbEncode(ts uint64, ms ...spbTestMetric) []byte {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, ts)
	for _, m := range ms {
		var mb []byte
		if m.name != "" {
			mb = protowire.AppendTag(mb, 1, protowire.BytesType)
			mb = protowire.AppendString(mb, m.name)
		}
		if m.alias != 0 {
			mb = protowire.AppendTag(mb, 2, protowire.VarintType)
			mb = protowire.AppendVarint(mb, m.alias)
		}
		mb = protowire.AppendTag(mb, 4, protowire.VarintType)
		mb = protowire.AppendVarint(mb, m.datatype)
		if len(m.props) > 0 {
			var ps []byte
			for k, v := range m.props {
				ps = protowire.AppendTag(ps, 1, protowire.BytesType)
				ps = protowire.AppendString(ps, k)
				var pv []byte
				switch x := v.(type) {
				case string:
					pv = protowire.AppendTag(pv, 1, protowire.VarintType)
					pv = protowire.AppendVarint(pv, 12)
					pv = protowire.AppendTag(pv, 8, protowire.BytesType)
					pv = protowire.AppendString(pv, x)
				case float64:
					pv = protowire.AppendTag(pv, 1, protowire.VarintType)
					pv = protowire.AppendVarint(pv, 10)
					pv = protowire.AppendTag(pv, 6, protowire.Fixed64Type)
					pv = protowire.AppendFixed64(pv, math.Float64bits(x))
				}
				ps = protowire.AppendTag(ps, 2, protowire.BytesType)
				ps = protowire.AppendBytes(ps, pv)
			}
			mb = protowire.AppendTag(mb, 9, protowire.BytesType)
			mb = protowire.AppendBytes(mb, ps)
		}
		switch m.field {
		case 10, 11, 14:
			mb = protowire.AppendTag(mb, m.field, protowire.VarintType)
			mb = protowire.AppendVarint(mb, m.u)
		case 12:
			mb = protowire.AppendTag(mb, m.field, protowire.Fixed32Type)
			mb = protowire.AppendFixed32(mb, uint32(m.u))
		case 13:
			mb = protowire.AppendTag(mb, m.field, protowire.Fixed64Type)
			mb = protowire.AppendFixed64(mb, m.u)
		case 15:
			mb = protowire.AppendTag(mb, m.field, protowire.BytesType)
			mb = protowire.AppendString(mb, m.s)
		}
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, mb)
	}
	return b
}

// TestSparkplugDecode decodes a BIRTH (names, aliases, metadata) and DATA
// messages that name metrics by alias only, every value type.
func TestSparkplugDecode(t *testing.T) {
	birth := spbEncode(1700000000000,
		spbTestMetric{name: "bdSeq", datatype: 8, field: 11, u: 0},
		spbTestMetric{name: "Temperature", alias: 7, datatype: 10, field: 13, u: math.Float64bits(21.5),
			props: map[string]any{"engUnit": "degC", "engLow": 0.0, "engHigh": 150.0, "description": "tank"}},
		spbTestMetric{name: "Offset", alias: 8, datatype: 2, field: 10, u: uint64(uint32(0xFFFF_FFFE))}, // Int16 -2
	)
	s := &spbState{metric: "Temperature"}
	d := &decoder{typ: drivers.Type{Kind: drivers.KindFloat, Bits: 64, Len: 1}, spb: s}
	got, err := d.decode(birth)
	if err != nil || !drivers.Equal(got.value, drivers.Floats{21.5}) || got.meta == nil || got.meta.Units != "degC" ||
		*got.meta.DisplayHigh != 150 || *got.meta.DisplayLow != 0 || got.meta.Desc != "tank" || !got.time.Equal(time.UnixMilli(1700000000000)) {
		t.Fatalf("BIRTH: %+v %+v %v", got, got.meta, err)
	}
	data := spbEncode(1700000001000, spbTestMetric{alias: 7, datatype: 10, field: 13, u: math.Float64bits(22.25)})
	if got, err := d.decode(data); err != nil || !drivers.Equal(got.value, drivers.Floats{22.25}) || got.meta != nil {
		t.Errorf("DATA by alias: %+v %v", got, err)
	}
	other := spbEncode(1, spbTestMetric{alias: 8, datatype: 2, field: 10, u: 5})
	if _, err := d.decode(other); !errors.Is(err, errNoMetric) {
		t.Errorf("DATA of another metric: %v, want errNoMetric", err)
	}
	off := &decoder{typ: drivers.Type{Kind: drivers.KindInt, Bits: 16, Len: 1}, spb: &spbState{metric: "Offset"}}
	if got, err := off.decode(birth); err != nil || !drivers.Equal(got.value, drivers.Ints{-2}) {
		t.Errorf("Int16: %+v %v", got, err)
	}
	for _, tc := range []struct {
		m    spbTestMetric
		kind drivers.Kind
		want drivers.Value
	}{
		{spbTestMetric{name: "x", datatype: 9, field: 12, u: uint64(math.Float32bits(1.5))}, drivers.KindFloat, drivers.Floats{1.5}},
		{spbTestMetric{name: "x", datatype: 4, field: 11, u: uint64(1<<64 - 3)}, drivers.KindInt, drivers.Ints{-3}},
		{spbTestMetric{name: "x", datatype: 8, field: 11, u: 1 << 40}, drivers.KindUint, drivers.Uints{1 << 40}},
		{spbTestMetric{name: "x", datatype: 11, field: 14, u: 1}, drivers.KindBool, drivers.Bools{true}},
		{spbTestMetric{name: "x", datatype: 12, field: 15, s: "running"}, drivers.KindString, drivers.Strings{"running"}},
	} {
		d := &decoder{typ: drivers.Type{Kind: tc.kind, Len: 1}, spb: &spbState{metric: "x"}}
		if got, err := d.decode(spbEncode(1, tc.m)); err != nil || !drivers.Equal(got.value, tc.want) {
			t.Errorf("datatype %d: %v %v, want %v", tc.m.datatype, got.value, err, tc.want)
		}
	}
	if _, err := d.decode([]byte{0x12, 0x05, 0x0a}); err == nil {
		t.Error("truncated payload decoded")
	}
}

// FuzzSparkplug feeds arbitrary bytes to the Sparkplug decoder: errors
// are fine, panics are not, and a decoded value has the point's kind.
func FuzzSparkplug(f *testing.F) {
	f.Add(spbEncode(1, spbTestMetric{name: "T", alias: 3, datatype: 10, field: 13, u: math.Float64bits(1),
		props: map[string]any{"engUnit": "V"}}))
	f.Add(spbEncode(2, spbTestMetric{alias: 3, datatype: 3, field: 10, u: 7}))
	f.Add([]byte{0x12, 0x02, 0x4a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &decoder{typ: drivers.Type{Kind: drivers.KindFloat, Bits: 64, Len: 1}, spb: &spbState{metric: "T"}}
		got, err := d.decode(b)
		if err == nil && (got.value == nil || got.value.Kind() != drivers.KindFloat) {
			t.Fatalf("decoded %v without error", got.value)
		}
	})
}

// TestSparkplugCommandRoundTrip encodes a command for every kind and
// decodes it back.
func TestSparkplugCommandRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		v    drivers.Value
		bits int
	}{
		{drivers.Floats{2.5}, 64}, {drivers.Floats{0.5}, 32}, {drivers.Ints{-7}, 16}, {drivers.Ints{-1 << 40}, 64},
		{drivers.Uints{1 << 50}, 64}, {drivers.Bools{true}, 1}, {drivers.Strings{"auto"}, 0},
	} {
		b, err := spbCommand("M", tc.v, tc.bits, time.UnixMilli(5))
		if err != nil {
			t.Fatal(err)
		}
		d := &decoder{typ: drivers.Type{Kind: tc.v.Kind(), Bits: tc.bits, Len: 1}, spb: &spbState{metric: "M"}}
		got, err := d.decode(b)
		if err != nil || !drivers.Equal(got.value, tc.v) || !got.time.Equal(time.UnixMilli(5)) {
			t.Errorf("%v (%d bits): decoded %v %v at %v", tc.v, tc.bits, got.value, err, got.time)
		}
	}
	if _, err := spbCommand("M", drivers.Floats{1, 2}, 64, time.Now()); err == nil {
		t.Error("an array command encoded")
	}
}
