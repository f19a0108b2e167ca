package dbr_test

import (
	"fmt"

	"github.com/cabridge/cabridge/ca/dbr"
)

// ExampleAppendData encodes the reply to a DBR_TIME_DOUBLE read of a scalar.
func ExampleAppendData() {
	md := &dbr.Metadata{
		Alarm: dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor},
		Stamp: dbr.Timestamp{Sec: 1000000000, Nsec: 500},
	}
	b, err := dbr.AppendData(nil, dbr.TimeDouble, 1, dbr.Doubles{1.5}, md)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d bytes\n% x\n", len(b), b)

	v, got, err := dbr.DecodeData(dbr.TimeDouble, 1, b)
	fmt.Println(v, got.Alarm, got.Stamp.Sec, err)
	// Output:
	// 24 bytes
	// 00 04 00 01 3b 9a ca 00 00 00 01 f4 00 00 00 00 3f f8 00 00 00 00 00 00
	// [1.5] HIGH/MINOR 1000000000 <nil>
}

// ExampleFormatFloat shows how an IOC turns a floating-point value into
// DBR_STRING text for a given precision.
func ExampleFormatFloat() {
	fmt.Printf("%q\n", dbr.FormatFloat(3.14159265, 3))
	fmt.Printf("%q\n", dbr.FormatFloat(1e-7, 3))
	fmt.Printf("%q\n", dbr.FormatFloat(1.5e7, 6))
	fmt.Printf("%q\n", dbr.FormatFloat(1e17, 3))
	// Output:
	// "3.142"
	// "0.000"
	// "15000000.000"
	// " 1.000e+17"
}

// ExampleConvert converts text written by a client to an ENUM PV's index.
func ExampleConvert() {
	p := &dbr.Properties{EnumStrings: []string{"Off", "On"}}
	v, err := dbr.Convert(dbr.Strings{"On"}, dbr.Enum, p)
	fmt.Println(v, err)
	s, _ := dbr.Convert(dbr.Enums{0, 5}, dbr.String, p)
	fmt.Printf("%q\n", s)
	// Output:
	// [1] <nil>
	// ["Off" "5"]
}

func ExampleElements() {
	v := dbr.Value(dbr.Doubles{1.5, 2.5})
	fmt.Println(dbr.Elements[float64](v), dbr.Elements[string](v) == nil, dbr.FirstFloat(dbr.Longs{7}))
	// Output: [1.5 2.5] true 7
}
