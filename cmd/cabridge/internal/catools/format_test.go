package catools

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
)

func TestCFloat(t *testing.T) {
	// Expected strings are what glibc's printf prints.
	tests := []struct {
		v    float64
		verb byte
		prec int
		want string
	}{
		{21.5, 'g', 6, "21.5"},
		{0, 'g', 6, "0"},
		{100000, 'g', 6, "100000"},
		{1000000, 'g', 6, "1e+06"},
		{1234567, 'g', 6, "1.23457e+06"},
		{0.0001, 'g', 6, "0.0001"},
		{0.00001, 'g', 6, "1e-05"},
		{0.00628314, 'g', 6, "0.00628314"},
		{1.22465e-16, 'g', 6, "1.22465e-16"},
		{-2.5, 'g', 6, "-2.5"},
		{99999.95, 'g', 6, "99999.9"}, // 99999.949999...
		{999999.5, 'g', 6, "1e+06"},
		{3.14159265, 'g', 3, "3.14"},
		{3.14159265, 'g', 0, "3"},
		{1.5, 'e', 3, "1.500e+00"},
		{1e100, 'e', 1, "1.0e+100"},
		{3.14159265, 'f', 8, "3.14159265"},
		{2, 'f', 0, "2"},
		{math.NaN(), 'g', 6, "nan"},
		{math.Inf(-1), 'f', 2, "-inf"},
	}
	for _, tt := range tests {
		if got := cFloat(tt.v, tt.verb, tt.prec); got != tt.want {
			t.Errorf("cFloat(%v, %c, %d) = %q, want %q", tt.v, tt.verb, tt.prec, got, tt.want)
		}
	}
}

func TestElement(t *testing.T) {
	gr := &dbr.Metadata{Properties: &dbr.Properties{EnumStrings: []string{"Off", "On"}}}
	tests := []struct {
		name string
		f    Format
		v    dbr.Value
		t    dbr.Type
		md   *dbr.Metadata
		want string
	}{
		{"double", Format{}, dbr.Doubles{3.5}, dbr.TimeDouble, nil, "3.5"},
		{"float as double", Format{}, dbr.Floats{0.1}, dbr.TimeFloat, nil, "0.1"},
		{"-f3", Format{Float: FloatFormat{'f', 3}}, dbr.Doubles{3.5}, dbr.Double, nil, "3.500"},
		{"-e2", Format{Float: FloatFormat{'e', 2}}, dbr.Doubles{1234}, dbr.Double, nil, "1.23e+03"},
		{"-lx", Format{FloatBase: Hex}, dbr.Doubles{254.6}, dbr.Double, nil, "0xFF"},
		{"-lx negative", Format{FloatBase: Hex}, dbr.Doubles{-1.4}, dbr.Double, nil, "0xFFFFFFFF"},
		{"-0x", Format{IntBase: Hex}, dbr.Longs{255}, dbr.Long, nil, "0xFF"},
		{"-0o", Format{IntBase: Octal}, dbr.Shorts{8}, dbr.Short, nil, "0o10"},
		{"-0b", Format{IntBase: Binary}, dbr.Longs{5}, dbr.Long, nil, "101"},
		{"-0b zero", Format{IntBase: Binary}, dbr.Longs{0}, dbr.Long, nil, "0"},
		{"char is signed", Format{}, dbr.Chars{200}, dbr.Char, nil, "-56"},
		{"string escaped", Format{}, dbr.Strings{"a\tb\"\x01"}, dbr.String, nil, `a\tb\"\x01`},
		{"enum index", Format{}, dbr.Enums{1}, dbr.TimeEnum, gr, "1"},
		{"gr enum", Format{}, dbr.Enums{1}, dbr.GrEnum, gr, "On"},
		{"gr enum -n", Format{EnumAsNumber: true}, dbr.Enums{1}, dbr.CtrlEnum, gr, "1"},
		{"gr enum overflow", Format{}, dbr.Enums{5}, dbr.GrEnum, gr, "Enum Index Overflow (5)"},
		{"gr enum illegal", Format{}, dbr.Enums{16}, dbr.GrEnum, gr, "Illegal Value (16)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.element(tt.v, tt.t, tt.md, 0); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "tab\there", "quote\"'\\", "\x00\x7f\xff\a\b\f\n\r\v"} {
		e := escape(s)
		if got := unescape(e); got != s {
			t.Errorf("unescape(escape(%q)) = %q via %q", s, got, e)
		}
	}
	if got := unescape(`\101\x42\q\x4\xg\`); got != "101Bq\x04g" {
		t.Errorf("unescape = %q, want %q", got, "101Bq\x04g")
	}
}

func TestGetopt(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		permute bool
		opts    string // name=arg,...
		rest    []string
		err     string
	}{
		{"clustered", []string{"-ta", "pv"}, true, "t=,a=", []string{"pv"}, ""},
		{"attached arg", []string{"-w5", "-f8", "pv"}, true, "w=5,f=8", []string{"pv"}, ""},
		{"separate arg", []string{"-#", "3", "pv"}, true, "#=3", []string{"pv"}, ""},
		{"permuted", []string{"pv1", "-t", "pv2"}, true, "t=", []string{"pv1", "pv2"}, ""},
		{"posix stops", []string{"-c", "pv", "-5"}, false, "c=", []string{"pv", "-5"}, ""},
		{"double dash", []string{"-t", "--", "-pv"}, true, "t=", []string{"-pv"}, ""},
		{"unknown", []string{"-z"}, true, "", nil, "unrecognized option '-z' (see 'cabridge get -h')"},
		{"missing arg", []string{"pv", "-w"}, true, "", nil, "option '-w' requires an argument (see 'cabridge get -h')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, rest, err := getopt("caget", tt.args, "tacw:f:#:", tt.permute)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || !UsageError(err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range opts {
				got = append(got, string(o.name)+"="+o.arg)
			}
			if strings.Join(got, ",") != tt.opts || !slices.Equal(rest, tt.rest) {
				t.Errorf("got %v %q, want %s %q", got, rest, tt.opts, tt.rest)
			}
		})
	}
}

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want dbr.Type
		ok   bool
	}{
		{"DBR_TIME_DOUBLE", dbr.TimeDouble, true},
		{"time_double", dbr.TimeDouble, true},
		{"DOUBLE", dbr.Double, true},
		{"20", dbr.TimeDouble, true},
		{"DBR_CTRL_INT", dbr.CtrlShort, true},
		{"INT", dbr.Short, true},
		{"38", dbr.ClassName, true},
		{"35", 0, false}, // PUT_ACKT
		{"DBR_PUT_ACKS", 0, false},
		{"39", 0, false},
		{"bogus", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseType(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseType(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWideLineStamps(t *testing.T) {
	f := Format{Location: time.UTC}
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 250_000_999, time.UTC)
	md := dbr.Metadata{Stamp: dbr.NewTimestamp(t0), Alarm: dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}}
	var b strings.Builder
	ck := &clock{Stamps: Stamps{Kind: Incremental}}
	cs := &chanStamps{}
	f.wideLine(&b, ck, cs, "PV", dbr.Doubles{1}, md, dbr.TimeDouble, 0, t0)
	md.Stamp = dbr.NewTimestamp(t0.Add(1500 * time.Millisecond))
	md.Alarm = dbr.Alarm{}
	f.wideLine(&b, ck, cs, "PV", dbr.Doubles{2}, md, dbr.TimeDouble, 0, t0)
	f.wideLine(&b, ck, &chanStamps{}, "ARR", dbr.Doubles{1, 2}, md, dbr.TimeDouble, 0, t0)
	want := "PV                             2024-05-06 07:08:09.250000 1 HIHI MAJOR\n" +
		"PV" + strings.Repeat(" ", 28) + " " + strings.Repeat(" ", 14) + "   +1.500000 2  \n" +
		"ARR 2024-05-06 07:08:10.750000 2 1 2  \n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}
