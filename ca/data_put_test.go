package ca

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

func TestPut(t *testing.T) {
	states := []string{"Zero", "One", "Two"}
	double := func() PV { return NewDouble(Options{Precision: 2}, 0.5) }
	doubleRO := func() PV { return NewDouble(Options{ReadOnly: true}, 0.5) }
	doubleArr := func() PV { return NewDouble(Options{MaxLength: 3}, 9) }
	float := func() PV { return NewFloat(Options{}, 0.5) }
	long := func() PV { return NewLong(Options{}, 1) }
	short := func() PV { return NewShort(Options{}, 1) }
	byt := func() PV { return NewByte(Options{}, 1) }
	byteArr := func() PV { return NewByte(Options{MaxLength: 4}) }
	enum := func() PV { return NewEnum(Options{}, states, 0) }
	enumNoStates := func() PV { return NewEnum(Options{}, nil, 0) }
	enumRO := func() PV { return NewEnum(Options{ReadOnly: true}, states, 0) }
	str := func() PV { return NewString(Options{Precision: 3}, "init") }
	strRO := func() PV { return NewString(Options{ReadOnly: true}, "init") }
	strArr := func() PV { return NewString(Options{MaxLength: 2}, "init") }
	char := func() PV { return NewChar(Options{MaxLength: 8}, "ab") }
	charRO := func() PV { return NewChar(Options{MaxLength: 8, ReadOnly: true}, "ab") }
	s39 := strings.Repeat("s", 39)

	const (
		ok      = eca.Normal
		putFail = eca.PutFail
		noWrite = eca.NoWtAccess
	)
	tests := []struct {
		name    string
		pv      func() PV
		put     dbr.Value
		want    dbr.Value // nil: unchanged
		code    eca.Code
		invalid bool // the error wraps ErrInvalid
	}{
		// Every plain type into a Double.
		{"double<-double", double, dbr.Doubles{2.5}, dbr.Doubles{2.5}, ok, false},
		{"double<-float", double, dbr.Floats{1.5}, dbr.Doubles{1.5}, ok, false},
		{"double<-long", double, dbr.Longs{-7}, dbr.Doubles{-7}, ok, false},
		{"double<-short", double, dbr.Shorts{-3}, dbr.Doubles{-3}, ok, false},
		{"double<-char", double, dbr.Chars{200}, dbr.Doubles{200}, ok, false},
		{"double<-enum", double, dbr.Enums{4}, dbr.Doubles{4}, ok, false},
		{"double<-string", double, dbr.Strings{"1e1"}, dbr.Doubles{10}, ok, false},
		{"double<-string trailing text", double, dbr.Strings{" 3 V"}, dbr.Doubles{3}, ok, false},
		{"double<-string empty", double, dbr.Strings{""}, dbr.Doubles{0}, ok, false},
		{"double<-string bad", double, dbr.Strings{"abc"}, nil, putFail, false},
		{"double<-zero elements", double, dbr.Doubles{}, nil, ok, false},
		{"double<-nil", double, nil, nil, ok, false},
		{"double<-array truncated", double, dbr.Doubles{1, 2, 3}, dbr.Doubles{1}, ok, false},
		{"double read-only", doubleRO, dbr.Doubles{1}, nil, noWrite, false},
		{"double read-only string", doubleRO, dbr.Strings{"1"}, nil, noWrite, false},
		// Arrays.
		{"array<-longer truncated", doubleArr, dbr.Doubles{1, 2, 3, 4}, dbr.Doubles{1, 2, 3}, ok, false},
		{"array<-shorter", doubleArr, dbr.Longs{5, 6}, dbr.Doubles{5, 6}, ok, false},
		{"array<-zero elements", doubleArr, dbr.Doubles{}, dbr.Doubles{}, ok, false},
		{"array<-strings", doubleArr, dbr.Strings{"1", "2.5"}, dbr.Doubles{1, 2.5}, ok, false},
		{"array<-strings one bad", doubleArr, dbr.Strings{"1", "x"}, nil, putFail, false},
		{"byte array<-string elements", byteArr, dbr.Strings{"65", "66"}, dbr.Chars{65, 66}, ok, false},
		{"byte array<-doubles", byteArr, dbr.Doubles{1.9, -1, 256, 3, 4}, dbr.Chars{1, 255, 0, 3}, ok, false},
		// Float.
		{"float<-double", float, dbr.Doubles{1.25}, dbr.Floats{1.25}, ok, false},
		{"float<-string", float, dbr.Strings{"2.5"}, dbr.Floats{2.5}, ok, false},
		{"float<-string out of range", float, dbr.Strings{"1e40"}, nil, putFail, false},
		{"float<-enum", float, dbr.Enums{3}, dbr.Floats{3}, ok, false},
		// Long.
		{"long<-double truncates", long, dbr.Doubles{-1.7}, dbr.Longs{-1}, ok, false},
		{"long<-float", long, dbr.Floats{2.9}, dbr.Longs{2}, ok, false},
		{"long<-short", long, dbr.Shorts{-5}, dbr.Longs{-5}, ok, false},
		{"long<-char", long, dbr.Chars{255}, dbr.Longs{255}, ok, false},
		{"long<-enum", long, dbr.Enums{5}, dbr.Longs{5}, ok, false},
		{"long<-string", long, dbr.Strings{"7 cnt"}, dbr.Longs{7}, ok, false},
		{"long<-string 1.5", long, dbr.Strings{"1.5"}, dbr.Longs{1}, ok, false},
		{"long<-string out of range", long, dbr.Strings{"99999999999"}, nil, putFail, false},
		// Short.
		{"short<-long wraps", short, dbr.Longs{70000}, dbr.Shorts{4464}, ok, false},
		{"short<-double", short, dbr.Doubles{-2.5}, dbr.Shorts{-2}, ok, false},
		{"short<-string", short, dbr.Strings{"-12"}, dbr.Shorts{-12}, ok, false},
		{"short<-string out of range", short, dbr.Strings{"40000"}, nil, putFail, false},
		{"short<-char", short, dbr.Chars{9}, dbr.Shorts{9}, ok, false},
		{"short<-enum", short, dbr.Enums{2}, dbr.Shorts{2}, ok, false},
		{"short<-float", short, dbr.Floats{3.5}, dbr.Shorts{3}, ok, false},
		// Byte.
		{"byte<-long wraps", byt, dbr.Longs{257}, dbr.Chars{1}, ok, false},
		{"byte<-string", byt, dbr.Strings{"65"}, dbr.Chars{65}, ok, false},
		{"byte<-string out of range", byt, dbr.Strings{"300"}, nil, putFail, false},
		{"byte<-double", byt, dbr.Doubles{7.9}, dbr.Chars{7}, ok, false},
		{"byte<-short", byt, dbr.Shorts{8}, dbr.Chars{8}, ok, false},
		{"byte<-float", byt, dbr.Floats{9}, dbr.Chars{9}, ok, false},
		{"byte<-enum", byt, dbr.Enums{10}, dbr.Chars{10}, ok, false},
		// Enum.
		{"enum<-name", enum, dbr.Strings{"Two"}, dbr.Enums{2}, ok, false},
		{"enum<-index string", enum, dbr.Strings{"2"}, dbr.Enums{2}, ok, false},
		{"enum<-index string out of range", enum, dbr.Strings{"5"}, nil, putFail, true},
		{"enum<-wrong case", enum, dbr.Strings{"two"}, nil, putFail, true},
		{"enum<-trailing blank", enum, dbr.Strings{"Zero "}, nil, putFail, true},
		{"enum<-enum", enum, dbr.Enums{1}, dbr.Enums{1}, ok, false},
		{"enum<-enum out of range", enum, dbr.Enums{3}, nil, putFail, true},
		{"enum<-double", enum, dbr.Doubles{1.7}, dbr.Enums{1}, ok, false},
		{"enum<-double out of range", enum, dbr.Doubles{3}, nil, putFail, true},
		{"enum<-long negative", enum, dbr.Longs{-1}, nil, putFail, true},
		{"enum<-short", enum, dbr.Shorts{2}, dbr.Enums{2}, ok, false},
		{"enum<-float", enum, dbr.Floats{1}, dbr.Enums{1}, ok, false},
		{"enum<-char", enum, dbr.Chars{2}, dbr.Enums{2}, ok, false},
		{"enum<-zero elements", enum, dbr.Enums{}, nil, ok, false},
		{"enum without states<-any index", enumNoStates, dbr.Enums{9}, dbr.Enums{9}, ok, false},
		{"enum without states<-index string", enumNoStates, dbr.Strings{"9"}, dbr.Enums{9}, ok, false},
		{"enum read-only", enumRO, dbr.Strings{"One"}, nil, noWrite, false},
		// String.
		{"string<-string", str, dbr.Strings{"hello"}, dbr.Strings{"hello"}, ok, false},
		{"string<-39 bytes", str, dbr.Strings{s39}, dbr.Strings{s39}, ok, false},
		{"string<-40 bytes", str, dbr.Strings{s39 + "s"}, nil, putFail, true},
		{"string<-double uses precision", str, dbr.Doubles{3.14159}, dbr.Strings{"3.142"}, ok, false},
		{"string<-float", str, dbr.Floats{1.5}, dbr.Strings{"1.500"}, ok, false},
		{"string<-long", str, dbr.Longs{42}, dbr.Strings{"42"}, ok, false},
		{"string<-short", str, dbr.Shorts{-4}, dbr.Strings{"-4"}, ok, false},
		{"string<-char is a number", str, dbr.Chars{65}, dbr.Strings{"65"}, ok, false},
		{"string<-enum", str, dbr.Enums{1}, dbr.Strings{"1"}, ok, false},
		{"string<-zero elements", str, dbr.Strings{}, nil, ok, false},
		{"string read-only", strRO, dbr.Strings{"x"}, nil, noWrite, false},
		{"string array<-longer truncated", strArr, dbr.Strings{"a", "b", "c"}, dbr.Strings{"a", "b"}, ok, false},
		{"string array<-dropped element not checked", strArr, dbr.Strings{"a", "b", s39 + "xx"}, dbr.Strings{"a", "b"}, ok, false},
		{"string array<-one too long", strArr, dbr.Strings{"a", s39 + "x"}, nil, putFail, true},
		{"string array<-zero elements", strArr, dbr.Strings{}, dbr.Strings{}, ok, false},
		// Char (long string).
		{"char<-chars with NUL", char, dbr.Chars("hello\x00"), dbr.Chars("hello\x00"), ok, false},
		{"char<-chars without NUL", char, dbr.Chars("hi"), dbr.Chars("hi\x00"), ok, false},
		{"char<-7 bytes", char, dbr.Chars("1234567"), dbr.Chars("1234567\x00"), ok, false},
		{"char<-8 bytes", char, dbr.Chars("12345678"), nil, putFail, true},
		{"char<-full field cut at NUL", char, dbr.Chars("123\x00garbage"), dbr.Chars("123\x00"), ok, false},
		{"char<-string", char, dbr.Strings{"text"}, dbr.Chars("text\x00"), ok, false},
		{"char<-string too long", char, dbr.Strings{"123456789"}, nil, putFail, true},
		{"char<-two strings", char, dbr.Strings{"a", "b"}, nil, putFail, true},
		{"char<-zero elements", char, dbr.Chars{}, dbr.Chars{0}, ok, false},
		{"char<-doubles", char, dbr.Doubles{65, 66}, dbr.Chars("AB\x00"), ok, false},
		{"char<-longs", char, dbr.Longs{67}, dbr.Chars("C\x00"), ok, false},
		{"char<-shorts", char, dbr.Shorts{68, 0, 69}, dbr.Chars("D\x00"), ok, false},
		{"char<-floats", char, dbr.Floats{70}, dbr.Chars("F\x00"), ok, false},
		{"char<-enums", char, dbr.Enums{71}, dbr.Chars("G\x00"), ok, false},
		{"char read-only", charRO, dbr.Chars("x"), nil, noWrite, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			pv := tt.pv()
			// Give the PV the test clock through a fresh Set-free path:
			// every container's core holds the clock.
			coreOf(pv).clock = clk.Now
			r := new(recorder)
			pv.Subscribe(r)
			before := pv.Snapshot()
			err := pv.Put(context.Background(), tt.put)
			if code := eca.Of(err, eca.PutFail); code != tt.code {
				t.Fatalf("Put(%#v): err = %v (%s), want %s", tt.put, err, code.Name(), tt.code.Name())
			}
			if got := errors.Is(err, ErrInvalid); got != tt.invalid {
				t.Errorf("errors.Is(%v, ErrInvalid) = %v, want %v", err, got, tt.invalid)
			}
			after := pv.Snapshot()
			if tt.want == nil {
				if after != before {
					t.Errorf("snapshot changed to %+v", *after)
				}
				if n := len(r.take()); n != 0 {
					t.Errorf("%d updates, want 0", n)
				}
				return
			}
			if !reflect.DeepEqual(after.Value, tt.want) {
				t.Errorf("value = %#v, want %#v", after.Value, tt.want)
			}
			if after.Meta.Stamp != clk.last() {
				t.Errorf("stamp = %v, want now %v", after.Meta.Stamp, clk.last())
			}
			if after.Meta.Alarm != before.Meta.Alarm || after.Meta.Properties != before.Meta.Properties {
				t.Error("put changed alarm or properties")
			}
		})
	}
}

// coreOf returns the common core of a container.
func coreOf(pv PV) *dataCore {
	switch x := pv.(type) {
	case *Double:
		return &x.dataCore
	case *Float:
		return &x.dataCore
	case *Long:
		return &x.dataCore
	case *Short:
		return &x.dataCore
	case *Byte:
		return &x.dataCore
	case *Enum:
		return &x.dataCore
	case *String:
		return &x.dataCore
	case *Char:
		return &x.dataCore
	}
	return nil
}

func TestPutKeepsAlarm(t *testing.T) {
	d := NewDouble(Options{}, 1)
	a := dbr.Alarm{Status: dbr.StatusLoLo, Severity: dbr.SeverityMajor}
	d.SetAlarm(a)
	if err := d.Put(context.Background(), dbr.Doubles{2}); err != nil {
		t.Fatal(err)
	}
	if d.Alarm() != a || d.Value() != 2 {
		t.Errorf("after put: value %v alarm %v", d.Value(), d.Alarm())
	}
}

func TestPutReadOnlyError(t *testing.T) {
	d := NewDouble(Options{ReadOnly: true})
	err := d.Put(context.Background(), dbr.Doubles{1})
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("err = %v, want ErrReadOnly", err)
	}
	// The driver may still write a read-only PV.
	d.Set(3)
	if d.Value() != 3 {
		t.Errorf("Set on read-only: %v", d.Value())
	}
}
