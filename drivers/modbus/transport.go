package modbus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/internal/crc"
)

// Framing is how requests and replies are framed on a stream.
type Framing uint8

// The framings of a StreamTransporter.
const (
	// FramingMBAP is Modbus TCP: a 7-byte MBAP header with a transaction
	// id, no checksum.
	FramingMBAP Framing = iota
	// FramingRTU is Modbus RTU: unit id, PDU and CRC, as on a serial line;
	// used for RTU over TCP.
	FramingRTU
)

// errGarbage marks a reply that cannot be a Modbus frame; the stream is
// out of step and the connection is dropped.
var errGarbage = errors.New("modbus: garbled reply")

// StreamTransporter is a goburrow modbus.Transporter over a TCP
// connection, for modbus.NewClient2. Unlike goburrow's own TCP
// transporter it survives a late reply: with FramingMBAP it reads past
// frames whose transaction id is not the request's (stale replies to
// requests that timed out) and keeps the connection; with FramingRTU,
// which has no transaction id, it drops the connection after a timeout
// so that a late reply cannot be taken for the next one.
//
// With FramingMBAP the transporter numbers the requests itself (the
// transaction id on the wire is its own counter, put back into the reply
// for the caller), so clients of several units, each with its own
// counter, can share it without one unit's late reply matching
// another's request.
//
// One request is in flight at a time: the caller serializes Begin, Send
// and End. Close and the cancellation set up by Begin may come from other
// goroutines.
type StreamTransporter struct {
	addr    string
	framing Framing
	timeout time.Duration

	mu   sync.Mutex // guards conn
	conn net.Conn
	buf  [260]byte // one reply frame; used by Send only
	req  []byte    // the request as sent; used by Send only
	tid  uint16    // last transaction id sent; used by Send only
	// rd buffers the replies of rdConn, so that a header and its body
	// cost one read call; used by Send only.
	rd     *bufio.Reader
	rdConn net.Conn
}

// NewStreamTransporter returns an unconnected transporter to addr
// (host:port); timeout bounds each request when the context passed to
// Begin has no earlier deadline.
func NewStreamTransporter(addr string, f Framing, timeout time.Duration) *StreamTransporter {
	return &StreamTransporter{addr: addr, framing: f, timeout: timeout}
}

// Connect dials the address unless connected.
func (t *StreamTransporter) Connect(ctx context.Context) error {
	t.mu.Lock()
	up := t.conn != nil
	t.mu.Unlock()
	if up {
		return nil
	}
	d := net.Dialer{Timeout: t.timeout}
	c, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return fmt.Errorf("modbus: connect %s: %w: %w: %w", t.addr, drivers.ErrDisconnected, drivers.ErrNotSent, err)
	}
	t.mu.Lock()
	t.conn = c
	t.mu.Unlock()
	return nil
}

// Connected reports whether there is a connection.
func (t *StreamTransporter) Connected() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn != nil
}

// Close closes the connection, if any.
func (t *StreamTransporter) Close() error {
	t.mu.Lock()
	c := t.conn
	t.conn = nil
	t.mu.Unlock()
	if c != nil {
		return c.Close()
	}
	return nil
}

// Begin prepares one request bounded by ctx and timeout (the
// transporter's own when timeout <= 0): it connects if needed and
// arranges for a done ctx to interrupt the I/O. The returned end
// function must be called when the request is over.
func (t *StreamTransporter) Begin(ctx context.Context, timeout time.Duration) (end func(), err error) {
	if err := t.Connect(ctx); err != nil {
		return func() {}, err
	}
	if timeout <= 0 {
		timeout = t.timeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	t.mu.Lock()
	if t.conn != nil {
		_ = t.conn.SetDeadline(deadline)
	}
	t.mu.Unlock()
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.conn != nil {
			_ = t.conn.SetDeadline(time.Unix(1, 0))
		}
	})
	return func() {
		if !stop() {
			<-fired
		}
	}, nil
}

// Send writes one request ADU and returns the matching reply ADU.
func (t *StreamTransporter) Send(req []byte) ([]byte, error) {
	t.mu.Lock()
	c := t.conn
	t.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("modbus: %s: %w: %w", t.addr, drivers.ErrDisconnected, drivers.ErrNotSent)
	}
	var orig uint16
	if t.framing == FramingMBAP && len(req) >= 7 {
		orig = binary.BigEndian.Uint16(req)
		t.tid++
		t.req = binary.BigEndian.AppendUint16(t.req[:0], t.tid)
		req = append(t.req, req[2:]...)
		t.req = req
	}
	if _, err := c.Write(req); err != nil {
		t.drop(c)
		return nil, fmt.Errorf("modbus: send to %s: %w", t.addr, classify(err))
	}
	var (
		resp    []byte
		partial bool
		err     error
	)
	if t.rdConn != c {
		if t.rd == nil {
			t.rd = bufio.NewReaderSize(c, len(t.buf))
		} else {
			t.rd.Reset(c)
		}
		t.rdConn = c
	}
	if t.framing == FramingMBAP {
		resp, partial, err = t.readMBAP(t.rd, req)
	} else {
		resp, partial, err = t.readRTU(t.rd, req)
	}
	if err != nil {
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout()
		// After a timeout the MBAP stream is still in step unless a frame
		// was cut; RTU has no way to tell a late reply from the next one.
		if !timeout || partial || t.framing != FramingMBAP {
			t.drop(c)
		}
		return nil, fmt.Errorf("modbus: reply from %s: %w", t.addr, classify(err))
	}
	if t.framing == FramingMBAP {
		binary.BigEndian.PutUint16(resp, orig)
	}
	return resp, nil
}

// classify wraps an I/O error in the matching drivers sentinel.
func classify(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %w", drivers.ErrTimeout, err)
	case errors.Is(err, errGarbage):
		return fmt.Errorf("%w: %w", err, drivers.ErrDisconnected)
	}
	return fmt.Errorf("%w: %w", drivers.ErrDisconnected, err)
}

// drop closes c if it is still the connection.
func (t *StreamTransporter) drop(c net.Conn) {
	t.mu.Lock()
	if t.conn == c {
		t.conn = nil
	}
	t.mu.Unlock()
	_ = c.Close()
}

// readMBAP reads frames until one carries req's transaction id; frames of
// other transactions are stale and skipped. partial tells whether an
// error cut a frame.
func (t *StreamTransporter) readMBAP(c io.Reader, req []byte) (resp []byte, partial bool, err error) {
	tid := binary.BigEndian.Uint16(req)
	for range 64 {
		n, err := io.ReadFull(c, t.buf[:7])
		if err != nil {
			return nil, n > 0, err
		}
		if binary.BigEndian.Uint16(t.buf[2:]) != 0 {
			return nil, true, fmt.Errorf("%w: protocol id %d", errGarbage, binary.BigEndian.Uint16(t.buf[2:]))
		}
		l := int(binary.BigEndian.Uint16(t.buf[4:]))
		if l < 2 || 6+l > len(t.buf) {
			return nil, true, fmt.Errorf("%w: length %d", errGarbage, l)
		}
		if _, err := io.ReadFull(c, t.buf[7:6+l]); err != nil {
			return nil, true, err
		}
		if binary.BigEndian.Uint16(t.buf[:]) == tid {
			return append([]byte(nil), t.buf[:6+l]...), false, nil
		}
	}
	return nil, true, fmt.Errorf("%w: too many stale replies", errGarbage)
}

// readRTU reads one RTU frame, sizing it from its function code.
func (t *StreamTransporter) readRTU(c io.Reader, req []byte) (resp []byte, partial bool, err error) {
	n, err := io.ReadFull(c, t.buf[:3])
	if err != nil {
		return nil, n > 0, err
	}
	if t.buf[0] != req[0] {
		return nil, true, fmt.Errorf("%w: unit %d, want %d", errGarbage, t.buf[0], req[0])
	}
	fc := t.buf[1]
	var rest int // bytes after the first three, CRC included
	switch {
	case fc&0x80 != 0:
		rest = 2
	case fc == req[1] && fc >= 1 && fc <= 4:
		rest = int(t.buf[2]) + 2
	case fc == req[1] && (fc == 5 || fc == 6 || fc == 15 || fc == 16):
		rest = 5
	case fc == req[1] && fc == 22:
		rest = 7
	default:
		return nil, true, fmt.Errorf("%w: function %d in reply to %d", errGarbage, fc, req[1])
	}
	if 3+rest > len(t.buf) {
		return nil, true, fmt.Errorf("%w: length %d", errGarbage, 3+rest)
	}
	if _, err := io.ReadFull(c, t.buf[3:3+rest]); err != nil {
		return nil, true, err
	}
	frame := t.buf[:3+rest]
	if crc.Modbus(frame[:len(frame)-2]) != binary.LittleEndian.Uint16(frame[len(frame)-2:]) {
		return nil, true, fmt.Errorf("%w: bad CRC", errGarbage)
	}
	return append([]byte(nil), frame...), false, nil
}
