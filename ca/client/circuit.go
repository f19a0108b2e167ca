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

func (o *op) finish(vd *viewDecoder, m *wire.Message, err error) {
	switch o.kind {
	case opPut:
		o.put(err)
		return
	case opGetInto:
		r := o.into
		if err == nil && m != nil {
			r.dst, r.md, r.err = decodeInto(r.dst, dbr.Type(m.DataType), int(m.DataCount), m.Payload)
		} else {
			r.err = err
		}
		close(r.done)
		return
	}
	var v dbr.Value
	var md dbr.Metadata
	if err == nil && m != nil {
		if o.kind == opGet {
			v, md, err = dbr.DecodeData(dbr.Type(m.DataType), int(m.DataCount), m.Payload)
		} else {
			v, md, err = vd.decode(dbr.Type(m.DataType), int(m.DataCount), m.Payload)
		}
	}
	if o.kind == opGetMany {
		o.many(o.idx, v, md, err)
	} else {
		o.get(v, md, err)
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
	chans  []*Channel               // attached channels; Channel.circIdx is the index
	ops    opTable                  // by ioid
	subs   map[uint32]*Subscription // by subscription id
	echoes []chan struct{}

	wake chan struct{}
	done chan struct{}

	// Owned by the reader goroutine.
	vd     viewDecoder
	batch  []wire.Message // READ_NOTIFY/WRITE_NOTIFY replies to finish together
	taken  []op
	stream *intoStream // a large GetDoubles reply being received
}

func newCircuit(c *Client, addr netip.AddrPort) *circuit {
	ci := &circuit{
		c:    c,
		addr: addr,
		subs: make(map[uint32]*Subscription),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	ci.serverMinor.Store(-1)
	ci.out = wire.AppendVersionTCP(ci.out, c.cfg.Priority)
	ci.out = wire.AppendClientName(ci.out, c.cfg.ClientName)
	ci.out = wire.AppendHostName(ci.out, c.cfg.HostName)
	return ci
}

// addChan records ch as attached to ci. ci.mu must be held.
func (ci *circuit) addChan(ch *Channel) {
	ch.circIdx = len(ci.chans)
	ci.chans = append(ci.chans, ch)
}

// removeChan forgets ch if it is attached to ci. ci.mu must be held.
func (ci *circuit) removeChan(ch *Channel) {
	i := ch.circIdx
	if i < 0 || i >= len(ci.chans) || ci.chans[i] != ch {
		return
	}
	last := len(ci.chans) - 1
	if i != last {
		mv := ci.chans[last]
		ci.chans[i] = mv
		mv.circIdx = i
	}
	ci.chans[last] = nil
	ci.chans = ci.chans[:last]
	ch.circIdx = -1
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
	if s := ci.stream; s != nil { // a large reply cut short
		ci.stream = nil
		s.o.finish(&ci.vd, nil, ErrDisconnected)
	}
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

// readBufSize is the reader's buffer size: large, so that one read
// system call takes many replies at once.
const readBufSize = 256 << 10

// streamMin is the payload size from which a GetDoubles reply is decoded
// as it arrives instead of being buffered whole.
const streamMin = 64 << 10

func (ci *circuit) readLoop(conn net.Conn) error {
	buf := make([]byte, 0, readBufSize)
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
			data = data[:n]
		}
		if s := ci.stream; s != nil && n > 0 {
			k := s.feed(data)
			copy(data, data[k:])
			n -= k
			if s.left == 0 {
				ci.stream = nil
				ci.endStream(s)
			}
		}
		buf = buf[:len(buf)+n]
		off := 0
		for off < len(buf) {
			m, k, err := wire.Next(buf[off:], ci.c.maxPayload)
			if errors.Is(err, wire.ErrNeedMore) {
				if ci.startStream(buf[off:]) {
					off = len(buf)
				}
				break
			}
			if err != nil {
				var we *wire.Error
				if !errors.As(err, &we) {
					ci.flushBatch()
					return fmt.Errorf("client: from %v: %w", ci.addr, err)
				}
				if !errors.Is(we.Reason, wire.ErrTooLarge) {
					ci.flushBatch()
					return fmt.Errorf("client: from %v: %w", ci.addr, err)
				}
				ci.flushBatch()
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
			if m.Command == wire.CmdReadNotify || m.Command == wire.CmdWriteNotify {
				ci.batch = append(ci.batch, m)
				continue
			}
			ci.flushBatch()
			if err := ci.dispatch(m); err != nil {
				return err
			}
		}
		ci.flushBatch()
		buf = buf[:copy(buf, buf[off:])]
		if cap(buf) > 4*readBufSize && len(buf) < readBufSize {
			buf = append(make([]byte, 0, readBufSize), buf...)
		}
	}
}

// startStream begins decoding the GetDoubles reply whose start is b (a
// complete header and part of the payload) as it arrives. It reports
// whether it took b.
func (ci *circuit) startStream(b []byte) bool {
	h, _, hl, err := wire.ParseHeader(b)
	if err != nil || h.Command != wire.CmdReadNotify || h.PayloadSize < streamMin ||
		h.PayloadSize%8 != 0 || eca.Code(h.Param1) != eca.Normal {
		return false
	}
	t := dbr.Type(h.DataType)
	if !t.Valid() || t.Base() != dbr.Double || dbr.DataSize(t, int(h.DataCount)) > int(h.PayloadSize) {
		return false
	}
	ci.mu.Lock()
	p, ok := ci.ops.peek(h.Param2)
	if !ok || p.kind != opGetInto {
		ci.mu.Unlock()
		return false
	}
	o, _ := ci.ops.take(h.Param2)
	ci.mu.Unlock()
	count := int(h.DataCount)
	r := o.into
	if cap(r.dst) < count {
		r.dst = make([]float64, count)
	}
	r.dst = r.dst[:count]
	off := t.ValueOffset()
	s := &intoStream{o: o, t: t, count: count, left: int64(h.PayloadSize), need: off, meta: make([]byte, 0, off)}
	s.feed(b[hl:])
	ci.stream = s
	return true
}

// endStream finishes a streamed GetDoubles reply.
func (ci *circuit) endStream(s *intoStream) {
	r := s.o.into
	r.md, r.err = decodeMetaAny(s.t, s.meta)
	close(r.done)
}

// flushBatch finishes the READ_NOTIFY and WRITE_NOTIFY replies collected
// from one read, taking their ops under a single lock.
func (ci *circuit) flushBatch() {
	if len(ci.batch) == 0 {
		return
	}
	taken := ci.taken[:0]
	ci.mu.Lock()
	for i := range ci.batch {
		o, ok := ci.ops.take(ci.batch[i].Param2)
		if !ok {
			o.kind = opKind(255) // stale or cancelled: drop
		}
		taken = append(taken, o)
	}
	ci.mu.Unlock()
	for i := range taken {
		o := &taken[i]
		if o.kind == opKind(255) {
			continue
		}
		m := &ci.batch[i]
		o.finish(&ci.vd, m, statusErr(m.Param1))
	}
	clear(taken) // release callbacks and channels
	ci.taken = taken[:0]
	clear(ci.batch)
	ci.batch = ci.batch[:0]
}

// tooLarge fails the operation whose reply exceeded MaxArrayBytes.
func (ci *circuit) tooLarge(h wire.Header) {
	err := &eca.Error{Code: eca.TooLarge, Msg: fmt.Sprintf("client: %v reply of %d bytes exceeds the array limit", h.Command, h.PayloadSize)}
	switch h.Command {
	case wire.CmdReadNotify:
		if o, ok := ci.takeOp(h.Param2); ok {
			o.finish(&ci.vd, nil, err)
		}
	case wire.CmdEventAdd:
		if s := ci.sub(h.Param2); s != nil {
			s.deliver(Update{Err: err, Count: int(h.DataCount)})
		}
	}
}

// takeOp removes the op of ioid; ok is false if it is gone.
func (ci *circuit) takeOp(ioid uint32) (op, bool) {
	ci.mu.Lock()
	o, ok := ci.ops.take(ioid)
	ci.mu.Unlock()
	return o, ok
}

func (ci *circuit) sub(id uint32) *Subscription {
	ci.mu.Lock()
	s := ci.subs[id]
	ci.mu.Unlock()
	return s
}

func statusErr(status uint32) error {
	if eca.Code(status) == eca.Normal {
		return nil
	}
	return &eca.Error{Code: eca.Code(status)}
}

// dispatch handles one message from the server other than READ_NOTIFY and
// WRITE_NOTIFY replies. It runs on the circuit's goroutine and holds no
// lock while calling user callbacks.
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
		// As in libca (tcpiiu::searchRespNotify): a reply that names no
		// address designates this circuit's server, whatever port it
		// names, so a name server reached through a forwarded port (a
		// published Docker port) is connected where it was reached.
		addr := ci.addr
		if m.Param1 != wire.AddrFromSource {
			addr = replyAddr(m, ci.addr.Addr(), int(ci.addr.Port()))
		}
		ci.c.found(m.Param2, addr)
	case wire.CmdNotFound:
	case wire.CmdAccessRights:
		if ch := ci.c.channel(m.Param1); ch != nil {
			ch.setAccess(ci, Access(m.Param2))
		}
	case wire.CmdCreateChan:
		if ch := ci.c.channel(m.Param1); ch != nil {
			ch.connected(ci, m.Param2, dbr.Type(m.DataType), int(m.DataCount))
		}
	case wire.CmdCreateChFail:
		if ch := ci.c.channel(m.Param1); ch != nil {
			ch.lost(ci, &eca.Error{Code: eca.BadChID, Msg: "client: server refused to create channel " + ch.name})
		}
	case wire.CmdServerDisconn:
		if ch := ci.c.channel(m.Param1); ch != nil {
			ch.lost(ci, ErrDisconnected)
		}
	case wire.CmdClearChannel:
	case wire.CmdReadNotify, wire.CmdWriteNotify:
		ci.batch = append(ci.batch, m)
		ci.flushBatch()
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
		if o, ok := ci.takeOp(req.Param2); ok {
			o.finish(&ci.vd, nil, e)
			return
		}
	case wire.CmdEventAdd:
		if s := ci.sub(req.Param2); s != nil {
			s.deliver(Update{Err: e})
			return
		}
	}
	ci.c.log.Warn("client: server error", "server", ci.addr, "request", req.Command.String(), "status", eca.Code(m.Param2).Name(), "text", text)
	if f := ci.c.cfg.OnServerError; f != nil {
		f(ServerError{Server: ci.addr, Request: req.Command.String(), Err: e})
	}
}

// cleanup runs after the circuit is gone: pending operations fail,
// subscriptions report the loss, channels search again.
func (ci *circuit) cleanup() {
	ci.mu.Lock()
	ops := ci.ops.takeAll(nil, nil)
	chans := ci.chans
	ci.chans = nil
	for _, ch := range chans {
		ch.circIdx = -1
	}
	ci.subs = map[uint32]*Subscription{}
	ci.echoes = nil // their waiters see ci.done
	ci.mu.Unlock()
	for i := range ops {
		ops[i].finish(&ci.vd, nil, ErrDisconnected)
	}
	for _, ch := range chans {
		ch.lost(ci, ErrDisconnected)
	}
}
