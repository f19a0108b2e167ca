package dbr_test

import (
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// unhex decodes hex text, ignoring white space; it fails the test on bad
// input.
func unhex(t testing.TB, parts ...string) []byte {
	t.Helper()
	s := strings.Join(strings.Fields(strings.Join(parts, " ")), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// hs returns the hex of s in an n-byte zero-filled slot.
func hs(s string, n int) string {
	b := make([]byte, n)
	copy(b, s)
	return hex.EncodeToString(b)
}

// z returns the hex of n zero bytes.
func z(n int) string { return strings.Repeat("00", n) }

// sameValue compares two Values element-wise, floats by bit pattern.
func sameValue(a, b dbr.Value) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.Type() != b.Type() || a.Len() != b.Len() {
		return false
	}
	switch x := a.(type) {
	case dbr.Floats:
		y := b.(dbr.Floats)
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
		return true
	case dbr.Doubles:
		y := b.(dbr.Doubles)
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// sameFloat compares two float64s, treating all NaNs as equal.
func sameFloat(a, b float64) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float64bits(a) == math.Float64bits(b)
}

// sameMeta compares two Metadata values, NaN limits as equal.
func sameMeta(a, b dbr.Metadata) bool {
	pa, pb := a.Properties, b.Properties
	a.Properties, b.Properties = nil, nil
	if a != b {
		return false
	}
	if pa == nil || pb == nil {
		return pa == nil && pb == nil
	}
	la, lb := pa.Limits, pb.Limits
	if !sameFloat(la.DisplayHigh, lb.DisplayHigh) || !sameFloat(la.DisplayLow, lb.DisplayLow) ||
		!sameFloat(la.AlarmHigh, lb.AlarmHigh) || !sameFloat(la.WarningHigh, lb.WarningHigh) ||
		!sameFloat(la.WarningLow, lb.WarningLow) || !sameFloat(la.AlarmLow, lb.AlarmLow) ||
		!sameFloat(la.ControlHigh, lb.ControlHigh) || !sameFloat(la.ControlLow, lb.ControlLow) {
		return false
	}
	return pa.Units == pb.Units && pa.Precision == pb.Precision && pa.ClassName == pb.ClassName &&
		reflect.DeepEqual(pa.EnumStrings, pb.EnumStrings)
}
