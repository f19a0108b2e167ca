package ca

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// fakePV is a minimal PV for the server's tests, independent of the data
// containers.
type fakePV struct {
	typ    dbr.Type
	count  int
	access Access
	snap   atomic.Pointer[Snapshot]

	mu      sync.Mutex
	subs    map[int]Subscriber
	nextID  int
	putErr  error
	putGate chan struct{} // if set, Put waits for a receive
	acks    []string
}

var fakeStamp = dbr.Timestamp{Sec: 1000, Nsec: 5}

func newFakePV(v dbr.Value, count int) *fakePV {
	p := &fakePV{typ: v.Type(), count: count, access: ReadWrite, subs: map[int]Subscriber{}}
	p.snap.Store(&Snapshot{Value: v, Meta: dbr.Metadata{Stamp: fakeStamp}})
	return p
}

func (p *fakePV) Native() (dbr.Type, int) { return p.typ, p.count }
func (p *fakePV) Access() Access          { return p.access }
func (p *fakePV) Snapshot() *Snapshot     { return p.snap.Load() }

func (p *fakePV) Put(ctx context.Context, v dbr.Value) error {
	p.mu.Lock()
	gate, perr := p.putGate, p.putErr
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if perr != nil {
		return perr
	}
	cv, err := dbr.Convert(v, p.typ, nil)
	if err != nil {
		return err
	}
	p.set(cv, dbr.EventValue|dbr.EventLog)
	return nil
}

func (p *fakePV) Subscribe(s Subscriber) func() {
	p.mu.Lock()
	id := p.nextID
	p.nextID++
	p.subs[id] = s
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.subs, id)
		p.mu.Unlock()
	}
}

func (p *fakePV) nsubs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.subs)
}

// set publishes v and calls the subscribers in order.
func (p *fakePV) set(v dbr.Value, ev dbr.EventMask) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &Snapshot{Value: v, Meta: dbr.Metadata{Stamp: fakeStamp}}
	p.snap.Store(s)
	for _, sub := range p.subs {
		sub.Update(s, ev)
	}
}

func (p *fakePV) AckT(b bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b {
		p.acks = append(p.acks, "ackt=1")
	} else {
		p.acks = append(p.acks, "ackt=0")
	}
}

func (p *fakePV) AckS(s dbr.Severity) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acks = append(p.acks, "acks="+s.String())
}

// Message builders for requests the wire package has no helper for.

func mkHdr(cmd wire.Command, size int, dt uint16, count, p1, p2 uint32) []byte {
	return wire.AppendHeader(nil, wire.Header{Command: cmd, PayloadSize: uint32(size), DataType: dt,
		DataCount: count, Param1: p1, Param2: p2})
}

func mkMsg(cmd wire.Command, dt uint16, count, p1, p2 uint32, payload []byte) []byte {
	return wire.AppendMessage(nil, wire.Header{Command: cmd, DataType: dt, DataCount: count, Param1: p1, Param2: p2}, payload)
}

func joinBytes(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func beF64(f float64) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)) }

// hx decodes hex with spaces.
func hexBytes(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// errorMsg is the ERROR the server sends for the request req.
func errorMsg(cid uint32, status uint32, req []byte, text string) []byte {
	return wire.AppendError(nil, cid, status, req, text)
}

// testDirectory builds the PVs the protocol tests use.
func testDirectory() (*Map, map[string]*fakePV) {
	pvs := map[string]*fakePV{
		"T:AI":  newFakePV(dbr.Doubles{3.5}, 1),
		"T:WF":  newFakePV(dbr.Doubles{1, 2, 3}, 10),
		"T:STR": newFakePV(dbr.Strings{"hello"}, 1),
		"T:RO":  newFakePV(dbr.Doubles{1}, 1),
		"T:NO":  newFakePV(dbr.Doubles{1}, 1),
		"T:BIG": newFakePV(make(dbr.Doubles, 100000), 100000),
	}
	pvs["T:RO"].access = AccessRead
	pvs["T:NO"].access = 0
	var m Map
	for n, p := range pvs {
		if err := m.Add(n, p); err != nil {
			panic(err)
		}
	}
	return &m, pvs
}

// harness drives a circuit's protocol layer with no sockets.
type harness struct {
	t   testing.TB
	s   *Server
	c   *circuit
	m   *Map
	pvs map[string]*fakePV
}

func newHarness(t testing.TB, cfg Config) *harness {
	m, pvs := testDirectory()
	s := &Server{Directory: m, Config: cfg}
	s.tcpPort = 5064
	h := &harness{t: t, s: s, m: m, pvs: pvs}
	h.c = newCircuit(s, nil, "test")
	h.take() // the VERSION sent at accept
	return h
}

// send feeds b to the circuit and returns what it appended to its output
// and the error that closes it, if any.
func (h *harness) send(b []byte) ([]byte, error) {
	h.t.Helper()
	r := 0
	for r < len(b) {
		n, skip, err := h.c.process(b, r, len(b))
		if err != nil {
			return h.take(), err
		}
		if n == r && skip == 0 {
			h.t.Fatalf("incomplete message at %d of %d bytes", r, len(b))
		}
		r = n + int(skip)
	}
	return h.take(), nil
}

// take returns and clears the circuit's output.
func (h *harness) take() []byte {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	out := spliceRefs(h.c.out, h.c.refs)
	h.c.releaseRefsLocked(h.c.refs)
	h.c.out, h.c.refs, h.c.refBytes = nil, nil, 0
	return out
}

// runOps runs the queued puts and returns the output.
func (h *harness) runOps() []byte {
	h.c.runOps(context.Background())
	return h.take()
}

// updates encodes the queued subscription updates as the writer does.
func (h *harness) updates() []byte {
	var out []byte
	for _, u := range h.c.takeUpdates(nil) {
		out = h.c.appendUpdate(out, u.sub, u.snap, h.c.minor)
	}
	return out
}

// open sends VERSION and creates a channel to name with cid, returning the
// sid.
func (h *harness) open(name string, cid uint32) uint32 {
	h.t.Helper()
	b := wire.AppendCreateChan(nil, cid, name)
	if !h.c.gotVersion {
		b = append(wire.AppendVersionTCP(nil, 0), b...)
	}
	out, err := h.send(b)
	if err != nil || len(out) < 32 {
		h.t.Fatalf("create %s: %x, %v", name, out, err)
	}
	return binary.BigEndian.Uint32(out[16+12:])
}

// spliceRefs returns out with the value bytes of refs inserted, as the
// writer sends them.
func spliceRefs(out []byte, refs []outRef) []byte {
	if len(refs) == 0 {
		return out
	}
	var b []byte
	prev := 0
	for _, r := range refs {
		b = append(b, out[prev:r.at]...)
		b = append(b, r.ev.b...)
		prev = r.at
	}
	return append(b, out[prev:]...)
}
