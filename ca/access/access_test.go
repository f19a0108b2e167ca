package access_test

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/access"
)

func TestRightsSite(t *testing.T) {
	cfg, err := access.Load("testdata/site.acf")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		group, user, host string
		asl               int
		want              access.Rights
		trap              bool
	}{
		{"default anyone reads", "DEFAULT", "mallory", "evil", 0, access.Read, false},
		{"default op at console writes", "DEFAULT", "alice", "opi1", 0, access.ReadWrite, true},
		{"host case ignored", "DEFAULT", "bob", "OPI2.Example.ORG", 0, access.ReadWrite, true},
		{"config host lower-cased", "DEFAULT", "bob", "opi1", 0, access.ReadWrite, true},
		{"expert in control room", "DEFAULT", "carol", "cr-ws1", 0, access.ReadWrite, true},
		{"op elsewhere reads", "DEFAULT", "alice", "laptop", 0, access.Read, false},
		{"user case matters", "DEFAULT", "Alice", "opi1", 0, access.Read, false},
		{"host prefix no match", "DEFAULT", "alice", "opi", 0, access.Read, false},
		{"unknown group is DEFAULT", "NOSUCH", "alice", "opi1", 0, access.ReadWrite, true},
		{"empty group is DEFAULT", "", "mallory", "x", 0, access.Read, false},
		{"expert anywhere ASL0", "EXPERT", "carol", "laptop", 0, access.ReadWrite, false},
		{"expert ASL1 rule level 0 skipped", "EXPERT", "carol", "laptop", 1, access.Read, false},
		{"op on expert group", "EXPERT", "alice", "opi1", 0, access.Read, false},
		{"ASL above every rule", "EXPERT", "carol", "laptop", 2, access.None, false},
		{"readonly", "READONLY", "carol", "cr-ws1", 0, access.Read, false},
		{"group with no rules", "LOCKED", "carol", "cr-ws1", 0, access.None, false},
		{"NONE rule grants nothing", "quoted name", "mallory", "x", 0, access.None, false},
		{"host-only rule", "quoted name", "mallory", "CR-WS1", 0, access.ReadWrite, false},
		{"empty UAG matches nobody", "quoted name", "", "x", 0, access.None, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, trap := cfg.Access(tc.group, tc.asl, tc.user, tc.host)
			if got != tc.want || trap != tc.trap {
				t.Errorf("Access(%q, %d, %q, %q) = %v, %v; want %v, %v",
					tc.group, tc.asl, tc.user, tc.host, got, trap, tc.want, tc.trap)
			}
			if tc.asl == 0 {
				var rules access.Rules = cfg
				if got := rules.Rights(tc.group, tc.user, tc.host); got != tc.want {
					t.Errorf("Rights = %v, want %v", got, tc.want)
				}
			}
		})
	}
	if got, want := cfg.Groups(), []string{"DEFAULT", "EXPERT", "LOCKED", "READONLY", "quoted name"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Groups() = %q, want %q", got, want)
	}
	if got := cfg.Resolve("NOSUCH"); got != "DEFAULT" {
		t.Errorf("Resolve(NOSUCH) = %q", got)
	}
	if got := cfg.Resolve("EXPERT"); got != "EXPERT" {
		t.Errorf("Resolve(EXPERT) = %q", got)
	}
	if got := cfg.HAGs()["consoles"]; !reflect.DeepEqual(got, []string{"opi1", "opi2.example.org"}) {
		t.Errorf("HAGs()[consoles] = %q", got)
	}
	if got := cfg.UAGs()["ghosts"]; len(got) != 0 {
		t.Errorf("UAGs()[ghosts] = %q", got)
	}
}

func TestDefaultSemantics(t *testing.T) {
	tests := []struct {
		name, acf, group string
		want             access.Rights
	}{
		{"no DEFAULT defined: unknown group gets nothing", "ASG(A) {RULE(1,WRITE)}", "B", access.None},
		{"no DEFAULT defined: DEFAULT gets nothing", "ASG(A) {RULE(1,WRITE)}", "DEFAULT", access.None},
		{"defined group", "ASG(A) {RULE(1,WRITE)}", "A", access.ReadWrite},
		{"only a UAG", "UAG(u) {x}", "A", access.None},
		{"empty DEFAULT then DEFAULT with rules", "ASG(DEFAULT)\nASG(DEFAULT) {RULE(1,READ)}", "X", access.Read},
		{"rule order does not matter", "ASG(DEFAULT) {RULE(1,WRITE) RULE(1,READ) RULE(1,NONE)}", "X", access.ReadWrite},
		{"NOTRAPWRITE", "ASG(DEFAULT) {RULE(0,WRITE,NOTRAPWRITE)}", "X", access.ReadWrite},
		{"quoted keywords as strings", `ASG("DEFAULT") {RULE(1,"READ")}`, "X", access.Read},
		{"level above 1 is accepted", "ASG(DEFAULT) {RULE(5,READ)}", "X", access.Read},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := access.Parse(strings.NewReader(tc.acf), "t.acf")
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Rights(tc.group, "u", "h"); got != tc.want {
				t.Errorf("Rights(%q) = %v, want %v", tc.group, got, tc.want)
			}
		})
	}
}

func TestNoConfig(t *testing.T) {
	var nilCfg *access.Config
	if got := nilCfg.Rights("X", "u", "h"); got != access.ReadWrite {
		t.Errorf("nil Config Rights = %v, want READ|WRITE", got)
	}
	if got := (&access.Config{}).Rights("X", "u", "h"); got != access.ReadWrite {
		t.Errorf("zero Config Rights = %v, want READ|WRITE", got)
	}
	if got := nilCfg.Groups(); !reflect.DeepEqual(got, []string{"DEFAULT"}) {
		t.Errorf("nil Groups = %q", got)
	}
}

func TestRulesFunc(t *testing.T) {
	cfg, err := access.Parse(strings.NewReader("ASG(DEFAULT) {RULE(1,WRITE)}"), "t.acf")
	if err != nil {
		t.Fatal(err)
	}
	// A Go rule on top of the file: nobody writes from outside the lab.
	var rules access.Rules = access.RulesFunc(func(group, user, host string) access.Rights {
		r := cfg.Rights(group, user, host)
		if !strings.HasSuffix(host, ".lab") {
			r &^= access.Write
		}
		return r
	})
	if got := rules.Rights("X", "u", "pc.lab"); got != access.ReadWrite {
		t.Errorf("lab host: %v", got)
	}
	if got := rules.Rights("X", "u", "home"); got != access.Read {
		t.Errorf("outside host: %v", got)
	}
}

func TestRightsString(t *testing.T) {
	for r, want := range map[access.Rights]string{
		access.None: "NONE", access.Read: "READ", access.Write: "WRITE", access.ReadWrite: "READ|WRITE", 7: "Rights(7)",
	} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint8(r), got, want)
		}
	}
	if !access.ReadWrite.CanRead() || !access.ReadWrite.CanWrite() || access.Read.CanWrite() || access.None.CanRead() {
		t.Error("CanRead/CanWrite wrong")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, acf, want string }{
		{"empty", "", `access: t.acf:1:1: empty configuration: want UAG, HAG or ASG definitions`},
		{"only comments", "# nothing\n  # here\n", `access: t.acf:3:1: empty configuration: want UAG, HAG or ASG definitions`},
		{"unknown keyword", "UAG(a) {x}\nFOO(b)", `access: t.acf:2:1: unknown keyword "FOO": want UAG, HAG or ASG`},
		{"rule at top", "RULE(1,READ)", `access: t.acf:1:1: RULE outside an ASG: want UAG, HAG or ASG`},
		{"missing paren", "UAG {a}", `access: t.acf:1:5: expected "(" after UAG, found "{"`},
		{"missing close paren", "HAG(h {a}", `access: t.acf:1:7: expected ")" after HAG name, found "{"`},
		{"missing comma", "UAG(u) {a b}", `access: t.acf:1:11: expected "," or "}" in UAG "u", found "b"`},
		{"empty member list", "UAG(u) {}", `access: t.acf:1:9: expected a user name, found "}"`},
		{"number as name", "HAG(h) {10}", `access: t.acf:1:9: expected a host name, found "10" (quote it to use it as a name)`},
		{"keyword as name", "UAG(RULE)", `access: t.acf:1:5: expected UAG name, found "RULE" (quote it to use it as a name)`},
		{"eof in list", "UAG(u) {a,", `access: t.acf:1:11: expected a user name, found end of file`},
		{"duplicate UAG", "UAG(u)\nUAG(u)", `access: t.acf:2:5: duplicate UAG "u" (first defined at line 1)`},
		{"duplicate HAG", "HAG(h)\n\nHAG(h) {x}", `access: t.acf:3:5: duplicate HAG "h" (first defined at line 1)`},
		{"duplicate ASG", "ASG(a)\nASG(a)", `access: t.acf:2:5: duplicate ASG "a" (first defined at line 1)`},
		{"duplicate DEFAULT with rules", "ASG(DEFAULT) {RULE(1,READ)}\nASG(DEFAULT)", `access: t.acf:2:5: duplicate ASG "DEFAULT" (first defined at line 1)`},
		{"undefined UAG", "ASG(a) {\n RULE(1,WRITE) {\n  UAG(ops)\n }\n}", `access: t.acf:3:7: no UAG named "ops" defined before this rule`},
		{"HAG defined after rule", "ASG(a) {RULE(1,WRITE) {HAG(h)}}\nHAG(h) {x}", `access: t.acf:1:28: no HAG named "h" defined before this rule`},
		{"bad access", "ASG(a) {RULE(1,ALL)}", `access: t.acf:1:16: unknown access "ALL": want NONE, READ or WRITE`},
		{"lower-case access", "ASG(a) {RULE(1,read)}", `access: t.acf:1:16: unknown access "read": want NONE, READ or WRITE`},
		{"RPC", "ASG(a) {RULE(1,RPC)}", `access: t.acf:1:16: RPC is not supported (pvAccess security)`},
		{"bad option", "ASG(a) {RULE(1,WRITE,LOG)}", `access: t.acf:1:22: log option must be TRAPWRITE or NOTRAPWRITE, found "LOG"`},
		{"negative level", "ASG(a) {RULE(-1,READ)}", `access: t.acf:1:14: RULE level must not be negative, found "-1"`},
		{"float level", "ASG(a) {RULE(1.5,READ)}", `access: t.acf:1:14: expected RULE level (0 or 1), found "1.5"`},
		{"huge level", "ASG(a) {RULE(99999999999,READ)}", `access: t.acf:1:14: RULE level "99999999999" out of range`},
		{"missing level", "ASG(a) {RULE(READ)}", `access: t.acf:1:14: expected RULE level (0 or 1), found "READ"`},
		{"INPA", "ASG(a) {\n\tINPA(\"ioc:mode\")\n\tRULE(1,WRITE) {CALC(\"A=1\")}\n}", `access: t.acf:2:2: INPA is not supported (rules that depend on PV values)`},
		{"CALC", "ASG(a) {\n\tRULE(1,WRITE) {\n\t\tCALC(\"A=1\")\n\t}\n}", `access: t.acf:3:3: CALC is not supported (rules that depend on PV values)`},
		{"METHOD", "ASG(a) {RULE(1,WRITE) {METHOD(\"ca\")}}", `access: t.acf:1:24: METHOD is not supported (pvAccess security)`},
		{"AUTHORITY", "AUTHORITY(\"CA\")", `access: t.acf:1:1: AUTHORITY is not supported (pvAccess security)`},
		{"junk in ASG", "ASG(a) {UAG(x)}", `access: t.acf:1:9: expected RULE in ASG "a", found "UAG"`},
		{"empty ASG body", "ASG(a) {}", `access: t.acf:1:9: expected RULE in ASG "a", found "}"`},
		{"junk in RULE", "ASG(a) {RULE(1,READ) {FOO(x)}}", `access: t.acf:1:23: expected UAG or HAG in RULE, found "FOO"`},
		{"unclosed ASG", "ASG(a) {RULE(1,READ)", `access: t.acf:1:21: expected RULE in ASG "a", found end of file`},
		{"invalid char", "UAG(u) {a@b}", `access: t.acf:1:10: invalid character '@'`},
		{"control char", "UAG(u)\x01", `access: t.acf:1:7: invalid character 0x01`},
		{"newline in string", "UAG(\"ab\ncd\")", `access: t.acf:1:5: newline in quoted string, closing quote missing`},
		{"eof in string", `UAG("ab`, `access: t.acf:1:5: end of file in quoted string, closing quote missing`},
		{"quoted in message", `UAG(u) {"a b" "c"}`, `access: t.acf:1:15: expected "," or "}" in UAG "u", found string "c"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := access.Parse(strings.NewReader(tc.acf), "t.acf")
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			var pe *access.ParseError
			if !errors.As(err, &pe) || pe.File != "t.acf" || pe.Line < 1 || pe.Column < 1 {
				t.Errorf("error %#v is not a placed *ParseError", err)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := access.Load("testdata/no-such.acf")
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "access: ") {
		t.Errorf("Load error = %v", err)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	cfg, err := access.Load("testdata/site.acf")
	if err != nil {
		t.Fatal(err)
	}
	want := `UAG(ops) {alice, bob}
UAG(experts) {carol}
UAG(ghosts)
HAG(consoles) {opi1, opi2.example.org}
HAG(control_room) {cr-ws1}
ASG(DEFAULT) {
	RULE(1, READ)
	RULE(1, WRITE, TRAPWRITE) {
		UAG(ops, experts)
		HAG(consoles, control_room)
	}
}
ASG(EXPERT) {
	RULE(1, READ)
	RULE(0, WRITE) {
		UAG(experts)
	}
}
ASG(READONLY) {
	RULE(1, READ)
}
ASG(LOCKED)
ASG("quoted name") {
	RULE(1, NONE)
	RULE(1, WRITE) {
		HAG(control_room)
	}
	RULE(1, READ) {
		UAG(ghosts)
	}
}
`
	if got := cfg.String(); got != want {
		t.Errorf("String():\n%s\nwant:\n%s", got, want)
	}
	again, err := access.Parse(strings.NewReader(cfg.String()), "formatted")
	if err != nil {
		t.Fatal(err)
	}
	if again.String() != want {
		t.Errorf("reformatted differs:\n%s", again.String())
	}
}
