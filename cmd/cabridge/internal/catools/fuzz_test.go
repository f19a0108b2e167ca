package catools

import (
	"io"
	"net/netip"
	"strings"
	"testing"
)

// FuzzSearchReply feeds the host probe's reply decoder arbitrary
// datagrams: it must not panic, and must find the reply it is built from.
func FuzzSearchReply(f *testing.F) {
	f.Add(searchRequest("T:AI"))
	f.Add(appendHeader(appendHeader(nil, cmdVersion, 0, 0, 13, 0, 0), cmdSearch, 8, 5064, 0, 0xFFFFFFFF, probeCID))
	f.Add([]byte{0, 6, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		src := netip.MustParseAddr("127.0.0.1")
		searchReply(b, src)
		reply := appendHeader(b[:len(b):len(b)], cmdSearch, 8, 5064, 0, 0xFFFFFFFF, probeCID)
		if len(b)%16 == 0 && !strings.Contains(string(b), "\xff\xff") {
			if _, ok := searchReply(reply, src); !ok && allHeadersFit(b) {
				t.Errorf("reply after %x not found", b)
			}
		}
	})
}

// allHeadersFit reports whether b is a sequence of whole messages.
func allHeadersFit(b []byte) bool {
	for len(b) >= 16 {
		n := 16 + (int(b[2])<<8 | int(b[3]))
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return len(b) == 0
}

// FuzzEscape checks that unescape undoes escape for any bytes.
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
