package access

import (
	"os"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	site, err := os.ReadFile("testdata/site.acf")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(site),
		"ASG(DEFAULT) {RULE(1,WRITE)}",
		`UAG("a b") {"x\"y", z} ASG("UAG") {RULE(0,NONE) RULE(1,READ,TRAPWRITE) {UAG("a b")}}`,
		"HAG(h) {Host.Example} ASG(a) {RULE(1,WRITE) {HAG(h)}}",
		"ASG(DEFAULT)\nASG(DEFAULT) {RULE(1,READ)}",
		"ASG(a) {INPA(x) RULE(1,READ) {CALC(\"A\")}}",
		"UAG(\"123\") {\"1.5\", \"INPA\", \"\"}",
		"# only a comment",
		"UAG(u) {a@b}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := Parse(strings.NewReader(src), "fuzz.acf")
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse returned a Config with error %v", err)
			}
			return
		}
		text := cfg.String()
		again, err := Parse(strings.NewReader(text), "formatted.acf")
		if err != nil {
			t.Fatalf("reparse of formatted config failed: %v\nsource:\n%s\nformatted:\n%s", err, src, text)
		}
		if again.String() != text {
			t.Fatalf("format not stable:\n%s\nthen:\n%s", text, again.String())
		}
		groups := append(cfg.Groups(), "no-such-group", "")
		users := []string{"", "nobody"}
		for _, u := range cfg.uags {
			users = append(users, u.users...)
		}
		hosts := []string{"", "nowhere"}
		for _, h := range cfg.hags {
			for _, n := range h.hosts {
				hosts = append(hosts, n, strings.ToUpper(n))
			}
		}
		for _, g := range groups {
			for _, u := range users {
				for _, h := range hosts {
					for asl := range 3 {
						r1, t1 := cfg.Access(g, asl, u, h)
						r2, t2 := again.Access(g, asl, u, h)
						if r1 != r2 || t1 != t2 {
							t.Fatalf("Access(%q, %d, %q, %q) = %v, %v; after format %v, %v\n%s",
								g, asl, u, h, r1, t1, r2, t2, text)
						}
						if r1 == Write {
							t.Fatalf("write without read for (%q, %q, %q)", g, u, h)
						}
					}
				}
			}
		}
	})
}
