package macro_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/macro"
)

// hasLiteralDollar reports whether text holds a '$' that can reach the
// output as it is: an escaped one, or one not followed by '(' or '{'.
func hasLiteralDollar(text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i] != '$' {
			continue
		}
		if i > 0 && text[i-1] == '\\' {
			return true
		}
		if i+1 >= len(text) || (text[i+1] != '(' && text[i+1] != '{') {
			return true
		}
	}
	return false
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"", "plain", "$(P)", "${P}", "$(P=d)", "$(P=$(Q=x))", "$(A,B=1)", `\$(P)`,
		"$(P", "${P)", "$()", "$$(P)", "$(P$(Q))", "a$b", `$(Q=a\)b)`, "$(A=$)(B)",
	} {
		f.Add(s, "A=$(B),B=x")
	}
	f.Fuzz(func(t *testing.T, text, defs string) {
		if !strings.Contains(text, "$") {
			got, err := macro.Set{"A": "$(A)"}.Expand(text)
			if err != nil || got != text {
				t.Fatalf("Expand(%q) = %q, %v; want the text unchanged", text, got, err)
			}
		}
		got, err := macro.Set(nil).Expand(text)
		var ue *macro.UnresolvedError
		var se *macro.SyntaxError
		switch {
		case err == nil:
			if (strings.Contains(got, "$(") || strings.Contains(got, "${")) && !hasLiteralDollar(text) {
				t.Fatalf("Expand(%q) = %q with a reference left and no error", text, got)
			}
		case errors.As(err, &ue):
			if len(ue.Names) == 0 || ue.Name != ue.Names[0] || ue.Text != text {
				t.Fatalf("Expand(%q): bad UnresolvedError %+v", text, ue)
			}
		case errors.As(err, &se):
		default:
			t.Fatalf("Expand(%q) with an empty Set: unexpected error %v", text, err)
		}
		set, err := macro.Parse(defs)
		if err != nil {
			return
		}
		back, err := macro.Parse(set.String())
		if err != nil || !reflect.DeepEqual(back, set) {
			t.Fatalf("Parse(%q) = %#v; String %q parses to %#v, %v", defs, set, set.String(), back, err)
		}
		_, _ = set.Expand(text) // must not panic or hang
	})
}
