package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden layouts from §2.2 of the protocol reference.
func TestBuildersGolden(t *testing.T) {
	reqHdr := unhex(t, "0004 0008 0000 0001 00000007 00000009")
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"version tcp", AppendVersionTCP(nil, 0), "0000 0000 0000 000d 00000000 00000000"},
		{"version tcp priority", AppendVersionTCP(nil, 99), "0000 0000 0063 000d 00000000 00000000"},
		{"version udp", AppendVersionUDP(nil, 0x01020304), "0000 0000 0001 000d 01020304 00000000"},
		{"search", AppendSearch(nil, 7, "T:AI"), "0006 0008 0005 000d 00000007 00000007 543a414900000000"},
		{"search 8 chars", AppendSearch(nil, 1, "ABCDEFGH"), "0006 0010 0005 000d 00000001 00000001 4142434445464748 0000000000000000"},
		{"search doreply", AppendSearchFlag(nil, DoReply, 2, "X"), "0006 0008 000a 000d 00000002 00000002 5800000000000000"},
		{"search reply udp", AppendSearchReplyUDP(nil, 5064, 7), "0006 0008 13c8 0000 ffffffff 00000007 000d000000000000"},
		{"search reply tcp", AppendSearchReplyTCP(nil, 5064, 7), "0006 0000 13c8 0000 ffffffff 00000007"},
		{"not found", AppendNotFound(nil, Header{Command: CmdSearch, PayloadSize: 8, DataType: DoReply, DataCount: 13, Param1: 5, Param2: 5}),
			"000e 0000 000a 000d 00000005 00000005"},
		{"create chan", AppendCreateChan(nil, 1, "T:AI"), "0012 0008 0000 0000 00000001 0000000d 543a414900000000"},
		{"create chan reply", AppendCreateChanReply(nil, 1, 42, 6, 1), "0012 0000 0006 0001 00000001 0000002a"},
		{"create chan reply ext", AppendCreateChanReply(nil, 1, 42, 6, 100000), "0012 ffff 0006 0000 00000001 0000002a 00000000 000186a0"},
		{"create ch fail", AppendCreateChFail(nil, 3), "001a 0000 0000 0000 00000003 00000000"},
		{"access rights", AppendAccessRights(nil, 1, 3), "0016 0000 0000 0000 00000001 00000003"},
		{"clear channel", AppendClearChannel(nil, 4, 1), "000c 0000 0000 0000 00000004 00000001"},
		{"event add", AppendEventAdd(nil, 20, 0, 4, 9, 5), "0001 0010 0014 0000 00000004 00000009 00000000 00000000 00000000 0005 0000"},
		{"event cancel", AppendEventCancel(nil, 20, 1, 4, 9), "0002 0000 0014 0001 00000004 00000009"},
		{"event cancel reply", AppendEventCancelReply(nil, 20, 1, 4, 9), "0001 0000 0014 0001 00000004 00000009"},
		{"read notify", AppendReadNotify(nil, 20, 1, 4, 11), "000f 0000 0014 0001 00000004 0000000b"},
		{"write header", AppendHeader(nil, WriteHeader(0, 1, 4, 1, 8)), "0004 0008 0000 0001 00000004 00000001"},
		{"write notify header", AppendHeader(nil, WriteNotifyHeader(6, 1, 4, 12, 8)), "0013 0008 0006 0001 00000004 0000000c"},
		{"write notify reply", AppendWriteNotifyReply(nil, 6, 1, 160, 12), "0013 0000 0006 0001 000000a0 0000000c"},
		{"error", AppendError(nil, 7, 160, reqHdr, "T:AI"),
			"000b 0018 0000 0000 00000007 000000a0 0004 0008 0000 0001 00000007 00000009 543a414900000000"},
		{"echo", AppendEcho(nil), "0017 0000 0000 0000 00000000 00000000"},
		{"client name", AppendClientName(nil, "root"), "0014 0008 0000 0000 00000000 00000000 726f6f7400000000"},
		{"host name", AppendHostName(nil, "vm"), "0015 0008 0000 0000 00000000 00000000 766d000000000000"},
		{"server disconn", AppendServerDisconn(nil, 3), "001b 0000 0000 0000 00000003 00000000"},
		{"beacon", AppendBeacon(nil, 5064, 2), "000d 0000 000d 13c8 00000002 00000000"},
		{"message padded", AppendMessage(nil, Header{Command: CmdWrite, Param1: 1}, []byte("abc")),
			"0004 0008 0000 0000 00000001 00000000 6162630000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			if !bytes.Equal(tt.got, want) {
				t.Errorf("got  %x\nwant %x", tt.got, want)
			}
			if strings.Contains(tt.name, "header") {
				return
			}
			// Every builder output must decode as exactly one message.
			m, n, err := Next(tt.got, 0)
			if err != nil || n != len(tt.got) {
				t.Fatalf("Next: n=%d err=%v", n, err)
			}
			if int(m.PayloadSize) != len(m.Payload) {
				t.Errorf("payload size %d, len %d", m.PayloadSize, len(m.Payload))
			}
		})
	}
}

func TestErrorPayloadLimit(t *testing.T) {
	req := AppendHeader(nil, Header{Command: CmdWrite, PayloadSize: 1 << 20, DataCount: 1 << 17})
	b := AppendError(nil, 1, 72, req, strings.Repeat("x", 1000))
	m, _, err := Next(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.PayloadSize > MaxErrorPayload || m.PayloadSize%8 != 0 {
		t.Fatalf("payload size %d", m.PayloadSize)
	}
	h, text, err := DecodeError(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if h.Command != CmdWrite || h.PayloadSize != 1<<20 || h.DataCount != 1<<17 {
		t.Errorf("copied header %+v", h)
	}
	if len(text) != MaxErrorPayload-ExtHeaderSize-1 {
		t.Errorf("text length %d", len(text))
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		ext  bool
	}{
		{"zero", Header{}, false},
		{"small", Header{Command: CmdReadNotify, PayloadSize: 8, DataType: 6, DataCount: 1, Param1: 0xdeadbeef, Param2: 7}, false},
		{"max short", Header{PayloadSize: 0xFFF8, DataCount: 0xFFFE}, false},
		{"size ext", Header{Command: CmdEventAdd, PayloadSize: 0x10000, DataCount: 1}, true},
		{"size exactly ffff", Header{PayloadSize: 0xFFFF}, true},
		{"count ext", Header{Command: CmdCreateChan, DataCount: 0xFFFF}, true},
		{"both big", Header{PayloadSize: 800000, DataCount: 100000, Param1: 1, Param2: 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendHeader(nil, tt.h)
			if want := HeaderLen(tt.h); len(b) != want {
				t.Fatalf("len %d, HeaderLen %d", len(b), want)
			}
			h, ext, hl, err := ParseHeader(b)
			if err != nil || hl != len(b) || ext != tt.ext || h != tt.h {
				t.Fatalf("ParseHeader = %+v ext=%v hl=%d err=%v", h, ext, hl, err)
			}
		})
	}
}

func TestNextExtendedSmallAccepted(t *testing.T) {
	// rsrv may send an extended header whose final size and count are small.
	b := unhex(t, "000f ffff 0006 0000 00000001 00000002 00000008 00000001 3ff0000000000000")
	m, n, err := Next(b, 0)
	if err != nil || n != len(b) || !m.Extended || m.PayloadSize != 8 || m.DataCount != 1 || len(m.Payload) != 8 {
		t.Fatalf("m=%+v n=%d err=%v", m, n, err)
	}
	// Zero size, zero count extended.
	b = unhex(t, "000f ffff 0006 0000 00000001 00000002 00000000 00000000")
	m, n, err = Next(b, 0)
	if err != nil || n != 24 || len(m.Payload) != 0 {
		t.Fatalf("m=%+v n=%d err=%v", m, n, err)
	}
}

func TestNext(t *testing.T) {
	two := append(AppendEcho(nil), AppendSearch(nil, 1, "abc")...)
	tests := []struct {
		name   string
		in     []byte
		max    uint32
		n      int
		need   int64
		reason error // ErrNeedMore or *Error reason
	}{
		{"empty", nil, 0, 0, 16, ErrNeedMore},
		{"partial header", two[:10], 0, 0, 16, ErrNeedMore},
		{"first of two", two, 0, 16, 16, nil},
		{"partial payload", two[16:36], 0, 0, 24, ErrNeedMore},
		{"partial ext header", unhex(t, "0001 ffff 0000 0000 00000000 00000000 0000"), 0, 0, 24, ErrNeedMore},
		{"ext need", unhex(t, "0001 ffff 0000 0000 00000000 00000000 00010000 00000001"), 0, 0, 24 + 0x10000, ErrNeedMore},
		{"misaligned", unhex(t, "0001 0004 0000 0000 00000000 00000000 00000000"), 0, 0, 20, ErrMisaligned},
		{"misaligned ext", unhex(t, "0001 ffff 0000 0000 00000000 00000000 00000003 00000001"), 0, 0, 27, ErrMisaligned},
		{"too large", unhex(t, "0004 0010 0000 0000 00000000 00000000"), 8, 0, 32, ErrTooLarge},
		{"at limit", unhex(t, "0004 0008 0000 0000 00000000 00000000 0000000000000000"), 8, 24, 24, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, n, err := Next(tt.in, tt.max)
			if !errors.Is(err, tt.reason) || (err == nil) != (tt.reason == nil) {
				t.Fatalf("err = %v, want %v", err, tt.reason)
			}
			if n != tt.n {
				t.Errorf("n = %d, want %d", n, tt.n)
			}
			if got := Need(tt.in); got != tt.need {
				t.Errorf("Need = %d, want %d", got, tt.need)
			}
			var we *Error
			if errors.As(err, &we) {
				if we.Len != tt.need || we.Cmd != we.Header.Command {
					t.Errorf("Error = %+v", we)
				}
				if we.Error() == "" {
					t.Error("empty message")
				}
			}
			if err == nil && int(m.PayloadSize) != len(m.Payload) {
				t.Errorf("payload %d vs %d", m.PayloadSize, len(m.Payload))
			}
		})
	}
}

func TestBeginEndMessage(t *testing.T) {
	tests := []struct {
		name    string
		guess   uint32
		payload int
		ext     bool
	}{
		{"small exact", 8, 5, false},
		{"empty", 0, 0, false},
		{"big exact", 0x10000, 0x10000, true},
		{"big guessed small", 8, 0x10001, true},
		{"small guessed big", 0x20000, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := make([]byte, tt.payload)
			for i := range payload {
				payload[i] = byte(i*7 + 1)
			}
			h := Header{Command: CmdReadNotify, PayloadSize: tt.guess, DataType: 6, DataCount: 3, Param1: 1, Param2: 2}
			dst, start := BeginMessage([]byte("prefix"), h)
			dst = append(dst, payload...)
			dst = EndMessage(dst, start)
			if string(dst[:6]) != "prefix" {
				t.Fatal("prefix clobbered")
			}
			m, n, err := Next(dst[start:], 0)
			if err != nil || n != len(dst)-start {
				t.Fatalf("Next: n=%d err=%v", n, err)
			}
			if m.Extended != tt.ext || m.DataCount != 3 || m.Param1 != 1 || m.Param2 != 2 || m.DataType != 6 {
				t.Errorf("header %+v ext=%v", m.Header, m.Extended)
			}
			if int(m.PayloadSize) != Padded(tt.payload) || !bytes.Equal(m.Payload[:tt.payload], payload) {
				t.Errorf("payload mismatch (size %d)", m.PayloadSize)
			}
			for _, c := range m.Payload[tt.payload:] {
				if c != 0 {
					t.Fatal("non-zero pad")
				}
			}
		})
	}
}

func TestDecodeName(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		want string
		err  error
	}{
		{"nul", []byte("T:AI\x00junk"), 0, "T:AI", nil},
		{"no nul", []byte("ABCDEFGH"), 0, "ABCDEFGH", nil},
		{"empty", []byte{0, 0, 0}, 0, "", nil},
		{"limit ok", []byte("abcd\x00"), 4, "abcd", nil},
		{"too long", []byte("abcde\x00"), 4, "", ErrNameTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeName(tt.in, tt.max)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("got %q, %v", got, err)
			}
		})
	}
}

func TestMisc(t *testing.T) {
	if s := CmdReadNotify.String(); s != "READ_NOTIFY" {
		t.Error(s)
	}
	if s := CmdServerDisconn.String(); s != "SERVER_DISCONN" {
		t.Error(s)
	}
	if s := Command(99).String(); s != "Command(99)" {
		t.Error(s)
	}
	if m, err := EventAddMask(AppendEventAdd(nil, 0, 0, 0, 0, 6)[16:]); m != 6 || err != nil {
		t.Error(m, err)
	}
	if _, err := EventAddMask(nil); !errors.Is(err, ErrShort) {
		t.Error(err)
	}
	if v := SearchReplyMinor(AppendSearchReplyUDP(nil, 1, 1)[16:]); v != 13 {
		t.Error(v)
	}
	if n := SearchSize("T:AI"); n != len(AppendSearch(nil, 1, "T:AI")) {
		t.Error(n)
	}
}

func TestNoAllocs(t *testing.T) {
	msg := AppendSearch(AppendVersionUDP(nil, 1), 1, "T:AI")
	buf := make([]byte, 0, 64)
	h := Header{Command: CmdReadNotify, PayloadSize: 0x10000, DataCount: 100000}
	allocs := testing.AllocsPerRun(100, func() {
		b := msg
		for len(b) > 0 {
			_, n, err := Next(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
		buf = AppendHeader(buf[:0], h)
		buf = AppendSearch(buf[:0], 1, "T:AI")
	})
	if allocs != 0 {
		t.Errorf("allocs = %v", allocs)
	}
}

func BenchmarkNext(b *testing.B) {
	msg := AppendReadNotify(nil, 20, 1, 4, 11)
	for b.Loop() {
		_, _, _ = Next(msg, 0)
	}
}
