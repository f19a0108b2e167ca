package serial

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/drivers"
)

func TestFormatAppend(t *testing.T) {
	tests := []struct {
		name, format string
		v            drivers.Value
		want         string
		err          error
	}{
		{"float precision", "VOLT %.3f", drivers.Floats{1.5}, "VOLT 1.500", nil},
		{"float width", "%8.2f|", drivers.Floats{-3.14159}, "   -3.14|", nil},
		{"exponent", "%.2e", drivers.Floats{12345}, "1.23e+04", nil},
		{"int from float", "N %d", drivers.Floats{2.6}, "N 3", nil},
		{"zero padded", "%05d", drivers.Ints{42}, "00042", nil},
		{"plus", "%+d", drivers.Ints{7}, "+7", nil},
		{"hex", "%04X", drivers.Uints{0xbeef}, "BEEF", nil},
		{"octal", "%o", drivers.Uints{8}, "10", nil},
		{"string", "NAME %s", drivers.Strings{"abc"}, "NAME abc", nil},
		{"enum", "MODE %{OFF|ON|STBY}", drivers.Uints{2}, "MODE STBY", nil},
		{"enum out of range", "%{A|B}", drivers.Uints{2}, "", drivers.ErrBadValue},
		{"escapes", `A\r\n\x41\\%%`, nil, "A\r\nA\\%", nil},
		{"no value", "%f", nil, "", drivers.ErrBadValue},
		{"skip", "%*d%d", drivers.Ints{5}, "5", nil},
		{"array", "%.1f", drivers.Floats{1, 2, 3}, "1.0;2.0;3.0", nil},
		{"sum8 raw", "AB%<sum8>", nil, "AB\x83", nil},
		{"sum8 hex", "AB%0<sum8>", nil, "AB83", nil},
		{"xor8 hex", "AB%0<xor8>", nil, "AB03", nil},
		{"lrc hex", "AB%0<lrc>", nil, "AB7D", nil},
		{"crc16 modbus", "123456789%0<crc16-modbus>", nil, "123456789374B", nil},
		{"crc ccitt", "123456789%0<crc-ccitt>", nil, "12345678929B1", nil},
		{"not a number", "%f", drivers.Strings{"x"}, "", drivers.ErrBadValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Append(nil, tc.v, ";")
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Errorf("Append = %q, %v; want %v", got, err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("Append = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestFormatMatch(t *testing.T) {
	tests := []struct {
		name, format, line string
		n                  int
		ignore             bool
		want               []Field // nil with wantErr
		wantErr            string
	}{
		{"two floats", "V=%f;I=%f", "V=12.500;I=-0.25", 1, false, []Field{{Kind: drivers.KindFloat, F: 12.5}, {Kind: drivers.KindFloat, F: -0.25}}, ""},
		{"exponent", "P=%e mbar", "P=1.5E-05 mbar", 1, false, []Field{{Kind: drivers.KindFloat, F: 1.5e-5}}, ""},
		{"leading space", "%f", "  3", 1, false, []Field{{Kind: drivers.KindFloat, F: 3}}, ""},
		{"nan", "%f", "NaN", 1, false, []Field{{Kind: drivers.KindFloat, F: math.NaN()}}, ""},
		{"int", "%d", "-17", 1, false, []Field{{Kind: drivers.KindInt, I: -17}}, ""},
		{"int base 0", "%i", "0x1F", 1, false, []Field{{Kind: drivers.KindInt, I: 31}}, ""},
		{"hex", "%x", "ff", 1, false, []Field{{Kind: drivers.KindUint, U: 255}}, ""},
		{"width", "%2d%d", "1234", 1, false, []Field{{Kind: drivers.KindInt, I: 12}, {Kind: drivers.KindInt, I: 34}}, ""},
		{"skip", "%*f,%f", "1.0,2.0", 1, false, []Field{{Kind: drivers.KindFloat, F: 2}}, ""},
		{"string", "ID %s rest", "ID abc rest", 1, false, []Field{{Kind: drivers.KindString, S: "abc"}}, ""},
		{"chars", "%3c", "a b", 1, false, []Field{{Kind: drivers.KindString, S: "a b"}}, ""},
		{"enum longest", "%{ON|ONLINE|OFF}", "ONLINE", 1, false, []Field{{Kind: drivers.KindUint, U: 1}}, ""},
		{"regexp submatch", `%/T=([0-9.]+)C/`, "T=21.5C", 1, false, []Field{{Kind: drivers.KindString, S: "21.5"}}, ""},
		{"charset", "%[a-z_]=%d", "volt_a=5", 1, false, []Field{{Kind: drivers.KindString, S: "volt_a"}, {Kind: drivers.KindInt, I: 5}}, ""},
		{"negated charset", `%[^\r]`, "a b,c", 1, false, []Field{{Kind: drivers.KindString, S: "a b,c"}}, ""},
		{"charset with ]", "%[]x]", "]x]y", 1, true, []Field{{Kind: drivers.KindString, S: "]x]"}}, ""},
		{"charset width", "%3[0-9]%d", "12345", 1, false, []Field{{Kind: drivers.KindString, S: "123"}, {Kind: drivers.KindInt, I: 45}}, ""},
		{"charset none", "%[0-9]", "x", 1, false, nil, "want a character"},
		{"array", "%f", "1,2,3", 3, false, []Field{{Kind: drivers.KindFloat, F: 1}, {Kind: drivers.KindFloat, F: 2}, {Kind: drivers.KindFloat, F: 3}}, ""},
		{"sum8 ok", "STAT=%d*%0<sum8>", "STAT=42*" + hexSum("STAT=42*"), 1, false, []Field{{Kind: drivers.KindInt, I: 42}}, ""},
		{"sum8 lower case", "STAT=%d*%0<sum8>", "STAT=42*" + strings.ToLower(hexSum("STAT=42*")), 1, false, []Field{{Kind: drivers.KindInt, I: 42}}, ""},
		{"extra ignored", "%d", "5 volts", 1, true, []Field{{Kind: drivers.KindInt, I: 5}}, ""},
		{"extra", "%d", "5 volts", 1, false, nil, "extra input"},
		{"sum8 bad", "STAT=%d*%0<sum8>", "STAT=42*00", 1, false, nil, "bad sum8 checksum"},
		{"crc16 raw", "%d%<crc16-modbus>", "7\x37\x4b", 1, false, nil, "bad crc16-modbus"},
		{"literal", "V=%f", "I=1", 1, false, nil, `want "V="`},
		{"not a number", "%f", "abc", 1, false, nil, "want a number"},
		{"short array", "%f", "1,2", 3, false, nil, "separator"},
		{"enum none", "%{A|B}", "C", 1, false, nil, "want one of"},
		{"empty", "%d", "", 1, false, nil, "want an integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Match([]byte(tc.line), ",", tc.n, tc.ignore)
			if tc.wantErr != "" {
				var me *MismatchError
				if !errors.As(err, &me) || !errors.Is(err, drivers.ErrMismatch) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Match(%q) = %v, %v; want a mismatch %q", tc.line, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("Match(%q) = %v, %v; want %v", tc.line, got, err, tc.want)
			}
			for i := range got {
				if !drivers.Equal(got[i].Value(), tc.want[i].Value()) {
					t.Errorf("field %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// hexSum is the sum8 of s in upper-case hex.
func hexSum(s string) string {
	c, _ := checksumByName("sum8")
	return string(c.append(nil, []byte(s), "0"))
}

func TestParseFormatErrors(t *testing.T) {
	for _, s := range []string{"%[a-", "%[z-a]", "%[]", "%[^]", `%[\q]`, "%", "%q", `\`, `\q`, `\x4`, "%{a|b", "%/x", "%/(/", "%<md5>", "%<sum8", strings.Repeat("x", maxFormatLen+1)} {
		if _, err := ParseFormat(s); !errors.Is(err, errFormat) {
			t.Errorf("ParseFormat(%q) = %v; want errFormat", s, err)
		}
	}
}

func TestChecksumVectors(t *testing.T) {
	// The check values of the CRC catalogue, over "123456789".
	msg := []byte("123456789")
	for _, tc := range []struct {
		name string
		want uint16
	}{{"crc16-modbus", 0x4B37}, {"crc-ccitt", 0x29B1}, {"sum8", 0xDD}, {"xor8", 0x31}, {"lrc", 0x23}} {
		c, ok := checksumByName(tc.name)
		if !ok {
			t.Fatalf("no %s", tc.name)
		}
		if got := c.sum(msg); got != tc.want {
			t.Errorf("%s = %#04x, want %#04x", tc.name, got, tc.want)
		}
	}
}

func TestParseTerminator(t *testing.T) {
	for in, want := range map[string]string{"": "", "CR": "\r", "lf": "\n", "CR LF": "\r\n", "CRLF": "\r\n", `\r\n`: "\r\n", "ETX": "\x03", `\x04`: "\x04", ";": ";"} {
		got, err := ParseTerminator(in)
		if err != nil || string(got) != want {
			t.Errorf("ParseTerminator(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseTerminator("%d"); err == nil {
		t.Error("a conversion in a terminator was accepted")
	}
}

// FuzzFormat parses arbitrary formats and, for those that parse, formats
// a value and matches the output back: what Append writes, Match reads
// (the round trip property), and neither panics.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{"V=%f;I=%f", "VOLT %.3f", "%d", "%05d", "%x", "%{OFF|ON}", "STAT=%d*%0<sum8>",
		"%s", "%3c", "%[a-z]", "%[^,]", "%/T=([0-9]+)/", `\r\n\x41`, "%*d,%d", "%e", "%<crc16-modbus>", "%0<crc-ccitt>", "%%"} {
		f.Add(s, 1.5, "1.5")
	}
	f.Fuzz(func(t *testing.T, format string, x float64, line string) {
		fm, err := ParseFormat(format)
		if err != nil {
			if !errors.Is(err, errFormat) {
				t.Fatalf("ParseFormat error %v does not wrap errFormat", err)
			}
			return
		}
		_, _ = fm.Match([]byte(line), ",", 2, false)
		if fm.fields != 1 || fm.FieldKind(0) != drivers.KindFloat {
			return
		}
		for _, it := range fm.items {
			if it.kind == convString || it.kind == convRegexp || it.width >= 0 || it.skip {
				return // not self-delimiting, or lossy
			}
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		out, err := fm.Append(nil, drivers.Floats{x}, ",")
		if err != nil {
			return
		}
		// Literals may look like numbers and merge with them; only check
		// formats whose conversion is followed by a non-digit.
		if bytes.ContainsAny(out, "eE") && !strings.ContainsAny(format, "eEg") {
			return
		}
		fields, err := fm.Match(out, ",", 1, false)
		if err != nil {
			for _, it := range fm.items {
				if it.kind == convLiteral && bytes.ContainsAny(it.lit, "0123456789.+-eEnNaAiIfF \t") {
					return
				}
			}
			t.Fatalf("format %q wrote %q for %v, which does not match back: %v", format, out, x, err)
		}
		if len(fields) != 1 {
			t.Fatalf("format %q: %d fields back from %q", format, len(fields), out)
		}
	})
}

// FuzzMatch matches arbitrary lines against the formats of the example
// protocols: it must never panic, and a success yields one field per
// value conversion (times the array length for a single one).
func FuzzMatch(f *testing.F) {
	formats := []string{"V=%f;I=%f", "STAT=%d*%0<sum8>", "%{OFF|ON|STANDBY}", "P=%e mbar", "%i", "%x", "%/T=([0-9.]+)C/", "%s %3c", "%[^=]=%f", "%f"}
	for _, l := range []string{"V=1;I=2", "STAT=42*7D", "ON", "P=1E-5 mbar", "0x10", "ff", "T=1.5C", "ab cde", "1,2,3", "", "\x00\xff"} {
		f.Add(l, uint8(0))
	}
	var fms []*Format
	for _, s := range formats {
		fm, err := ParseFormat(s)
		if err != nil {
			f.Fatal(err)
		}
		fms = append(fms, fm)
	}
	f.Fuzz(func(t *testing.T, line string, which uint8) {
		fm := fms[int(which)%len(fms)]
		n := 1
		if fm.fields == 1 {
			n = 3
		}
		fields, err := fm.Match([]byte(line), ",", n, which&0x80 != 0)
		if err != nil {
			if !errors.Is(err, drivers.ErrMismatch) {
				t.Fatalf("Match error %v does not wrap ErrMismatch", err)
			}
			return
		}
		want := fm.fields
		if fm.fields == 1 {
			want = n
		}
		if len(fields) != want {
			t.Fatalf("Match(%q, %q) = %d fields, want %d", fm.src, line, len(fields), want)
		}
	})
}

// FuzzSplitLines feeds a byte stream to the line splitter in chunks cut
// at arbitrary points: the lines must be those of the whole stream at
// once, whatever the cuts (a terminator split across two reads
// included).
func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("V=1\r\nI=2\r\npartial"), []byte("\r\n"), []byte{3, 1, 7})
	f.Add([]byte("a;b;;c"), []byte(";"), []byte{1})
	f.Add([]byte("\x03x\x03"), []byte("\x03"), []byte{0, 2})
	f.Fuzz(func(t *testing.T, stream, term, cuts []byte) {
		if len(term) > 4 {
			term = term[:4]
		}
		want, wantRest := splitLines(stream, term)
		var got [][]byte
		var pending []byte
		rest := stream
		for _, c := range cuts {
			n := min(int(c), len(rest))
			pending = append(pending, rest[:n]...)
			rest = rest[n:]
			var lines [][]byte
			lines, pending = splitLines(pending, term)
			got = append(got, lines...)
		}
		pending = append(pending, rest...)
		lines, pending := splitLines(pending, term)
		got = append(got, lines...)
		if len(got) != len(want) || !bytes.Equal(pending, wantRest) {
			t.Fatalf("chunked: %q rest %q; whole: %q rest %q", got, pending, want, wantRest)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("line %d: chunked %q, whole %q", i, got[i], want[i])
			}
		}
	})
}
