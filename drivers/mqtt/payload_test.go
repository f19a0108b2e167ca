package mqtt

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
)

// mkDecoder parses a point spec into its decoder.
func mkDecoder(t testing.TB, spec drivers.PointSpec) *decoder {
	t.Helper()
	p, err := parsePoint(spec, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &p.dec
}

func TestDecode(t *testing.T) {
	opt := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		spec    drivers.PointSpec
		payload string
		want    drivers.Value
		err     string // substring of the error; "" for none
	}{
		{"float", drivers.PointSpec{Address: "t"}, "1e3", drivers.Floats{1000}, ""},
		{"float spaces", drivers.PointSpec{Address: "t"}, "\t-2.5 \r\n", drivers.Floats{-2.5}, ""},
		{"float garbage", drivers.PointSpec{Address: "t"}, "12abc", nil, `"12abc" is not a number`},
		{"empty", drivers.PointSpec{Address: "t"}, "", nil, "is not a number"},
		{"float32 range", drivers.PointSpec{Address: "t", Type: "float32"}, "1e300", nil, "float32 range"},
		{"int from float text", drivers.PointSpec{Address: "t", Type: "int16"}, "12.0", drivers.Ints{12}, ""},
		{"int16 overflow", drivers.PointSpec{Address: "t", Type: "int16"}, "40000", nil, "not an int16"},
		{"int fraction", drivers.PointSpec{Address: "t", Type: "int32"}, "1.5", nil, "not an int32"},
		{"uint negative", drivers.PointSpec{Address: "t", Type: "uint16"}, "-1", nil, "not a uint16"},
		{"uint64 max", drivers.PointSpec{Address: "t", Type: "uint64"}, "18446744073709551615", drivers.Uints{18446744073709551615}, ""},
		{"bool words", drivers.PointSpec{Address: "t", Type: "bool"}, "off", drivers.Bools{false}, ""},
		{"bool bad", drivers.PointSpec{Address: "t", Type: "bool"}, "maybe", nil, "not a boolean"},
		{"string raw", drivers.PointSpec{Address: "t", Type: "string"}, " a b ", drivers.Strings{" a b "}, ""},
		{"string too long", drivers.PointSpec{Address: "t", Type: "string", Len: 3}, "abcd", nil, "longer than 3"},
		{"string bad utf8", drivers.PointSpec{Address: "t", Type: "string"}, "\xff", nil, "UTF-8"},
		{"array csv", drivers.PointSpec{Address: "t", Len: 3}, "1,2", drivers.Floats{1, 2}, ""},
		{"array too long", drivers.PointSpec{Address: "t", Len: 2}, "1 2 3", nil, "3 elements"},
		{"array json", drivers.PointSpec{Address: "t", Len: 2, Type: "int8"}, "[-1, 127]", drivers.Ints{-1, 127}, ""},
		{"array json bad", drivers.PointSpec{Address: "t", Len: 2}, "[1, {}]", nil, "element 1: object is not a scalar"},
		{"json root", drivers.PointSpec{Address: "t", Options: opt("path", "$")}, "42", drivers.Floats{42}, ""},
		{"json nested", drivers.PointSpec{Address: "t", Options: opt("path", "a.b[1].c")}, `{"a": {"b": [0, {"c": 7}]}}`, drivers.Floats{7}, ""},
		{"json string number", drivers.PointSpec{Address: "t", Options: opt("path", "v")}, `{"v": "8.5"}`, drivers.Floats{8.5}, ""},
		{"json bool to float", drivers.PointSpec{Address: "t", Options: opt("path", "v")}, `{"v": true}`, drivers.Floats{1}, ""},
		{"json number to string", drivers.PointSpec{Address: "t", Type: "string", Options: opt("path", "v")}, `{"v": 1.50}`, drivers.Strings{"1.50"}, ""},
		{"json missing key", drivers.PointSpec{Address: "t", Options: opt("path", "v")}, `{"w": 1}`, nil, `no key "v"`},
		{"json index range", drivers.PointSpec{Address: "t", Options: opt("path", "v[3]")}, `{"v": [1]}`, nil, "out of range"},
		{"json null", drivers.PointSpec{Address: "t", Options: opt("path", "v")}, `{"v": null}`, nil, "null is not a scalar"},
		{"json trailing", drivers.PointSpec{Address: "t", Options: opt("path", "v")}, `{"v": 1} x`, nil, "trailing"},
		{"json not json", drivers.PointSpec{Address: "t", Options: opt("path", "v")}, `21.5}`, nil, "not JSON"},
		{"json scalar from 1-array", drivers.PointSpec{Address: "t", Options: opt("path", "v")}, `{"v": [3]}`, drivers.Floats{3}, ""},
		{"json array for scalar", drivers.PointSpec{Address: "t", Options: opt("path", "v")}, `{"v": [3, 4]}`, nil, "array of 2 elements"},
		{"json object for array", drivers.PointSpec{Address: "t", Len: 2, Options: opt("path", "v")}, `{"v": {}}`, nil, "object for an array"},
		{"enum state", drivers.PointSpec{Address: "t", Options: opt("enum", "Off, On,Auto")}, "On", drivers.Uints{1}, ""},
		{"enum index", drivers.PointSpec{Address: "t", Options: opt("enum", "Off,On,Auto")}, "2", drivers.Uints{2}, ""},
		{"enum json", drivers.PointSpec{Address: "t", Type: "int32", Options: opt("enum", "Off,On", "path", "m")}, `{"m": "Off"}`, drivers.Ints{0}, ""},
		{"enum unknown", drivers.PointSpec{Address: "t", Options: opt("enum", "Off,On")}, "Auto", nil, "not one of the states Off,On"},
		{"enum index range", drivers.PointSpec{Address: "t", Options: opt("enum", "Off,On")}, "2", nil, "not one of the states"},
		{"bad time", drivers.PointSpec{Address: "t", Options: opt("path", "v", "time_path", "ts")}, `{"v": 1, "ts": "yesterday"}`, nil, "timestamp"},
		{"bad severity", drivers.PointSpec{Address: "t", Options: opt("path", "v", "severity_path", "s")}, `{"v": 1, "s": 9}`, nil, "severity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mkDecoder(t, tc.spec)
			got, err := d.decode([]byte(tc.payload))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrPayload) {
					t.Fatalf("decode(%q) = %v, %v; want an ErrPayload with %q", tc.payload, got.value, err, tc.err)
				}
				return
			}
			if err != nil || !drivers.Equal(got.value, tc.want) {
				t.Fatalf("decode(%q) = %v, %v; want %v", tc.payload, got.value, err, tc.want)
			}
		})
	}
}

func TestDecodeTimeAndSeverity(t *testing.T) {
	d := mkDecoder(t, drivers.PointSpec{Address: "t", Options: map[string]string{"path": "v", "time_path": "t", "severity_path": "s"}})
	for _, tc := range []struct {
		payload string
		time    time.Time
		alarm   *dbr.Alarm
	}{
		{`{"v": 1, "t": 1767225600.5, "s": 0}`, time.Unix(1767225600, 5e8), nil},
		{`{"v": 1, "t": 1767225600500, "s": "MINOR"}`, time.Unix(1767225600, 5e8), &dbr.Alarm{Status: dbr.StatusState, Severity: dbr.SeverityMinor}},
		{`{"v": 1, "t": "2026-01-01T00:00:00.5+00:00", "s": 3}`, time.Unix(1767225600, 5e8), &dbr.Alarm{Status: dbr.StatusState, Severity: dbr.SeverityInvalid}},
	} {
		got, err := d.decode([]byte(tc.payload))
		if err != nil || !got.time.Equal(tc.time) || (got.alarm == nil) != (tc.alarm == nil) || tc.alarm != nil && *got.alarm != *tc.alarm {
			t.Errorf("decode(%s) = %v %v %v; want %v %v", tc.payload, got.time, got.alarm, err, tc.time, tc.alarm)
		}
	}
}

func TestEncode(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		template string
		v        drivers.Value
		want     string
	}{
		{"{value}", drivers.Floats{1.5}, "1.5"},
		{"{value}", drivers.Strings{`a "b"`}, `a "b"`},
		{"{value}", drivers.Floats{1, 2, 3}, "1,2,3"},
		{"{value} at {time}", drivers.Ints{-3}, "-3 at 2026-01-02T03:04:05Z"},
		{`{"sp": {value}, "at": {time}}`, drivers.Strings{`a "b"`}, `{"sp": "a \"b\"", "at": "2026-01-02T03:04:05Z"}`},
		{`{"sp": {value}}`, drivers.Floats{1, 2}, `{"sp": [1,2]}`},
		{`[{value}]`, drivers.Bools{true}, `[true]`},
		{`{"n": {value}}`, drivers.Uints{18446744073709551615}, `{"n": 18446744073709551615}`},
	} {
		got, err := encodeValue(tc.template, tc.v, at)
		if err != nil || string(got) != tc.want {
			t.Errorf("encodeValue(%q, %v) = %q, %v; want %q", tc.template, tc.v, got, err, tc.want)
		}
	}
	if _, err := encodeValue(`{"v": {value}}`, drivers.Floats{math.NaN()}, at); !errors.Is(err, drivers.ErrBadValue) {
		t.Errorf("NaN in a JSON template: %v; want ErrBadValue", err)
	}
	if got, err := encodeValue(`{value}`, drivers.Floats{math.Inf(1)}, at); err != nil || string(got) != "+Inf" {
		t.Errorf("+Inf plain = %q, %v", got, err)
	}
}

func TestParsePointOptions(t *testing.T) {
	for _, tc := range []struct {
		spec drivers.PointSpec
		err  string
		typ  string
	}{
		{drivers.PointSpec{Address: "a/b"}, "", "float64[1] r"},
		{drivers.PointSpec{Address: "a/+/c", Type: "string", Len: 40}, "", "string(40)[1] r"},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"command": "a/b/set"}}, "", "float64[1] rw"},
		{drivers.PointSpec{Address: "a/b/set", Type: "int16", Options: map[string]string{"access": "w"}}, "", "int16[1] w"},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"access": "rw"}}, "needs option command", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"template": "x"}}, "no {value}", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"retain": "true"}}, "needs a command topic", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"time_path": "t"}}, "needs option path", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"readback_path": "t"}}, "needs option readback", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"qos": "3"}}, "qos", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"stale": "soon"}}, "stale", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"command": "x", "readback": "y/#"}}, "readback topic", ""},
		{drivers.PointSpec{Address: ""}, "empty topic", ""},
		{drivers.PointSpec{Address: "a/b#"}, "wildcard inside", ""},
		{drivers.PointSpec{Address: "a/b", Len: -1}, "negative len", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"enum": "x,y"}}, "", "uint16[1] r"},
		{drivers.PointSpec{Address: "a/b", Type: "string", Options: map[string]string{"enum": "x,y"}}, "integer type", ""},
		{drivers.PointSpec{Address: "a/b", Options: map[string]string{"enum": "x,,y"}}, "non-empty states", ""},
	} {
		p, err := parsePoint(tc.spec, 1, 0)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, drivers.ErrBadPoint)):
			t.Errorf("parsePoint(%v) = %v; want ErrBadPoint with %q", tc.spec, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("parsePoint(%v) = %v", tc.spec, err)
		case tc.err == "" && p.Type().String() != tc.typ:
			t.Errorf("parsePoint(%v) type %v, want %s", tc.spec, p.Type(), tc.typ)
		}
	}
}

func TestEnumText(t *testing.T) {
	v, err := enumText(drivers.Floats{2}, []string{"a", "b", "c"})
	if err != nil || !drivers.Equal(v, drivers.Strings{"c"}) {
		t.Errorf("enumText = %v, %v", v, err)
	}
	if _, err := enumText(drivers.Uints{3}, []string{"a", "b", "c"}); !errors.Is(err, drivers.ErrBadValue) {
		t.Errorf("enumText out of range = %v", err)
	}
}

func TestSameValue(t *testing.T) {
	for _, tc := range []struct {
		w, g drivers.Value
		want bool
	}{
		{drivers.Floats{1}, drivers.Floats{1 + 1e-12}, true},
		{drivers.Floats{1}, drivers.Floats{1.001}, false},
		{drivers.Floats{0}, drivers.Floats{1e-12}, true},
		{drivers.Ints{3}, drivers.Floats{3}, true},
		{drivers.Strings{"a"}, drivers.Strings{"b"}, false},
		{drivers.Floats{1, 2}, drivers.Floats{1}, false},
	} {
		if got := sameValue(tc.w, tc.g, 1e-9); got != tc.want {
			t.Errorf("sameValue(%v, %v) = %v", tc.w, tc.g, got)
		}
	}
}

// FuzzDecode feeds arbitrary payloads to decoders of every shape: they
// must never panic, and a decoded value must fit the point.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"21.5", "-7", "true", "[1,2,3]", "1, 2, 3", `{"a": {"b": [1, "2", true]}, "t": 1767225600, "s": "MAJOR"}`,
		`{"a": {"b": [1e400]}}`, `{"a": null}`, "\xff\xfe", `{"a": {"b": [[]]}}`, `"x"`, `{"t": "2026-01-01T00:00:00Z"}`} {
		f.Add([]byte(s), uint8(0))
	}
	specs := []drivers.PointSpec{
		{Address: "t"},
		{Address: "t", Type: "int16"},
		{Address: "t", Type: "uint8", Len: 4},
		{Address: "t", Type: "bool"},
		{Address: "t", Type: "string", Len: 8},
		{Address: "t", Options: map[string]string{"path": "a.b[0]", "time_path": "t", "severity_path": "s"}},
		{Address: "t", Type: "int64", Len: 3, Options: map[string]string{"path": "a.b"}},
		{Address: "t", Type: "string", Options: map[string]string{"path": "$"}},
	}
	decs := make([]*decoder, len(specs))
	for i, s := range specs {
		decs[i] = mkDecoder(f, s)
	}
	f.Fuzz(func(t *testing.T, payload []byte, which uint8) {
		d := decs[int(which)%len(decs)]
		got, err := d.decode(payload)
		if err != nil {
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("error %v does not wrap ErrPayload", err)
			}
			return
		}
		v := got.value
		if v == nil || v.Kind() != d.typ.Kind || v.Len() < 1 || v.Len() > d.typ.Len {
			t.Fatalf("decode(%q) = %v (%v), which does not fit %v", payload, v, v.Kind(), d.typ)
		}
		// Round trip: what a write would publish decodes to the same value.
		if d.json {
			return
		}
		enc, err := encodeValue("{value}", v, time.Time{})
		if err != nil {
			return
		}
		back, err := d.decode(enc)
		if err != nil || !drivers.Equal(back.value, v) {
			t.Fatalf("round trip of %v via %q = %v, %v", v, enc, back.value, err)
		}
	})
}

// FuzzParsePath: paths never panic, and a parsed path walks any document.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"a.b", "values[2]", "$", "$.a[0][1].b", "[0]", "a..b", "a[", "a[-1]", "a]"} {
		f.Add(s, []byte(`{"a": {"b": [1, [2, 3]]}, "values": [0, 1, 2]}`))
	}
	f.Fuzz(func(t *testing.T, path string, doc []byte) {
		p, err := parsePath(path)
		if err != nil {
			return
		}
		v, err := parseJSON(doc)
		if err != nil {
			return
		}
		_, _ = p.lookup(v)
	})
}

func BenchmarkDecodePlain(b *testing.B) {
	d := mkDecoder(b, drivers.PointSpec{Address: "t"})
	payload := []byte("21.5")
	for b.Loop() {
		if _, err := d.decode(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	d := mkDecoder(b, drivers.PointSpec{Address: "t", Options: map[string]string{"path": "sensors.temp", "time_path": "ts", "severity_path": "sev"}})
	payload := []byte(`{"sensors": {"temp": 21.5, "hum": 40}, "ts": 1767225600, "sev": "MINOR"}`)
	for b.Loop() {
		if _, err := d.decode(payload); err != nil {
			b.Fatal(err)
		}
	}
}
