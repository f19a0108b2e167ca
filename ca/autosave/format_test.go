package autosave

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// sameValue compares two values element by element, floats by their bits.
func sameValue(a, b dbr.Value) bool {
	switch x := a.(type) {
	case dbr.Doubles:
		y, ok := b.(dbr.Doubles)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return true
	case dbr.Floats:
		y, ok := b.(dbr.Floats)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestLineRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    dbr.Value
		line string // expected line without name and newline; "" = don't check
	}{
		{"double", dbr.Doubles{21.5}, "double 21.5"},
		{"double exact", dbr.Doubles{math.Nextafter(0.3, 1)}, "double 0.30000000000000004"},
		{"double tiny", dbr.Doubles{math.SmallestNonzeroFloat64}, ""},
		{"double max", dbr.Doubles{math.MaxFloat64}, ""},
		{"double negzero", dbr.Doubles{math.Copysign(0, -1)}, "double -0"},
		{"double specials", dbr.Doubles{math.NaN(), math.Inf(1), math.Inf(-1)}, "double NaN +Inf -Inf"},
		{"double C NaN", dbr.Doubles{math.Float64frombits(0x7ff8000000000000)}, "double NaN(0x7ff8000000000000)"},
		{"double negative NaN payload", dbr.Doubles{math.Float64frombits(0xfff0000000000123)}, "double NaN(0xfff0000000000123)"},
		{"double array", dbr.Doubles{1, 2.5, -3e-300}, "double 1 2.5 -3e-300"},
		{"double empty", dbr.Doubles{}, "double"},
		{"float", dbr.Floats{0.1}, "float 0.1"},
		{"float specials", dbr.Floats{float32(math.Inf(-1)), math.Float32frombits(0x7fc00001), math.MaxFloat32}, ""},
		{"long", dbr.Longs{math.MinInt32, -1, 0, math.MaxInt32}, "long -2147483648 -1 0 2147483647"},
		{"short", dbr.Shorts{math.MinInt16, math.MaxInt16}, "short -32768 32767"},
		{"char bytes", dbr.Chars{0, 1, 255}, "char 0 1 255"},
		{"char scalar", dbr.Chars{7}, "char 7"},
		{"char NUL only", dbr.Chars{0}, "char 0"},
		{"char two NULs", dbr.Chars{'a', 0, 0}, "char 97 0 0"},
		{"text", dbr.Chars("hello world\x00"), `text "hello world"`},
		{"text quotes", dbr.Chars("say \"hi\"\n\\ \xff\x00"), `text "say \"hi\"\n\\ \xff"`},
		{"enum", dbr.Enums{2}, "enum 2"},
		{"enum array", dbr.Enums{0, 65535}, "enum 0 65535"},
		{"string", dbr.Strings{"hello"}, `string "hello"`},
		{"string spaces", dbr.Strings{"  a b  "}, `string "  a b  "`},
		{"string quotes newlines", dbr.Strings{"a\"b\nc\\d\te # not a comment"}, `string "a\"b\nc\\d\te # not a comment"`},
		{"string bytes", dbr.Strings{"\x00\x01\xfe\xff", "é€"}, `string "\x00\x01\xfe\xff" "é€"`},
		{"string empty element", dbr.Strings{""}, `string ""`},
		{"string array", dbr.Strings{"a", "b c", ""}, `string "a" "b c" ""`},
		{"string empty array", dbr.Strings{}, "string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendLine(nil, "PV:X", tc.v, nil)
			if err != nil {
				t.Fatal(err)
			}
			line := string(b)
			if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
				t.Fatalf("line %q: want exactly one newline, at the end", line)
			}
			line = strings.TrimSuffix(line, "\n")
			if want := "PV:X " + tc.line; tc.line != "" && line != want {
				t.Errorf("line = %q, want %q", line, want)
			}
			name, v, ok, err := ParseLine(line)
			if err != nil || !ok {
				t.Fatalf("ParseLine(%q) = %v, %v", line, ok, err)
			}
			if name != "PV:X" {
				t.Errorf("name = %q", name)
			}
			if !sameValue(v, tc.v) {
				t.Errorf("value = %#v, want %#v", v, tc.v)
			}
		})
	}
}

func TestEnumComment(t *testing.T) {
	b, err := AppendLine(nil, "M", dbr.Enums{1}, []string{"Off", "On \"x\""})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "M enum 1 # \"On \\\"x\\\"\"\n"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	_, v, _, err := ParseLine(strings.TrimSuffix(string(b), "\n"))
	if err != nil || !reflect.DeepEqual(v, dbr.Enums{1}) {
		t.Errorf("ParseLine = %v, %v", v, err)
	}
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		ok         bool
		want       dbr.Value
		err        string // substring of the error; "" = no error
	}{
		{"blank", "   ", false, nil, ""},
		{"comment", "# hello", false, nil, ""},
		{"end", "<END>", false, nil, ""},
		{"crlf", "A long 5\r", true, dbr.Longs{5}, ""},
		{"tabs", "A\tdouble\t1\t2", true, dbr.Doubles{1, 2}, ""},
		{"trailing comment", "A long 5 # five", true, dbr.Longs{5}, ""},
		{"name only", "A", false, nil, "want NAME TYPE VALUE"},
		{"unknown type", "A int 5", false, nil, `unknown type "int"`},
		{"bad number", "A long 5x", false, nil, `value 1 "5x": invalid syntax`},
		{"long overflow", "A long 2147483648", false, nil, "out of range"},
		{"short overflow", "A short -32769", false, nil, "out of range"},
		{"char overflow", "A char 256", false, nil, "out of range"},
		{"enum negative", "A enum -1", false, nil, "invalid syntax"},
		{"float overflow", "A float 1e39", false, nil, "out of range"},
		{"NaN bits not NaN", "A double NaN(0x0)", false, nil, "not a NaN"},
		{"NaN bits too wide", "A float NaN(0x7ff8000000000000)", false, nil, "out of range"},
		{"NaN unterminated", "A double NaN(0x7ff8000000000000", false, nil, "unterminated"},
		{"unquoted string", "A string hello", false, nil, "must be quoted"},
		{"quoted number", `A long "5"`, false, nil, "quoted long value"},
		{"unterminated string", `A string "abc`, false, nil, "unterminated quoted string"},
		{"bad escape", `A string "\q"`, false, nil, "bad quoted string"},
		{"stray quote", `A string ab"c"`, false, nil, "stray quote"},
		{"no space after quote", `A string "a""b"`, false, nil, "no space after quoted string"},
		{"text two values", `A text "a" "b"`, false, nil, "one quoted string"},
		{"quoted name", `"A" long 1`, false, nil, "quoted name"},
		{"bad name", "A\x01 long 1", false, nil, "contains"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, v, ok, err := ParseLine(tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseLine(%q) error = %v, want %q", tc.line, err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || !sameValue(v, tc.want) {
				t.Errorf("ParseLine(%q) = %#v, %v, %v; want %#v, %v", tc.line, v, ok, err, tc.want, tc.ok)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"IOC:TEMP.VAL", true},
		{"X$", true},
		{"é", true},
		{"", false},
		{"a b", false},
		{"a\tb", false},
		{"#a", false},
		{"<END>", false},
		{`a"b`, false},
		{"a\x00", false},
		{"\xff", false},
	} {
		if err := ValidName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// FuzzParseLine checks that ParseLine never panics and that whatever it
// accepts is written back by AppendLine to a line it parses to the same
// value.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"A double 1 2.5 NaN -Inf NaN(0x7ff8000000000000)",
		`B string "a\"b" "c\x00"`,
		`C text "hello"`,
		"D enum 3 # \"On\"",
		"E char 0 1 255",
		"F short -5", "G long 7", "H float 0.1",
		"<END>", "# c", `I string "\u00e9\U0001F600"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsRune(line, '\n') {
			return
		}
		name, v, ok, err := ParseLine(line)
		if err != nil || !ok {
			return
		}
		b, err := AppendLine(nil, name, v, nil)
		if err != nil {
			t.Fatalf("AppendLine(%q, %#v): %v", name, v, err)
		}
		name2, v2, ok2, err := ParseLine(strings.TrimSuffix(string(b), "\n"))
		if err != nil || !ok2 || name2 != name || !sameValue(v, v2) {
			t.Fatalf("round trip of %q: %q -> %q %#v %v %v, want %q %#v", line, b, name2, v2, ok2, err, name, v)
		}
	})
}
