package wire

import (
	"bytes"
	"errors"
	"testing"
)

// event is one result of decoding a stream: a message or a framing error.
type event struct {
	h       Header
	payload string
	reason  error
}

// decodeAll decodes b in one go, skipping too-large messages and stopping
// at a misaligned one or at the end.
func decodeAll(b []byte, maxPayload uint32) []event {
	var out []event
	for {
		m, n, err := Next(b, maxPayload)
		var we *Error
		switch {
		case err == nil:
			out = append(out, event{h: m.Header, payload: string(m.Payload)})
			b = b[n:]
		case errors.As(err, &we):
			out = append(out, event{h: we.Header, reason: we.Reason})
			if !errors.Is(we.Reason, ErrTooLarge) || we.Len > int64(len(b)) {
				return out
			}
			b = b[we.Len:]
		default:
			return out
		}
	}
}

// streamDecoder accumulates chunks as a circuit reader would.
type streamDecoder struct {
	buf    []byte
	skip   int64
	done   bool
	max    uint32
	events []event
}

func (d *streamDecoder) feed(t *testing.T, chunk []byte) {
	if d.done {
		return
	}
	if d.skip > 0 {
		k := min(d.skip, int64(len(chunk)))
		chunk = chunk[k:]
		d.skip -= k
	}
	d.buf = append(d.buf, chunk...)
	for {
		m, n, err := Next(d.buf, d.max)
		var we *Error
		switch {
		case err == nil:
			d.events = append(d.events, event{h: m.Header, payload: string(m.Payload)})
			d.buf = d.buf[n:]
			continue
		case errors.As(err, &we):
			d.events = append(d.events, event{h: we.Header, reason: we.Reason})
			if !errors.Is(we.Reason, ErrTooLarge) {
				d.done = true
				return
			}
			if we.Len > int64(len(d.buf)) {
				d.skip = we.Len - int64(len(d.buf))
				d.buf = d.buf[:0]
				return
			}
			d.buf = d.buf[we.Len:]
			continue
		case errors.Is(err, ErrNeedMore):
			if need := Need(d.buf); need <= int64(len(d.buf)) {
				t.Fatalf("Need %d with %d bytes buffered and ErrNeedMore", need, len(d.buf))
			}
			return
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
}

func seedStream() []byte {
	var b []byte
	b = AppendVersionTCP(b, 0)
	b = AppendVersionUDP(b, 3)
	b = AppendSearch(b, 1, "T:AI")
	b = AppendSearchReplyUDP(b, 5064, 1)
	b = AppendSearchReplyTCP(b, 5064, 1)
	b = AppendCreateChan(b, 1, "T:AI")
	b = AppendAccessRights(b, 1, 3)
	b = AppendCreateChanReply(b, 1, 0, 6, 100000)
	b = AppendEventAdd(b, 20, 0, 0, 1, 5)
	b = AppendEventCancelReply(b, 20, 0, 0, 1)
	b = AppendReadNotify(b, 20, 1, 0, 2)
	b = AppendError(b, 1, 160, AppendReadNotify(nil, 20, 1, 0, 2), "bad")
	b = AppendClientName(b, "root")
	b = AppendHostName(b, "vm")
	b = AppendEcho(b)
	b = AppendBeacon(b, 5064, 1)
	b = AppendServerDisconn(b, 1)
	b = AppendMessage(b, Header{Command: CmdReadNotify, DataType: 6, DataCount: 0x10000}, make([]byte, 40))
	return b
}

func FuzzNext(f *testing.F) {
	f.Add([]byte{3, 0}, seedStream())
	f.Add([]byte{1, 8}, seedStream())
	f.Add([]byte{0}, append(AppendHeader(nil, Header{Command: CmdWrite, PayloadSize: 64}), make([]byte, 64)...))
	f.Add([]byte{5, 1, 2, 3}, []byte("\x00\x01\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, ctl []byte, data []byte) {
		// ctl[0] picks the payload limit, the rest the chunk sizes.
		var maxPayload uint32
		if len(ctl) > 0 {
			maxPayload = uint32(ctl[0]) * 8
			ctl = ctl[1:]
		}
		whole := decodeAll(data, maxPayload)

		d := &streamDecoder{max: maxPayload}
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(ctl) > 0 {
				n = min(int(ctl[i%len(ctl)])+1, len(rest))
			}
			d.feed(t, rest[:n:n])
			rest = rest[n:]
		}
		if len(d.events) != len(whole) {
			t.Fatalf("stream decoded %d events, whole buffer %d", len(d.events), len(whole))
		}
		for i := range whole {
			if d.events[i] != whole[i] {
				t.Fatalf("event %d: stream %+v, whole %+v", i, d.events[i], whole[i])
			}
		}
		// Round trip every decoded message.
		for _, e := range whole {
			if e.reason != nil {
				continue
			}
			b := AppendHeader(nil, e.h)
			b = append(b, e.payload...)
			m, n, err := Next(b, 0)
			if err != nil || n != len(b) {
				t.Fatalf("re-decode: n=%d err=%v", n, err)
			}
			if m.Header != e.h || !bytes.Equal(m.Payload, []byte(e.payload)) {
				t.Fatalf("round trip: %+v vs %+v", m.Header, e.h)
			}
		}
	})
}
