package dbr_test

import (
	"errors"
	"math"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

func TestFormatFloat(t *testing.T) {
	cases := []struct {
		name string
		v    float64
		prec int
		want string
	}{
		{"pi p3", 3.14159265, 3, "3.142"},
		{"tiny p3", 1e-7, 3, "0.000"},
		{"1.5 p2", 1.5, 2, "1.50"},
		{"zero p4", 0, 4, "0.0000"},
		{"negative zero", math.Copysign(0, -1), 2, "0.00"},
		{"small negative", -0.0001, 3, "-0.000"},
		{"negative, binary value below the tie", -2.675, 2, "-2.67"},
		{"round half up p0", 2.5, 0, "3"},
		{"round into whole", 9.9996, 3, "10.000"},
		{"integer p0", 42, 0, "42"},
		{"negative prec", 3.7, -1, "4"},
		{"1e7 fixed", 1e7, 2, "10000000.00"},
		{"1.5e7 %f capped 3", 1.5e7, 6, "15000000.000"},
		{"1.5e7 p1", 1.5e7, 1, "15000000.0"},
		{"-1.5e7", -1.5e7, 2, "-15000000.00"},
		{"1e16 %f", 1e16, 2, "10000000000000000.00"},
		{"1e17 %e width", 1e17, 3, " 1.000e+17"},
		{"1e17 p6", 1e17, 6, " 1.000000e+17"},
		{"-1e17 p2", -1e17, 2, "-1.00e+17"},
		{"p9 %e", 3.14159265, 9, " 3.141592650e+00"},
		{"p20 capped 17", 1, 20, " 1.00000000000000000e+00"},
		{"p8 fixed", 0.123456789, 8, "0.12345679"},
		{"NaN p3", math.NaN(), 3, "nan"},
		{"-NaN", math.Copysign(math.NaN(), -1), 2, "-nan"},
		{"NaN p9", math.NaN(), 9, "             nan"},
		{"Inf p3", math.Inf(1), 3, "       inf"},
		{"-Inf p0", math.Inf(-1), 0, "   -inf"},
		{"float32 widened", float64(float32(0.1)), 9, " 1.000000015e-01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := dbr.FormatFloat(c.v, c.prec); got != c.want {
				t.Errorf("FormatFloat(%v, %d) = %q, want %q", c.v, c.prec, got, c.want)
			}
		})
	}
}

func TestParseInt(t *testing.T) {
	cases := []struct {
		in      string
		want    int64
		wantErr error
	}{
		{" 3 V", 3, nil},
		{"7 cnt", 7, nil},
		{"0x10", 0, nil},
		{"abc", 0, dbr.ErrSyntax},
		{"", 0, nil},
		{"   ", 0, dbr.ErrSyntax},
		{"-", 0, dbr.ErrSyntax},
		{"1.5", 1, nil},
		{"1e3", 1, nil},
		{"\t-12\n", -12, nil},
		{"+5", 5, nil},
		{"99999999999", 99999999999, nil},
		{"99999999999999999999", 0, dbr.ErrRange},
		{"-9223372036854775808", math.MinInt64, nil},
	}
	for _, c := range cases {
		got, err := dbr.ParseInt(c.in)
		if !errors.Is(err, c.wantErr) || got != c.want {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestParseFloat(t *testing.T) {
	cases := []struct {
		in      string
		want    float64
		wantErr error
	}{
		{" 3 V", 3, nil},
		{"7 cnt", 7, nil},
		{"0x10", 0, nil},
		{"abc", 0, dbr.ErrSyntax},
		{"", 0, nil},
		{".", 0, dbr.ErrSyntax},
		{"1e1", 10, nil},
		{"1e", 1, nil},
		{"1e+", 1, nil},
		{"-2.5e-1x", -0.25, nil},
		{".5", 0.5, nil},
		{"5.", 5, nil},
		{"inf", math.Inf(1), nil},
		{"-Infinity", math.Inf(-1), nil},
		{"1e999", 0, dbr.ErrRange},
		{"1e-999", 0, nil},
		{" \t1.25\r\n", 1.25, nil},
	}
	for _, c := range cases {
		got, err := dbr.ParseFloat(c.in)
		if !errors.Is(err, c.wantErr) || got != c.want {
			t.Errorf("ParseFloat(%q) = %v, %v; want %v, %v", c.in, got, err, c.want, c.wantErr)
		}
	}
	for _, s := range []string{"nan", "NaN", " -nan", "nan(123)"} {
		if got, err := dbr.ParseFloat(s); err != nil || !math.IsNaN(got) {
			t.Errorf("ParseFloat(%q) = %v, %v; want NaN", s, got, err)
		}
	}
}

func TestParseEnum(t *testing.T) {
	states := []string{"Zero", "One", "Two"}
	cases := []struct {
		in      string
		want    uint16
		wantErr error
	}{
		{"Two", 2, nil},
		{"2", 2, nil},
		{"0", 0, nil},
		{"5", 0, dbr.ErrRange},
		{"-1", 0, dbr.ErrRange},
		{"two", 0, dbr.ErrSyntax},
		{"Zero ", 0, dbr.ErrSyntax},
		{"", 0, dbr.ErrSyntax},
		{" 1 ", 1, nil},
	}
	for _, c := range cases {
		got, err := dbr.ParseEnum(c.in, states)
		if !errors.Is(err, c.wantErr) || got != c.want {
			t.Errorf("ParseEnum(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.wantErr)
		}
	}
	if got, err := dbr.ParseEnum("", []string{"", "x"}); err != nil || got != 0 {
		t.Errorf("ParseEnum of an empty state string = %d, %v", got, err)
	}
}

func TestFormatValue(t *testing.T) {
	p := &dbr.Properties{Precision: 2, EnumStrings: []string{"Off", "On"}}
	cases := []struct {
		name string
		v    dbr.Value
		i    int
		p    *dbr.Properties
		want string
	}{
		{"string", dbr.Strings{"a", "b"}, 1, p, "b"},
		{"short", dbr.Shorts{-5}, 0, p, "-5"},
		{"float", dbr.Floats{1.5}, 0, p, "1.50"},
		{"float nil props", dbr.Floats{1.5}, 0, nil, "2"},
		{"enum", dbr.Enums{1}, 0, p, "On"},
		{"enum beyond states", dbr.Enums{7}, 0, p, "7"},
		{"enum nil props", dbr.Enums{1}, 0, nil, "1"},
		{"char as number", dbr.Chars("hello"), 0, p, "104"},
		{"long", dbr.Longs{math.MinInt32}, 0, p, "-2147483648"},
		{"double", dbr.Doubles{3.14159265}, 0, &dbr.Properties{Precision: 3}, "3.142"},
		{"out of range", dbr.Doubles{1}, 1, p, ""},
		{"nil", nil, 0, p, ""},
	}
	for _, c := range cases {
		if got := dbr.FormatValue(c.v, c.i, c.p); got != c.want {
			t.Errorf("%s: FormatValue = %q, want %q", c.name, got, c.want)
		}
	}
}
