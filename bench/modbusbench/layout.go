package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/cabridge/cabridge/drivers/modbus"
)

// pointType is the data type of one benchmark point.
type pointType uint8

// The point types, by the registers they span: 1 (uint16, int16), 2
// (float32) and 4 (float64), all in ABCD (big-endian) order.
const (
	typeUint16 pointType = iota
	typeInt16
	typeFloat32
	typeFloat64
)

// String returns the cabridge binding type name.
func (t pointType) String() string {
	switch t {
	case typeUint16:
		return "uint16"
	case typeInt16:
		return "int16"
	case typeFloat32:
		return "float32"
	case typeFloat64:
		return "float64"
	}
	return fmt.Sprintf("pointType(%d)", uint8(t))
}

// registers returns how many registers a value of t spans.
func (t pointType) registers() int {
	switch t {
	case typeFloat32:
		return 2
	case typeFloat64:
		return 4
	}
	return 1
}

// point is one benchmark PV and the holding registers it is bound to.
type point struct {
	name  string
	start int // first holding register
	typ   pointType
}

// rangeOf returns the registers p spans, as the planner sees them.
func (p point) rangeOf() modbus.Range {
	return modbus.Range{Table: modbus.HoldingRegister, Start: uint16(p.start), Count: p.typ.registers()}
}

// layout is a set of points scattered over a holding-register space.
type layout struct {
	space  int // registers 0..space-1 may be used
	gap    int // max_gap of the device
	points []point
}

// scatteredLayout places n non-overlapping points at random in registers
// 0..space-1. It draws exactly as TestPlanScattered1000 in
// drivers/modbus/plan_test.go does (PCG seeded with space and gap; each
// point spans 1, 1, 2, 2 or 4 registers with equal chance), so for the
// same space and gap it gives that test's layout and minimum request
// count. One-register points alternate between uint16 and int16;
// two-register points are float32, four-register points float64.
func scatteredLayout(n, space, gap int) (layout, error) {
	// Draws that hit used registers are rejected, so a dense layout ends
	// up with more one-register points; leave a third of the space free
	// so that the loop ends quickly, and bound it anyway.
	if n < 1 || space > modbus.AddressSpace || 3*n > 2*space {
		return layout{}, fmt.Errorf("modbusbench: %d points do not fit in %d registers (want 1 ≤ 1.5·points ≤ space ≤ %d)", n, space, modbus.AddressSpace)
	}
	if gap < 0 {
		return layout{}, fmt.Errorf("modbusbench: max gap %d is negative", gap)
	}
	rng := rand.New(rand.NewPCG(uint64(space), uint64(gap)))
	used := make([]bool, space)
	l := layout{space: space, gap: gap}
	ones := 0
	for draws := 0; len(l.points) < n; draws++ {
		if draws >= 1000*n {
			return layout{}, fmt.Errorf("modbusbench: placed only %d of %d points in %d registers", len(l.points), n, space)
		}
		c := []int{1, 1, 2, 2, 4}[rng.IntN(5)]
		s := rng.IntN(space - c)
		if slices.Contains(used[s:s+c], true) {
			continue
		}
		for i := s; i < s+c; i++ {
			used[i] = true
		}
		var t pointType
		switch c {
		case 1:
			t = typeUint16
			if ones%2 == 1 {
				t = typeInt16
			}
			ones++
		case 2:
			t = typeFloat32
		default:
			t = typeFloat64
		}
		l.points = append(l.points, point{name: fmt.Sprintf("MBBENCH:P%04d", len(l.points)), start: s, typ: t})
	}
	return l, nil
}

// ranges returns the points' register ranges, in point order.
func (l layout) ranges() []modbus.Range {
	rs := make([]modbus.Range, len(l.points))
	for i, p := range l.points {
		rs[i] = p.rangeOf()
	}
	return rs
}

// minRequests plans the layout's reads with the driver's planner under
// the 125-register limit and the layout's gap, and returns the number of
// FC3 requests per cycle and the registers they read in total.
func (l layout) minRequests() (requests, registers int, err error) {
	p, err := modbus.NewPlan(l.ranges(), modbus.Limits{MaxGap: l.gap})
	if err != nil {
		return 0, 0, fmt.Errorf("modbusbench: plan: %w", err)
	}
	for _, b := range p.Blocks() {
		registers += b.Count
	}
	return len(p.Blocks()), registers, nil
}

// typeCounts returns how many points have each type.
func (l layout) typeCounts() map[pointType]int {
	m := map[pointType]int{}
	for _, p := range l.points {
		m[p.typ]++
	}
	return m
}

// encode returns the registers that hold v as a value of type t: v is
// truncated toward zero for the integer types; words are big-endian
// (ABCD).
func encode(t pointType, v float64) []uint16 {
	switch t {
	case typeUint16:
		return []uint16{uint16(v)}
	case typeInt16:
		return []uint16{uint16(int16(v))}
	case typeFloat32:
		b := math.Float32bits(float32(v))
		return []uint16{uint16(b >> 16), uint16(b)}
	default:
		b := math.Float64bits(v)
		return []uint16{uint16(b >> 48), uint16(b >> 32), uint16(b >> 16), uint16(b)}
	}
}

// initialValue is the value point i holds before the latency samples:
// distinct per point, negative for int16, with a fraction for floats, so
// that the first monitor update of every PV checks its decoding.
func initialValue(i int, t pointType) float64 {
	switch t {
	case typeInt16:
		return -float64(i + 1)
	case typeFloat32, typeFloat64:
		return float64(i+1) + 0.25
	}
	return float64(i + 1)
}

// sampleValue is the value written for latency sample k (0-based) to a
// point of type t. It differs from every initial value and from every
// other sample's value, so a monitor update carrying it can only come
// from that sample's write. k must be below maxSamples.
func sampleValue(k int, t pointType) float64 {
	v := float64(20000 + k)
	if t == typeFloat32 || t == typeFloat64 {
		v += 0.5
	}
	return v
}

// churnValue is the value point i gets at tick n of the churn window:
// consecutive ticks give different values, so every poll that follows at
// least one tick sees a change.
func churnValue(n, i int, t pointType) float64 {
	v := float64(1000 + (n+i)%10000)
	if t == typeFloat32 || t == typeFloat64 {
		v += 0.75
	}
	return v
}

// maxSamples bounds the latency samples so that sampleValue fits int16.
const maxSamples = 12000

// configOptions are the device settings of the generated configuration.
type configOptions struct {
	modbusAddr string // host:port of the Modbus server
	scan       string // scan period of every PV, e.g. "100ms"
	timeout    string // per-request timeout of the driver
}

// deviceName is the device's name in the generated configuration; its
// health PVs are cabridge:<deviceName>:POLL_LAST and so on.
const deviceName = "plc1"

// writeConfig writes the cabridge YAML configuration that binds every
// point of l to a PV scanned at o.scan on one Modbus TCP device.
func writeConfig(w io.Writer, l layout, o configOptions) error {
	ew := &errWriter{w: w}
	ew.printf("# Generated by bench/modbusbench: %d points scattered over hr:0..%d, max_gap %d.\n",
		len(l.points), l.space-1, l.gap)
	ew.printf("log:\n  level: error\n\n")
	ew.printf("devices:\n")
	ew.printf("  - name: %s\n    driver: modbus\n    timeout: 2s\n    backoff: 200ms\n    max_backoff: 1s\n", deviceName)
	ew.printf("    config:\n      transport: tcp\n      address: %q\n      unit_id: 1\n      timeout: %s\n      max_gap: %d\n\n",
		o.modbusAddr, o.timeout, l.gap)
	ew.printf("pvs:\n")
	for _, p := range l.points {
		ew.printf("  - {name: %q, scan: %s, binding: {device: %s, address: \"hr:%d\", type: %s}}\n",
			p.name, o.scan, deviceName, p.start, p.typ)
	}
	return ew.err
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}
