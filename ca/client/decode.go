package client

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// viewDecoder decodes replies into buffers it reuses, for the callbacks
// that accept a value valid only during the call. It belongs to one
// circuit's reader goroutine.
type viewDecoder struct {
	d dbr.Doubles
	l dbr.Longs
	s dbr.Shorts
	f dbr.Floats
	e dbr.Enums
	c dbr.Chars
	// boxes hold the last value of each type already converted to the
	// interface, so that a reply with the same length as the previous one
	// of its type costs no allocation.
	boxes [7]dbr.Value
}

// simpleMeta reports whether the metadata of t is at most status,
// severity and stamp (no Properties to allocate).
func simpleMeta(t dbr.Type) bool {
	switch t.Family() {
	case dbr.FamilyPlain, dbr.FamilySts, dbr.FamilyTime:
		return true
	}
	return false
}

// decodeMeta decodes the status, severity and stamp of the plain, STS and
// TIME families from b, which is at least t.ValueOffset() long.
func decodeMeta(t dbr.Type, b []byte) dbr.Metadata {
	var md dbr.Metadata
	fam := t.Family()
	if fam == dbr.FamilyPlain {
		return md
	}
	be := binary.BigEndian
	md.Status = dbr.Status(be.Uint16(b[0:]))
	md.Severity = dbr.Severity(be.Uint16(b[2:]))
	if fam == dbr.FamilyTime {
		md.Stamp = dbr.Timestamp{Sec: be.Uint32(b[4:]), Nsec: be.Uint32(b[8:])}
	}
	return md
}

func grow[S ~[]E, E any](s S, n int) S {
	if cap(s) < n {
		return make(S, n, max(n, 2*cap(s)))
	}
	return s[:n]
}

// decode decodes a reply like dbr.DecodeData, but numeric values of the
// plain, STS and TIME families land in buffers reused by the next call.
func (vd *viewDecoder) decode(t dbr.Type, count int, b []byte) (dbr.Value, dbr.Metadata, error) {
	base := t.Base()
	if !t.Valid() || !simpleMeta(t) || base == dbr.String || count < 0 || len(b) < dbr.DataSize(t, count) {
		return dbr.DecodeData(t, count, b)
	}
	md := decodeMeta(t, b)
	b = b[t.ValueOffset():]
	be := binary.BigEndian
	var v dbr.Value
	box := &vd.boxes[base]
	switch base {
	case dbr.Double:
		vd.d = grow(vd.d, count)
		decodeDoubles(vd.d, b)
		if old, ok := (*box).(dbr.Doubles); ok && len(old) == count && (count == 0 || &old[0] == &vd.d[0]) {
			return *box, md, nil
		}
		v = vd.d
	case dbr.Long:
		vd.l = grow(vd.l, count)
		for i := range vd.l {
			vd.l[i] = int32(be.Uint32(b[4*i:]))
		}
		if old, ok := (*box).(dbr.Longs); ok && len(old) == count && (count == 0 || &old[0] == &vd.l[0]) {
			return *box, md, nil
		}
		v = vd.l
	case dbr.Short:
		vd.s = grow(vd.s, count)
		for i := range vd.s {
			vd.s[i] = int16(be.Uint16(b[2*i:]))
		}
		if old, ok := (*box).(dbr.Shorts); ok && len(old) == count && (count == 0 || &old[0] == &vd.s[0]) {
			return *box, md, nil
		}
		v = vd.s
	case dbr.Float:
		vd.f = grow(vd.f, count)
		for i := range vd.f {
			vd.f[i] = math.Float32frombits(be.Uint32(b[4*i:]))
		}
		if old, ok := (*box).(dbr.Floats); ok && len(old) == count && (count == 0 || &old[0] == &vd.f[0]) {
			return *box, md, nil
		}
		v = vd.f
	case dbr.Enum:
		vd.e = grow(vd.e, count)
		for i := range vd.e {
			vd.e[i] = be.Uint16(b[2*i:])
		}
		if old, ok := (*box).(dbr.Enums); ok && len(old) == count && (count == 0 || &old[0] == &vd.e[0]) {
			return *box, md, nil
		}
		v = vd.e
	case dbr.Char:
		vd.c = grow(vd.c, count)
		copy(vd.c, b[:count])
		if old, ok := (*box).(dbr.Chars); ok && len(old) == count && (count == 0 || &old[0] == &vd.c[0]) {
			return *box, md, nil
		}
		v = vd.c
	default:
		return dbr.DecodeData(t, count, b)
	}
	*box = v
	return v, md, nil
}

// decodeDoubles decodes len(dst) big-endian doubles from b.
func decodeDoubles(dst []float64, b []byte) {
	b = b[:8*len(dst)]
	for i := range dst {
		dst[i] = math.Float64frombits(binary.BigEndian.Uint64(b[8*i:]))
	}
}

// intoReq is a GetDoubles in progress: the reply's values go straight into
// dst, which the reader goroutine owns until done is closed.
type intoReq struct {
	dst  []float64
	md   dbr.Metadata
	err  error
	done chan struct{}
}

// intoStream decodes a large GetDoubles reply as its bytes arrive, so the
// reader never holds the whole message.
type intoStream struct {
	o       op
	t       dbr.Type
	count   int
	left    int64  // payload bytes still to come
	meta    []byte // the metadata bytes (ValueOffset of them)
	need    int    // metadata bytes still missing
	n       int    // elements decoded so far
	partial [8]byte
	np      int // bytes in partial
}

// feed consumes payload bytes from b and returns how many it used.
func (s *intoStream) feed(b []byte) int {
	k := int(min(int64(len(b)), s.left))
	b = b[:k]
	s.left -= int64(k)
	if s.need > 0 {
		m := min(s.need, len(b))
		s.meta = append(s.meta, b[:m]...)
		s.need -= m
		b = b[m:]
	}
	dst := s.o.into.dst
	if s.np > 0 && len(b) > 0 {
		m := copy(s.partial[s.np:], b)
		s.np += m
		b = b[m:]
		if s.np == 8 {
			if s.n < s.count {
				dst[s.n] = math.Float64frombits(binary.BigEndian.Uint64(s.partial[:]))
				s.n++
			}
			s.np = 0
		}
	}
	if whole := min(len(b)/8, s.count-s.n); whole > 0 {
		decodeDoubles(dst[s.n:s.n+whole], b)
		s.n += whole
		b = b[8*whole:]
	}
	if s.n < s.count && len(b) > 0 {
		s.np = copy(s.partial[:], b)
	}
	return k
}

// decodeMetaAny decodes the metadata of any type from its first
// t.ValueOffset() bytes.
func decodeMetaAny(t dbr.Type, b []byte) (dbr.Metadata, error) {
	if len(b) < t.ValueOffset() {
		return dbr.Metadata{}, dbr.ErrShort
	}
	if simpleMeta(t) {
		return decodeMeta(t, b), nil
	}
	_, md, err := dbr.DecodeData(t, 0, b)
	return md, err
}

// decodeInto decodes a DOUBLE-family reply into dst, growing it if its
// capacity is too small.
func decodeInto(dst []float64, t dbr.Type, count int, b []byte) ([]float64, dbr.Metadata, error) {
	if !t.Valid() || t.Base() != dbr.Double {
		return dst[:0], dbr.Metadata{}, &eca.Error{Code: eca.BadType, Msg: fmt.Sprintf("client: reply of type %v, want a DOUBLE type", t)}
	}
	if count < 0 || len(b) < dbr.DataSize(t, count) {
		return dst[:0], dbr.Metadata{}, dbr.ErrShort
	}
	md, err := decodeMetaAny(t, b)
	if err != nil {
		return dst[:0], md, err
	}
	if cap(dst) < count {
		dst = make([]float64, count)
	}
	dst = dst[:count]
	decodeDoubles(dst, b[t.ValueOffset():])
	return dst, md, nil
}
