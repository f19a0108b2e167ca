package catools

import (
	"io"
	"strings"
	"testing"
)

func FuzzEscape(f *testing.F) {
	f.Add("a\tb\x00\xff\\\"'")
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescape(escape(s)); got != s {
			t.Errorf("unescape(escape(%q)) = %q", s, got)
		}
		unescape(s) // any input: no panic
	})
}

// FuzzParse runs the command-line parsers on arbitrary arguments.
func FuzzParse(f *testing.F) {
	f.Add("-a -d time_double -# 3 -f8 -0x -F, pv")
	f.Add("-t -w -1 -lq -e 99 -p x pv")
	f.Add("-m vz -t sciIrn -S pv")
	f.Fuzz(func(_ *testing.T, line string) {
		args := strings.Split(line, " ")
		_, _, _ = ParseGet(args, nil, io.Discard)
		_, _, _, _ = ParsePut(args, nil, io.Discard)
		_, _, _ = ParseMonitor(args, nil, io.Discard)
		_, _, _ = ParseInfo(args, nil, io.Discard)
		_, _ = ParseType(line)
	})
}
