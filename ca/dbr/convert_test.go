package dbr_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// TestConvertMatrix converts a representative array of every base type to
// every base type.
func TestConvertMatrix(t *testing.T) {
	p := &dbr.Properties{Precision: 2, EnumStrings: []string{"Zero", "One", "Two"}}
	src := map[dbr.Type]dbr.Value{
		dbr.String: dbr.Strings{"1", " -2.7 V", "Two"},
		dbr.Short:  dbr.Shorts{1, -2, 300},
		dbr.Float:  dbr.Floats{1.25, -2.75, 300.5},
		dbr.Enum:   dbr.Enums{1, 2, 65535},
		dbr.Char:   dbr.Chars{1, 200, 255},
		dbr.Long:   dbr.Longs{1, -2, 70000},
		dbr.Double: dbr.Doubles{1.25, -2.75, 123456789012},
	}
	// want[from][to]; a nil entry means the conversion fails with werr[from][to].
	want := map[dbr.Type]map[dbr.Type]dbr.Value{
		dbr.String: {
			dbr.String: dbr.Strings{"1", " -2.7 V", "Two"},
		},
		dbr.Short: {
			dbr.String: dbr.Strings{"1", "-2", "300"},
			dbr.Short:  dbr.Shorts{1, -2, 300},
			dbr.Float:  dbr.Floats{1, -2, 300},
			dbr.Enum:   dbr.Enums{1, 65534, 300},
			dbr.Char:   dbr.Chars{1, 254, 44},
			dbr.Long:   dbr.Longs{1, -2, 300},
			dbr.Double: dbr.Doubles{1, -2, 300},
		},
		dbr.Float: {
			dbr.String: dbr.Strings{"1.25", "-2.75", "300.50"},
			dbr.Short:  dbr.Shorts{1, -2, 300},
			dbr.Float:  dbr.Floats{1.25, -2.75, 300.5},
			dbr.Enum:   dbr.Enums{1, 65534, 300},
			dbr.Char:   dbr.Chars{1, 254, 44},
			dbr.Long:   dbr.Longs{1, -2, 300},
			dbr.Double: dbr.Doubles{1.25, -2.75, 300.5},
		},
		dbr.Enum: {
			dbr.String: dbr.Strings{"One", "Two", "65535"},
			dbr.Short:  dbr.Shorts{1, 2, -1},
			dbr.Float:  dbr.Floats{1, 2, 65535},
			dbr.Enum:   dbr.Enums{1, 2, 65535},
			dbr.Char:   dbr.Chars{1, 2, 255},
			dbr.Long:   dbr.Longs{1, 2, 65535},
			dbr.Double: dbr.Doubles{1, 2, 65535},
		},
		dbr.Char: {
			dbr.String: dbr.Strings{"1", "200", "255"},
			dbr.Short:  dbr.Shorts{1, 200, 255},
			dbr.Float:  dbr.Floats{1, 200, 255},
			dbr.Enum:   dbr.Enums{1, 200, 255},
			dbr.Char:   dbr.Chars{1, 200, 255},
			dbr.Long:   dbr.Longs{1, 200, 255},
			dbr.Double: dbr.Doubles{1, 200, 255},
		},
		dbr.Long: {
			dbr.String: dbr.Strings{"1", "-2", "70000"},
			dbr.Short:  dbr.Shorts{1, -2, 4464},
			dbr.Float:  dbr.Floats{1, -2, 70000},
			dbr.Enum:   dbr.Enums{1, 65534, 4464},
			dbr.Char:   dbr.Chars{1, 254, 112},
			dbr.Long:   dbr.Longs{1, -2, 70000},
			dbr.Double: dbr.Doubles{1, -2, 70000},
		},
		dbr.Double: {
			dbr.String: dbr.Strings{"1.25", "-2.75", "123456789012.00"},
			dbr.Short:  dbr.Shorts{1, -2, 0x1A14},
			dbr.Float:  dbr.Floats{1.25, -2.75, 123456789012},
			dbr.Enum:   dbr.Enums{1, 65534, 0x1A14},
			dbr.Char:   dbr.Chars{1, 254, 0x14},
			dbr.Long:   dbr.Longs{1, -2, -1097262572}, // 0xBE991A14
			dbr.Double: dbr.Doubles{1.25, -2.75, 123456789012},
		},
	}
	werr := map[dbr.Type]map[dbr.Type]error{
		dbr.String: {dbr.Short: dbr.ErrSyntax, dbr.Float: dbr.ErrSyntax, dbr.Char: dbr.ErrSyntax, dbr.Long: dbr.ErrSyntax, dbr.Double: dbr.ErrSyntax, dbr.Enum: dbr.ErrRange},
	}
	for from := dbr.String; from <= dbr.Double; from++ {
		for to := dbr.String; to <= dbr.Double; to++ {
			t.Run(from.String()+"_to_"+to.String(), func(t *testing.T) {
				got, err := dbr.Convert(src[from], to, p)
				if e := werr[from][to]; e != nil {
					if !errors.Is(err, e) {
						t.Fatalf("err %v, want %v", err, e)
					}
					return
				}
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if !reflect.DeepEqual(got, want[from][to]) {
					t.Fatalf("got %#v, want %#v", got, want[from][to])
				}
			})
		}
	}
}

func TestConvertCases(t *testing.T) {
	cases := []struct {
		name    string
		v       dbr.Value
		to      dbr.Type
		p       *dbr.Properties
		want    dbr.Value
		wantErr error
	}{
		{name: "strings to double", v: dbr.Strings{"1e1", "nan", "", " 3 V"}, to: dbr.Double, want: dbr.Doubles{10, math.Float64frombits(0x7ff8000000000000), 0, 3}}, // C's default quiet NaN
		{name: "strings to long", v: dbr.Strings{"1.5", "1e3", "0x10", "7 cnt", ""}, to: dbr.TimeLong, want: dbr.Longs{1, 1, 0, 7, 0}},
		{name: "string to long out of range", v: dbr.Strings{"99999999999"}, to: dbr.Long, wantErr: dbr.ErrRange},
		{name: "string to short out of range", v: dbr.Strings{"40000"}, to: dbr.Short, wantErr: dbr.ErrRange},
		{name: "string to float out of range", v: dbr.Strings{"1e39"}, to: dbr.Float, wantErr: dbr.ErrRange},
		{name: "string to float inf", v: dbr.Strings{"-inf"}, to: dbr.Float, want: dbr.Floats{float32(math.Inf(-1))}},
		{name: "string to char wraps like strtoul", v: dbr.Strings{"-1", "255"}, to: dbr.Char, want: dbr.Chars{255, 255}},
		{name: "string to char out of range", v: dbr.Strings{"256"}, to: dbr.Char, wantErr: dbr.ErrRange},
		{name: "abc to double", v: dbr.Strings{"abc"}, to: dbr.Double, wantErr: dbr.ErrSyntax},
		{name: "string to enum without states", v: dbr.Strings{"7"}, to: dbr.Enum, want: dbr.Enums{7}},
		{name: "string to enum by name", v: dbr.Strings{"Two", "2"}, to: dbr.Enum, p: &dbr.Properties{EnumStrings: []string{"Zero", "One", "Two"}}, want: dbr.Enums{2, 2}},
		{name: "string to enum fails", v: dbr.Strings{"5"}, to: dbr.Enum, p: &dbr.Properties{EnumStrings: []string{"Zero", "One", "Two"}}, wantErr: dbr.ErrRange},
		{name: "precision capped at 17", v: dbr.Doubles{1}, to: dbr.String, p: &dbr.Properties{Precision: 40}, want: dbr.Strings{" 1.00000000000000000e+00"}},
		{name: "long string kept", v: dbr.Strings{strings.Repeat("x", 50)}, to: dbr.TimeString, want: dbr.Strings{strings.Repeat("x", 50)}},
		{name: "NaN and Inf to long", v: dbr.Doubles{math.NaN(), math.Inf(1), -1e300}, to: dbr.Long, want: dbr.Longs{0, 0, 0}},
		{name: "float to string widened", v: dbr.Floats{0.1}, to: dbr.String, p: &dbr.Properties{Precision: 9}, want: dbr.Strings{" 1.000000015e-01"}},
		{name: "chars to string as numbers", v: dbr.Chars("hi"), to: dbr.String, want: dbr.Strings{"104", "105"}},
		{name: "nil value", v: nil, to: dbr.Short, want: dbr.Shorts{}},
		{name: "bad type", v: dbr.Shorts{1}, to: 99, wantErr: dbr.ErrBadType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := dbr.Convert(c.v, c.to, c.p)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if err == nil && !sameValue(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestConvertSameTypeNoCopy(t *testing.T) {
	v := dbr.Doubles{1, 2}
	got, err := dbr.Convert(v, dbr.CtrlDouble, nil)
	if err != nil {
		t.Fatal(err)
	}
	if &got.(dbr.Doubles)[0] != &v[0] {
		t.Error("Convert copied a value that needed no conversion")
	}
}
