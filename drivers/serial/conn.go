package serial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// port is a byte stream to the instrument. Read returns (0, nil) when no
// byte came within the read timeout, as go.bug.st/serial does; Close
// unblocks a Read.
type port interface {
	io.ReadWriteCloser
	// writeWithin writes b, giving up after d where the transport can.
	writeWithin(b []byte, d time.Duration) (int, error)
}

// serialPort is a port on go.bug.st/serial.
type serialPort struct{ serial.Port }

func (p serialPort) writeWithin(b []byte, _ time.Duration) (int, error) {
	// go.bug.st/serial has no write deadline; a serial line drains at
	// the baud rate, so the write ends.
	return p.Write(b)
}

// tcpPort is a raw TCP socket to a serial-device server.
type tcpPort struct {
	c           net.Conn
	readTimeout time.Duration
}

func (p *tcpPort) Read(b []byte) (int, error) {
	if err := p.c.SetReadDeadline(time.Now().Add(p.readTimeout)); err != nil {
		return 0, err
	}
	n, err := p.c.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

func (p *tcpPort) Write(b []byte) (int, error) { return p.c.Write(b) }

func (p *tcpPort) writeWithin(b []byte, d time.Duration) (int, error) {
	if err := p.c.SetWriteDeadline(time.Now().Add(d)); err != nil {
		return 0, err
	}
	return p.c.Write(b)
}

func (p *tcpPort) Close() error { return p.c.Close() }

// openPort opens the transport of cfg: a TCP socket, or a serial port by
// path or USB serial number.
func openPort(ctx context.Context, cfg *Config, readTimeout time.Duration) (port, string, error) {
	if cfg.TCP != "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", cfg.TCP)
		if err != nil {
			return nil, cfg.TCP, err
		}
		return &tcpPort{c: c, readTimeout: readTimeout}, cfg.TCP, nil
	}
	path := cfg.Port
	if cfg.USBSerial != "" {
		var err error
		if path, err = portBySerial(cfg.USBSerial); err != nil {
			return nil, "usb_serial " + cfg.USBSerial, err
		}
	}
	mode := &serial.Mode{
		BaudRate: max(cfg.Baud, 1),
		DataBits: cfg.DataBits,
		Parity:   serial.Parity(parities[strings.ToLower(cfg.Parity)]),
		StopBits: serial.StopBits(stopBits[cfg.StopBits]),
	}
	if cfg.Baud == 0 {
		mode.BaudRate = DefaultBaud
	}
	if mode.DataBits == 0 {
		mode.DataBits = 8
	}
	p, err := serial.Open(path, mode)
	if err != nil {
		return nil, path, err
	}
	if strings.EqualFold(cfg.FlowControl, "rtscts") {
		if err := setRTSCTS(path, true); err != nil {
			_ = p.Close()
			return nil, path, err
		}
	}
	if err := p.SetReadTimeout(readTimeout); err != nil {
		_ = p.Close()
		return nil, path, err
	}
	_ = p.ResetInputBuffer()
	return serialPort{p}, path, nil
}

// frame is one line of input, without its terminator. A partial frame
// is input that stopped for ReadTimeout before its terminator came.
type frame struct {
	data    []byte
	partial bool
}

// conn is one open connection: it owns the port and the reader goroutine
// that splits the input into lines and hands each either to the waiting
// transaction or to the subscriptions.
type conn struct {
	p           port
	where       string
	inTerm      []byte
	readTimeout time.Duration
	log         *slog.Logger

	mu     sync.Mutex
	waiter chan frame // the running transaction's, or nil
	subs   map[*subscription]struct{}

	broken  atomic.Bool   // a write failed: the connection is done for
	flush   atomic.Bool   // a transaction starts: drop the partial input before new bytes
	dead    chan struct{} // closed when the reader stops
	readErr error         // why it stopped; read after dead is closed
	wg      sync.WaitGroup
}

// newConn starts the reader of p.
func newConn(p port, where string, inTerm []byte, readTimeout time.Duration, log *slog.Logger) *conn {
	c := &conn{p: p, where: where, inTerm: inTerm, readTimeout: readTimeout, log: log,
		subs: map[*subscription]struct{}{}, dead: make(chan struct{})}
	c.wg.Go(c.readLoop)
	return c
}

// close closes the port and waits for the reader.
func (c *conn) close() {
	_ = c.p.Close()
	c.wg.Wait()
}

// readLoop reads until the port fails or closes.
func (c *conn) readLoop() {
	defer close(c.dead)
	buf := make([]byte, 512)
	var pending []byte
	for {
		n, err := c.p.Read(buf)
		if n > 0 {
			if c.flush.Swap(false) && len(pending) > 0 {
				// As StreamDevice, a transaction starts on a clean input:
				// the rest of an old line cannot prefix its reply.
				c.log.Debug("serial: partial input flushed", "bytes", quote(pending))
				pending = nil
			}
			pending = append(pending, buf[:n]...)
			pending = c.split(pending)
		}
		if err != nil {
			c.readErr = err
			return
		}
		if n == 0 && len(pending) > 0 {
			// ReadTimeout passed with no byte: the input ends here.
			c.dispatch(frame{data: pending, partial: len(c.inTerm) > 0})
			pending = nil
		}
	}
}

// split dispatches the complete lines at the start of pending and
// returns the rest.
func (c *conn) split(pending []byte) []byte {
	lines, rest := splitLines(pending, c.inTerm)
	for _, l := range lines {
		c.dispatch(frame{data: l})
	}
	if len(rest) > MaxLine {
		c.dispatch(frame{data: rest, partial: true})
		return nil
	}
	return rest
}

// splitLines cuts the lines ended by term off the start of buf: it
// returns them (without term) and the incomplete rest, all copies. With
// no term, everything is rest.
func splitLines(buf, term []byte) (lines [][]byte, rest []byte) {
	if len(term) > 0 {
		for {
			i := bytes.Index(buf, term)
			if i < 0 {
				break
			}
			lines = append(lines, bytes.Clone(buf[:i]))
			buf = buf[i+len(term):]
		}
	}
	return lines, bytes.Clone(buf)
}

// dispatch hands f to the waiting transaction, or offers it to the
// subscriptions.
func (c *conn) dispatch(f frame) {
	c.mu.Lock()
	w := c.waiter
	c.mu.Unlock()
	if w != nil {
		select {
		case w <- f:
		default:
			c.log.Warn("serial: input dropped: the transaction has too many lines queued", "line", quote(f.data))
		}
		return
	}
	if f.partial {
		c.log.Debug("serial: partial input dropped", "bytes", quote(f.data))
		return
	}
	if !c.offer(f) {
		c.log.Debug("serial: unsolicited input matched nothing", "line", quote(f.data))
	}
}

// offer queues f on every subscription that has a matcher for it and
// reports whether one had.
func (c *conn) offer(f frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	taken := false
	for s := range c.subs {
		if s.matches(f.data) {
			taken = true
			select {
			case s.queue <- f:
			default:
				s.dropped.Add(1)
			}
		}
	}
	return taken
}

// setWaiter installs (or, with nil, removes) the transaction's line
// channel.
func (c *conn) setWaiter(w chan frame) {
	c.mu.Lock()
	c.waiter = w
	c.mu.Unlock()
}

// alive reports whether the connection works: its reader runs and no
// write failed.
func (c *conn) alive() bool {
	if c.broken.Load() {
		return false
	}
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}

// failure returns why the reader stopped, as an error for callers.
func (c *conn) failure() error {
	select {
	case <-c.dead:
	default: // broken by a failed write; the reader may still run
		return fmt.Errorf("%s: a write failed", c.where)
	}
	if c.readErr == nil || errors.Is(c.readErr, io.EOF) {
		return fmt.Errorf("%s: connection closed", c.where)
	}
	return fmt.Errorf("%s: %w", c.where, c.readErr)
}

// quote escapes b for logs.
func quote(b []byte) string {
	const maxLog = 200
	if len(b) > maxLog {
		return fmt.Sprintf("%q…(%d bytes)", b[:maxLog], len(b))
	}
	return fmt.Sprintf("%q", b)
}
