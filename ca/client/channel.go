package client

import (
	"context"
	"errors"
	"fmt"
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

	mu            sync.Mutex
	state         State
	circ          *circuit
	sid           uint32
	typ           dbr.Type
	count         int
	access        Access
	subs          map[uint32]*Subscription
	ready         chan struct{} // closed on first connection or failure
	readyErr      error
	everConnected bool
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
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	for i, n := range names {
		cid := c.cids.Add(1)
		for c.chans[cid] != nil {
			cid = c.cids.Add(1)
		}
		ch := &Channel{c: c, name: n, cid: cid, subs: map[uint32]*Subscription{}, ready: make(chan struct{})}
		c.chans[cid] = ch
		chs[i], cids[i] = ch, cid
	}
	c.mu.Unlock()
	c.search.add(cids, names)

	var first error
	failed := 0
	for i, ch := range chs {
		var err error
		select {
		case <-ch.ready:
			err = ch.readyErr
		case <-ctx.Done():
			select {
			case <-ch.ready:
				err = ch.readyErr
			default:
				err = fmt.Errorf("client: connect %q: %w", ch.name, ctx.Err())
			}
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
	ci.chans[ch.cid] = ch
	ci.out = wire.AppendCreateChan(ci.out, ch.cid, ch.name)
	ci.mu.Unlock()
	ci.signal()
	ch.state, ch.circ = StateCreating, ci
}

func (ch *Channel) setAccess(a Access) {
	ch.mu.Lock()
	ch.access = a
	ch.mu.Unlock()
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
		delete(ci.chans, ch.cid)
		ci.out = wire.AppendClearChannel(ci.out, sid, ch.cid)
		ci.mu.Unlock()
		ci.signal()
		ch.circ = nil
		return
	}
	if ch.state != StateCreating {
		return
	}
	ch.state, ch.sid, ch.typ, ch.count = StateConnected, sid, t, count
	if !ch.everConnected {
		ch.everConnected = true
		close(ch.ready)
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
		delete(ci.chans, ch.cid)
		ci.mu.Unlock()
		ch.circ = nil
		ch.mu.Unlock()
		return
	}
	wasConnected := ch.state == StateConnected
	ci.mu.Lock()
	delete(ci.chans, ch.cid)
	var ops []*op
	for id, o := range ci.ops {
		if o.ch == ch {
			ops = append(ops, o)
			delete(ci.ops, id)
		}
	}
	var subs []*Subscription
	for _, s := range ch.subs {
		delete(ci.subs, s.id)
		subs = append(subs, s)
	}
	ci.mu.Unlock()
	ch.circ, ch.state, ch.access = nil, StateSearching, 0
	if refused && !ch.everConnected {
		ch.state = StateClosed
		ch.readyErr = err
		close(ch.ready)
		ch.mu.Unlock()
		return
	}
	ch.mu.Unlock()
	for _, o := range ops {
		o.finish(nil, dbr.Metadata{}, ErrDisconnected)
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
	if !ch.everConnected && ch.readyErr == nil {
		ch.readyErr = err
		close(ch.ready)
	}
}

// Close clears the channel on the server and cancels its subscriptions.
// Pending operations still complete or fail. Closing twice is harmless.
func (ch *Channel) Close() error {
	ch.c.mu.Lock()
	if ch.c.chans[ch.cid] == ch {
		delete(ch.c.chans, ch.cid)
	}
	ch.c.mu.Unlock()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.state == StateClosed {
		return nil
	}
	for _, s := range ch.subs {
		s.cancelled.Store(true)
	}
	ch.subs = map[uint32]*Subscription{}
	switch ch.state {
	case StateSearching:
		ch.c.search.cancel(ch.cid)
	case StateConnected:
		ci := ch.circ
		ci.mu.Lock()
		delete(ci.chans, ch.cid)
		for id, s := range ci.subs {
			if s.ch == ch {
				delete(ci.subs, id)
			}
		}
		ci.out = wire.AppendClearChannel(ci.out, ch.sid, ch.cid)
		ci.mu.Unlock()
		ci.signal()
		ch.circ = nil
	}
	// StateCreating: the circuit clears the channel when the reply comes.
	ch.state = StateClosed
	if !ch.everConnected && ch.readyErr == nil {
		ch.readyErr = ErrClosed
		close(ch.ready)
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

// request registers o under a new ioid and appends the request built by
// f(out, sid, ioid), holding the channel lock so that it cannot race a
// disconnection.
func (ch *Channel) request(need Access, o *op, f func(b []byte, sid, ioid uint32) ([]byte, error)) (*circuit, uint32, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ci, err := ch.usable(need)
	if err != nil {
		return nil, 0, err
	}
	ioid := ch.c.ioids.Add(1)
	ci.mu.Lock()
	if ci.dead != nil {
		ci.mu.Unlock()
		return nil, 0, ErrDisconnected
	}
	out, err := f(ci.out, ch.sid, ioid)
	ci.out = out
	if err == nil && o != nil {
		ci.ops[ioid] = o
	}
	ci.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	ci.signal()
	return ci, ioid, nil
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
// GetAsync returns an error.
func (ch *Channel) GetAsync(t dbr.Type, count int, fn func(dbr.Value, dbr.Metadata, error)) error {
	_, _, err := ch.getAsync(t, count, fn)
	return err
}

func (ch *Channel) getAsync(t dbr.Type, count int, fn func(dbr.Value, dbr.Metadata, error)) (*circuit, uint32, error) {
	if err := checkType(t, count); err != nil {
		return nil, 0, err
	}
	o := &op{kind: opGet, ch: ch, get: fn, dtype: t}
	return ch.request(AccessRead, o, func(b []byte, sid, ioid uint32) ([]byte, error) {
		return wire.AppendReadNotify(b, uint16(t), uint32(count), sid, ioid), nil
	})
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
	ci, ioid, err := ch.getAsync(t, count, func(v dbr.Value, md dbr.Metadata, err error) {
		res <- getResult{v, md, err}
	})
	if err != nil {
		return nil, dbr.Metadata{}, err
	}
	select {
	case r := <-res:
		return r.v, r.md, r.err
	case <-ctx.Done():
		if ci.takeOp(ioid) == nil {
			r := <-res // the reply won the race
			return r.v, r.md, r.err
		}
		return nil, dbr.Metadata{}, ctx.Err()
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
	o := &op{kind: opPut, ch: ch, put: func(err error) { res <- err }}
	ci, ioid, err := ch.request(AccessWrite, o, func(b []byte, sid, ioid uint32) ([]byte, error) {
		return appendWrite(b, wire.CmdWriteNotify, v, sid, ioid)
	})
	if err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		if ci.takeOp(ioid) == nil {
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
