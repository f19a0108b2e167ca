package ca

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// The network layer of a circuit: one reader goroutine that decodes and
// handles requests, one writer goroutine that flushes replies and
// subscription updates, and one put worker. The reader owns the other two
// and waits for them.

const (
	readChunk     = 64 << 10 // initial read buffer
	outHighWater  = 4 << 20  // the reader pauses while more output than this is queued
	flushChunk    = 1 << 20  // the writer writes whenever it has encoded this much
	batchMessages = 256      // messages handled per hold of c.mu
	shutdownFlush = time.Second

	// An output buffer larger than bigBuffer is kept for the next large
	// reply until bigIdleFlushes flushes in a row have needed no more than
	// bigBuffer, or the writer has been idle for bigIdleRelease.
	bigBuffer      = 4 * flushChunk
	bigIdleFlushes = 64
	bigIdleRelease = 2 * time.Second
)

// run serves the circuit until the client goes away, breaks the protocol,
// stops reading, or the server shuts down.
func (c *circuit) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(c.writeLoop)
	wg.Go(func() { c.putLoop(ctx) })
	c.wakeWriter() // send the VERSION
	err := c.readLoop()

	// Let the writer flush what is queued (an ERROR, the last replies),
	// then stop the put worker and close.
	c.mu.Lock()
	c.setReasonLocked(err)
	c.closing = true
	c.mu.Unlock()
	c.wakeWriter()
	cancel()
	wg.Wait()
	c.doneOnce.Do(func() { close(c.done) })
	_ = c.conn.Close()
	c.teardown()
	c.srv.removeCircuit(c)
	c.logClose()
}

func (c *circuit) logClose() {
	c.mu.Lock()
	r := c.reason
	attrs := []any{"client", c.remote, "host", c.host, "user", c.user, "reason", r.reason.String()}
	if r.detail != "" {
		attrs = append(attrs, "detail", r.detail)
	}
	c.mu.Unlock()
	c.srv.stats.closes[r.reason].Add(1)
	level := slog.LevelDebug
	switch r.reason {
	case CloseProtocol, CloseWriteTimeout, CloseOverflow, CloseReadError, CloseWriteError:
		level = slog.LevelWarn
	case ClosePanic:
		level = slog.LevelError
	}
	c.srv.logger().Log(context.Background(), level, "ca: circuit closed", attrs...)
}

// fail drops the circuit at once: the writer cannot make progress.
func (c *circuit) fail(reason CloseReason, detail string) {
	c.mu.Lock()
	c.setReasonLocked(&closeError{reason: reason, detail: detail})
	c.mu.Unlock()
	c.doneOnce.Do(func() { close(c.done) })
	_ = c.conn.Close()
}

// readLoop reads and handles requests until an error; the error tells why
// the circuit closes.
func (c *circuit) readLoop() (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.logger().Error("ca: panic serving circuit", "client", c.remote, "panic", r,
				"stack", string(debug.Stack()))
			err = &closeError{reason: ClosePanic, detail: "panic while handling a request"}
		}
	}()
	buf := make([]byte, readChunk)
	var r, w int
	var skip int64 // bytes of an oversized request still to discard
	for {
		n, rerr := c.conn.Read(buf[w:])
		w += n
		c.srv.stats.bytesIn.Add(uint64(n))
		if skip > 0 {
			d := min(skip, int64(w-r))
			r += int(d)
			skip -= d
		}
		if r < w && skip == 0 {
			var perr error
			r, skip, perr = c.process(buf, r, w)
			if perr != nil {
				return perr
			}
		}
		if rerr != nil {
			return c.readErr(rerr)
		}
		// Keep the partial message at the start of the buffer, growing the
		// buffer as its bytes arrive (never ahead of them).
		if r == w {
			r, w = 0, 0
			if len(buf) > 4*readChunk {
				buf = make([]byte, readChunk)
			}
		} else if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		if w == len(buf) {
			need := wire.Need(buf[:w])
			size := int64(2 * len(buf))
			if need > int64(len(buf)) && need < size {
				size = need
			}
			nb := make([]byte, size)
			copy(nb, buf[:w])
			buf = nb
		}
	}
}

func (c *circuit) readErr(err error) error {
	switch {
	case c.srv.isClosing():
		return &closeError{reason: CloseShutdown}
	case errors.Is(err, io.EOF):
		return &closeError{reason: CloseClientEOF}
	case errors.Is(err, net.ErrClosed):
		return &closeError{reason: CloseUnknown, detail: "connection closed"}
	default:
		return &closeError{reason: CloseReadError, detail: err.Error()}
	}
}

// process handles the complete messages in buf[r:w] and returns the new
// start, the number of bytes of an oversized message still to skip, and
// an error that closes the circuit.
func (c *circuit) process(buf []byte, r, w int) (int, int64, error) {
	var msgs uint64
	defer func() { c.srv.stats.messagesIn.Add(msgs) }()
	c.mu.Lock()
	batch := 0
	for r < w {
		if c.outLen() >= outHighWater || c.queuedOps() >= maxQueuedOps {
			// Back-pressure: the client does not read its replies or
			// the puts are slow. Wait for room, or for the circuit to be
			// dropped.
			c.mu.Unlock()
			c.wakeWriter()
			select {
			case <-c.progress:
			case <-c.done:
				return r, 0, &closeError{reason: CloseUnknown, detail: "circuit dropped"}
			}
			c.mu.Lock()
			continue
		}
		m, n, err := wire.Next(buf[r:w], c.maxPayload)
		if err != nil {
			if errors.Is(err, wire.ErrNeedMore) {
				break
			}
			var we *wire.Error
			if !errors.As(err, &we) {
				c.mu.Unlock()
				return r, 0, protoErr("%v", err)
			}
			hdr := buf[r : r+we.HeaderLen]
			if errors.Is(err, wire.ErrTooLarge) {
				c.out = wire.AppendError(c.out, noCID, uint32(eca.TooLarge), hdr, "request larger than EPICS_CA_MAX_ARRAY_BYTES")
				d := min(we.Len, int64(w-r))
				r += int(d)
				c.mu.Unlock()
				c.wakeWriter()
				return r, we.Len - d, nil
			}
			c.out = wire.AppendError(c.out, noCID, uint32(eca.Internal), hdr, "CAS: Missaligned protocol rejected")
			c.mu.Unlock()
			return r, 0, protoErr("%v", err)
		}
		r += n
		msgs++
		if herr := c.handle(&m); herr != nil {
			c.mu.Unlock()
			return r, 0, herr
		}
		if batch++; batch == batchMessages {
			batch = 0
			c.mu.Unlock()
			c.wakeWriter()
			c.mu.Lock()
		}
	}
	c.mu.Unlock()
	c.wakeWriter()
	return r, 0, nil
}

// putLoop runs the circuit's queued puts until ctx is done.
func (c *circuit) putLoop(ctx context.Context) {
	for {
		select {
		case <-c.opWake:
			c.runOps(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// writeLoop flushes the output buffer and the queued subscription updates
// whenever woken, until the reader has stopped and everything is written,
// or a write fails.
func (c *circuit) writeLoop() {
	defer func() {
		if r := recover(); r != nil {
			c.srv.logger().Error("ca: panic writing circuit", "client", c.remote, "panic", r,
				"stack", string(debug.Stack()))
			c.fail(ClosePanic, "panic while writing")
		}
	}()
	var spare []byte
	var spareRefs []outRef
	var updates []pendingUpdate
	var iov net.Buffers
	var idle *time.Timer // releases big buffers once the circuit is idle
	var idleC <-chan time.Time
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	small := 0 // flushes in a row that needed no big buffer
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		case <-idleC:
			idleC = nil
			spare = nil
			c.mu.Lock()
			if len(c.out) == 0 && cap(c.out) > bigBuffer {
				c.out = nil
			}
			c.valCache = nil
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		buf, refs, refBytes := c.out, c.refs, c.refBytes
		c.out, c.refs, c.refBytes = spare[:0], spareRefs[:0], 0
		minor := c.minor
		limit := c.srv.maxOutput() + c.largest
		c.mu.Unlock()
		if len(buf)+refBytes > limit {
			c.fail(CloseOverflow, "queued output exceeded the limit")
			return
		}
		used := len(buf)
		var err error
		updates = c.takeUpdates(updates[:0])
		for i, u := range updates {
			buf = c.appendUpdate(buf, u.sub, u.snap, minor)
			updates[i] = pendingUpdate{}
			if len(buf) >= flushChunk {
				used = max(used, len(buf))
				if err = c.writeOut(buf, refs, &iov); err != nil {
					return
				}
				buf, refs = buf[:0], c.releaseRefs(refs)
			}
		}
		c.srv.stats.updates.Add(uint64(len(updates)))
		used = max(used, len(buf))
		if err = c.writeOut(buf, refs, &iov); err != nil {
			return
		}
		buf = buf[:0]
		if cap(buf) > bigBuffer {
			if used > bigBuffer {
				small = 0
			} else if small++; small >= bigIdleFlushes {
				buf, small = nil, 0
			}
		}
		spare = buf
		signal(c.progress)
		c.mu.Lock()
		spareRefs = c.releaseRefsLocked(refs)
		finished := c.closing && c.outLen() == 0
		pending := c.outLen() > 0
		big := cap(spare) > bigBuffer || cap(c.out) > bigBuffer || c.valCache != nil
		c.mu.Unlock()
		if finished {
			return
		}
		if pending {
			c.wakeWriter()
		}
		if big {
			if idle == nil {
				idle = time.NewTimer(bigIdleRelease)
			} else {
				idle.Reset(bigIdleRelease)
			}
			idleC = idle.C
		}
	}
}

// releaseRefs drops the written refs and returns refs[:0].
func (c *circuit) releaseRefs(refs []outRef) []outRef {
	if len(refs) == 0 {
		return refs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.releaseRefsLocked(refs)
}

// releaseRefsLocked drops the written refs, so that their buffers may be
// reused, and returns refs[:0]. c.mu must be held.
func (c *circuit) releaseRefsLocked(refs []outRef) []outRef {
	for i := range refs {
		refs[i].ev.refs--
		refs[i] = outRef{}
	}
	return refs[:0]
}

// writeOut writes buf with the large values of refs spliced in at their
// offsets (one writev). On failure it drops the circuit.
func (c *circuit) writeOut(buf []byte, refs []outRef, iov *net.Buffers) error {
	if len(refs) == 0 {
		_, err := c.write(buf)
		return err
	}
	v := (*iov)[:0]
	prev := 0
	for _, r := range refs {
		if r.at > prev {
			v = append(v, buf[prev:r.at])
		}
		v = append(v, r.ev.b)
		prev = r.at
	}
	if prev < len(buf) {
		v = append(v, buf[prev:])
	}
	*iov = v
	bufs := v
	err := c.writeBuffers(&bufs)
	clear(v)
	return err
}

// write writes buf under the write deadline and returns buf[:0]. On
// failure it drops the circuit.
func (c *circuit) write(buf []byte) ([]byte, error) {
	if len(buf) == 0 {
		return buf, nil
	}
	timeout := c.deadline()
	n, err := c.conn.Write(buf)
	return buf[:0], c.wrote(int64(n), err, timeout)
}

// writeBuffers writes bufs (consuming it) under the write deadline. On
// failure it drops the circuit.
func (c *circuit) writeBuffers(bufs *net.Buffers) error {
	timeout := c.deadline()
	n, err := bufs.WriteTo(c.conn)
	return c.wrote(n, err, timeout)
}

// deadline sets the write deadline and returns the timeout it used.
func (c *circuit) deadline() time.Duration {
	timeout := c.srv.writeTimeout()
	if c.srv.isClosing() {
		timeout = min(timeout, shutdownFlush)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
	return timeout
}

// wrote counts n bytes written and drops the circuit if err is not nil.
func (c *circuit) wrote(n int64, err error, timeout time.Duration) error {
	c.srv.stats.bytesOut.Add(uint64(n))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.fail(CloseWriteTimeout, "write blocked for "+timeout.String())
		} else {
			c.fail(CloseWriteError, err.Error())
		}
	}
	return err
}
