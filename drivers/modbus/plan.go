package modbus

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Range is a run of addresses in one table: Count registers (or bits, in
// a bit table) from Start. It is what a point occupies and what a read
// request covers.
type Range struct {
	// Table is the data table.
	Table Table
	// Start is the first address.
	Start uint16
	// Count is the number of addresses, at least 1.
	Count int
}

// End returns the address just past the range (Start+Count, up to 65536).
func (r Range) End() int { return int(r.Start) + r.Count }

// contains reports whether o lies inside r.
func (r Range) contains(o Range) bool {
	return r.Table == o.Table && o.Start >= r.Start && o.End() <= r.End()
}

// String returns "hr:100+2" (two registers from 100), "coil:5+1".
func (r Range) String() string {
	return fmt.Sprintf("%s:%d+%d", r.Table.prefix(), r.Start, r.Count)
}

// Limits bound the read requests of one device.
type Limits struct {
	// MaxRegisters is the largest quantity of one FC3 or FC4 read; 0
	// means MaxReadRegisters (125), which is also the largest allowed.
	MaxRegisters int
	// MaxBits is the largest quantity of one FC1 or FC2 read; 0 means
	// MaxReadBits (2000), which is also the largest allowed.
	MaxBits int
	// MaxGap is the longest run of unmapped registers (in no point) that
	// a read may span to merge its neighbours into one request; the
	// registers are read and discarded. 0 merges only adjacent or
	// overlapping points.
	MaxGap int
	// MaxBitGap is MaxGap for coils and discrete inputs, in bits.
	MaxBitGap int
}

// normalize fills in defaults and checks the ranges.
func (l Limits) normalize() (Limits, error) {
	if l.MaxRegisters == 0 {
		l.MaxRegisters = MaxReadRegisters
	}
	if l.MaxBits == 0 {
		l.MaxBits = MaxReadBits
	}
	switch {
	case l.MaxRegisters < 1 || l.MaxRegisters > MaxReadRegisters:
		return l, fmt.Errorf("modbus: max registers per read %d out of range 1..%d", l.MaxRegisters, MaxReadRegisters)
	case l.MaxBits < 1 || l.MaxBits > MaxReadBits:
		return l, fmt.Errorf("modbus: max bits per read %d out of range 1..%d", l.MaxBits, MaxReadBits)
	case l.MaxGap < 0:
		return l, fmt.Errorf("modbus: max gap %d is negative", l.MaxGap)
	case l.MaxBitGap < 0:
		return l, fmt.Errorf("modbus: max bit gap %d is negative", l.MaxBitGap)
	}
	return l, nil
}

func (l Limits) forTable(t Table) (max, gap int) {
	if t.IsBits() {
		return l.MaxBits, l.MaxBitGap
	}
	return l.MaxRegisters, l.MaxGap
}

// Member places one point in a block's reply.
type Member struct {
	// Point is the point's index in the slice given to NewPlan.
	Point int
	// Index is where the point starts in the reply, in registers (or
	// bits) from the block's Start: the index for Point.DecodeReply.
	Index int
}

// Block is one read request and the points its reply serves.
type Block struct {
	// Range is what the request reads.
	Range
	// Members are the points inside Range, in address order.
	Members []Member
}

// Function returns the read function code: FC1, FC2, FC3 or FC4.
func (b Block) Function() FunctionCode { return b.Table.ReadFunction() }

// String returns e.g. "FC3 hr:100+20 (5 points)".
func (b Block) String() string {
	return fmt.Sprintf("%v %v (%d points)", b.Function(), b.Range, len(b.Members))
}

// Plan is the set of read requests that covers a device's points for one
// scan period, plus what it learned from Modbus exceptions. Plans are
// immutable and safe for concurrent use; Failed returns a new Plan.
//
// The plan uses the fewest requests possible: a request may span any
// range that is no longer than the limit, has no run of unmapped
// addresses longer than the maximum gap and contains no learned hole, and
// every point must lie wholly inside one request (a point is never split
// across two). Since every sub-range of an allowed range is allowed, the
// greedy rule "start at the lowest unserved point and reach as far as
// allowed" is optimal, by the usual exchange argument: the first request
// of any optimal plan can be replaced by the greedy one, which serves a
// superset of its points.
type Plan struct {
	points []Range
	lim    Limits
	holes  []Range // minimal failing ranges, sorted by table then start
	bad    []bool
	blocks []Block
}

// NewPlan plans the reads of points (typically Point.Range of each point a
// device reads in one scan period) under lim. It fails for an invalid
// range or limit and for a point larger than one read allows.
func NewPlan(points []Range, lim Limits) (*Plan, error) {
	lim, err := lim.normalize()
	if err != nil {
		return nil, err
	}
	for i, r := range points {
		if !r.Table.Valid() {
			return nil, fmt.Errorf("modbus: point %d: invalid table", i)
		}
		if r.Count < 1 || r.End() > AddressSpace {
			return nil, fmt.Errorf("modbus: point %d: range %v must hold 1 or more addresses and end by 65535", i, r)
		}
		if max, _ := lim.forTable(r.Table); r.Count > max {
			unit := "registers"
			if r.Table.IsBits() {
				unit = "bits"
			}
			return nil, fmt.Errorf("modbus: point %d (%v) spans %d %s, more than one read of this device allows (%d)", i, r, r.Count, unit, max)
		}
	}
	p := &Plan{points: slices.Clone(points), lim: lim, bad: make([]bool, len(points))}
	p.replan()
	return p, nil
}

// Blocks returns the read requests of one scan period, ordered by table
// and address. The caller must not modify them.
func (p *Plan) Blocks() []Block { return p.blocks }

// Bad returns the indices of the points no read can serve because their
// own range contains a learned hole, in increasing order.
func (p *Plan) Bad() []int {
	var out []int
	for i, b := range p.bad {
		if b {
			out = append(out, i)
		}
	}
	return out
}

// IsBad reports whether point i is bad (see Bad).
func (p *Plan) IsBad(i int) bool { return i >= 0 && i < len(p.bad) && p.bad[i] }

// Holes returns the learned failing ranges: ranges the device refused to
// read, none inside another. No block contains one.
func (p *Plan) Holes() []Range { return slices.Clone(p.holes) }

// Limits returns the limits the plan was made with, defaults filled in.
func (p *Plan) Limits() Limits { return p.lim }

// Failed records that the device answered the read of b with exception
// code and returns the updated plan and the probe reads to make now, in
// the same scan period, to serve b's points. Exceptions that say nothing
// about the request (busy, device failure, gateway errors: see
// ExceptionCode.AboutRequest) teach nothing: Failed returns p and no
// probes, and b's points simply fail this period.
//
// Otherwise b's range is learned as a hole: no later block contains it,
// and a point whose own range contains it is bad. The remaining points of
// b are split into two probes (halves by address, or one probe per point
// when halves would not shrink), each strictly smaller than b. The caller
// reads each probe; for a probe that fails it calls Failed again on the
// newest plan, and so on. This bisection finds a bad address in
// O(log n) rounds, marks bad only the points that contain it, and leaves a
// plan whose later periods use the fewest requests that avoid the holes.
// b may come from an older plan of the same points.
func (p *Plan) Failed(b Block, code ExceptionCode) (*Plan, []Block) {
	if !code.AboutRequest() || !b.Table.Valid() || b.Count < 1 {
		return p, nil
	}
	np := &Plan{points: p.points, lim: p.lim, holes: addHole(p.holes, b.Range), bad: slices.Clone(p.bad)}
	np.replan()

	// The distinct ranges of b's surviving points, by start then end.
	var rs []Range
	for _, m := range b.Members {
		if m.Point < 0 || m.Point >= len(np.points) || np.bad[m.Point] {
			continue
		}
		if r := np.points[m.Point]; b.contains(r) {
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, cmpRange)
	rs = slices.Compact(rs)
	if len(rs) == 0 {
		return np, nil
	}
	var probes []Range
	if len(rs) == 1 {
		probes = rs
	} else {
		probes = splitHalves(rs, b.Range)
		if probes == nil {
			probes = rs
		}
	}
	out := make([]Block, 0, len(probes))
	for _, r := range probes {
		out = append(out, np.block(r, b.Members))
	}
	return np, out
}

// splitHalves splits the sorted distinct ranges rs into two groups of
// consecutive ranges whose extents are both strictly inside f, choosing
// the split closest to the middle; nil if there is none.
func splitHalves(rs []Range, f Range) []Range {
	extent := func(g []Range) Range {
		end := 0
		for _, r := range g {
			end = max(end, r.End())
		}
		return Range{Table: f.Table, Start: g[0].Start, Count: end - int(g[0].Start)}
	}
	mid := len(rs) / 2
	for d := 0; d < len(rs); d++ {
		for _, k := range [2]int{mid - d, mid + d} {
			if k < 1 || k >= len(rs) {
				continue
			}
			a, b := extent(rs[:k]), extent(rs[k:])
			if a != f && b != f {
				return []Range{a, b}
			}
		}
	}
	return nil
}

// block returns the block reading r, with the members among cand (or, if
// cand is nil, all points) that lie inside r and are not bad.
func (p *Plan) block(r Range, cand []Member) Block {
	b := Block{Range: r}
	for _, m := range cand {
		if m.Point < 0 || m.Point >= len(p.points) || p.bad[m.Point] {
			continue
		}
		if pr := p.points[m.Point]; r.contains(pr) {
			b.Members = append(b.Members, Member{Point: m.Point, Index: int(pr.Start) - int(r.Start)})
		}
	}
	return b
}

func cmpRange(a, b Range) int {
	if c := cmp.Compare(a.Table, b.Table); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Start, b.Start); c != 0 {
		return c
	}
	return cmp.Compare(a.Count, b.Count)
}

// addHole adds h to the minimal sorted set hs: h is dropped if it
// contains a known hole, and known holes that contain h are dropped.
func addHole(hs []Range, h Range) []Range {
	out := make([]Range, 0, len(hs)+1)
	for _, k := range hs {
		if h.contains(k) {
			return slices.Clone(hs)
		}
		if !k.contains(h) {
			out = append(out, k)
		}
	}
	out = append(out, h)
	slices.SortFunc(out, cmpRange)
	return out
}

// replan recomputes bad points and blocks from points, holes and limits.
func (p *Plan) replan() {
	for i, r := range p.points {
		for _, h := range p.holes {
			if r.contains(h) {
				p.bad[i] = true
			}
		}
	}
	p.blocks = p.blocks[:0]
	for t := Coil; t <= HoldingRegister; t++ {
		p.planTable(t)
	}
}

// span is a half-open address interval.
type span struct{ start, end int }

// planTable appends the greedy blocks of table t.
func (p *Plan) planTable(t Table) {
	limit, gap := p.lim.forTable(t)
	var idx []int
	for i, r := range p.points {
		if r.Table == t && !p.bad[i] {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ra, rb := p.points[a], p.points[b]
		if c := cmp.Compare(ra.Start, rb.Start); c != 0 {
			return c
		}
		return cmp.Compare(ra.End(), rb.End())
	})
	// The mapped addresses: the union of the points' ranges.
	var union []span
	for _, i := range idx {
		r := p.points[i]
		if n := len(union); n > 0 && int(r.Start) <= union[n-1].end {
			union[n-1].end = max(union[n-1].end, r.End())
			continue
		}
		union = append(union, span{int(r.Start), r.End()})
	}
	var holes []span
	for _, h := range p.holes {
		if h.Table == t {
			holes = append(holes, span{int(h.Start), h.End()})
		}
	}

	rest := idx
	u, hi := 0, 0 // union and hole cursors; both only move forward
	for len(rest) > 0 {
		a := int(p.points[rest[0]].Start)
		// The farthest end a read starting at a may have.
		reach := a + limit
		for union[u].end <= a {
			u++
		}
		end := union[u].end
		for j := u + 1; j < len(union) && union[j].start-end <= gap && union[j].start < reach; j++ {
			end = union[j].end
		}
		reach = min(reach, end)
		for hi < len(holes) && holes[hi].start < a {
			hi++
		}
		// Holes are minimal, so sorted by start they are sorted by end:
		// the first one at or after a ends first.
		if hi < len(holes) {
			reach = min(reach, holes[hi].end-1)
		}
		// Serve every remaining point that fits in [a, reach).
		blk := Block{Range: Range{Table: t, Start: uint16(a)}}
		blockEnd := a
		kept := rest[:0:0]
		for k, i := range rest {
			r := p.points[i]
			if int(r.Start) >= reach {
				kept = append(kept, rest[k:]...)
				break
			}
			if r.End() > reach {
				kept = append(kept, i)
				continue
			}
			blk.Members = append(blk.Members, Member{Point: i, Index: int(r.Start) - a})
			blockEnd = max(blockEnd, r.End())
		}
		blk.Count = blockEnd - a
		p.blocks = append(p.blocks, blk)
		rest = kept
	}
}

// String describes the plan on a few lines, for logging once when a
// device starts and when the plan changes.
func (p *Plan) String() string {
	var b strings.Builder
	n := 0
	for _, bad := range p.bad {
		if !bad {
			n++
		}
	}
	fmt.Fprintf(&b, "%d reads for %d points (max %d registers, gap %d; max %d bits, gap %d)",
		len(p.blocks), n, p.lim.MaxRegisters, p.lim.MaxGap, p.lim.MaxBits, p.lim.MaxBitGap)
	for _, blk := range p.blocks {
		fmt.Fprintf(&b, "\n  %v", blk)
	}
	for _, h := range p.holes {
		fmt.Fprintf(&b, "\n  hole %v", h)
	}
	for _, i := range p.Bad() {
		fmt.Fprintf(&b, "\n  bad point %d %v", i, p.points[i])
	}
	return b.String()
}
