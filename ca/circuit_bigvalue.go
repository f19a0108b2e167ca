package ca

import (
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// Large READ_NOTIFY replies are not copied into the output buffer: the
// header and metadata go into c.out, the big-endian value bytes stay in
// an encodedValue, and the writer sends both with one writev. The encoded
// bytes are kept per circuit while the snapshot stays current, so
// repeated gets of an unchanged array are not encoded again.

// zeroCopyMin is the smallest value (in bytes) sent from its own buffer.
const zeroCopyMin = 256 << 10

// encodedValue is the wire form of the first n elements of a snapshot's
// value as plain type t. Its bytes are never modified while refs > 0.
type encodedValue struct {
	snap *Snapshot
	t    dbr.Type // plain type
	n    int
	b    []byte
	refs int // outRefs queued or being written; guarded by circuit.mu
}

// outRef places the bytes b at offset at of the output buffer.
type outRef struct {
	at int
	ev *encodedValue
}

// appendValueRef appends a READ_NOTIFY reply of n elements of snap as t
// whose value bytes are sent from an encodedValue, and reports whether it
// did; it declines (false, nothing appended) for small or converted
// values, strings and types whose layout it does not handle. c.mu must be
// held.
func (c *circuit) appendValueRef(t dbr.Type, n int, ioid uint32, snap *Snapshot) bool {
	v := snap.Value
	if v == nil || n > v.Len() || !t.Valid() {
		return false
	}
	base := t.Base()
	vs := t.ValueSize()
	if base == dbr.String || v.Type() != base || n*vs < zeroCopyMin {
		return false
	}
	switch t.Family() {
	case dbr.FamilyPlain, dbr.FamilySts, dbr.FamilyTime, dbr.FamilyGr, dbr.FamilyCtrl:
	default:
		return false
	}
	voff := t.ValueOffset()
	if dbr.DataSize(t, n) != voff+n*vs {
		return false
	}
	size := dbr.PaddedSize(t, n)
	if c.checkSize(size, n, c.minor) != nil {
		return false // the copy path answers with the failure
	}
	ev := c.encodeValue(snap, base, n)
	if ev == nil {
		return false
	}
	start := len(c.out)
	out := wire.AppendHeader(c.out, wire.Header{Command: wire.CmdReadNotify, PayloadSize: uint32(size),
		DataType: uint16(t), DataCount: uint32(n), Param1: uint32(eca.Normal), Param2: ioid})
	hl := len(out)
	out, err := dbr.AppendData(out, t, 0, nil, &snap.Meta)
	if err != nil {
		c.out = out[:start]
		return false
	}
	out = out[:hl+voff]
	ev.refs++
	c.refs = append(c.refs, outRef{at: len(out), ev: ev})
	c.refBytes += len(ev.b)
	for range size - voff - len(ev.b) {
		out = append(out, 0)
	}
	c.out = out
	c.largest = max(c.largest, len(out)-start+len(ev.b))
	return true
}

// encodeValue returns the wire bytes of the first n elements of snap's
// value as the plain type t, from the circuit's cache when the snapshot
// is unchanged. A cached buffer no reply refers to any more is reused.
// c.mu must be held.
func (c *circuit) encodeValue(snap *Snapshot, t dbr.Type, n int) *encodedValue {
	old := c.valCache
	if old != nil && old.snap == snap && old.t == t && old.n == n {
		return old
	}
	size := n * t.ValueSize()
	var buf []byte
	if old != nil && old.refs == 0 && cap(old.b) >= size {
		buf = old.b[:0]
	}
	b, err := dbr.AppendData(buf, t, n, snap.Value, nil)
	if err != nil || len(b) < size {
		return nil
	}
	ev := &encodedValue{snap: snap, t: t, n: n, b: b[:size]}
	c.valCache = ev
	return ev
}

// outLen is the number of bytes queued for the writer. c.mu must be held.
func (c *circuit) outLen() int { return len(c.out) + c.refBytes }
