package modbus

import (
	"strings"
	"testing"

	"github.com/cabridge/cabridge/drivers"
)

// TestArrays reads register arrays (a waveform's elements coalesced with
// other points into one request), writes one with a single FC16, and
// refuses the arrays the protocol cannot serve.
func TestArrays(t *testing.T) {
	s := newTestServer(t, FramingMBAP)
	for i := range 5 {
		s.set(HoldingRegister, 400+i, uint16(0xFFFF-i)) // -1, -2, ... as int16
	}
	s.set(HoldingRegister, 406, 0x4049) // 3.140625 as float32 ABCD
	s.set(HoldingRegister, 408, 0x3FC0) // 1.5
	s.set(HoldingRegister, 410, 9)
	d := newTestDevice(t, s, `, "max_gap": 10`)
	specs := []drivers.PointSpec{
		{Address: "hr:400", Type: "int16", Len: 5},
		{Address: "hr:406", Type: "float32", Len: 2},
		{Address: "hr:410"},
	}
	var pts []drivers.Point
	for _, sp := range specs {
		pt, err := d.ParsePoint(sp)
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, pt)
	}
	if ty := pts[0].Type(); ty.Len != 5 || ty.Kind != drivers.KindInt || pts[0].String() != "hr:400 int16[5]" {
		t.Errorf("array point %v of type %v", pts[0], ty)
	}
	if sp := pts[1].(drivers.Spanner).Span(); sp.Start != 406 || sp.Count != 4 {
		t.Errorf("span %v, want hr:406..409", sp)
	}
	before := s.count()
	ss, err := d.Read(t.Context(), pts)
	if err != nil {
		t.Fatal(err)
	}
	want := []drivers.Value{drivers.Ints{-1, -2, -3, -4, -5}, drivers.Floats{3.140625, 1.5}, drivers.Uints{9}}
	for i, smp := range ss {
		if smp.Err != nil || !drivers.Equal(smp.Value, want[i]) {
			t.Errorf("%v = %v, %v; want %v", pts[i], smp.Value, smp.Err, want[i])
		}
	}
	if n := s.count() - before; n != 1 {
		t.Errorf("%d requests, want 1 (hr:400..410 in one read)", n)
	}

	before = s.count()
	if err := d.Write(t.Context(), pts[1], drivers.Floats{-2, 0.5}); err != nil {
		t.Fatal(err)
	}
	if n := s.count() - before; n != 1 {
		t.Errorf("array write: %d requests, want one FC16", n)
	}
	if got := []uint16{s.get(HoldingRegister, 406), s.get(HoldingRegister, 407), s.get(HoldingRegister, 408)}; got[0] != 0xC000 || got[1] != 0 || got[2] != 0x3F00 {
		t.Errorf("registers after the write: %04X", got)
	}
	if err := d.Write(t.Context(), pts[1], drivers.Floats{1}); err == nil || !strings.Contains(err.Error(), "want 2 elements") {
		t.Errorf("short array write: %v", err)
	}

	for _, tc := range []struct {
		spec drivers.PointSpec
		want string
	}{
		{drivers.PointSpec{Address: "coil:0", Len: 4}, "arrays of coils"},
		{drivers.PointSpec{Address: "hr:0", Bit: new(2), Len: 4}, "register bits"},
		{drivers.PointSpec{Address: "hr:65530", Type: "float32", Len: 4}, "past the last address"},
		{drivers.PointSpec{Address: "hr:0", Type: "float64", Len: 40}, "more than one write"},
	} {
		if _, err := d.ParsePoint(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePoint(%v) = %v, want %q", tc.spec, err, tc.want)
		}
	}
	// A read-only array may be longer than one request: it is read in
	// several.
	pt, err := d.ParsePoint(drivers.PointSpec{Address: "ir:0", Type: "float64", Len: 40})
	if err != nil {
		t.Fatal(err)
	}
	before = s.count()
	ss, err = d.Read(t.Context(), []drivers.Point{pt})
	if err != nil || ss[0].Err != nil || ss[0].Value.Len() != 40 {
		t.Fatalf("160-register array: %v %v", ss, err)
	}
	if n := s.count() - before; n != 2 {
		t.Errorf("160-register array read in %d requests, want 2", n)
	}
}
