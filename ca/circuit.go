package ca

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// This file holds the protocol state of one TCP circuit: message handling
// appends replies to the circuit's output buffer and does no I/O. The
// goroutines that feed it and write its output are in circuit_io.go.

// CloseReason tells why the server closed a client's circuit.
type CloseReason uint8

// The reasons a circuit closes.
const (
	CloseUnknown      CloseReason = iota // not recorded
	CloseClientEOF                       // the client closed the connection
	CloseReadError                       // reading from the client failed
	CloseProtocol                        // the client broke the protocol
	CloseWriteError                      // writing to the client failed
	CloseWriteTimeout                    // the client stopped reading: a write blocked past Config.WriteTimeout
	CloseOverflow                        // the client stopped reading: queued output passed Config.MaxOutputBytes
	CloseShutdown                        // the server shut down
	ClosePanic                           // a bug: a panic while serving the circuit
	numCloseReasons
)

//nolint:gochecknoglobals // read-only lookup table, never written
var closeReasonNames = [numCloseReasons]string{"unknown", "client closed", "read error", "protocol error",
	"write error", "write timeout", "output overflow", "server shutdown", "panic"}

// String returns a short description of r.
func (r CloseReason) String() string {
	if r < numCloseReasons {
		return closeReasonNames[r]
	}
	return fmt.Sprintf("CloseReason(%d)", uint8(r))
}

// closeError is the reason a circuit closes and its detail.
type closeError struct {
	reason CloseReason
	detail string
}

func (e *closeError) Error() string {
	if e.detail == "" {
		return "ca: circuit closed: " + e.reason.String()
	}
	return "ca: circuit closed: " + e.reason.String() + ": " + e.detail
}

func protoErr(format string, args ...any) error {
	return &closeError{reason: CloseProtocol, detail: fmt.Sprintf(format, args...)}
}

// errTooLarge: a reply does not fit the client's or the configured limit.
var errTooLarge = errors.New("ca: reply too large")

// errWriteOnly: a read of DBR_PUT_ACKT or DBR_PUT_ACKS (ECA_GETFAIL).
var errWriteOnly = errors.New("ca: write-only DBR type")

const (
	noCID         = 0xFFFFFFFF // ERROR p1 when there is no channel
	subQueueLen   = 4          // queued updates per subscription, as rsrv
	maxNameLen    = 511        // longest HOST_NAME / CLIENT_NAME
	maxTCPOld     = 16384      // largest message to a client < 4.9 (MAX_TCP)
	maxQueuedOps  = 256        // puts and deferred requests per circuit
	minMsgLimit   = 16384      // MaxArrayBytes+24 is raised to at least this
	extHeaderFrom = 9          // client minor version that understands the extended header
	dynCountFrom  = 13         // client minor version that may ask for count 0
)

// channel is one channel created on a circuit.
type channel struct {
	sid, cid    uint32
	name        string
	pv          PV
	native      dbr.Type
	nativeCount int
	group       string          // access security group, fixed at creation
	access      accessBits      // effective rights; stored under circuit.mu, loaded anywhere
	subs        []*subscription // the channel's subscriptions, in no order
	pending     int             // ops queued on the put worker for this channel
}

// subscription is one EVENT_ADD. Its PV calls Update; the circuit's writer
// encodes the queued snapshots.
type subscription struct {
	c      *circuit
	ch     *channel
	id     uint32
	dt     dbr.Type
	count  uint32 // requested count, 0 = current length
	mask   dbr.EventMask
	cancel func()

	// guarded by c.subMu
	q        [subQueueLen]*Snapshot
	n        int
	dirty    bool
	canceled bool
}

// Update queues s for sending. It never blocks: when the queue is full the
// newest entry is replaced, and while the client has turned events off
// only the newest snapshot is kept.
func (sub *subscription) Update(s *Snapshot, ev dbr.EventMask) {
	if ev&sub.mask == 0 || s == nil {
		return
	}
	c := sub.c
	c.subMu.Lock()
	// Read access is checked under subMu: a change of rights stores the
	// new rights before it takes subMu to repost (setRights), so an update
	// racing with a loss of read access is either replaced by the repost
	// or dropped here.
	if sub.canceled || sub.ch.access.load()&AccessRead == 0 {
		c.subMu.Unlock()
		return
	}
	c.pushLocked(sub, s)
}

// pushLocked queues s on sub and unlocks c.subMu. It never blocks: when
// the queue is full the newest entry is replaced, and while the client has
// turned events off only the newest snapshot is kept.
func (c *circuit) pushLocked(sub *subscription, s *Snapshot) {
	var coalesced int
	off := c.eventsOff
	switch {
	case off && sub.n > 0:
		coalesced = sub.n
		clear(sub.q[:])
		sub.q[0], sub.n = s, 1
	case sub.n == len(sub.q):
		sub.q[sub.n-1] = s
		coalesced = 1
	default:
		sub.q[sub.n] = s
		sub.n++
	}
	if !sub.dirty {
		sub.dirty = true
		c.dirty = append(c.dirty, sub)
	}
	c.subMu.Unlock()
	if coalesced > 0 {
		c.srv.stats.coalesced.Add(uint64(coalesced))
	}
	if !off {
		c.wakeWriter()
	}
}

// opKind is the kind of work queued on a circuit's put worker.
type opKind uint8

const (
	opPut        opKind = iota // WRITE or WRITE_NOTIFY
	opRead                     // READ deferred behind a put on the same channel
	opReadNotify               // READ_NOTIFY deferred behind a put
	opClear                    // CLEAR_CHANNEL deferred behind a put
)

// op is one unit of work for the put worker. Requests on a channel that
// has queued puts are queued too, so that each channel sees its requests in
// order.
type op struct {
	kind   opKind
	ch     *channel
	h      wire.Header
	ext    bool
	v      dbr.Value
	status eca.Code // for opPut: a failure found while decoding, else Normal
}

// circuit is the state of one client connection.
type circuit struct {
	srv        *Server
	conn       net.Conn // nil in tests without sockets
	remote     string
	maxPayload uint32 // request payload limit for wire.Next, 0 = none
	maxMsg     int    // reply size limit, 0 = none

	// mu guards the output buffer and the protocol state below. It is held
	// by the reader while it handles a batch of messages, by the put worker
	// while it appends a reply, and by the writer while it swaps buffers;
	// never across I/O.
	mu         sync.Mutex
	out        []byte
	closing    bool // the reader has stopped; the writer flushes and exits
	reason     *closeError
	gotVersion bool
	minor      uint16
	priority   uint16
	user, host string
	asHost     string                   // the host access rules see: host lower-cased, or the peer's IP
	chans      []*channel               // indexed by sid; nil for a free sid
	freeSIDs   []uint32                 // sids below len(chans) not in use
	nchans     int                      // channels in chans
	subs       map[uint32]*subscription // by the client-chosen subscription id
	ops        []op
	opHead     int
	largest    int           // largest reply appended to out, for the overflow limit
	refs       []outRef      // large values sent from their own buffers, in order within out
	refBytes   int           // bytes in refs, queued after out's
	valCache   *encodedValue // the last large value encoded for a READ_NOTIFY

	// subMu guards the subscription queues, the dirty list and eventsOff.
	// PV goroutines take it in Update; it is never held while taking mu.
	subMu     sync.Mutex
	dirty     []*subscription
	eventsOff bool

	wake     chan struct{} // wakes the writer
	opWake   chan struct{} // wakes the put worker
	progress chan struct{} // the writer or the worker made room
	done     chan struct{} // closed when the circuit is dropped
	doneOnce sync.Once
}

func newCircuit(s *Server, conn net.Conn, remote string) *circuit {
	c := &circuit{
		srv:      s,
		conn:     conn,
		remote:   remote,
		asHost:   ruleHost("", remote),
		subs:     make(map[uint32]*subscription),
		wake:     make(chan struct{}, 1),
		opWake:   make(chan struct{}, 1),
		progress: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if mab := s.Config.MaxArrayBytes; mab > 0 {
		c.maxMsg = max(mab+wire.ExtHeaderSize, minMsgLimit)
		c.maxPayload = uint32(c.maxMsg - wire.HeaderSize)
	}
	// rsrv sends its VERSION at accept, before reading anything.
	c.out = wire.AppendVersionTCP(make([]byte, 0, 4096), 0)
	return c
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *circuit) wakeWriter() { signal(c.wake) }

// setReason records why the circuit closes; the first reason wins.
// c.mu must be held.
func (c *circuit) setReasonLocked(err error) {
	if c.reason != nil {
		return
	}
	var ce *closeError
	if errors.As(err, &ce) {
		c.reason = ce
		return
	}
	c.reason = &closeError{reason: CloseUnknown, detail: fmt.Sprint(err)}
}

// rawHeader writes h as it appeared on the wire (16 or 24 bytes) into b.
func rawHeader(b *[wire.ExtHeaderSize]byte, h wire.Header, ext bool) []byte {
	be := binary.BigEndian
	be.PutUint16(b[0:], uint16(h.Command))
	be.PutUint16(b[4:], h.DataType)
	be.PutUint32(b[8:], h.Param1)
	be.PutUint32(b[12:], h.Param2)
	if ext {
		be.PutUint16(b[2:], wire.ExtMarker)
		be.PutUint16(b[6:], 0)
		be.PutUint32(b[16:], h.PayloadSize)
		be.PutUint32(b[20:], h.DataCount)
		return b[:wire.ExtHeaderSize]
	}
	be.PutUint16(b[2:], uint16(h.PayloadSize))
	be.PutUint16(b[6:], uint16(h.DataCount))
	return b[:wire.HeaderSize]
}

// appendErr appends an ERROR carrying a copy of the request's header.
func (c *circuit) appendErr(h wire.Header, ext bool, cid uint32, status eca.Code, text string) {
	var b [wire.ExtHeaderSize]byte
	c.out = wire.AppendError(c.out, cid, uint32(status), rawHeader(&b, h, ext), text)
}

// badID answers a request naming an unknown sid: ERROR and close, as rsrv.
func (c *circuit) badID(m *wire.Message) error {
	c.appendErr(m.Header, m.Extended, noCID, eca.Internal, "Bad Resource ID")
	return protoErr("%v: unknown sid %d", m.Command, m.Param1)
}

// elemCount returns the number of elements to send for a request of req
// elements, given the channel's native count and current length cur.
func elemCount(req uint32, native, cur int, minor uint16) int {
	if cur > native {
		cur = native
	}
	if req == 0 {
		if minor >= dynCountFrom {
			return cur
		}
		return native
	}
	if uint64(req) > uint64(native) {
		return native
	}
	return int(req)
}

// checkSize reports errTooLarge if a reply of n elements with a padded
// payload of size bytes cannot be sent to this client.
func (c *circuit) checkSize(size, n int, minor uint16) error {
	hl := wire.HeaderSize
	if size >= wire.ExtMarker || n >= wire.ExtMarker {
		if minor < extHeaderFrom {
			return errTooLarge
		}
		hl = wire.ExtHeaderSize
	}
	if minor < extHeaderFrom && hl+size > maxTCPOld {
		return errTooLarge
	}
	if c.maxMsg > 0 && hl+size > c.maxMsg {
		return errTooLarge
	}
	return nil
}

// appendValue appends a cmd message carrying n elements of snap converted
// to t. On failure dst is returned unchanged with errTooLarge or the
// conversion error.
func (c *circuit) appendValue(dst []byte, cmd wire.Command, t dbr.Type, n int, p1, p2 uint32, snap *Snapshot, minor uint16) ([]byte, error) {
	if t == dbr.PutAckT || t == dbr.PutAckS {
		return dst, errWriteOnly
	}
	size := dbr.PaddedSize(t, n)
	if err := c.checkSize(size, n, minor); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = wire.AppendHeader(dst, wire.Header{Command: cmd, PayloadSize: uint32(size), DataType: uint16(t),
		DataCount: uint32(n), Param1: p1, Param2: p2})
	dst, err := dbr.AppendData(dst, t, n, snap.Value, &snap.Meta)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// appendFailed appends a cmd reply carrying status in p1 and zeroed data
// of the requested size (no data for ECA_TOLARGE), as rsrv answers a failed
// READ_NOTIFY or subscription update.
func appendFailed(dst []byte, cmd wire.Command, t dbr.Type, n int, status eca.Code, p2 uint32) []byte {
	if status == eca.TooLarge {
		n = 0
	}
	size := dbr.PaddedSize(t, n)
	dst = wire.AppendHeader(dst, wire.Header{Command: cmd, PayloadSize: uint32(size), DataType: uint16(t),
		DataCount: uint32(n), Param1: uint32(status), Param2: p2})
	return append(dst, make([]byte, size)...)
}

func readStatus(err error) eca.Code {
	if errors.Is(err, errTooLarge) {
		return eca.TooLarge
	}
	return eca.GetFail
}

// appendUpdate appends one subscription update (or its failure status).
func (c *circuit) appendUpdate(dst []byte, sub *subscription, snap *Snapshot, minor uint16) []byte {
	n := elemCount(sub.count, sub.ch.nativeCount, snap.Value.Len(), minor)
	if sub.ch.access.load()&AccessRead == 0 {
		return appendFailed(dst, wire.CmdEventAdd, sub.dt, n, eca.NoRdAccess, sub.id)
	}
	dst, err := c.appendValue(dst, wire.CmdEventAdd, sub.dt, n, uint32(eca.Normal), sub.id, snap, minor)
	if err != nil {
		return appendFailed(dst, wire.CmdEventAdd, sub.dt, n, readStatus(err), sub.id)
	}
	return dst
}

// handle processes one decoded request and appends its replies to c.out.
// c.mu must be held. A non-nil error closes the circuit after the output
// has been flushed.
func (c *circuit) handle(m *wire.Message) error {
	if !c.gotVersion && m.Command != wire.CmdVersion {
		c.appendErr(m.Header, m.Extended, noCID, eca.Defunct, "Client version 0 too old")
		return nil
	}
	switch m.Command {
	case wire.CmdVersion:
		return c.version(m)
	case wire.CmdEcho:
		c.out = wire.AppendHeader(c.out, m.Header)
		c.out = append(c.out, m.Payload...)
	case wire.CmdReadSync:
		h := m.Header
		h.PayloadSize = 0
		c.out = wire.AppendHeader(c.out, h)
	case wire.CmdSearch:
		c.search(m)
	case wire.CmdClientName, wire.CmdHostName:
		return c.setName(m)
	case wire.CmdCreateChan:
		c.createChan(m)
	case wire.CmdReadNotify, wire.CmdRead:
		return c.readRequest(m)
	case wire.CmdWrite, wire.CmdWriteNotify:
		return c.writeRequest(m)
	case wire.CmdEventAdd:
		return c.eventAdd(m)
	case wire.CmdEventCancel:
		return c.eventCancel(m)
	case wire.CmdClearChannel:
		ch := c.channel(m.Param1)
		if ch == nil {
			return c.badID(m)
		}
		if ch.pending > 0 {
			c.queue(op{kind: opClear, ch: ch, h: m.Header, ext: m.Extended})
			return nil
		}
		c.clearChannel(ch, m.Header)
	case wire.CmdEventsOff, wire.CmdEventsOn:
		c.subMu.Lock()
		c.eventsOff = m.Command == wire.CmdEventsOff
		c.subMu.Unlock()
	default:
		c.appendErr(m.Header, m.Extended, noCID, eca.Internal, "invalid (damaged?) request code from TCP")
		return protoErr("bad command %v", m.Command)
	}
	return nil
}

func (c *circuit) version(m *wire.Message) error {
	if c.gotVersion {
		return nil // informational, e.g. the VERSION opening a TCP search
	}
	if m.DataCount < wire.MinSupportedMinor {
		return protoErr("client minor version %d too old", m.DataCount)
	}
	if m.DataType > wire.MaxPriority {
		return protoErr("priority %d out of range", m.DataType)
	}
	c.gotVersion = true
	c.minor = uint16(min(m.DataCount, 0xFFFF))
	c.priority = m.DataType
	return nil
}

// nameBytes returns the payload up to its first NUL.
func nameBytes(p []byte) []byte {
	for i, b := range p {
		if b == 0 {
			return p[:i]
		}
	}
	return p
}

func (c *circuit) search(m *wire.Message) {
	c.srv.stats.searches.Add(1)
	name := nameBytes(m.Payload)
	if len(name) > 0 {
		if _, ok := c.srv.lookupBytes(name); ok {
			c.srv.stats.searchHits.Add(1)
			c.out = wire.AppendSearchReplyTCP(c.out, c.srv.tcpPort, m.Param1)
			return
		}
	}
	if m.DataType == wire.DoReply {
		c.out = wire.AppendNotFound(c.out, m.Header)
	}
}

func (c *circuit) setName(m *wire.Message) error {
	name, err := wire.DecodeName(m.Payload, maxNameLen)
	if err != nil {
		c.appendErr(m.Header, m.Extended, noCID, eca.Internal, "host or user name too long")
		return protoErr("%v: name longer than %d bytes", m.Command, maxNameLen)
	}
	// rsrv (R3.15 on) refuses a new name once the circuit has a channel,
	// with an ERROR. This server accepts it at any time, as rsrv R3.14 did:
	// the rights of every channel are computed again and ACCESS_RIGHTS is
	// sent for each channel whose rights change.
	if m.Command == wire.CmdHostName {
		if name == c.host {
			return nil
		}
		c.host = name
		c.asHost = ruleHost(name, c.remote)
	} else {
		if name == c.user {
			return nil
		}
		c.user = name
	}
	if c.nchans > 0 {
		c.recomputeRights(c.srv.accessRules())
	}
	return nil
}

func (c *circuit) createChan(m *wire.Message) {
	name, _ := wire.DecodeName(m.Payload, 0)
	if name == "" {
		return // rsrv answers an empty name with nothing
	}
	cid := m.Param1
	pv, ok := c.srv.lookup(name)
	if !ok {
		c.out = wire.AppendCreateChFail(c.out, cid)
		return
	}
	t, count := pv.Native()
	count = max(count, 1)
	sid := c.allocSID()
	ch := &channel{sid: sid, cid: cid, name: name, pv: pv, native: t, nativeCount: count, group: c.srv.groupOf(name, pv)}
	ch.access.store(c.rights(c.srv.accessRules(), ch))
	c.chans[sid] = ch
	c.nchans++
	c.srv.stats.channels.Add(1)
	reported := uint32(count)
	if c.minor < extHeaderFrom && reported > 0xFFFE {
		reported = 0xFFFE
	}
	c.out = wire.AppendAccessRights(c.out, cid, uint32(ch.access.load()))
	c.out = wire.AppendCreateChanReply(c.out, cid, sid, uint16(t), reported)
}

// allocSID returns a free sid: the most recently freed one, else the next
// slot of the table. sids are dense per circuit, so that a request finds
// its channel with a slice index; clients treat them as opaque. c.mu must
// be held.
func (c *circuit) allocSID() uint32 {
	if n := len(c.freeSIDs); n > 0 {
		sid := c.freeSIDs[n-1]
		c.freeSIDs = c.freeSIDs[:n-1]
		return sid
	}
	c.chans = append(c.chans, nil)
	return uint32(len(c.chans) - 1)
}

// channel returns the channel with the given sid, or nil. c.mu must be
// held.
func (c *circuit) channel(sid uint32) *channel {
	if uint64(sid) < uint64(len(c.chans)) {
		return c.chans[sid]
	}
	return nil
}

func (c *circuit) readRequest(m *wire.Message) error {
	ch := c.channel(m.Param1)
	if ch == nil {
		return c.badID(m)
	}
	if !dbr.Type(m.DataType).Valid() {
		return protoErr("%v: invalid DBR type %d", m.Command, m.DataType)
	}
	if _, ok := ch.pv.(Reader); ok || ch.pending > 0 {
		k := opReadNotify
		if m.Command == wire.CmdRead {
			k = opRead
		}
		c.queue(op{kind: k, ch: ch, h: m.Header, ext: m.Extended})
		return nil
	}
	if m.Command == wire.CmdRead {
		c.read(ch, m.Header, m.Extended, nil, eca.Normal)
	} else {
		c.readNotify(ch, m.Header, nil, eca.Normal)
	}
	return nil
}

// callRead calls the Read method of a channel's Reader PV, recovering a
// panic. It returns the snapshot, or nil and the failure status. It must
// be called without c.mu held.
func (c *circuit) callRead(ctx context.Context, ch *channel, r Reader) (snap *Snapshot, status eca.Code) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.logger().Error("ca: panic in PV read", "pv", ch.name, "client", c.remote,
				"panic", p, "stack", string(debug.Stack()))
			snap, status = nil, eca.GetFail
		}
	}()
	s, err := r.Read(ctx)
	if err != nil || s == nil {
		return nil, eca.Of(err, eca.GetFail)
	}
	return s, eca.Normal
}

// readNotify answers READ_NOTIFY: status in p1, zeroed data on failure.
// snap is the state to send (nil: the PV's Snapshot); a status other than
// Normal fails the read with it.
func (c *circuit) readNotify(ch *channel, h wire.Header, snap *Snapshot, status eca.Code) {
	t := dbr.Type(h.DataType)
	if snap == nil {
		snap = ch.pv.Snapshot()
	}
	n := elemCount(h.DataCount, ch.nativeCount, snap.Value.Len(), c.minor)
	if ch.access.load()&AccessRead == 0 {
		status = eca.NoRdAccess
	}
	if status != eca.Normal {
		c.out = appendFailed(c.out, wire.CmdReadNotify, t, n, status, h.Param2)
		return
	}
	if n*t.ValueSize() >= zeroCopyMin && c.appendValueRef(t, n, h.Param2, snap) {
		return
	}
	start := len(c.out)
	out, err := c.appendValue(c.out, wire.CmdReadNotify, t, n, uint32(eca.Normal), h.Param2, snap, c.minor)
	if err != nil {
		out = appendFailed(out, wire.CmdReadNotify, t, n, readStatus(err), h.Param2)
	}
	c.out = out
	c.largest = max(c.largest, len(out)-start)
}

// read answers the deprecated READ: p1 = cid, failures as ERROR, a scalar
// DBR_STRING shortened to its length. snap and status are as for
// readNotify.
func (c *circuit) read(ch *channel, h wire.Header, ext bool, snap *Snapshot, status eca.Code) {
	t := dbr.Type(h.DataType)
	if ch.access.load()&AccessRead == 0 {
		status = eca.NoRdAccess
	}
	if status != eca.Normal {
		c.appendErr(h, ext, ch.cid, status, ch.name)
		return
	}
	if snap == nil {
		snap = ch.pv.Snapshot()
	}
	n := elemCount(h.DataCount, ch.nativeCount, snap.Value.Len(), c.minor)
	start := len(c.out)
	out, err := c.appendValue(c.out, wire.CmdRead, t, n, ch.cid, h.Param2, snap, c.minor)
	if err != nil {
		c.appendErr(h, ext, ch.cid, readStatus(err), ch.name)
		return
	}
	if t == dbr.String && n == 1 {
		p := out[start+wire.HeaderSize:]
		size := wire.Padded(len(nameBytes(p)) + 1)
		out = out[:start+wire.HeaderSize+size]
		binary.BigEndian.PutUint16(out[start+2:], uint16(size))
	}
	c.out = out
	c.largest = max(c.largest, len(out)-start)
}

// writeRequest decodes a WRITE or WRITE_NOTIFY and queues the put on the
// circuit's put worker.
func (c *circuit) writeRequest(m *wire.Message) error {
	ch := c.channel(m.Param1)
	if ch == nil {
		return c.badID(m)
	}
	t := dbr.Type(m.DataType)
	if !t.Valid() {
		return protoErr("%v: invalid DBR type %d", m.Command, m.DataType)
	}
	o := op{kind: opPut, ch: ch, h: m.Header, ext: m.Extended, status: eca.Normal}
	switch {
	case t == dbr.StsAckString || t == dbr.ClassName:
		o.status = eca.BadType
	case m.DataCount > uint32(len(m.Payload)):
		o.status = eca.BadCount
	default:
		n := int(m.DataCount)
		payload := m.Payload
		if t.Base() == dbr.String && len(payload) < dbr.DataSize(t, n) {
			// libca sends a scalar string put short: strlen+1, padded.
			full := make([]byte, dbr.DataSize(t, n))
			copy(full, payload)
			payload = full
		}
		v, _, err := dbr.DecodeData(t, n, payload)
		switch {
		case errors.Is(err, dbr.ErrShort):
			o.status = eca.BadCount
		case err != nil:
			o.status = eca.Of(err, eca.BadType)
		default:
			o.v = v
		}
	}
	c.queue(o)
	return nil
}

// queue appends o to the put worker's queue. c.mu must be held.
func (c *circuit) queue(o op) {
	o.ch.pending++
	c.ops = append(c.ops, o)
	signal(c.opWake)
}

// queuedOps returns the number of ops waiting. c.mu must be held.
func (c *circuit) queuedOps() int { return len(c.ops) - c.opHead }

// nextOp removes and returns the oldest queued op. c.mu must be held.
func (c *circuit) nextOp() (op, bool) {
	if c.opHead == len(c.ops) {
		return op{}, false
	}
	o := c.ops[c.opHead]
	c.ops[c.opHead] = op{}
	c.opHead++
	if c.opHead == len(c.ops) {
		c.ops, c.opHead = c.ops[:0], 0
	}
	return o, true
}

// runOps executes the queued ops in order until the queue is empty. Puts
// run without c.mu held, so a slow put never blocks the reader.
func (c *circuit) runOps(ctx context.Context) {
	for {
		c.mu.Lock()
		o, ok := c.nextOp()
		if !ok {
			c.mu.Unlock()
			return
		}
		if o.kind != opPut {
			var snap *Snapshot
			status := eca.Normal
			if r, ok := o.ch.pv.(Reader); ok && o.kind != opClear && o.ch.access.load()&AccessRead != 0 {
				c.mu.Unlock()
				snap, status = c.callRead(ctx, o.ch, r)
				c.mu.Lock()
			}
			switch o.kind {
			case opRead:
				c.read(o.ch, o.h, o.ext, snap, status)
			case opReadNotify:
				c.readNotify(o.ch, o.h, snap, status)
			case opClear:
				c.clearChannel(o.ch, o.h)
			}
			o.ch.pending--
			c.mu.Unlock()
		} else {
			c.mu.Unlock()
			status := o.status
			if status == eca.Normal {
				status = c.put(ctx, &o)
			}
			c.mu.Lock()
			o.ch.pending--
			if o.h.Command == wire.CmdWriteNotify {
				c.out = wire.AppendWriteNotifyReply(c.out, o.h.DataType, o.h.DataCount, uint32(status), o.h.Param2)
			} else if status != eca.Normal {
				c.appendErr(o.h, o.ext, o.ch.cid, status, o.ch.name)
			}
			c.mu.Unlock()
		}
		c.srv.stats.puts.Add(1)
		c.wakeWriter()
		signal(c.progress)
	}
}

// put performs one put and returns its status.
func (c *circuit) put(ctx context.Context, o *op) (status eca.Code) {
	if o.ch.access.load()&AccessWrite == 0 {
		return eca.NoWtAccess
	}
	defer func() {
		if r := recover(); r != nil {
			c.srv.logger().Error("ca: panic in PV put", "pv", o.ch.name, "client", c.remote,
				"panic", r, "stack", string(debug.Stack()))
			status = eca.PutFail
		}
	}()
	switch t := dbr.Type(o.h.DataType); t {
	case dbr.PutAckT, dbr.PutAckS:
		e, ok := o.v.(dbr.Enums)
		if !ok || len(e) == 0 {
			return eca.BadCount
		}
		return ack(o.ch.pv, t, e[0])
	}
	return eca.Of(o.ch.pv.Put(ctx, o.v), eca.PutFail)
}

// ack applies PUT_ACKT / PUT_ACKS through the PV's optional
// acknowledgement methods.
func ack(pv PV, t dbr.Type, v uint16) eca.Code {
	if t == dbr.PutAckT {
		switch a := pv.(type) {
		case interface{ AckT(bool) error }:
			return eca.Of(a.AckT(v != 0), eca.PutFail)
		case interface{ AckT(bool) }:
			a.AckT(v != 0)
			return eca.Normal
		}
		return eca.PutFail
	}
	switch a := pv.(type) {
	case interface{ AckS(dbr.Severity) error }:
		return eca.Of(a.AckS(dbr.Severity(v)), eca.PutFail)
	case interface{ AckS(dbr.Severity) }:
		a.AckS(dbr.Severity(v))
		return eca.Normal
	}
	return eca.PutFail
}

func (c *circuit) eventAdd(m *wire.Message) error {
	ch := c.channel(m.Param1)
	if ch == nil {
		return c.badID(m)
	}
	t := dbr.Type(m.DataType)
	if !t.Valid() {
		return protoErr("EVENT_ADD: invalid DBR type %d", m.DataType)
	}
	mask, err := wire.EventAddMask(m.Payload)
	if err != nil {
		c.appendErr(m.Header, m.Extended, ch.cid, eca.Internal, "short EVENT_ADD")
		return protoErr("EVENT_ADD: payload of %d bytes", len(m.Payload))
	}
	if mask == 0 || mask > 0xFF {
		c.appendErr(m.Header, m.Extended, ch.cid, eca.AllocMem,
			"subscription install into record "+ch.name+" failed")
		return protoErr("EVENT_ADD: bad event mask %#x", mask)
	}
	if old := c.subs[m.Param2]; old != nil {
		c.cancelSub(old)
	}
	sub := &subscription{c: c, ch: ch, id: m.Param2, dt: t, count: m.DataCount, mask: dbr.EventMask(mask)}
	c.subs[sub.id] = sub
	ch.subs = append(ch.subs, sub)
	c.srv.stats.subscriptions.Add(1)
	// Subscribe before taking the first snapshot: a change in between is
	// then sent twice rather than lost.
	sub.cancel = ch.pv.Subscribe(sub)
	start := len(c.out)
	c.out = c.appendUpdate(c.out, sub, ch.pv.Snapshot(), c.minor)
	c.largest = max(c.largest, len(c.out)-start)
	c.srv.stats.updates.Add(1)
	return nil
}

// cancelSub removes sub from the circuit and its PV. c.mu must be held.
func (c *circuit) cancelSub(sub *subscription) {
	delete(c.subs, sub.id)
	subs := sub.ch.subs
	for i, s := range subs {
		if s == sub {
			last := len(subs) - 1
			subs[i], subs[last] = subs[last], nil
			sub.ch.subs = subs[:last]
			break
		}
	}
	if sub.cancel != nil {
		sub.cancel()
	}
	c.subMu.Lock()
	sub.canceled = true
	clear(sub.q[:])
	sub.n = 0
	c.subMu.Unlock()
	c.srv.stats.subscriptions.Add(-1)
}

func (c *circuit) eventCancel(m *wire.Message) error {
	ch := c.channel(m.Param1)
	if ch == nil {
		return c.badID(m)
	}
	sub := c.subs[m.Param2]
	if sub == nil || sub.ch != ch {
		c.appendErr(m.Header, m.Extended, ch.cid, eca.BadMonID, "bad event subscription identifier")
		return protoErr("EVENT_CANCEL: unknown subscription %d", m.Param2)
	}
	c.cancelSub(sub)
	c.out = wire.AppendEventCancelReply(c.out, uint16(sub.dt), sub.count, m.Param1, sub.id)
	return nil
}

// clearChannel cancels ch's subscriptions, forgets it and echoes the
// request. c.mu must be held.
func (c *circuit) clearChannel(ch *channel, h wire.Header) {
	c.dropChannel(ch)
	h.PayloadSize = 0
	c.out = wire.AppendHeader(c.out, h)
}

// dropChannel cancels ch's subscriptions and forgets it. c.mu must be held.
func (c *circuit) dropChannel(ch *channel) {
	for len(ch.subs) > 0 {
		c.cancelSub(ch.subs[len(ch.subs)-1])
	}
	if c.channel(ch.sid) == ch {
		c.chans[ch.sid] = nil
		c.freeSIDs = append(c.freeSIDs, ch.sid)
		c.nchans--
		c.srv.stats.channels.Add(-1)
	}
}

// pvRemoved sends SERVER_DISCONN for every channel created under name for
// pv and forgets those channels.
func (c *circuit) pvRemoved(name string, pv PV) {
	c.mu.Lock()
	n := 0
	for _, ch := range c.chans {
		if ch != nil && ch.name == name && ch.pv == pv {
			c.dropChannel(ch)
			c.out = wire.AppendServerDisconn(c.out, ch.cid)
			n++
		}
	}
	c.mu.Unlock()
	if n > 0 {
		c.wakeWriter()
	}
}

// teardown cancels every subscription and forgets every channel.
func (c *circuit) teardown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.chans {
		if ch != nil {
			c.dropChannel(ch)
		}
	}
}

// pendingUpdate is one snapshot taken from a subscription queue.
type pendingUpdate struct {
	sub  *subscription
	snap *Snapshot
}

// takeUpdates moves the queued snapshots of every dirty subscription into
// dst, unless the client has turned events off.
func (c *circuit) takeUpdates(dst []pendingUpdate) []pendingUpdate {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if c.eventsOff {
		return dst
	}
	for i, sub := range c.dirty {
		if !sub.canceled {
			for _, s := range sub.q[:sub.n] {
				dst = append(dst, pendingUpdate{sub, s})
			}
		}
		clear(sub.q[:sub.n])
		sub.n = 0
		sub.dirty = false
		c.dirty[i] = nil
	}
	c.dirty = c.dirty[:0]
	return dst
}
