package record

import (
	"cmp"
	"errors"
	"slices"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

func TestTypeNames(t *testing.T) {
	want := []string{"ai", "ao", "bi", "bo", "longin", "longout", "mbbi", "mbbo", "stringin", "stringout", "waveform"}
	if got := TypeNames(); !slices.Equal(got, want) {
		t.Fatalf("TypeNames() = %q", got)
	}
	if _, ok := LookupType("calc"); ok {
		t.Error("calc found")
	}
}

// TestFieldTableConsistency checks invariants every table must keep.
func TestFieldTableConsistency(t *testing.T) {
	common := commonFields()
	for _, name := range TypeNames() {
		rt, _ := LookupType(name)
		fs := rt.Fields()
		if rt.Name() != name {
			t.Errorf("%s: Name() = %q", name, rt.Name())
		}
		if !slices.IsSortedFunc(fs, func(a, b Field) int { return cmp.Compare(a.Name, b.Name) }) {
			t.Errorf("%s: fields not sorted", name)
		}
		for i := 1; i < len(fs); i++ {
			if fs[i].Name == fs[i-1].Name {
				t.Errorf("%s: duplicate field %s", name, fs[i].Name)
			}
		}
		for _, c := range common {
			f, ok := rt.Field(c.Name)
			if !ok || f != c {
				t.Errorf("%s: common field %s missing or different: %+v", name, c.Name, f)
			}
		}
		if _, ok := rt.Field("VAL"); !ok {
			t.Errorf("%s: no VAL", name)
		}
		for _, f := range fs {
			if (f.DBF == DBFMenu) != (f.Menu != MenuNone) || f.DBF == DBFMenu && f.Menu.Len() == 0 {
				t.Errorf("%s.%s: %s with menu %v", name, f.Name, f.DBF, f.Menu)
			}
			if f.DBF == DBFEnum && f.Name != "VAL" {
				t.Errorf("%s.%s: DBF_ENUM outside VAL", name, f.Name)
			}
			if (f.DBF == DBFString) != (f.Size > 0) {
				t.Errorf("%s.%s: %s with size %d", name, f.Name, f.DBF, f.Size)
			}
			if f.Dollar() != (f.DBF == DBFString || f.DBF.IsLink()) {
				t.Errorf("%s.%s: Dollar() = %v for %s", name, f.Name, f.Dollar(), f.DBF)
			}
			typ, n, err := f.Channel(true)
			switch {
			case f.Dollar() && (err != nil || typ != dbr.Char || n <= 1):
				t.Errorf("%s.%s$: %v %d %v", name, f.Name, typ, n, err)
			case !f.Dollar() && !errors.Is(err, ErrNoDollar):
				t.Errorf("%s.%s$: accepted (%v)", name, f.Name, err)
			}
			if _, _, err := f.Channel(false); err != nil && f.DBF != DBFNoAccess {
				t.Errorf("%s.%s: %v", name, f.Name, err)
			}
			if f.Access == WriteFails && f.Name != "RTYP" {
				t.Errorf("%s.%s: write-fails", name, f.Name)
			}
			if f.Name[0] < 'A' || f.Name[0] > 'Z' || identLen(f.Name) != len(f.Name) {
				t.Errorf("%s: bad field name %q", name, f.Name)
			}
		}
	}
}

// TestFieldFacts pins what an IOC reports for the fields clients use.
func TestFieldFacts(t *testing.T) {
	tests := []struct {
		rtyp, field string
		dollar      bool
		typ         dbr.Type
		count       int
		access      Access
		menu        Menu
	}{
		{"ai", "VAL", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ai", "DESC", false, dbr.String, 1, ReadWrite, MenuNone},
		{"ai", "DESC", true, dbr.Char, 41, ReadWrite, MenuNone},
		{"ai", "EGU", false, dbr.String, 1, ReadWrite, MenuNone},
		{"ai", "EGU", true, dbr.Char, 16, ReadWrite, MenuNone},
		{"ai", "PREC", false, dbr.Short, 1, ReadWrite, MenuNone},
		{"ai", "HOPR", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ai", "LOPR", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ai", "HIHI", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ai", "LOLO", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ai", "HHSV", false, dbr.Enum, 1, ReadWrite, MenuAlarmSevr},
		{"ai", "LLSV", false, dbr.Enum, 1, ReadWrite, MenuAlarmSevr},
		{"ai", "HYST", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ai", "MDEL", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ai", "ADEL", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ai", "SCAN", false, dbr.Enum, 1, ReadWrite, MenuScan},
		{"ai", "PROC", false, dbr.Char, 1, ReadWrite, MenuNone},
		{"ai", "SEVR", false, dbr.Enum, 1, ReadOnly, MenuAlarmSevr},
		{"ai", "STAT", false, dbr.Enum, 1, ReadOnly, MenuAlarmStat},
		{"ai", "NAME", false, dbr.String, 1, ReadOnly, MenuNone},
		{"ai", "NAME", true, dbr.Char, 61, ReadOnly, MenuNone},
		{"ai", "RTYP", false, dbr.String, 1, WriteFails, MenuNone},
		{"ai", "RTYP", true, dbr.Char, 40, WriteFails, MenuNone},
		{"ai", "INP", false, dbr.String, 1, ReadWrite, MenuNone},
		{"ai", "INP", true, dbr.Char, 1024, ReadWrite, MenuNone},
		{"ai", "FLNK", true, dbr.Char, 1024, ReadWrite, MenuNone},
		{"ai", "UDF", false, dbr.Char, 1, ReadWrite, MenuNone},
		{"ai", "ACKT", false, dbr.Enum, 1, ReadOnly, MenuYesNo},
		{"ai", "LALM", false, dbr.Double, 1, ReadOnly, MenuNone},
		{"ao", "DRVH", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ao", "DRVL", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"ao", "OUT", true, dbr.Char, 1024, ReadWrite, MenuNone},
		{"longin", "VAL", false, dbr.Long, 1, ReadWrite, MenuNone},
		{"longin", "HOPR", false, dbr.Long, 1, ReadWrite, MenuNone},
		{"longin", "HIHI", false, dbr.Long, 1, ReadWrite, MenuNone},
		{"longin", "HYST", false, dbr.Long, 1, ReadWrite, MenuNone},
		{"longin", "MDEL", false, dbr.Long, 1, ReadWrite, MenuNone},
		{"longout", "DRVH", false, dbr.Long, 1, ReadWrite, MenuNone},
		{"longout", "ADEL", false, dbr.Long, 1, ReadWrite, MenuNone},
		{"bi", "VAL", false, dbr.Enum, 1, ReadWrite, MenuNone},
		{"bi", "ZNAM", false, dbr.String, 1, ReadWrite, MenuNone},
		{"bi", "ONAM", true, dbr.Char, 26, ReadWrite, MenuNone},
		{"bo", "ZSV", false, dbr.Enum, 1, ReadWrite, MenuAlarmSevr},
		{"bo", "HIGH", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"mbbi", "ZRST", false, dbr.String, 1, ReadWrite, MenuNone},
		{"mbbi", "FFST", false, dbr.String, 1, ReadWrite, MenuNone},
		{"mbbi", "ZRVL", false, dbr.Double, 1, ReadWrite, MenuNone},
		{"mbbo", "FFSV", false, dbr.Enum, 1, ReadWrite, MenuAlarmSevr},
		{"mbbo", "NOBT", false, dbr.Long, 1, ReadOnly, MenuNone},
		{"stringin", "VAL", false, dbr.String, 1, ReadWrite, MenuNone},
		{"stringin", "VAL", true, dbr.Char, 40, ReadWrite, MenuNone},
		{"stringout", "VAL", true, dbr.Char, 40, ReadWrite, MenuNone},
		{"waveform", "NELM", false, dbr.Double, 1, ReadOnly, MenuNone},
		{"waveform", "NORD", false, dbr.Double, 1, ReadOnly, MenuNone},
		{"waveform", "FTVL", false, dbr.Enum, 1, ReadOnly, MenuFtype},
		{"waveform", "PREC", false, dbr.Short, 1, ReadWrite, MenuNone},
		{"waveform", "VAL", false, 0, 0, ReadWrite, MenuNone},
	}
	for _, tt := range tests {
		rt, ok := LookupType(tt.rtyp)
		if !ok {
			t.Fatalf("no type %s", tt.rtyp)
		}
		c, err := rt.Resolve(tt.field, tt.dollar)
		if err != nil {
			t.Errorf("%s.%s (dollar %v): %v", tt.rtyp, tt.field, tt.dollar, err)
			continue
		}
		if c.Type != tt.typ || c.Count != tt.count || c.Field.Access != tt.access || c.Field.Menu != tt.menu || c.Dollar != tt.dollar {
			t.Errorf("%s.%s (dollar %v): got %v %d %v %v", tt.rtyp, tt.field, tt.dollar, c.Type, c.Count, c.Field.Access, c.Field.Menu)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		rtyp, field string
		dollar      bool
		want        error
	}{
		{"bi", "EGU", false, ErrFieldNotFound},
		{"longin", "PREC", false, ErrFieldNotFound},
		{"bo", "HIHI", false, ErrFieldNotFound},
		{"waveform", "MDEL", false, ErrFieldNotFound},
		{"stringin", "EGU", false, ErrFieldNotFound},
		{"ai", "desc", false, ErrFieldNotFound},
		{"ai", "DRVH", false, ErrFieldNotFound},
		{"ai", "VAL", true, ErrNoDollar},
		{"ai", "PREC", true, ErrNoDollar},
		{"ai", "SEVR", true, ErrNoDollar},
		{"waveform", "VAL", true, ErrNoDollar},
		{"mbbi", "VAL", true, ErrNoDollar},
	}
	for _, tt := range tests {
		rt, _ := LookupType(tt.rtyp)
		if _, err := rt.Resolve(tt.field, tt.dollar); !errors.Is(err, tt.want) {
			t.Errorf("%s.%s (dollar %v): err %v, want %v", tt.rtyp, tt.field, tt.dollar, err, tt.want)
		}
	}
}

func TestPropertyFields(t *testing.T) {
	ai, _ := LookupType("ai")
	for _, n := range []string{"EGU", "PREC", "HOPR", "LOPR", "HIHI", "HIGH", "LOW", "LOLO"} {
		if f, _ := ai.Field(n); !f.Property {
			t.Errorf("ai.%s not a property field", n)
		}
	}
	for _, n := range []string{"VAL", "DESC", "MDEL", "SCAN"} {
		if f, _ := ai.Field(n); f.Property {
			t.Errorf("ai.%s is a property field", n)
		}
	}
	mbbo, _ := LookupType("mbbo")
	for _, n := range stateNames("ST") {
		if f, _ := mbbo.Field(n); !f.Property || f.Size != 26 {
			t.Errorf("mbbo.%s: %+v", n, f)
		}
	}
}

func TestDBFCAType(t *testing.T) {
	tests := []struct {
		d    DBF
		want dbr.Type
		ok   bool
	}{
		{DBFString, dbr.String, true}, {DBFChar, dbr.Char, true}, {DBFUChar, dbr.Char, true},
		{DBFShort, dbr.Short, true}, {DBFUShort, dbr.Long, true}, {DBFLong, dbr.Long, true},
		{DBFULong, dbr.Double, true}, {DBFInt64, dbr.Double, true}, {DBFUInt64, dbr.Double, true},
		{DBFFloat, dbr.Float, true}, {DBFDouble, dbr.Double, true}, {DBFEnum, dbr.Enum, true},
		{DBFMenu, dbr.Enum, true}, {DBFDevice, dbr.Enum, true}, {DBFInLink, dbr.String, true},
		{DBFOutLink, dbr.String, true}, {DBFFwdLink, dbr.String, true}, {DBFNoAccess, 0, false},
	}
	for _, tt := range tests {
		if got, ok := tt.d.CAType(); got != tt.want || ok != tt.ok {
			t.Errorf("%v.CAType() = %v %v", tt.d, got, ok)
		}
	}
	if DBFULong.String() != "DBF_ULONG" || DBF(200).String() != "DBF(200)" {
		t.Error("DBF.String")
	}
}
