package ioc_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/macro"
)

// thermo is a reusable group "type".
func thermo(g *ioc.Group) {
	ioc.Double(g, "TEMP", ioc.Spec[float64]{Value: 20, Units: "C", Precision: 2, ReadOnly: true})
	ioc.String(g, "NAME", ioc.Spec[string]{Value: "$(NAME=unnamed)"})
	s := g.Sub("$(SUB=SUB):", nil)
	ioc.Long(s, "COUNT", ioc.Spec[int32]{})
}

func TestGroupNames(t *testing.T) {
	tests := []struct {
		name   string
		build  func() *ioc.Group
		want   []string
		errHas []string
	}{
		{
			name:  "prefix and macros",
			build: func() *ioc.Group { g := ioc.NewGroup("$(P)T:", macro.Set{"P": "LAB:"}); thermo(g); return g },
			want:  []string{"LAB:T:TEMP", "LAB:T:NAME", "LAB:T:SUB:COUNT"},
		},
		{
			name: "braces and sub macros",
			build: func() *ioc.Group {
				g := ioc.NewGroup("${P}", macro.Set{"P": "A:"})
				thermo(g.Sub("X$(N):", macro.Set{"N": "1", "SUB": "S"}))
				return g
			},
			want: []string{"A:X1:TEMP", "A:X1:NAME", "A:X1:S:COUNT"},
		},
		{
			name:   "unresolved macro names the PV",
			build:  func() *ioc.Group { g := ioc.NewGroup("$(P)", nil); ioc.Double(g, "X", ioc.Spec[float64]{}); return g },
			errHas: []string{`PV "$(P)X"`, `"P"`},
		},
		{
			name: "duplicate",
			build: func() *ioc.Group {
				g := ioc.NewGroup("D:", nil)
				ioc.Double(g, "X", ioc.Spec[float64]{})
				ioc.Long(g.Sub("", nil), "X", ioc.Spec[int32]{})
				return g
			},
			errHas: []string{`PV "D:X" declared twice`},
		},
		{
			name: "invalid specs",
			build: func() *ioc.Group {
				g := ioc.NewGroup("E:", nil)
				ioc.Double(g, "ENUMS", ioc.Spec[float64]{EnumStrings: []string{"a"}})
				ioc.Double(g, "ARR", ioc.Spec[float64]{MaxLength: 4, Put: func(_ ctxT, _ *ioc.PV[float64], v float64) (float64, error) { return v, nil }})
				ioc.Double(g, "RO", ioc.Spec[float64]{ReadOnly: true, Put: func(_ ctxT, _ *ioc.PV[float64], v float64) (float64, error) { return v, nil }})
				ioc.Double(g, "EGU", ioc.Spec[float64]{Units: "furlongs"})
				ioc.String(g, "LONG", ioc.Spec[string]{Values: []string{strings.Repeat("x", 40)}})
				return g
			},
			errHas: []string{`PV "E:ENUMS": enum strings`, `PV "E:ARR": Put hook on an array`, `PV "E:RO": put hook on a read-only`,
				`PV "E:EGU": units`, `PV "E:LONG": initial string`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.build()
			pvs, err := g.PVs()
			if len(tc.errHas) > 0 {
				if err == nil {
					t.Fatalf("no error; names %v", g.Names())
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Names(); !slices.Equal(got, tc.want) {
				t.Errorf("names %v, want %v", got, tc.want)
			}
			if len(pvs) != len(tc.want) {
				t.Errorf("%d PVs, want %d", len(pvs), len(tc.want))
			}
		})
	}
}

func TestUnresolvedMacroIsMacroError(t *testing.T) {
	g := ioc.NewGroup("$(P)", nil)
	ioc.Double(g, "X", ioc.Spec[float64]{})
	var ue *macro.UnresolvedError
	if !errors.As(g.Err(), &ue) || ue.Name != "P" {
		t.Fatalf("error %v, want a *macro.UnresolvedError for P", g.Err())
	}
}

func TestInstancesAndMap(t *testing.T) {
	a := ioc.NewGroup("$(P)", macro.Set{"P": "A:", "NAME": "first"})
	thermo(a)
	b := ioc.NewGroup("$(P)", macro.Set{"P": "B:"})
	thermo(b)
	var m ca.Map
	if err := a.AddTo(&m); err != nil {
		t.Fatal(err)
	}
	if err := b.AddTo(&m); err != nil {
		t.Fatal(err)
	}
	if err := a.AddTo(&m); err == nil || !strings.Contains(err.Error(), `"A:TEMP" already exists`) {
		t.Errorf("second AddTo: %v", err)
	}
	if m.Len() != 6 {
		t.Errorf("map has %d names", m.Len())
	}
	pv, _ := m.Lookup("A:NAME")
	if v := pv.Snapshot().Value.(dbr.Strings); v[0] != "$(NAME=unnamed)" {
		// values are not macro-expanded: only names are
		t.Errorf("A:NAME = %q", v[0])
	}
	c := ioc.NewGroup("$(P)", macro.Set{"P": "A:"})
	thermo(c)
	if _, err := ioc.Start(t.Context(), nil, a, c); err == nil || !strings.Contains(err.Error(), `"A:TEMP" declared twice`) {
		t.Errorf("Start with overlapping groups: %v", err)
	}
}

func TestSpecMetadata(t *testing.T) {
	g := ioc.NewGroup("M:", nil)
	lim := dbr.Limits{DisplayHigh: 100, DisplayLow: -10, ControlHigh: 90, ControlLow: -5,
		AlarmHigh: 80, WarningHigh: 70, WarningLow: 0, AlarmLow: -5}
	d := ioc.Double(g, "D", ioc.Spec[float64]{Value: 1.5, Units: "mm", Precision: 3, Limits: lim, ReadOnly: true, Doc: "a double"})
	arr := ioc.Float(g, "ARR", ioc.Spec[float32]{Values: []float32{1, 2}, MaxLength: 8})
	e := ioc.Enum(g, "E", ioc.Spec[uint16]{Value: 1, EnumStrings: []string{"Off", "On"}})
	s := ioc.String(g, "S", ioc.Spec[string]{Value: "hi"})
	c := ioc.Char(g, "C", ioc.Spec[string]{Value: "a long string", MaxLength: 100})
	sh := ioc.Short(g, "SH", ioc.Spec[int16]{Value: -3})
	by := ioc.Byte(g, "BY", ioc.Spec[uint8]{Values: []uint8{1, 2, 3}})
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	p := d.Snapshot().Meta.Properties
	if p.Units != "mm" || p.Precision != 3 || p.Limits != lim || d.Access() != ca.AccessRead || d.Doc() != "a double" || d.Value() != 1.5 {
		t.Errorf("double: %+v access %v", p, d.Access())
	}
	for _, tc := range []struct {
		pv    ca.PV
		typ   dbr.Type
		count int
	}{{d, dbr.Double, 1}, {arr, dbr.Float, 8}, {e, dbr.Enum, 1}, {s, dbr.String, 1}, {c, dbr.Char, 100}, {sh, dbr.Short, 1}, {by, dbr.Char, 3}} {
		if typ, n := tc.pv.Native(); typ != tc.typ || n != tc.count {
			t.Errorf("native %v %d, want %v %d", typ, n, tc.typ, tc.count)
		}
	}
	if got := e.Snapshot().Meta.Properties.EnumStrings; !slices.Equal(got, []string{"Off", "On"}) {
		t.Errorf("enum strings %v", got)
	}
	if c.Value() != "a long string" || s.Value() != "hi" || sh.Value() != -3 || !slices.Equal(by.Values(), []uint8{1, 2, 3}) || !slices.Equal(arr.Values(), []float32{1, 2}) {
		t.Errorf("values %q %q %d %v %v", c.Value(), s.Value(), sh.Value(), by.Values(), arr.Values())
	}
	if err := d.Set(2.5); err != nil || d.Value() != 2.5 {
		t.Errorf("Set: %v, value %v", err, d.Value())
	}
	if err := d.Put(t.Context(), dbr.Doubles{1}); !errors.Is(err, ca.ErrReadOnly) {
		t.Errorf("put to read-only: %v", err)
	}
}
