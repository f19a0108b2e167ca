package client

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// Access is the set of rights the server grants on a channel.
type Access uint8

// The access right bits (ACCESS_RIGHTS parameter2).
const (
	AccessRead  Access = wire.AccessRead
	AccessWrite Access = wire.AccessWrite
)

// String returns "none", "read", "write" or "read/write".
func (a Access) String() string {
	switch a & 3 {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessRead | AccessWrite:
		return "read/write"
	}
	return "none"
}

// State is the connection state of a channel.
type State uint8

// The channel states.
const (
	StateSearching State = iota // looking for a server
	StateCreating               // CREATE_CHAN sent, waiting for the reply
	StateConnected              // usable
	StateClosed                 // closed by the user or by Client.Close
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateSearching:
		return "searching"
	case StateCreating:
		return "creating"
	case StateConnected:
		return "connected"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Channel is a connection to one PV. It reconnects by itself when its
// circuit is lost. All methods are safe for concurrent use.
type Channel struct {
	c    *Client
	name string
	cid  uint32

	// link is the circuit, sid and rights of a connected channel, nil
	// otherwise. It is replaced under mu and, when cleared, also under the
	// circuit's mu, so that a request that still sees it under the
	// circuit's mu is registered before the channel's ops are swept.
	link atomic.Pointer[chanLink]

	circIdx int // index in circ.chans, -1 if none; guarded by circ.mu

	mu            sync.Mutex
	state         State
	circ          *circuit
	sid           uint32
	typ           dbr.Type
	count         int
	access        Access
	subs          map[uint32]*Subscription
	group         *connGroup // counts down when the first connection succeeds or fails
	readyDone     bool
	readyErr      error
	everConnected bool
}

// chanLink is what a request needs of a connected channel.
type chanLink struct {
	ci     *circuit
	sid    uint32
	access Access
}

// connGroup lets ConnectMany wait for many channels with one channel.
type connGroup struct {
	left atomic.Int64
	done chan struct{}
}

// markReady records the outcome of the first connection. ch.mu must be
// held.
func (ch *Channel) markReady(err error) {
	if ch.readyDone {
		return
	}
	ch.readyDone, ch.readyErr = true, err
	if g := ch.group; g != nil && g.left.Add(-1) == 0 {
		close(g.done)
	}
}

// Connect searches for name, opens or reuses the circuit to the server
// that answers first and creates the channel. It returns when the channel
// is connected, the server refuses it (an *eca.Error), or ctx ends.
func (c *Client) Connect(ctx context.Context, name string) (*Channel, error) {
	chs, err := c.ConnectMany(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	return chs[0], nil
}

// ConnectMany connects many channels at once, batching the searches and
// CREATE_CHAN requests. The result has one entry per name, nil for a name
// that did not connect; the error then tells how many failed and why the
// first did. Channels that did not connect when ctx ends are closed.
func (c *Client) ConnectMany(ctx context.Context, names []string) ([]*Channel, error) {
	if len(c.addrs) == 0 && len(c.nameSrvs) == 0 {
		return nil, ErrNoSearchAddr
	}
	for _, n := range names {
		if n == "" {
			return nil, errors.New("client: empty channel name")
		}
	}
	chs := make([]*Channel, len(names))
	cids := make([]uint32, len(names))
	slab := make([]Channel, len(names))
	g := &connGroup{done: make(chan struct{})}
	g.left.Store(int64(len(names)))
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	c.tabMu.Lock()
	for i, n := range names {
		ch := &slab[i]
		ch.c, ch.name, ch.group, ch.circIdx = c, n, g, -1
		cid, err := c.tab.alloc(ch)
		if err != nil {
			for _, ch := range chs[:i] {
				c.tab.release(ch.cid, ch)
			}
			c.tabMu.Unlock()
			return nil, err
		}
		ch.cid = cid
		chs[i], cids[i] = ch, cid
	}
	c.tabMu.Unlock()
	c.search.add(cids, names)

	select {
	case <-g.done:
	case <-ctx.Done():
	}
	var first error
	failed := 0
	for i, ch := range chs {
		ch.mu.Lock()
		done, err := ch.readyDone, ch.readyErr
		ch.mu.Unlock()
		if !done {
			err = fmt.Errorf("client: connect %q: %w", ch.name, ctx.Err())
		}
		if err != nil {
			_ = ch.Close()
			chs[i] = nil
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 0 {
		if len(names) == 1 {
			return chs, first
		}
		return chs, fmt.Errorf("client: %d of %d channels not connected: %w", failed, len(names), first)
	}
	return chs, nil
}

// Name returns the PV name.
func (ch *Channel) Name() string { return ch.name }

// Server returns the address of the server the channel is connected
// to (as the client reached it), and false while it is not connected.
func (ch *Channel) Server() (netip.AddrPort, bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.state != StateConnected || ch.circ == nil {
		return netip.AddrPort{}, false
	}
	return ch.circ.addr, true
}

// Native returns the native DBR type and element count the server
// reported when the channel was created.
func (ch *Channel) Native() (dbr.Type, int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.typ, ch.count
}

// Access returns the rights the server granted.
func (ch *Channel) Access() Access {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.access
}

// State returns the channel's connection state.
func (ch *Channel) State() State {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.state
}

// attach sends CREATE_CHAN for a channel found on ci.
func (ch *Channel) attach(ci *circuit) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.state != StateSearching {
		return
	}
	ci.mu.Lock()
	if ci.dead != nil {
		ci.mu.Unlock()
		ch.c.search.add([]uint32{ch.cid}, []string{ch.name})
		return
	}
	ci.addChan(ch)
	ci.out = wire.AppendCreateChan(ci.out, ch.cid, ch.name)
	ci.mu.Unlock()
	ci.signal()
	ch.state, ch.circ = StateCreating, ci
}

func (ch *Channel) setAccess(ci *circuit, a Access) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.circ != ci {
		return
	}
	ch.access = a
	if ch.state == StateConnected {
		ch.link.Store(&chanLink{ci: ci, sid: ch.sid, access: a})
	}
}

// connected handles the CREATE_CHAN reply.
func (ch *Channel) connected(ci *circuit, sid uint32, t dbr.Type, count int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.circ != ci {
		return
	}
	if ch.state == StateClosed {
		ci.mu.Lock()
		ci.removeChan(ch)
		ci.out = wire.AppendClearChannel(ci.out, sid, ch.cid)
		ci.mu.Unlock()
		ci.signal()
		ch.circ = nil
		ch.c.releaseCID(ch)
		return
	}
	if ch.state != StateCreating {
		return
	}
	ch.state, ch.sid, ch.typ, ch.count = StateConnected, sid, t, count
	ch.link.Store(&chanLink{ci: ci, sid: sid, access: ch.access})
	if !ch.everConnected {
		ch.everConnected = true
		ch.markReady(nil)
	}
	if len(ch.subs) > 0 {
		ci.mu.Lock()
		for _, s := range ch.subs {
			ci.subs[s.id] = s
			ci.out = wire.AppendEventAdd(ci.out, uint16(s.typ), uint32(s.count), sid, s.id, uint16(s.mask))
		}
		ci.mu.Unlock()
		ci.signal()
	}
}

// lost handles the loss of the channel on ci: circuit gone, SERVER_DISCONN
// or CREATE_CH_FAIL. The channel searches again, except that a refusal
// before the first connection fails Connect.
func (ch *Channel) lost(ci *circuit, err error) {
	refused := eca.Of(err, 0) == eca.BadChID
	ch.mu.Lock()
	if ch.circ != ci {
		ch.mu.Unlock()
		return
	}
	if ch.state == StateClosed { // closed while CREATE_CHAN was pending
		ci.mu.Lock()
		ci.removeChan(ch)
		ci.mu.Unlock()
		ch.circ = nil
		ch.mu.Unlock()
		ch.c.releaseCID(ch)
		return
	}
	wasConnected := ch.state == StateConnected
	ci.mu.Lock()
	ch.link.Store(nil)
	ci.removeChan(ch)
	ops := ci.ops.takeAll(nil, ch)
	var subs []*Subscription
	for _, s := range ch.subs {
		delete(ci.subs, s.id)
		subs = append(subs, s)
	}
	ci.mu.Unlock()
	ch.circ, ch.state, ch.access = nil, StateSearching, 0
	if refused && !ch.everConnected {
		ch.state = StateClosed
		ch.markReady(err)
		ch.mu.Unlock()
		ch.c.releaseCID(ch)
		return
	}
	ch.mu.Unlock()
	for i := range ops {
		ops[i].finish(&ci.vd, nil, ErrDisconnected)
	}
	if wasConnected {
		for _, s := range subs {
			s.deliver(Update{Err: ErrDisconnected})
		}
	}
	// Wait a little before searching again so that a server which keeps
	// refusing or dropping the circuit is not hammered.
	delay := min(reconnectDelay, ch.c.cfg.MaxSearchPeriod)
	if refused {
		delay = ch.c.cfg.MaxSearchPeriod
	}
	ch.c.search.addDelayed(ch.cid, ch.name, delay)
}

// fail closes the channel with err (Client.Close).
func (ch *Channel) fail(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.state = StateClosed
	ch.link.Store(nil)
	ch.markReady(err)
}

// Close clears the channel on the server and cancels its subscriptions.
// Pending operations still complete or fail. Closing twice is harmless.
func (ch *Channel) Close() error {
	ch.mu.Lock()
	if ch.state == StateClosed {
		ch.mu.Unlock()
		return nil
	}
	for _, s := range ch.subs {
		s.cancelled.Store(true)
	}
	ch.subs = nil
	release := true
	switch ch.state {
	case StateSearching:
		ch.c.search.cancel(ch.cid)
	case StateConnected:
		ci := ch.circ
		ci.mu.Lock()
		ch.link.Store(nil)
		ci.removeChan(ch)
		for id, s := range ci.subs {
			if s.ch == ch {
				delete(ci.subs, id)
			}
		}
		ci.out = wire.AppendClearChannel(ci.out, ch.sid, ch.cid)
		ci.mu.Unlock()
		ci.signal()
		ch.circ = nil
	case StateCreating:
		// The circuit clears the channel when the reply comes; the cid
		// stays allocated until then so that the reply finds it.
		release = false
	}
	ch.state = StateClosed
	if !ch.everConnected {
		ch.markReady(ErrClosed)
	}
	ch.mu.Unlock()
	if release {
		ch.c.releaseCID(ch)
	}
	return nil
}

// usable returns the circuit and sid of a connected channel that grants
// the right need, or an error. ch.mu must be held.
func (ch *Channel) usable(need Access) (*circuit, error) {
	switch ch.state {
	case StateConnected:
	case StateClosed:
		return nil, ErrClosed
	default:
		return nil, ErrDisconnected
	}
	if need == AccessRead && ch.access&AccessRead == 0 {
		return nil, &eca.Error{Code: eca.NoRdAccess, Msg: "client: no read access to " + ch.name}
	}
	if need == AccessWrite && ch.access&AccessWrite == 0 {
		return nil, &eca.Error{Code: eca.NoWtAccess, Msg: "client: no write access to " + ch.name}
	}
	return ch.circ, nil
}

// request registers o (if not nil) under a new ioid and appends the
// request built by f(out, sid, ioid) under the circuit's lock. It does not
// take the channel's lock: the channel's link, checked again under the
// circuit's lock, tells that the channel is still connected there.
func (ch *Channel) request(need Access, o *op, f func(b []byte, sid, ioid uint32) ([]byte, error)) (*circuit, uint32, error) {
	for range 4 {
		l, err := ch.linkFor(need)
		if err != nil {
			return nil, 0, err
		}
		ci := l.ci
		ci.mu.Lock()
		if ci.dead != nil {
			ci.mu.Unlock()
			return nil, 0, ErrDisconnected
		}
		if ch.link.Load() != l {
			ci.mu.Unlock()
			continue // reconnected or rights changed meanwhile: look again
		}
		var ioid uint32
		if o != nil {
			if ioid, err = ci.ops.add(*o); err != nil {
				ci.mu.Unlock()
				return nil, 0, err
			}
		}
		out, err := f(ci.out, l.sid, ioid)
		if err != nil {
			if o != nil {
				ci.ops.take(ioid)
			}
			ci.mu.Unlock()
			return nil, 0, err
		}
		ci.out = out
		ci.mu.Unlock()
		ci.signal()
		return ci, ioid, nil
	}
	return nil, 0, ErrDisconnected
}

// linkFor returns the channel's link if it is connected and grants need.
func (ch *Channel) linkFor(need Access) (*chanLink, error) {
	l := ch.link.Load()
	if l == nil {
		ch.mu.Lock()
		l = ch.link.Load()
		var err error
		if l == nil {
			if _, err = ch.usable(need); err == nil {
				err = ErrDisconnected
			}
		}
		ch.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	if need == AccessRead && l.access&AccessRead == 0 {
		return nil, &eca.Error{Code: eca.NoRdAccess, Msg: "client: no read access to " + ch.name}
	}
	if need == AccessWrite && l.access&AccessWrite == 0 {
		return nil, &eca.Error{Code: eca.NoWtAccess, Msg: "client: no write access to " + ch.name}
	}
	return l, nil
}

func checkType(t dbr.Type, count int) error {
	if !t.Valid() {
		return &eca.Error{Code: eca.BadType, Msg: fmt.Sprintf("client: invalid DBR type %d", uint16(t))}
	}
	if count < 0 {
		return &eca.Error{Code: eca.BadCount, Msg: fmt.Sprintf("client: negative count %d", count)}
	}
	return nil
}

// GetAsync sends a READ_NOTIFY for count elements of type t (count 0: as
// many as the PV holds now) and returns at once. fn is called exactly once,
// on the circuit's reader goroutine, with the value or the error (an
// *eca.Error for a failure status); it must not block. fn is not called if
// GetAsync returns an error. fn may keep the value.
func (ch *Channel) GetAsync(t dbr.Type, count int, fn func(dbr.Value, dbr.Metadata, error)) error {
	_, _, err := ch.getAsync(opGet, t, count, fn)
	return err
}

// GetAsyncView is GetAsync for callbacks that do not keep the value: the
// dbr.Value handed to fn is decoded into a buffer that the circuit reuses
// for the next reply, so it is valid only until fn returns (copy it, e.g.
// with slices.Clone, to keep it). For the plain, STS and TIME types of the
// numeric families this decodes without allocating.
func (ch *Channel) GetAsyncView(t dbr.Type, count int, fn func(dbr.Value, dbr.Metadata, error)) error {
	_, _, err := ch.getAsync(opGetView, t, count, fn)
	return err
}

func (ch *Channel) getAsync(kind opKind, t dbr.Type, count int, fn func(dbr.Value, dbr.Metadata, error)) (*circuit, uint32, error) {
	if err := checkType(t, count); err != nil {
		return nil, 0, err
	}
	o := op{kind: kind, ch: ch, get: fn, dtype: t}
	return ch.request(AccessRead, &o, func(b []byte, sid, ioid uint32) ([]byte, error) {
		return wire.AppendReadNotify(b, uint16(t), uint32(count), sid, ioid), nil
	})
}

// getManyChunk is how many requests GetMany queues per lock acquisition,
// so that the writer can start sending while the rest are encoded.
const getManyChunk = 512

// GetMany sends a READ_NOTIFY for count elements of type t on every
// channel of chans, taking each circuit's lock once per run of up to 512
// consecutive channels on that circuit, and returns once they are queued.
// fn(i, v, md, err) is called exactly once per channel, where i is its
// index in chans: on the circuit's reader goroutine with the reply, or,
// for a request that could not be sent (channel not connected, no read
// access), on the calling goroutine before GetMany returns. As with
// GetAsyncView, v is valid only until fn returns. fn must not block.
// GetMany returns an error, and calls fn for none, only if t or count is
// invalid.
func (c *Client) GetMany(chans []*Channel, t dbr.Type, count int, fn func(i int, v dbr.Value, md dbr.Metadata, err error)) error {
	if err := checkType(t, count); err != nil {
		return err
	}
	var cur *circuit
	held := 0
	unlock := func() {
		if cur != nil {
			cur.mu.Unlock()
			cur.signal()
			cur, held = nil, 0
		}
	}
	for i, ch := range chans {
		l := ch.link.Load()
		if l != nil && l.access&AccessRead != 0 && (l.ci != cur || held >= getManyChunk) {
			unlock()
			cur = l.ci
			cur.mu.Lock()
		}
		if l == nil || l.access&AccessRead == 0 || cur.dead != nil || ch.link.Load() != l {
			// Slow path: the single-request code sorts out the reason.
			unlock()
			o := op{kind: opGetMany, ch: ch, dtype: t, idx: i, many: fn}
			_, _, err := ch.request(AccessRead, &o, func(b []byte, sid, ioid uint32) ([]byte, error) {
				return wire.AppendReadNotify(b, uint16(t), uint32(count), sid, ioid), nil
			})
			if err != nil {
				fn(i, nil, dbr.Metadata{}, err)
			}
			continue
		}
		ioid, err := cur.ops.add(op{kind: opGetMany, ch: ch, dtype: t, idx: i, many: fn})
		if err != nil {
			unlock()
			fn(i, nil, dbr.Metadata{}, err)
			continue
		}
		cur.out = wire.AppendReadNotify(cur.out, uint16(t), uint32(count), l.sid, ioid)
		held++
	}
	unlock()
	return nil
}

type getResult struct {
	v   dbr.Value
	md  dbr.Metadata
	err error
}

// Get reads count elements of type t (count 0: as many as the PV holds
// now) and waits for the reply. Do not call it from a callback.
func (ch *Channel) Get(ctx context.Context, t dbr.Type, count int) (dbr.Value, dbr.Metadata, error) {
	res := make(chan getResult, 1)
	ci, ioid, err := ch.getAsync(opGet, t, count, func(v dbr.Value, md dbr.Metadata, err error) {
		res <- getResult{v, md, err}
	})
	if err != nil {
		return nil, dbr.Metadata{}, err
	}
	select {
	case r := <-res:
		return r.v, r.md, r.err
	case <-ctx.Done():
		if _, ok := ci.takeOp(ioid); !ok {
			r := <-res // the reply won the race
			return r.v, r.md, r.err
		}
		return nil, dbr.Metadata{}, ctx.Err()
	}
}

// GetDoubles reads count elements (0: as many as the PV holds now) of t,
// which must be one of the DOUBLE types (DBR_DOUBLE, DBR_STS_DOUBLE,
// DBR_TIME_DOUBLE, DBR_GR_DOUBLE, DBR_CTRL_DOUBLE), into dst and waits for
// the reply. It returns dst resliced to the element count, or a new slice
// if cap(dst) is too small; the values are decoded straight from the
// socket into it, and a large reply is never held whole in a buffer, so a
// caller that passes the previous result back in gets repeated large
// arrays without allocating. dst must not be used by anyone else until
// GetDoubles returns. Do not call it from a callback.
func (ch *Channel) GetDoubles(ctx context.Context, t dbr.Type, count int, dst []float64) ([]float64, dbr.Metadata, error) {
	if err := checkType(t, count); err != nil {
		return dst[:0], dbr.Metadata{}, err
	}
	if t.Base() != dbr.Double {
		return dst[:0], dbr.Metadata{}, &eca.Error{Code: eca.BadType, Msg: fmt.Sprintf("client: GetDoubles of %v, want a DOUBLE type", t)}
	}
	r := &intoReq{dst: dst[:0], done: make(chan struct{})}
	o := op{kind: opGetInto, ch: ch, dtype: t, into: r}
	ci, ioid, err := ch.request(AccessRead, &o, func(b []byte, sid, ioid uint32) ([]byte, error) {
		return wire.AppendReadNotify(b, uint16(t), uint32(count), sid, ioid), nil
	})
	if err != nil {
		return dst[:0], dbr.Metadata{}, err
	}
	select {
	case <-r.done:
		return r.dst, r.md, r.err
	case <-ctx.Done():
		if _, ok := ci.takeOp(ioid); !ok {
			<-r.done // the reply is being decoded into dst: wait for it
			return r.dst, r.md, r.err
		}
		return dst[:0], dbr.Metadata{}, ctx.Err()
	}
}

// appendWrite appends a WRITE or WRITE_NOTIFY carrying v.
func appendWrite(b []byte, cmd wire.Command, v dbr.Value, sid, p2 uint32) ([]byte, error) {
	t, n := v.Type(), v.Len()
	h := wire.Header{Command: cmd, PayloadSize: uint32(dbr.PaddedSize(t, n)), DataType: uint16(t), DataCount: uint32(n), Param1: sid, Param2: p2}
	b, start := wire.BeginMessage(b, h)
	out, err := dbr.AppendData(b, t, n, v, nil)
	if err != nil {
		return b[:start], err
	}
	return wire.EndMessage(out, start), nil
}

func checkValue(v dbr.Value) error {
	if v == nil || v.Len() == 0 {
		return &eca.Error{Code: eca.BadCount, Msg: "client: empty value"}
	}
	return nil
}

// Put writes v with a WRITE request in v's own type; the server converts
// it. There is no reply: a failure is reported by the server in an ERROR
// message, which the client logs. Put returns once the request is queued.
func (ch *Channel) Put(ctx context.Context, v dbr.Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkValue(v); err != nil {
		return err
	}
	cid := ch.cid
	_, _, err := ch.request(AccessWrite, nil, func(b []byte, sid, _ uint32) ([]byte, error) {
		return appendWrite(b, wire.CmdWrite, v, sid, cid)
	})
	return err
}

// PutWait writes v with WRITE_NOTIFY and waits until the server reports
// completion. A failure status is returned as an *eca.Error.
func (ch *Channel) PutWait(ctx context.Context, v dbr.Value) error {
	if err := checkValue(v); err != nil {
		return err
	}
	res := make(chan error, 1)
	o := op{kind: opPut, ch: ch, put: func(err error) { res <- err }}
	ci, ioid, err := ch.request(AccessWrite, &o, func(b []byte, sid, ioid uint32) ([]byte, error) {
		return appendWrite(b, wire.CmdWriteNotify, v, sid, ioid)
	})
	if err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		if _, ok := ci.takeOp(ioid); !ok {
			return <-res
		}
		return ctx.Err()
	}
}

// Update is one subscription event.
type Update struct {
	Value dbr.Value    // nil if Err is set
	Meta  dbr.Metadata // alarm, timestamp and properties as the type carries them
	Err   error        // ErrDisconnected on circuit loss, an *eca.Error for a failure status
	Count int          // element count the server sent
}

// Subscription is an EVENT_ADD on a channel. It survives reconnections:
// the client subscribes again when the channel reconnects.
type Subscription struct {
	ch        *Channel
	id        uint32
	typ       dbr.Type
	count     int
	mask      dbr.EventMask
	fn        func(Update)
	cancelled atomic.Bool
}

// Subscribe asks for updates of count elements (0: the current length at
// each update) of type t for the events in mask. fn is called on the
// circuit's reader goroutine, one update at a time, and must not block;
// it gets Update.Err == ErrDisconnected when the channel is lost. The
// channel need not be connected yet.
func (ch *Channel) Subscribe(t dbr.Type, count int, mask dbr.EventMask, fn func(Update)) (*Subscription, error) {
	if err := checkType(t, count); err != nil {
		return nil, err
	}
	if mask == 0 || mask > 0xFF {
		return nil, &eca.Error{Code: eca.BadMask, Msg: fmt.Sprintf("client: invalid event mask %#x", uint16(mask))}
	}
	s := &Subscription{ch: ch, id: ch.c.subIDs.Add(1), typ: t, count: count, mask: mask, fn: fn}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.state == StateClosed {
		return nil, ErrClosed
	}
	if ch.subs == nil {
		ch.subs = map[uint32]*Subscription{}
	}
	ch.subs[s.id] = s
	if ch.state == StateConnected {
		ci := ch.circ
		ci.mu.Lock()
		ci.subs[s.id] = s
		ci.out = wire.AppendEventAdd(ci.out, uint16(t), uint32(count), ch.sid, s.id, uint16(mask))
		ci.mu.Unlock()
		ci.signal()
	}
	return s, nil
}

func (s *Subscription) deliver(u Update) {
	if !s.cancelled.Load() {
		s.fn(u)
	}
}

// Cancel stops the subscription (EVENT_CANCEL). No callback starts after
// Cancel returns, though one may still be running.
func (s *Subscription) Cancel() error {
	if s.cancelled.Swap(true) {
		return nil
	}
	ch := s.ch
	ch.mu.Lock()
	defer ch.mu.Unlock()
	delete(ch.subs, s.id)
	if ch.state == StateConnected {
		ci := ch.circ
		ci.mu.Lock()
		if ci.subs[s.id] == s {
			delete(ci.subs, s.id)
			ci.out = wire.AppendEventCancel(ci.out, uint16(s.typ), uint32(s.count), ch.sid, s.id)
		}
		ci.mu.Unlock()
		ci.signal()
	}
	return nil
}
