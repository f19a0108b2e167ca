package macro_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/macro"
)

func TestExpand(t *testing.T) {
	set := macro.Set{
		"P":      "IOC:",
		"R":      "temp",
		"N":      "1",
		"DEV1":   "motor",
		"NEST":   "$(P)$(R)",
		"DEEP":   "<$(NEST)>",
		"EMPTY":  "",
		"DOLLAR": `\$(P)`,
		"USEX":   "x=$(X)",
		"CURLY":  "${P}",
		"SELF":   "$(SELF)",
		"A":      "$(B)",
		"B":      "$(C)",
		"C":      "$(A)",
		"BADV":   "$(P",
	}
	tests := []struct {
		name, in, want string
		unresolved     []string // want an *UnresolvedError with these names
		recursive      string   // want a *RecursionError for this macro
		syntax         string   // want a *SyntaxError whose message holds this
	}{
		{name: "plain", in: "no macros here", want: "no macros here"},
		{name: "empty", in: "", want: ""},
		{name: "paren", in: "$(P)$(R)", want: "IOC:temp"},
		{name: "brace", in: "${P}${R}", want: "IOC:temp"},
		{name: "mixed", in: "$(P)${R}:SP", want: "IOC:temp:SP"},
		{name: "default unused", in: "$(P=X:)", want: "IOC:"},
		{name: "default used", in: "$(Q=X:)a", want: "X:a"},
		{name: "default brace", in: "${Q=X:}a", want: "X:a"},
		{name: "empty default", in: "[$(Q=)]", want: "[]"},
		{name: "default with macro", in: "$(Q=$(P)dflt)", want: "IOC:dflt"},
		{name: "default with default", in: "$(Q=$(Z=zz))", want: "zz"},
		{name: "unused default undefined", in: "$(P=$(UNDEF))", want: "IOC:"},
		{name: "default stops at paren", in: "$(Q=f(x))", want: "f(x)"},
		{name: "default brace holds paren", in: "${Q=f(x)}", want: "f(x)"},
		{name: "empty value", in: "[$(EMPTY)]", want: "[]"},
		{name: "empty value beats default", in: "[$(EMPTY=d)]", want: "[]"},
		{name: "value with macros", in: "$(NEST):VAL", want: "IOC:temp:VAL"},
		{name: "recursive values", in: "$(DEEP)", want: "<IOC:temp>"},
		{name: "value with brace", in: "$(CURLY)", want: "IOC:"},
		{name: "name from macro", in: "$(DEV$(N))", want: "motor"},
		{name: "scoped macro", in: "$(USEX,X=5)", want: "x=5"},
		{name: "scoped macro expanded in outer scope", in: "$(USEX,X=$(N)$(N))", want: "x=11"},
		{name: "scoped macro does not leak", in: "$(USEX,X=5)$(X=none)", want: "x=5none"},
		{name: "scoped used by default", in: "$(Q=$(X),X=7)", want: "7"},
		{name: "lone dollar", in: "a$b$", want: "a$b$"},
		{name: "dollar before space", in: "cost $ (x)", want: "cost $ (x)"},
		{name: "escaped dollar", in: `\$(P)`, want: "$(P)"},
		{name: "escaped dollar brace", in: `a\${P}b`, want: "a${P}b"},
		{name: "other escapes kept", in: `a\nb\\c`, want: `a\nb\\c`},
		{name: "escaped backslash then macro", in: `\\$(P)`, want: `\\IOC:`},
		{name: "escape in value", in: "$(DOLLAR)", want: "$(P)"},
		{name: "escaped close in default", in: `$(Q=a\)b)`, want: `a\)b`},
		{name: "escaped comma in default", in: `$(Q=a\,b)`, want: `a\,b`},
		{name: "trailing backslash", in: `a\`, want: `a\`},
		{name: "quotes are plain", in: `'$(P)' "$(R)"`, want: `'IOC:' "temp"`},
		{name: "unicode", in: "é$(P)ü", want: "éIOC:ü"},

		{name: "undefined", in: "$(X):$(P)", want: "$(X):IOC:", unresolved: []string{"X"}},
		{name: "undefined listed once each", in: "$(X)$(Y)$(X)${Z}", want: "$(X)$(Y)$(X)$(Z)", unresolved: []string{"X", "Y", "Z"}},
		{name: "undefined in value", in: "$(USEX)", want: "x=$(X)", unresolved: []string{"X"}},
		{name: "undefined in default", in: "$(Q=$(X))", want: "$(X)", unresolved: []string{"X"}},
		{name: "undefined empty name", in: "$()", want: "$()", unresolved: []string{""}},
		{name: "undefined built name", in: "$(DEV$(N)$(N))", want: "$(DEV11)", unresolved: []string{"DEV11"}},

		{name: "self recursion", in: "$(SELF)", want: "$(SELF)", recursive: "SELF"},
		{name: "cycle", in: "[$(A)]", want: "[$(A)]", recursive: "A"},

		{name: "unterminated paren", in: "$(P", syntax: `unterminated reference "$(P"`},
		{name: "unterminated brace", in: "x${P", syntax: `unterminated reference "${P"`},
		{name: "wrong closer", in: "$(P}", syntax: "unterminated"},
		{name: "unterminated default", in: "$(P=abc", syntax: "unterminated"},
		{name: "unterminated nested default", in: "$(Q=$(R)", syntax: "unterminated"},
		{name: "unterminated in unused default", in: "$(P=$(R)", syntax: "unterminated"},
		{name: "unterminated scoped", in: "$(P,X=1", syntax: "unterminated"},
		{name: "unterminated in value", in: "$(BADV)", syntax: `in the value of "BADV"`},
		{name: "unterminated after escape", in: `$(P\)`, syntax: "unterminated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := set.Expand(tc.in)
			switch {
			case tc.syntax != "":
				var se *macro.SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Expand(%q) error = %v, want a *SyntaxError", tc.in, err)
				}
				if !strings.Contains(err.Error(), tc.syntax) || se.Text != tc.in {
					t.Errorf("Expand(%q) error %q does not hold %q and the text", tc.in, err, tc.syntax)
				}
				return
			case tc.unresolved != nil:
				var ue *macro.UnresolvedError
				if !errors.As(err, &ue) {
					t.Fatalf("Expand(%q) error = %v, want an *UnresolvedError", tc.in, err)
				}
				if !reflect.DeepEqual(ue.Names, tc.unresolved) || ue.Name != tc.unresolved[0] || ue.Text != tc.in {
					t.Errorf("UnresolvedError = %+v, want names %q text %q", ue, tc.unresolved, tc.in)
				}
			case tc.recursive != "":
				var re *macro.RecursionError
				if !errors.As(err, &re) {
					t.Fatalf("Expand(%q) error = %v, want a *RecursionError", tc.in, err)
				}
				if re.Name != tc.recursive || re.Text != tc.in {
					t.Errorf("RecursionError = %+v, want name %q", re, tc.recursive)
				}
			case err != nil:
				t.Fatalf("Expand(%q) error: %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	set := macro.Set{"A": "$(B)", "B": "$(A)", "V": "$(X"}
	tests := []struct{ in, want string }{
		{"$(X)", `macro: undefined macro "X" in "$(X)"`},
		{"$(X)$(Y)", `macro: undefined macros "X", "Y" in "$(X)$(Y)"`},
		{"$(A)", `macro: recursive definition of "A" (A -> B -> A) in "$(A)"`},
		{"ab$(X", `macro: unterminated reference "$(X" at offset 2 in "ab$(X"`},
		{"<$(V)>", `macro: unterminated reference "$(X" at offset 0 in the value of "V", expanding "<$(V)>"`},
		{"$(A)$(Z)", "macro: undefined macro \"Z\" in \"$(A)$(Z)\"\nmacro: recursive definition of \"A\" (A -> B -> A) in \"$(A)$(Z)\""},
	}
	for _, tc := range tests {
		_, err := set.Expand(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Expand(%q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestTooLong(t *testing.T) {
	set := macro.Set{}
	prev := "x"
	for i := range 40 {
		name := string(rune('a'+i%26)) + strings.Repeat("_", i/26)
		set[name] = "$(" + prev + ")$(" + prev + ")"
		if i == 0 {
			set[name] = "xxxxxxxx"
		}
		prev = name
	}
	_, err := set.Expand("$(" + prev + ")")
	if !errors.Is(err, macro.ErrTooLong) {
		t.Fatalf("error = %v, want ErrTooLong", err)
	}
}

func TestWith(t *testing.T) {
	parent := macro.Set{"P": "IOC:", "R": "a"}
	child := parent.With(macro.Set{"R": "b", "S": "c"})
	want := macro.Set{"P": "IOC:", "R": "b", "S": "c"}
	if !reflect.DeepEqual(child, want) {
		t.Errorf("With = %v, want %v", child, want)
	}
	if parent["R"] != "a" || len(parent) != 2 {
		t.Errorf("With modified its receiver: %v", parent)
	}
	var empty macro.Set
	if got := empty.With(nil); got == nil || len(got) != 0 {
		t.Errorf("nil.With(nil) = %#v, want an empty non-nil Set", got)
	}
	if got, err := empty.Expand("$(A=1)"); err != nil || got != "1" {
		t.Errorf("nil Set Expand = %q, %v", got, err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     macro.Set
		err      string
	}{
		{name: "empty", in: "", want: macro.Set{}},
		{name: "blank", in: "  ", want: macro.Set{}},
		{name: "simple", in: "a=1,b=2", want: macro.Set{"a": "1", "b": "2"}},
		{name: "spaces trimmed", in: " a = 1 , b=  two words  ", want: macro.Set{"a": "1", "b": "two words"}},
		{name: "empty value", in: "a=,b=", want: macro.Set{"a": "", "b": ""}},
		{name: "double quotes", in: `a="x,y",b="=z"`, want: macro.Set{"a": "x,y", "b": "=z"}},
		{name: "single quotes", in: `a='x, "y"'`, want: macro.Set{"a": `x, "y"`}},
		{name: "quoted spaces kept", in: `a=" x "`, want: macro.Set{"a": " x "}},
		{name: "quoted empty", in: `a=""`, want: macro.Set{"a": ""}},
		{name: "escaped comma", in: `a=x\,y`, want: macro.Set{"a": "x,y"}},
		{name: "escaped quote", in: `a="x\"y"`, want: macro.Set{"a": `x"y`}},
		{name: "escaped dollar kept", in: `a=\$(B)`, want: macro.Set{"a": `\$(B)`}},
		{name: "references kept raw", in: "a=$(B),b=${C=1}", want: macro.Set{"a": "$(B)", "b": "${C=1}"}},
		{name: "equals in value", in: "a=b=c", want: macro.Set{"a": "b=c"}},
		{name: "last wins", in: "a=1,a=2", want: macro.Set{"a": "2"}},
		{name: "empty items skipped", in: ",a=1,,b=2,", want: macro.Set{"a": "1", "b": "2"}},
		{name: "newlines are space", in: "a=1,\n b=2\n", want: macro.Set{"a": "1", "b": "2"}},

		{name: "name without value", in: "a=1,b,c=3", err: `macro: "b" has no value (want b=value) in "a=1,b,c=3"`},
		{name: "lone name", in: "P", err: `macro: "P" has no value (want P=value) in "P"`},
		{name: "no name", in: "=1", err: `macro: definition with no name at offset 0 in "=1"`},
		{name: "unterminated quote", in: `a="x`, err: `macro: unterminated quote at offset 2 in "a=\"x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := macro.Parse(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("Parse(%q) error = %v, want %s", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			back, err := macro.Parse(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("Parse(%q) = %#v, %v; want %#v", got.String(), back, err, got)
			}
		})
	}
}

func TestParseThenExpand(t *testing.T) {
	set, err := macro.Parse(`P=IOC:,R=$(P)m1,LIT=\$(P)`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := set.Expand("$(R).VAL $(LIT)")
	if err != nil || got != "IOC:m1.VAL $(P)" {
		t.Errorf("Expand = %q, %v", got, err)
	}
}
