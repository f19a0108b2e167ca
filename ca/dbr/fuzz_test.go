package dbr_test

import (
	"bytes"
	"math"
	"strconv"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// FuzzDecodeData decodes arbitrary payloads. Decoding must never panic, and
// whatever decodes must survive encode → decode unchanged.
func FuzzDecodeData(f *testing.F) {
	for code, h := range goldenHex() {
		f.Add(byte(code), uint16(1), unhex(f, h))
		f.Add(byte(code), uint16(0), unhex(f, h))
		f.Add(byte(code), uint16(2), append(unhex(f, h), unhex(f, h)...))
	}
	f.Add(byte(dbr.String), uint16(1), []byte("hello\x00\x00\x00"))
	f.Add(byte(dbr.GrEnum), uint16(1), bytes.Repeat([]byte{0xFF}, 424))
	f.Add(byte(dbr.CtrlFloat), uint16(1), bytes.Repeat([]byte{0x7F}, 56))
	f.Add(byte(dbr.CtrlChar), uint16(3), bytes.Repeat([]byte{0x80}, 24))
	f.Add(byte(40), uint16(1), []byte{1, 2, 3, 4, 5, 6, 7, 8})

	f.Fuzz(func(t *testing.T, code byte, count uint16, b []byte) {
		typ := dbr.Type(code)
		v, md, err := dbr.DecodeData(typ, int(count), b)
		if err != nil {
			return
		}
		if v == nil || v.Len() != int(count) || v.Type() != typ.Base() {
			t.Fatalf("%v count %d: decoded %#v", typ, count, v)
		}
		enc, err := dbr.AppendData(nil, typ, int(count), v, &md)
		if err != nil {
			t.Fatalf("%v: re-encode: %v", typ, err)
		}
		if len(enc) != dbr.PaddedSize(typ, int(count)) {
			t.Fatalf("%v: re-encoded %d bytes, want %d", typ, len(enc), dbr.PaddedSize(typ, int(count)))
		}
		v2, md2, err := dbr.DecodeData(typ, int(count), enc)
		if err != nil {
			t.Fatalf("%v: decode of re-encoded: %v", typ, err)
		}
		if !sameValue(v, v2) {
			t.Fatalf("%v: value changed:\n%#v\n%#v", typ, v, v2)
		}
		if !sameMeta(md, md2) {
			t.Fatalf("%v: metadata changed:\n%+v %+v\n%+v %+v", typ, md, md.Properties, md2, md2.Properties)
		}
		enc2, err := dbr.AppendData(nil, typ, int(count), v2, &md2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("%v: encoding not stable: %v\n%x\n%x", typ, err, enc, enc2)
		}
	})
}

// FuzzParse checks that the text parsers never panic and that FormatFloat
// output parses back to the value it came from.
func FuzzParse(f *testing.F) {
	for _, s := range []string{" 3 V", "7 cnt", "0x10", "abc", "", "99999999999", "1e3", "1.5", "nan", "-inf",
		"Two", "2", "5", "two", "Zero ", "1e999", "-", "+.e5", "0.000000000000000000000000001"} {
		f.Add(s, 3.14159265, int8(3))
	}
	f.Add("", 1e-7, int8(3))
	f.Add("", -9999999.5, int8(8))
	f.Add("", 1.5e7, int8(9))
	f.Add("", math.NaN(), int8(-1))
	states := []string{"Zero", "One", "Two"}
	props := &dbr.Properties{Precision: 3, EnumStrings: states}

	f.Fuzz(func(t *testing.T, s string, x float64, p int8) {
		_, _ = dbr.ParseInt(s)
		_, _ = dbr.ParseFloat(s)
		if i, err := dbr.ParseEnum(s, states); err == nil && int(i) >= len(states) {
			t.Fatalf("ParseEnum(%q) = %d beyond %d states", s, i, len(states))
		}
		for to := dbr.String; to <= dbr.Double; to++ {
			if v, err := dbr.Convert(dbr.Strings{s}, to, props); err == nil && v.Len() != 1 {
				t.Fatalf("Convert(%q, %v) gave %d elements", s, to, v.Len())
			}
		}

		out := dbr.FormatFloat(x, int(p))
		if p < 0 || p > 8 || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e7 {
			return
		}
		y, err := dbr.ParseFloat(out)
		if err != nil {
			t.Fatalf("ParseFloat(FormatFloat(%v, %d) = %q): %v", x, p, out, err)
		}
		if d := math.Abs(y - x); d > math.Pow(10, -float64(p)) {
			t.Fatalf("FormatFloat(%v, %d) = %q parses to %v, off by %g", x, p, out, y, d)
		}
		n := int64(x)
		if got, err := dbr.ParseInt(strconv.FormatInt(n, 10)); err != nil || got != n {
			t.Fatalf("ParseInt(%d) = %d, %v", n, got, err)
		}
	})
}
