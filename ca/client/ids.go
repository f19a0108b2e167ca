package client

import (
	"errors"

	"github.com/cabridge/cabridge/ca/dbr"
)

// Channel ids (cids) and request ids (ioids) are slot indexes with a
// generation: the low idBits bits index a slice, the high bits count how
// often the slot was reused, so that a late reply for a freed id does not
// reach the slot's next owner. Index 0 is never used, so no id is 0.
const (
	idBits = 24
	idMask = 1<<idBits - 1
	maxIdx = idMask
)

// errTooManyIDs is returned when every slot index is in use.
var errTooManyIDs = errors.New("client: too many channels or requests outstanding")

func makeID(idx uint32, gen uint8) uint32 { return uint32(gen)<<idBits | idx }

func idIndex(id uint32) uint32 { return id & idMask }

func idGen(id uint32) uint8 { return uint8(id >> idBits) }

// chanTable maps cids to channels. The client guards it with tabMu.
type chanTable struct {
	slots []chanSlot
	free  []uint32
}

type chanSlot struct {
	ch  *Channel
	gen uint8
}

// alloc stores ch in a free slot and returns its cid.
func (t *chanTable) alloc(ch *Channel) (uint32, error) {
	if len(t.slots) == 0 {
		t.slots = make([]chanSlot, 1, 1024) // index 0 is never used
	}
	var idx uint32
	if n := len(t.free); n > 0 {
		idx = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if len(t.slots) > maxIdx {
			return 0, errTooManyIDs
		}
		idx = uint32(len(t.slots))
		t.slots = append(t.slots, chanSlot{})
	}
	s := &t.slots[idx]
	s.ch = ch
	return makeID(idx, s.gen), nil
}

// get returns the channel of cid, or nil.
func (t *chanTable) get(cid uint32) *Channel {
	idx := idIndex(cid)
	if idx == 0 || idx >= uint32(len(t.slots)) {
		return nil
	}
	s := &t.slots[idx]
	if s.gen != idGen(cid) {
		return nil
	}
	return s.ch
}

// release frees the slot of cid if ch still holds it.
func (t *chanTable) release(cid uint32, ch *Channel) {
	idx := idIndex(cid)
	if idx == 0 || idx >= uint32(len(t.slots)) {
		return
	}
	s := &t.slots[idx]
	if s.gen != idGen(cid) || s.ch != ch {
		return
	}
	s.ch = nil
	s.gen++
	t.free = append(t.free, idx)
}

// opKind tells what an outstanding ioid waits for.
type opKind uint8

const (
	opGet     opKind = iota // GetAsync, Get: fn gets a value it may keep
	opGetView               // GetAsyncView: fn gets a reused value
	opGetMany               // GetMany: many gets a reused value and the index
	opGetInto               // GetDoubles: the values go into into.dst
	opPut                   // PutWait
)

// op is an outstanding READ_NOTIFY or WRITE_NOTIFY. It is stored by value
// in the circuit's slot table, so registering one does not allocate.
type op struct {
	kind  opKind
	ch    *Channel
	dtype dbr.Type
	idx   int // GetMany: index of the channel in the caller's slice
	get   func(dbr.Value, dbr.Metadata, error)
	many  func(int, dbr.Value, dbr.Metadata, error)
	put   func(error)
	into  *intoReq
}

// opSlot is one entry of a circuit's op table.
type opSlot struct {
	op
	gen  uint8
	used bool
}

// opTable holds a circuit's outstanding operations, indexed by ioid. The
// circuit guards it with its mutex.
type opTable struct {
	slots []opSlot
	free  []uint32
	n     int // slots in use
}

// add stores o and returns its ioid.
func (t *opTable) add(o op) (uint32, error) {
	if len(t.slots) == 0 {
		t.slots = make([]opSlot, 1, 256)
	}
	var idx uint32
	if n := len(t.free); n > 0 {
		idx = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if len(t.slots) > maxIdx {
			return 0, errTooManyIDs
		}
		idx = uint32(len(t.slots))
		t.slots = append(t.slots, opSlot{})
	}
	s := &t.slots[idx]
	s.op, s.used = o, true
	t.n++
	return makeID(idx, s.gen), nil
}

// take removes and returns the op of ioid. ok is false for an unknown or
// stale ioid (a reply to an operation already finished or cancelled).
func (t *opTable) take(ioid uint32) (o op, ok bool) {
	idx := idIndex(ioid)
	if idx == 0 || idx >= uint32(len(t.slots)) {
		return op{}, false
	}
	s := &t.slots[idx]
	if !s.used || s.gen != idGen(ioid) {
		return op{}, false
	}
	o = s.op
	t.freeSlot(idx)
	return o, true
}

// peek returns the op of ioid without removing it.
func (t *opTable) peek(ioid uint32) (*op, bool) {
	idx := idIndex(ioid)
	if idx == 0 || idx >= uint32(len(t.slots)) {
		return nil, false
	}
	s := &t.slots[idx]
	if !s.used || s.gen != idGen(ioid) {
		return nil, false
	}
	return &s.op, true
}

func (t *opTable) freeSlot(idx uint32) {
	s := &t.slots[idx]
	s.op = op{} // release the callbacks for the garbage collector
	s.used = false
	s.gen++
	t.n--
	t.free = append(t.free, idx)
}

// takeAll removes every op (of ch only, if ch is not nil) and appends them
// to dst.
func (t *opTable) takeAll(dst []op, ch *Channel) []op {
	if t.n == 0 {
		return dst
	}
	for i := 1; i < len(t.slots); i++ {
		s := &t.slots[i]
		if s.used && (ch == nil || s.ch == ch) {
			dst = append(dst, s.op)
			t.freeSlot(uint32(i))
		}
	}
	return dst
}
