package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// opKind tells what an outstanding ioid waits for.
type opKind uint8

const (
	opGet opKind = iota
	opPut
)

// op is an outstanding READ_NOTIFY or WRITE_NOTIFY.
type op struct {
	kind  opKind
	ch    *Channel
	get   func(dbr.Value, dbr.Metadata, error)
	put   func(error)
	dtype dbr.Type
}

func (o *op) finish(v dbr.Value, md dbr.Metadata, err error) {
	if o.kind == opGet {
		o.get(v, md, err)
	} else {
		o.put(err)
	}
}

// circuit is one TCP connection to a server. Its goroutine (run) dials,
// then reads and dispatches every message; a second goroutine writes the
// output buffer. Requests are appended to out under mu and flushed by the
// writer in batches.
type circuit struct {
	c    *Client
	addr netip.AddrPort

	nameServer  atomic.Bool
	serverMinor atomic.Int32 // -1 until the server's VERSION arrives

	mu     sync.Mutex
	out    []byte
	dead   error // set once the circuit is closed
	conn   net.Conn
	chans  map[uint32]*Channel      // by cid
	ops    map[uint32]*op           // by ioid
	subs   map[uint32]*Subscription // by subscription id
	echoes []chan struct{}

	wake chan struct{}
	done chan struct{}
}

func newCircuit(c *Client, addr netip.AddrPort) *circuit {
	ci := &circuit{
		c:     c,
		addr:  addr,
		chans: make(map[uint32]*Channel),
		ops:   make(map[uint32]*op),
		subs:  make(map[uint32]*Subscription),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	ci.serverMinor.Store(-1)
	ci.out = wire.AppendVersionTCP(ci.out, c.cfg.Priority)
	ci.out = wire.AppendClientName(ci.out, c.cfg.ClientName)
	ci.out = wire.AppendHostName(ci.out, c.cfg.HostName)
	return ci
}

// searchReady reports whether the server announced a version that accepts
// SEARCH over TCP.
func (ci *circuit) searchReady() bool { return ci.serverMinor.Load() >= 12 }

func (ci *circuit) signal() {
	select {
	case ci.wake <- struct{}{}:
	default:
	}
}

// write appends raw bytes to the output buffer.
func (ci *circuit) write(b []byte) {
	ci.mu.Lock()
	if ci.dead == nil {
		ci.out = append(ci.out, b...)
	}
	ci.mu.Unlock()
	ci.signal()
}

// send appends a message built by f to the output buffer. It returns the
// circuit's error if the circuit is closed.
func (ci *circuit) send(f func([]byte) []byte) error {
	ci.mu.Lock()
	if ci.dead != nil {
		err := ci.dead
		ci.mu.Unlock()
		return err
	}
	ci.out = f(ci.out)
	ci.mu.Unlock()
	ci.signal()
	return nil
}

// close shuts the circuit down; run then cleans up.
func (ci *circuit) close(err error) {
	ci.mu.Lock()
	if ci.dead == nil {
		ci.dead = err
	}
	conn := ci.conn
	ci.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	select {
	case <-ci.done:
	default:
		ci.signal()
	}
}

// echo sends ECHO and waits for the answer.
func (ci *circuit) echo(ctx context.Context) error {
	done := make(chan struct{})
	ci.mu.Lock()
	if ci.dead != nil {
		ci.mu.Unlock()
		return ci.dead
	}
	ci.echoes = append(ci.echoes, done)
	ci.out = wire.AppendEcho(ci.out)
	ci.mu.Unlock()
	ci.signal()
	select {
	case <-done:
		return nil
	case <-ci.done:
		return ErrDisconnected
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run dials the server, starts the writer and reads until the circuit
// fails, then disconnects everything that used it.
func (ci *circuit) run() {
	err := ci.serve()
	if errors.Is(err, ErrClosed) {
		ci.c.log.Debug("client: circuit closed", "server", ci.addr)
	} else {
		ci.c.log.Info("client: circuit lost", "server", ci.addr, "err", err)
	}
	ci.close(err)
	close(ci.done)
	ci.c.removeCircuit(ci)
	ci.cleanup()
}

func (ci *circuit) serve() error {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.Dial("tcp", ci.addr.String())
	if err != nil {
		return fmt.Errorf("client: connect %v: %w", ci.addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
	}
	ci.mu.Lock()
	if ci.dead != nil {
		ci.mu.Unlock()
		_ = conn.Close()
		return ci.dead
	}
	ci.conn = conn
	ci.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { ci.writeLoop(conn) })
	err = ci.readLoop(conn)
	ci.close(err) // marks the circuit dead, closes conn and wakes the writer
	wg.Wait()
	return err
}

func (ci *circuit) writeLoop(conn net.Conn) {
	var buf []byte
	for {
		select {
		case <-ci.wake:
		case <-ci.done:
			return
		}
		ci.mu.Lock()
		if ci.dead != nil {
			ci.mu.Unlock()
			return
		}
		buf, ci.out = ci.out, buf[:0]
		ci.mu.Unlock()
		if len(buf) == 0 {
			continue
		}
		_ = conn.SetWriteDeadline(time.Now().Add(ci.c.cfg.ConnTimeout))
		if _, err := conn.Write(buf); err != nil {
			ci.close(fmt.Errorf("client: write to %v: %w", ci.addr, err))
			return
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not keep a huge buffer after a big put
		}
	}
}

func (ci *circuit) readLoop(conn net.Conn) error {
	buf := make([]byte, 0, 64<<10)
	var skip int64
	echoSent := false
	for {
		if len(buf) == cap(buf) {
			need := max(wire.Need(buf), int64(2*cap(buf)))
			nb := make([]byte, len(buf), need)
			copy(nb, buf)
			buf = nb
		}
		tmo := ci.c.cfg.ConnTimeout
		if echoSent {
			tmo = echoTimeout
		}
		_ = conn.SetReadDeadline(time.Now().Add(tmo))
		n, err := conn.Read(buf[len(buf):cap(buf)])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !echoSent {
				echoSent = true
				ci.write(wire.AppendEcho(nil))
				continue
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("client: server %v closed the circuit", ci.addr)
			}
			return fmt.Errorf("client: read from %v: %w", ci.addr, err)
		}
		echoSent = false
		data := buf[len(buf) : len(buf)+n]
		if skip > 0 {
			k := min(skip, int64(len(data)))
			skip -= k
			copy(data, data[k:])
			n -= int(k)
		}
		buf = buf[:len(buf)+n]
		off := 0
		for off < len(buf) {
			m, k, err := wire.Next(buf[off:], ci.c.maxPayload)
			if errors.Is(err, wire.ErrNeedMore) {
				break
			}
			var we *wire.Error
			if errors.As(err, &we) {
				if we.Reason != wire.ErrTooLarge {
					return fmt.Errorf("client: from %v: %w", ci.addr, err)
				}
				ci.tooLarge(we.Header)
				if rest := int64(len(buf) - off); we.Len > rest {
					skip = we.Len - rest
					off = len(buf)
				} else {
					off += int(we.Len)
				}
				continue
			}
			off += k
			if err := ci.dispatch(m); err != nil {
				return err
			}
		}
		buf = buf[:copy(buf, buf[off:])]
		if cap(buf) > 1<<20 && len(buf) < 64<<10 {
			buf = append(make([]byte, 0, 64<<10), buf...)
		}
	}
}

// tooLarge fails the operation whose reply exceeded MaxArrayBytes.
func (ci *circuit) tooLarge(h wire.Header) {
	err := &eca.Error{Code: eca.TooLarge, Msg: fmt.Sprintf("client: %v reply of %d bytes exceeds the array limit", h.Command, h.PayloadSize)}
	switch h.Command {
	case wire.CmdReadNotify:
		if o := ci.takeOp(h.Param2); o != nil {
			o.finish(nil, dbr.Metadata{}, err)
		}
	case wire.CmdEventAdd:
		if s := ci.sub(h.Param2); s != nil {
			s.deliver(Update{Err: err, Count: int(h.DataCount)})
		}
	}
}

func (ci *circuit) takeOp(ioid uint32) *op {
	ci.mu.Lock()
	o := ci.ops[ioid]
	delete(ci.ops, ioid)
	ci.mu.Unlock()
	return o
}

func (ci *circuit) sub(id uint32) *Subscription {
	ci.mu.Lock()
	s := ci.subs[id]
	ci.mu.Unlock()
	return s
}

func (ci *circuit) chanByCID(cid uint32) *Channel {
	ci.mu.Lock()
	ch := ci.chans[cid]
	ci.mu.Unlock()
	return ch
}

func statusErr(status uint32) error {
	if eca.Code(status) == eca.Normal {
		return nil
	}
	return &eca.Error{Code: eca.Code(status)}
}

// dispatch handles one message from the server. It runs on the circuit's
// goroutine and holds no lock while calling user callbacks.
func (ci *circuit) dispatch(m wire.Message) error {
	switch m.Command {
	case wire.CmdVersion:
		if ci.serverMinor.Swap(int32(m.DataCount)) < 12 && m.DataCount >= 12 && ci.nameServer.Load() {
			ci.c.search.signal()
		}
	case wire.CmdEcho, wire.CmdReadSync:
		ci.mu.Lock()
		w := ci.echoes
		ci.echoes = nil
		ci.mu.Unlock()
		for _, d := range w {
			close(d)
		}
	case wire.CmdSearch:
		ci.c.found(m.Param2, replyAddr(m, ci.addr.Addr(), int(ci.addr.Port())))
	case wire.CmdNotFound:
	case wire.CmdAccessRights:
		if ch := ci.chanByCID(m.Param1); ch != nil {
			ch.setAccess(Access(m.Param2))
		}
	case wire.CmdCreateChan:
		if ch := ci.chanByCID(m.Param1); ch != nil {
			ch.connected(ci, m.Param2, dbr.Type(m.DataType), int(m.DataCount))
		}
	case wire.CmdCreateChFail:
		if ch := ci.chanByCID(m.Param1); ch != nil {
			ch.lost(ci, &eca.Error{Code: eca.BadChID, Msg: "client: server refused to create channel " + ch.name})
		}
	case wire.CmdServerDisconn:
		if ch := ci.chanByCID(m.Param1); ch != nil {
			ch.lost(ci, ErrDisconnected)
		}
	case wire.CmdClearChannel:
	case wire.CmdReadNotify:
		o := ci.takeOp(m.Param2)
		if o == nil {
			return nil
		}
		if err := statusErr(m.Param1); err != nil {
			o.finish(nil, dbr.Metadata{}, err)
			return nil
		}
		v, md, err := dbr.DecodeData(dbr.Type(m.DataType), int(m.DataCount), m.Payload)
		o.finish(v, md, err)
	case wire.CmdWriteNotify:
		if o := ci.takeOp(m.Param2); o != nil {
			o.finish(nil, dbr.Metadata{}, statusErr(m.Param1))
		}
	case wire.CmdEventAdd:
		s := ci.sub(m.Param2)
		if s == nil || m.PayloadSize == 0 {
			return nil // cancel confirmation, or an update racing a cancel
		}
		if err := statusErr(m.Param1); err != nil {
			s.deliver(Update{Err: err, Count: int(m.DataCount)})
			return nil
		}
		v, md, err := dbr.DecodeData(dbr.Type(m.DataType), int(m.DataCount), m.Payload)
		s.deliver(Update{Value: v, Meta: md, Err: err, Count: int(m.DataCount)})
	case wire.CmdError:
		ci.serverError(m)
	default:
		return fmt.Errorf("client: server %v sent unexpected %v", ci.addr, m.Command)
	}
	return nil
}

// serverError routes an ERROR message by the copied request header.
func (ci *circuit) serverError(m wire.Message) {
	req, text, err := wire.DecodeError(m.Payload)
	if err != nil {
		ci.c.log.Warn("client: short ERROR message", "server", ci.addr)
		return
	}
	e := &eca.Error{Code: eca.Code(m.Param2), Msg: text}
	switch req.Command {
	case wire.CmdReadNotify, wire.CmdRead, wire.CmdWriteNotify:
		if o := ci.takeOp(req.Param2); o != nil {
			o.finish(nil, dbr.Metadata{}, e)
			return
		}
	case wire.CmdEventAdd:
		if s := ci.sub(req.Param2); s != nil {
			s.deliver(Update{Err: e})
			return
		}
	}
	ci.c.log.Warn("client: server error", "server", ci.addr, "request", req.Command.String(), "status", eca.Code(m.Param2).Name(), "text", text)
}

// cleanup runs after the circuit is gone: pending operations fail,
// subscriptions report the loss, channels search again.
func (ci *circuit) cleanup() {
	ci.mu.Lock()
	ops := ci.ops
	ci.ops = map[uint32]*op{}
	chans := ci.chans
	ci.chans = map[uint32]*Channel{}
	ci.subs = map[uint32]*Subscription{}
	ci.echoes = nil // their waiters see ci.done
	ci.mu.Unlock()
	for _, o := range ops {
		o.finish(nil, dbr.Metadata{}, ErrDisconnected)
	}
	for _, ch := range chans {
		ch.lost(ci, ErrDisconnected)
	}
}
