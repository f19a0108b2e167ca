package record

import (
	"errors"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		in      string
		want    Name
		wantErr error
	}{
		{"TEMP", Name{"TEMP", "VAL", false}, nil},
		{"TEMP.VAL", Name{"TEMP", "VAL", false}, nil},
		{"TEMP.DESC", Name{"TEMP", "DESC", false}, nil},
		{"TEMP.DESC$", Name{"TEMP", "DESC", true}, nil},
		{"TEMP.", Name{"TEMP", "VAL", false}, nil},
		{"TEMP.$", Name{"TEMP", "VAL", true}, nil},
		{"TEMP.desc", Name{"TEMP", "desc", false}, nil},
		{"TEMP._X1", Name{"TEMP", "_X1", false}, nil},
		{"A:B-C[1]", Name{"A:B-C[1]", "VAL", false}, nil},
		{"A:B{x}", Name{"A:B{x}", "VAL", false}, nil},
		{"TEMP.VAL[0:2]", Name{}, ErrNotSupported},
		{"TEMP.VAL{\"dbnd\":{\"d\":1}}", Name{}, ErrNotSupported},
		{"TEMP.VAL${\"ts\":{}}", Name{}, ErrNotSupported},
		{"TEMP.{\"ts\":{}}", Name{}, ErrNotSupported},
		{"TEMP.[1]", Name{}, ErrNotSupported},
		{"", Name{}, ErrInvalidName},
		{".VAL", Name{}, ErrInvalidName},
		{"TEMP.VAL$$", Name{}, ErrInvalidName},
		{"TEMP.VAL.X", Name{}, ErrInvalidName},
		{"TEMP.1X", Name{}, ErrInvalidName},
		{"TEMP.VAL ", Name{}, ErrInvalidName},
		{"TEMP.VA-L", Name{}, ErrInvalidName},
		{"TEMP..", Name{}, ErrInvalidName},
	}
	for _, tt := range tests {
		got, err := ParseName(tt.in)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		r, f, d := SplitName(tt.in)
		if r != tt.want.Record || f != tt.want.Field || d != tt.want.Dollar {
			t.Errorf("SplitName(%q) = %q %q %v", tt.in, r, f, d)
		}
	}
	if s := (Name{"R", "DESC", true}).String(); s != "R.DESC$" {
		t.Errorf("String() = %q", s)
	}
}

// FuzzSplitName checks that SplitName never panics and that an accepted
// name is exactly the record joined with one of the spellings of its field.
func FuzzSplitName(f *testing.F) {
	for _, s := range []string{"TEMP", "TEMP.VAL", "TEMP.DESC$", "TEMP.", "TEMP.$", "TEMP.VAL{}", "TEMP.VAL[1:2]",
		"", ".", "A.B.C", "X.NAME$", "rec:with-dashes.EGU", "\x00.\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, field, dollar := SplitName(s)
		n, err := ParseName(s)
		if err != nil {
			if rec != "" || field != "" || dollar {
				t.Fatalf("rejected %q but SplitName returned %q %q %v", s, rec, field, dollar)
			}
			return
		}
		if n != (Name{rec, field, dollar}) {
			t.Fatalf("SplitName and ParseName disagree on %q", s)
		}
		if rec == "" || strings.Contains(rec, ".") || identLen(field) != len(field) || field == "" {
			t.Fatalf("%q: bad split %q %q", s, rec, field)
		}
		suffix := ""
		if dollar {
			suffix = "$"
		}
		joins := []string{rec + "." + field + suffix}
		if field == "VAL" {
			joins = append(joins, rec+"."+suffix)
			if !dollar {
				joins = append(joins, rec)
			}
		}
		found := false
		for _, j := range joins {
			found = found || j == s
		}
		if !found {
			t.Fatalf("%q does not re-join: %q", s, joins)
		}
		if again, err := ParseName(n.String()); err != nil || again != n {
			t.Fatalf("%q: canonical %q parses to %+v %v", s, n.String(), again, err)
		}
	})
}
