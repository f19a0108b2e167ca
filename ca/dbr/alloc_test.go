package dbr_test

import (
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// TestAppendDataNoAlloc checks that encoding a value of the requested base
// type into a buffer with room does not allocate.
func TestAppendDataNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	md := goldenMeta()
	cases := []struct {
		name  string
		t     dbr.Type
		count int
		v     dbr.Value
	}{
		{"scalar TIME_DOUBLE", dbr.TimeDouble, 1, dbr.Doubles{3.14159265}},
		{"scalar CTRL_DOUBLE", dbr.CtrlDouble, 1, dbr.Doubles{3.14159265}},
		{"1000 doubles", dbr.Double, 1000, waveform(1000)},
		{"1000 TIME_DOUBLE zero filled", dbr.TimeDouble, 1000, waveform(10)},
		{"CTRL_ENUM", dbr.CtrlEnum, 1, dbr.Enums{1}},
		{"STSACK_STRING", dbr.StsAckString, 1, dbr.Strings{"x"}},
		{"CLASS_NAME", dbr.ClassName, 1, dbr.Doubles{1}},
		{"TIME_CHAR array", dbr.TimeChar, 100, dbr.Chars("hello")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf := make([]byte, 0, dbr.PaddedSize(c.t, c.count))
			n := testing.AllocsPerRun(100, func() {
				buf, _ = dbr.AppendData(buf[:0], c.t, c.count, c.v, md)
			})
			if n != 0 {
				t.Errorf("%v allocations per AppendData, want 0", n)
			}
		})
	}
}
