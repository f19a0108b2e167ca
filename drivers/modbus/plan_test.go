package modbus

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func hrr(start, count int) Range {
	return Range{Table: HoldingRegister, Start: uint16(start), Count: count}
}

// blockRanges returns the ranges of a plan's blocks.
func blockRanges(p *Plan) []Range {
	var out []Range
	for _, b := range p.Blocks() {
		out = append(out, b.Range)
	}
	return out
}

func TestPlanTable(t *testing.T) {
	co := func(start, count int) Range { return Range{Table: Coil, Start: uint16(start), Count: count} }
	ir := func(start, count int) Range { return Range{Table: InputRegister, Start: uint16(start), Count: count} }
	tests := []struct {
		name   string
		points []Range
		lim    Limits
		want   []Range
	}{
		{"empty", nil, Limits{}, nil},
		{"one", []Range{hrr(5, 2)}, Limits{}, []Range{hrr(5, 2)}},
		{"adjacent merge without gap", []Range{hrr(0, 2), hrr(2, 1), hrr(3, 4)}, Limits{}, []Range{hrr(0, 7)}},
		{"gap of 1 not read at gap 0", []Range{hrr(0, 2), hrr(3, 1)}, Limits{}, []Range{hrr(0, 2), hrr(3, 1)}},
		{"gap of 1 read at gap 1", []Range{hrr(0, 2), hrr(3, 1)}, Limits{MaxGap: 1}, []Range{hrr(0, 4)}},
		{"gap of 6 not read at gap 5", []Range{hrr(0, 1), hrr(7, 1), hrr(9, 1)}, Limits{MaxGap: 5}, []Range{hrr(0, 1), hrr(7, 3)}},
		{"unsorted and duplicates", []Range{hrr(9, 1), hrr(0, 1), hrr(9, 1), hrr(1, 2)}, Limits{MaxGap: 10}, []Range{hrr(0, 10)}},
		{"overlapping points share a read", []Range{hrr(0, 4), hrr(2, 1), hrr(3, 2)}, Limits{}, []Range{hrr(0, 5)}},
		{"125 limit", []Range{hrr(0, 1), hrr(124, 1), hrr(125, 1)}, Limits{MaxGap: 200}, []Range{hrr(0, 125), hrr(125, 1)}},
		{"point never split at the limit", []Range{hrr(0, 1), hrr(123, 4)}, Limits{MaxGap: 200}, []Range{hrr(0, 1), hrr(123, 4)}},
		{"device limit", []Range{hrr(0, 2), hrr(2, 2), hrr(4, 2), hrr(6, 2)}, Limits{MaxRegisters: 5}, []Range{hrr(0, 4), hrr(4, 4)}},
		{"long point overlapping the next block", []Range{hrr(0, 1), hrr(2, 4), hrr(4, 1)}, Limits{MaxRegisters: 5, MaxGap: 5}, []Range{hrr(0, 5), hrr(2, 4)}},
		{"tables never merge", []Range{hrr(0, 1), ir(1, 1), co(2, 1)}, Limits{MaxGap: 10, MaxBitGap: 10}, []Range{co(2, 1), ir(1, 1), hrr(0, 1)}},
		{"coils by 2000", []Range{co(0, 1), co(1999, 1), co(2000, 1)}, Limits{MaxBitGap: 5000}, []Range{co(0, 2000), co(2000, 1)}},
		{"bit gap separate from register gap", []Range{co(0, 1), co(5, 1), hrr(0, 1), hrr(5, 1)}, Limits{MaxGap: 0, MaxBitGap: 4}, []Range{co(0, 6), hrr(0, 1), hrr(5, 1)}},
		{"end of the address space", []Range{hrr(65532, 4), hrr(65530, 1)}, Limits{MaxGap: 1}, []Range{hrr(65530, 6)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(tc.points, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			if got := blockRanges(p); !slices.Equal(got, tc.want) {
				t.Errorf("blocks %v, want %v\n%v", got, tc.want, p)
			}
			checkPlan(t, p)
		})
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		points []Range
		lim    Limits
		want   string
	}{
		{[]Range{hrr(0, 126)}, Limits{}, "point 0 (hr:0+126) spans 126 registers, more than one read of this device allows (125)"},
		{[]Range{hrr(0, 1), hrr(0, 11)}, Limits{MaxRegisters: 10}, "point 1 (hr:0+11) spans 11 registers"},
		{[]Range{{Table: Coil, Count: 3}}, Limits{MaxBits: 2}, "spans 3 bits"},
		{[]Range{hrr(65535, 2)}, Limits{}, "must hold 1 or more addresses and end by 65535"},
		{[]Range{hrr(1, 0)}, Limits{}, "must hold 1 or more"},
		{[]Range{{Start: 1, Count: 1}}, Limits{}, "invalid table"},
		{nil, Limits{MaxRegisters: 126}, "max registers per read 126 out of range 1..125"},
		{nil, Limits{MaxBits: 2001}, "max bits per read 2001 out of range"},
		{nil, Limits{MaxGap: -1}, "max gap -1 is negative"},
		{nil, Limits{MaxBitGap: -1}, "max bit gap -1 is negative"},
	}
	for _, tc := range tests {
		_, err := NewPlan(tc.points, tc.lim)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPlan(%v, %+v) error %v, want %q", tc.points, tc.lim, err, tc.want)
		}
	}
}

// checkPlan checks the invariants of a plan: every good point is served
// by exactly one block, wholly inside it, at the right index; blocks fit
// the limits, begin and end at their points, span no long gap and contain
// no hole; bad points contain a hole.
func checkPlan(t *testing.T, p *Plan) {
	t.Helper()
	served := make([]int, len(p.points))
	for _, b := range p.Blocks() {
		limit, gap := p.lim.forTable(b.Table)
		if b.Count < 1 || b.Count > limit || b.End() > AddressSpace {
			t.Errorf("block %v breaks the limit %d", b, limit)
		}
		if len(b.Members) == 0 {
			t.Errorf("block %v serves nothing", b)
			continue
		}
		lo, hi := AddressSpace, 0
		for _, m := range b.Members {
			r := p.points[m.Point]
			served[m.Point]++
			if !b.contains(r) || m.Index != int(r.Start)-int(b.Start) {
				t.Errorf("block %v: member %+v (%v) misplaced", b, m, r)
			}
			lo, hi = min(lo, int(r.Start)), max(hi, r.End())
		}
		if lo != int(b.Start) || hi != b.End() {
			t.Errorf("block %v does not fit its points [%d, %d)", b, lo, hi)
		}
		if !feasible(p, b.Range, gap) {
			t.Errorf("block %v spans a gap over %d or contains a hole %v", b, gap, p.holes)
		}
	}
	for i, r := range p.points {
		bad := slices.ContainsFunc(p.holes, r.contains)
		if bad != p.IsBad(i) {
			t.Errorf("point %d %v: bad %v, contains a hole %v", i, r, p.IsBad(i), bad)
		}
		if want := map[bool]int{true: 0, false: 1}[bad]; served[i] != want {
			t.Errorf("point %d %v served %d times, want %d", i, r, served[i], want)
		}
	}
}

// feasible reports whether a read of r is allowed: no run of addresses
// outside every good point longer than gap, and no hole inside.
func feasible(p *Plan, r Range, gap int) bool {
	for _, h := range p.holes {
		if r.contains(h) {
			return false
		}
	}
	run := 0
	for a := int(r.Start); a < r.End(); a++ {
		mapped := false
		for i, pr := range p.points {
			if !p.bad[i] && pr.Table == r.Table && a >= int(pr.Start) && a < pr.End() {
				mapped = true
				break
			}
		}
		if mapped {
			run = 0
		} else if run++; run > gap {
			return false
		}
	}
	return true
}

// optimum computes by exhaustive search the fewest allowed reads that
// serve every good point of p (at most 16 points): a minimum set cover
// over every candidate read from a point's start to a point's end.
func optimum(p *Plan) int {
	n := len(p.points)
	var need uint32
	for i := range n {
		if !p.bad[i] {
			need |= 1 << i
		}
	}
	var cands []uint32
	for _, s := range p.points {
		for _, e := range p.points {
			r := Range{Table: s.Table, Start: s.Start, Count: e.End() - int(s.Start)}
			limit, gap := p.lim.forTable(s.Table)
			if e.Table != s.Table || r.Count < 1 || r.Count > limit || !feasible(p, r, gap) {
				continue
			}
			var m uint32
			for i, pr := range p.points {
				if !p.bad[i] && r.contains(pr) {
					m |= 1 << i
				}
			}
			cands = append(cands, m)
		}
	}
	const inf = 1 << 30
	dp := make([]int, 1<<n)
	for m := range dp {
		dp[m] = inf
	}
	dp[0] = 0
	for m := 1; m < len(dp); m++ {
		if uint32(m)&^need != 0 {
			continue
		}
		low := uint32(m) & -uint32(m) // some point of m must be in some read
		for _, c := range cands {
			if c&low != 0 {
				if rest := uint32(m) &^ c; dp[rest]+1 < dp[m] {
					dp[m] = dp[rest] + 1
				}
			}
		}
	}
	return dp[need]
}

// TestPlanOptimalSmall compares the greedy plan with the exhaustive
// optimum on random small layouts: overlapping and nested points, two
// tables, random limits and gaps, and random learned holes.
func TestPlanOptimalSmall(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 3000 {
		n := 1 + rng.IntN(10)
		points := make([]Range, n)
		for i := range points {
			if rng.IntN(4) == 0 {
				points[i] = Range{Table: Coil, Start: uint16(rng.IntN(40)), Count: 1}
			} else {
				points[i] = hrr(rng.IntN(40), 1+rng.IntN(4))
			}
		}
		lim := Limits{MaxRegisters: 4 + rng.IntN(12), MaxBits: 1 + rng.IntN(20), MaxGap: rng.IntN(6), MaxBitGap: rng.IntN(6)}
		p, err := NewPlan(points, lim)
		if err != nil {
			t.Fatal(err)
		}
		for range rng.IntN(3) {
			r := hrr(rng.IntN(40), 1+rng.IntN(6))
			p, _ = p.Failed(Block{Range: r}, ExceptionIllegalDataAddress)
		}
		checkPlan(t, p)
		if got, want := len(p.Blocks()), optimum(p); got != want {
			t.Fatalf("iteration %d: %d reads, optimum %d\npoints %v\n%v", iter, got, want, points, p)
		}
	}
}

// scattered returns n non-overlapping points of 1, 2 or 4 registers at
// random addresses in [0, space).
func scattered(rng *rand.Rand, n, space int) []Range {
	used := make([]bool, space)
	var out []Range
	for len(out) < n {
		c := []int{1, 1, 2, 2, 4}[rng.IntN(5)]
		s := rng.IntN(space - c)
		if slices.Contains(used[s:s+c], true) {
			continue
		}
		for i := s; i < s+c; i++ {
			used[i] = true
		}
		out = append(out, hrr(s, c))
	}
	return out
}

// minReadsSorted computes the fewest reads for non-overlapping points by
// dynamic programming over the points in address order, where one read
// serves a run of consecutive points: an independent check of the greedy
// planner for large layouts.
func minReadsSorted(points []Range, limit, gap int) int {
	ps := slices.Clone(points)
	slices.SortFunc(ps, cmpRange)
	n := len(ps)
	dp := make([]int, n+1) // dp[i]: fewest reads serving ps[:i]
	for i := 1; i <= n; i++ {
		dp[i] = 1 << 30
		// Reads serving ps[j:i], for j going down while allowed.
		for j := i - 1; j >= 0; j-- {
			if ps[i-1].End()-int(ps[j].Start) > limit {
				break
			}
			if j < i-1 && int(ps[j+1].Start)-ps[j].End() > gap {
				break
			}
			dp[i] = min(dp[i], dp[j]+1)
		}
	}
	return dp[n]
}

// TestPlanScattered1000 plans 1,000 registers scattered over a PLC's
// address space and checks that the plan uses exactly the minimum number
// of reads that the 125-register limit allows for that layout.
func TestPlanScattered1000(t *testing.T) {
	for _, tc := range []struct {
		space, gap int
	}{
		{65536, 0}, {65536, 10}, {65536, 125}, {5000, 0}, {5000, 8}, {5000, 125}, {1500, 3},
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.space), uint64(tc.gap)))
		points := scattered(rng, 1000, tc.space)
		p, err := NewPlan(points, Limits{MaxGap: tc.gap})
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p)
		want := minReadsSorted(points, MaxReadRegisters, tc.gap)
		if got := len(p.Blocks()); got != want {
			t.Errorf("space %d gap %d: %d reads, minimum %d", tc.space, tc.gap, got, want)
		}
		t.Logf("1000 points in %d registers, gap %d: %d reads per cycle", tc.space, tc.gap, want)
	}
}

// device simulates a Modbus server with some illegal addresses: a read
// fails with an illegal-data-address exception iff its range holds one.
type device struct {
	illegal map[Range]bool // single addresses
	reads   int
}

func (d *device) read(r Range) bool {
	d.reads++
	for a := int(r.Start); a < r.End(); a++ {
		if d.illegal[Range{Table: r.Table, Start: uint16(a), Count: 1}] {
			return false
		}
	}
	return true
}

// cycle runs one scan period the way the driver does: read every block,
// and on an exception read the probes Failed returns, recursively. It
// returns the updated plan, the points that got a value and the number of
// failed reads.
func cycle(t *testing.T, p *Plan, d *device) (*Plan, map[int]bool, int) {
	t.Helper()
	got := map[int]bool{}
	failed := 0
	queue := slices.Clone(p.Blocks())
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		if d.read(b.Range) {
			for _, m := range b.Members {
				got[m.Point] = true
			}
			continue
		}
		failed++
		var probes []Block
		p, probes = p.Failed(b, ExceptionIllegalDataAddress)
		for _, pr := range probes {
			if pr.Count >= b.Count || !b.contains(pr.Range) {
				t.Fatalf("probe %v does not shrink %v", pr, b)
			}
		}
		queue = append(queue, probes...)
		if failed > 10000 {
			t.Fatal("no convergence")
		}
	}
	return p, got, failed
}

func TestPlanExceptionFallback(t *testing.T) {
	// Ten float32 values at 0, 2, ..., 18 and one illegal address, 7,
	// inside the fourth.
	var points []Range
	for i := range 10 {
		points = append(points, hrr(2*i, 2))
	}
	p, err := NewPlan(points, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := blockRanges(p); !slices.Equal(got, []Range{hrr(0, 20)}) {
		t.Fatalf("blocks %v", got)
	}
	d := &device{illegal: map[Range]bool{hrr(7, 1): true}}
	p, got, failed := cycle(t, p, d)
	if len(got) != 9 || got[3] {
		t.Errorf("first cycle served %v, want all but point 3", got)
	}
	if !slices.Equal(p.Bad(), []int{3}) || !slices.Equal(p.Holes(), []Range{hrr(6, 2)}) {
		t.Errorf("bad %v holes %v", p.Bad(), p.Holes())
	}
	if failed > 5 || d.reads > 10 {
		t.Errorf("bisection took %d failures and %d reads", failed, d.reads)
	}
	// Later cycles: two reads around the hole and no failures.
	if want := []Range{hrr(0, 6), hrr(8, 12)}; !slices.Equal(blockRanges(p), want) {
		t.Errorf("blocks %v, want %v", blockRanges(p), want)
	}
	d.reads = 0
	p2, got, failed := cycle(t, p, d)
	if failed != 0 || d.reads != 2 || len(got) != 9 || p2 != p {
		t.Errorf("second cycle: %d failures, %d reads, %d served", failed, d.reads, len(got))
	}
	checkPlan(t, p)
}

func TestPlanExceptionInGap(t *testing.T) {
	// The illegal address 3 is in a gap read through: both points are
	// good, but they must never be read together again.
	p, _ := NewPlan([]Range{hrr(0, 2), hrr(5, 2)}, Limits{MaxGap: 5})
	d := &device{illegal: map[Range]bool{hrr(3, 1): true}}
	p, got, failed := cycle(t, p, d)
	if len(got) != 2 || failed != 1 || len(p.Bad()) != 0 {
		t.Errorf("served %v, %d failures, bad %v", got, failed, p.Bad())
	}
	if want := []Range{hrr(0, 2), hrr(5, 2)}; !slices.Equal(blockRanges(p), want) {
		t.Errorf("blocks %v, want %v", blockRanges(p), want)
	}
	checkPlan(t, p)
}

func TestPlanExceptionSharedRange(t *testing.T) {
	// Two bits and a uint16 of register 4, which is illegal: all three are
	// one range, so one failed read marks them all bad.
	p, _ := NewPlan([]Range{hrr(0, 1), hrr(4, 1), hrr(4, 1), hrr(4, 1), hrr(5, 1)}, Limits{MaxGap: 3})
	d := &device{illegal: map[Range]bool{hrr(4, 1): true}}
	p, got, _ := cycle(t, p, d)
	if !slices.Equal(p.Bad(), []int{1, 2, 3}) || len(got) != 2 || !got[0] || !got[4] {
		t.Errorf("bad %v served %v", p.Bad(), got)
	}
	if want := []Range{hrr(0, 1), hrr(5, 1)}; !slices.Equal(blockRanges(p), want) {
		t.Errorf("blocks %v, want %v", blockRanges(p), want)
	}
}

func TestPlanTransientException(t *testing.T) {
	p, _ := NewPlan([]Range{hrr(0, 2), hrr(2, 2)}, Limits{})
	for _, code := range []ExceptionCode{ExceptionServerDeviceFailure, ExceptionServerDeviceBusy, ExceptionAcknowledge, ExceptionGatewayPathUnavailable, ExceptionGatewayTargetDeviceFailedToRespond, 0x42} {
		np, probes := p.Failed(p.Blocks()[0], code)
		if np != p || probes != nil {
			t.Errorf("%v changed the plan", code)
		}
	}
	// A request-related code other than illegal address learns too.
	np, probes := p.Failed(p.Blocks()[0], ExceptionIllegalDataValue)
	if len(np.Holes()) != 1 || len(probes) != 2 {
		t.Errorf("illegal data value: holes %v probes %v", np.Holes(), probes)
	}
	// The old plan is unchanged.
	if len(p.Holes()) != 0 || len(p.Blocks()) != 1 {
		t.Error("Failed modified its receiver")
	}
}

// TestPlanExceptionRandom runs random layouts against random devices
// until the plan settles and checks the outcome: in the first cycle every
// good point gets its value; a point is bad exactly when it holds an
// illegal address; the settled plan makes no failing read and uses the
// fewest reads that avoid its holes.
func TestPlanExceptionRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 500 {
		n := 1 + rng.IntN(12)
		points := make([]Range, n)
		for i := range points {
			points[i] = hrr(rng.IntN(60), 1+rng.IntN(4))
		}
		d := &device{illegal: map[Range]bool{}}
		for range rng.IntN(4) {
			d.illegal[hrr(rng.IntN(64), 1)] = true
		}
		p, err := NewPlan(points, Limits{MaxRegisters: 5 + rng.IntN(30), MaxGap: rng.IntN(8)})
		if err != nil {
			t.Fatal(err)
		}
		holdsIllegal := func(i int) bool {
			r := points[i]
			for a := int(r.Start); a < r.End(); a++ {
				if d.illegal[hrr(a, 1)] {
					return true
				}
			}
			return false
		}
		var got map[int]bool
		settled := false
		for c := 0; c < 20 && !settled; c++ {
			var failed int
			p, got, failed = cycle(t, p, d)
			for i := range points {
				if got[i] == holdsIllegal(i) {
					t.Fatalf("iteration %d cycle %d: point %d %v served %v, holds an illegal address %v\n%v", iter, c, i, points[i], got[i], holdsIllegal(i), p)
				}
			}
			settled = failed == 0
		}
		if !settled {
			t.Fatalf("iteration %d: no settled plan after 20 cycles\n%v", iter, p)
		}
		for i := range points {
			if p.IsBad(i) != holdsIllegal(i) {
				t.Fatalf("iteration %d: point %d %v bad %v", iter, i, points[i], p.IsBad(i))
			}
		}
		checkPlan(t, p)
		if got, want := len(p.Blocks()), optimum(p); got != want {
			t.Fatalf("iteration %d: %d reads, optimum %d\n%v", iter, got, want, p)
		}
	}
}

func TestPlanFailedEdgeCases(t *testing.T) {
	p, _ := NewPlan([]Range{hrr(0, 10), hrr(5, 1)}, Limits{})
	// A nested point: the outer one equals the failed range and is bad,
	// the inner one is probed alone.
	np, probes := p.Failed(p.Blocks()[0], ExceptionIllegalDataAddress)
	if !slices.Equal(np.Bad(), []int{0}) || len(probes) != 1 || probes[0].Range != hrr(5, 1) || probes[0].Members[0] != (Member{Point: 1}) {
		t.Errorf("bad %v probes %v", np.Bad(), probes)
	}
	// Invalid blocks and unknown members are ignored.
	if np2, pr := p.Failed(Block{}, ExceptionIllegalDataAddress); np2 != p || pr != nil {
		t.Error("empty block changed the plan")
	}
	np3, pr := p.Failed(Block{Range: hrr(100, 1), Members: []Member{{Point: 99}, {Point: -1}}}, ExceptionIllegalDataAddress)
	if pr != nil || len(np3.Holes()) != 1 {
		t.Errorf("stray block: probes %v holes %v", pr, np3.Holes())
	}
	// A hole containing a known hole teaches nothing new.
	np4, _ := np3.Failed(Block{Range: hrr(99, 5)}, ExceptionIllegalDataAddress)
	if !slices.Equal(np4.Holes(), []Range{hrr(100, 1)}) {
		t.Errorf("holes %v", np4.Holes())
	}
	// A smaller hole replaces the larger ones that contain it.
	np5, _ := np4.Failed(Block{Range: hrr(100, 1)}, ExceptionIllegalDataAddress)
	np6, _ := np4.Failed(Block{Range: hrr(98, 1)}, ExceptionIllegalDataAddress)
	np7, _ := np6.Failed(Block{Range: hrr(90, 20)}, ExceptionIllegalDataAddress)
	if !slices.Equal(np5.Holes(), []Range{hrr(100, 1)}) || !slices.Equal(np7.Holes(), []Range{hrr(98, 1), hrr(100, 1)}) {
		t.Errorf("holes %v %v", np5.Holes(), np7.Holes())
	}
	if s := np.String(); !strings.Contains(s, "hole hr:0+10") || !strings.Contains(s, "bad point 0 hr:0+10") || !strings.Contains(s, "FC3 hr:5+1 (1 points)") {
		t.Errorf("String:\n%s", s)
	}
	if np.Limits().MaxRegisters != 125 || np.Limits().MaxBits != 2000 {
		t.Errorf("limits %+v", np.Limits())
	}
}

// FuzzPlan plans arbitrary layouts (two bytes per point: address and
// size) and checks the plan's invariants, also after a failure.
func FuzzPlan(f *testing.F) {
	f.Add([]byte{0, 1, 2, 2, 10, 3, 200, 4}, uint8(125), uint8(3))
	f.Add([]byte{5, 1, 5, 1, 5, 16}, uint8(4), uint8(0))
	f.Fuzz(func(t *testing.T, layout []byte, limit, gap uint8) {
		if len(layout) > 64 {
			layout = layout[:64]
		}
		lim := Limits{MaxRegisters: int(limit)%MaxReadRegisters + 1, MaxGap: int(gap)}
		var points []Range
		for i := 0; i+1 < len(layout); i += 2 {
			c := int(layout[i+1])%lim.MaxRegisters + 1
			points = append(points, hrr(int(layout[i])*256+int(layout[i+1])%256, min(c, AddressSpace-(int(layout[i])*256+int(layout[i+1])%256))))
		}
		p, err := NewPlan(points, lim)
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p)
		if len(p.Blocks()) > 0 {
			np, probes := p.Failed(p.Blocks()[len(p.Blocks())/2], ExceptionIllegalDataAddress)
			checkPlan(t, np)
			for _, pr := range probes {
				if len(pr.Members) == 0 || pr.Count >= p.Blocks()[len(p.Blocks())/2].Count {
					t.Fatalf("bad probe %v", pr)
				}
			}
		}
	})
}

func BenchmarkNewPlan1000(b *testing.B) {
	points := scattered(rand.New(rand.NewPCG(1, 1)), 1000, 65536)
	for b.Loop() {
		if _, err := NewPlan(points, Limits{MaxGap: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleNewPlan() {
	// Four values of a PLC: two float32 at 100 and 102, a uint16 at 110
	// (the gap of 6 registers between is read through) and a counter far
	// away, plus two coils.
	var points []Range
	for _, spec := range []PointSpec{
		{Address: "hr:100", Type: "FLOAT32_LE"},
		{Address: "hr:102", Type: "float32", Order: "CDAB"},
		{Address: "hr:110", Type: "uint16"},
		{Address: "hr:5000", Type: "uint32"},
		{Address: "coil:0"},
		{Address: "coil:7"},
	} {
		p, err := ParsePoint(spec)
		if err != nil {
			fmt.Println(err)
			return
		}
		points = append(points, p.Range())
	}
	plan, err := NewPlan(points, Limits{MaxGap: 8, MaxBitGap: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(plan)

	// The device answers the first register read with "illegal data
	// address": the plan learns the hole and returns probes to read now.
	plan, probes := plan.Failed(plan.Blocks()[1], ExceptionIllegalDataAddress)
	for _, pr := range probes {
		fmt.Println("probe", pr)
	}

	// Decoding a point from its block's reply (data as goburrow returns it).
	p, _ := ParsePoint(PointSpec{Address: "hr:102", Type: "float32", Order: "CDAB"})
	v, _ := p.DecodeReply([]byte{0, 0, 0, 0, 0xE9, 0x79, 0x42, 0xF6}, 2)
	fmt.Printf("%v = %.3f\n", p, v.Float())
	// Output:
	// 3 reads for 6 points (max 125 registers, gap 8; max 2000 bits, gap 16)
	//   FC1 coil:0+8 (2 points)
	//   FC3 hr:100+11 (3 points)
	//   FC3 hr:5000+2 (1 points)
	// probe FC3 hr:100+2 (1 points)
	// probe FC3 hr:102+9 (2 points)
	// hr:102 float32 CDAB = 123.456
}
