package main

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers/modbus"
)

// TestScatteredLayout checks the layouts: deterministic, inside the
// space, non-overlapping, types matching their spans, and the planner's
// request counts that TestPlanScattered1000 in drivers/modbus logs for
// the same space and gap (so the layouts are that test's), which an
// independent dynamic programme confirms are minimal.
func TestScatteredLayout(t *testing.T) {
	tests := []struct {
		space, gap   int
		wantRequests int
	}{
		{65536, 10, 843},
		{65536, 125, 354},
		{5000, 8, 83},
		{1500, 3, 13},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("space=%d/gap=%d", tt.space, tt.gap), func(t *testing.T) {
			l, err := scatteredLayout(1000, tt.space, tt.gap)
			if err != nil {
				t.Fatal(err)
			}
			again, err := scatteredLayout(1000, tt.space, tt.gap)
			if err != nil || !slices.Equal(l.points, again.points) {
				t.Fatalf("layout not deterministic (err %v)", err)
			}
			if len(l.points) != 1000 {
				t.Fatalf("%d points, want 1000", len(l.points))
			}
			used := make([]bool, tt.space)
			names := map[string]bool{}
			for _, p := range l.points {
				if names[p.name] {
					t.Fatalf("duplicate name %s", p.name)
				}
				names[p.name] = true
				if p.rangeOf().Count != p.typ.registers() {
					t.Fatalf("%s: range %v for %v", p.name, p.rangeOf(), p.typ)
				}
				for a := p.start; a < p.start+p.typ.registers(); a++ {
					if a >= tt.space || used[a] {
						t.Fatalf("%s (%v at hr:%d) overlaps or leaves the space", p.name, p.typ, p.start)
					}
					used[a] = true
				}
			}
			got, _, err := l.minRequests()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantRequests {
				t.Errorf("planner: %d requests per cycle, want %d", got, tt.wantRequests)
			}
			if dp := minReads(l.ranges(), modbus.MaxReadRegisters, tt.gap); dp != got {
				t.Errorf("planner: %d requests, dynamic programme: %d", got, dp)
			}
		})
	}
}

// minReads is the fewest reads serving non-overlapping points, by
// dynamic programming over the points in address order.
func minReads(points []modbus.Range, limit, gap int) int {
	ps := slices.Clone(points)
	slices.SortFunc(ps, func(a, b modbus.Range) int { return int(a.Start) - int(b.Start) })
	dp := make([]int, len(ps)+1)
	for i := 1; i <= len(ps); i++ {
		dp[i] = math.MaxInt
		for j := i - 1; j >= 0; j-- {
			if ps[i-1].End()-int(ps[j].Start) > limit || (j < i-1 && int(ps[j+1].Start)-ps[j].End() > gap) {
				break
			}
			dp[i] = min(dp[i], dp[j]+1)
		}
	}
	return dp[len(ps)]
}

func TestScatteredLayoutErrors(t *testing.T) {
	tests := []struct {
		name            string
		n, space, gap   int
		wantErrContains string
	}{
		{"no points", 0, 1000, 0, "do not fit"},
		{"too dense", 1000, 1400, 0, "do not fit"},
		{"beyond the address space", 10, 70000, 0, "do not fit"},
		{"negative gap", 10, 1000, -1, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scatteredLayout(tt.n, tt.space, tt.gap)
			if err == nil || !strings.Contains(err.Error(), tt.wantErrContains) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErrContains)
			}
		})
	}
}

// TestEncode checks the registers written for each type against the
// Modbus driver's own decoder, which cabridge uses to read them.
func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		typ  pointType
		v    float64
		want []uint16
	}{
		{"uint16", typeUint16, 65535, []uint16{0xFFFF}},
		{"uint16 sample", typeUint16, sampleValue(3, typeUint16), []uint16{20003}},
		{"int16 negative", typeInt16, -2, []uint16{0xFFFE}},
		{"int16 largest sample", typeInt16, sampleValue(maxSamples-1, typeInt16), []uint16{31999}},
		{"float32", typeFloat32, 1.5, []uint16{0x3FC0, 0}},
		{"float32 sample", typeFloat32, sampleValue(0, typeFloat32), nil},
		{"float64", typeFloat64, 1.5, []uint16{0x3FF8, 0, 0, 0}},
		{"float64 initial", typeFloat64, initialValue(7, typeFloat64), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			regs := encode(tt.typ, tt.v)
			if tt.want != nil && !slices.Equal(regs, tt.want) {
				t.Errorf("encode(%v, %v) = %#04x, want %#04x", tt.typ, tt.v, regs, tt.want)
			}
			p, err := modbus.ParsePoint(modbus.PointSpec{Address: "hr:0", Type: tt.typ.String()})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.DecodeRegisters(regs)
			if err != nil {
				t.Fatal(err)
			}
			if got.AsFloat() != tt.v {
				t.Errorf("driver decodes %#04x as %v, want %v", regs, got.AsFloat(), tt.v)
			}
		})
	}
}

// TestValuesDistinct checks that a monitor update can tell which write
// it carries: initial, sample and churn values of one type never collide
// where the tool relies on it, and all fit int16.
func TestValuesDistinct(t *testing.T) {
	for _, typ := range []pointType{typeUint16, typeInt16, typeFloat32, typeFloat64} {
		initial := map[float64]bool{}
		for i := range 1000 {
			v := initialValue(i, typ)
			if initial[v] {
				t.Fatalf("%v: initial value %v twice", typ, v)
			}
			initial[v] = true
		}
		for k := range maxSamples {
			v := sampleValue(k, typ)
			if initial[v] || v > math.MaxInt16 || (k > 0 && v == sampleValue(k-1, typ)) {
				t.Fatalf("%v: sample %d value %v collides or overflows int16", typ, k, v)
			}
		}
		for n := range 20000 {
			if a, b := churnValue(n, 5, typ), churnValue(n+1, 5, typ); a == b || a > math.MaxInt16 {
				t.Fatalf("%v: churn ticks %d and %d give %v and %v", typ, n, n+1, a, b)
			}
		}
	}
}

func TestWriteConfig(t *testing.T) {
	l := layout{space: 100, gap: 3, points: []point{
		{name: "MBBENCH:P0000", start: 7, typ: typeInt16},
		{name: "MBBENCH:P0001", start: 40, typ: typeFloat32},
	}}
	var b bytes.Buffer
	if err := writeConfig(&b, l, configOptions{modbusAddr: "127.0.0.1:1502", scan: "100ms", timeout: "500ms"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`address: "127.0.0.1:1502"`,
		"max_gap: 3",
		"timeout: 500ms",
		`- {name: "MBBENCH:P0000", scan: 100ms, binding: {device: plc1, address: "hr:7", type: int16}}`,
		`- {name: "MBBENCH:P0001", scan: 100ms, binding: {device: plc1, address: "hr:40", type: float32}}`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("config lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSummarize(t *testing.T) {
	ms := make([]float64, 0, 101)
	for i := 100; i >= 0; i-- {
		ms = append(ms, float64(i))
	}
	got := summarize(ms)
	want := Latency{N: 101, Min: 0, Median: 50, P90: 90, P99: 99, Max: 100, Mean: 50}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
}

func TestParseProcStat(t *testing.T) {
	const before = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 1 2 3\n"
	const after = "cpu  250 0 100 900 50 0 0 0 7 0\ncpu0 125 0 50 450 25 0 0 0 0 0\ncpu1 125 0 50 450 25 0 0 0 0 0\n"
	b, err := parseProcStat([]byte(before))
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseProcStat([]byte(after))
	if err != nil {
		t.Fatal(err)
	}
	// 200 busy ticks (150 user + 50 system) of 300; guest time is not counted twice.
	if busy, cpus := a.busySince(b); math.Abs(busy-100*200.0/300) > 1e-9 || cpus != 2 {
		t.Errorf("busySince = %v%% of %d CPUs, want 66.7%% of 2", busy, cpus)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6\n"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q): no error", bad)
		}
	}
}

func TestTracker(t *testing.T) {
	upd := func(v float64) client.Update { return client.Update{Value: dbr.Doubles{v}} }
	tr := newTracker([]float64{1, 2})
	tr.update(0, upd(1))
	tr.update(1, upd(5)) // not its register's value
	select {
	case <-tr.allSeen:
		t.Fatal("allSeen closed with point 1 wrong")
	default:
	}
	tr.update(1, upd(2))
	select {
	case <-tr.allSeen:
	default:
		t.Fatal("allSeen not closed")
	}

	tr.expect(1, 7, true)
	tr.update(0, upd(7)) // another point with the value
	tr.update(1, upd(2)) // the old value
	select {
	case h := <-tr.hits:
		t.Fatalf("hit %v before the new value", h)
	default:
	}
	tr.update(1, client.Update{Err: client.ErrDisconnected})
	tr.update(1, upd(7))
	select {
	case <-tr.hits:
	default:
		t.Fatal("no hit for the new value")
	}
	tr.update(1, upd(7)) // a repeat is not a second hit
	select {
	case h := <-tr.hits:
		t.Fatalf("second hit %v", h)
	default:
	}
	if u, lost := tr.counts(); u != 7 || lost != 1 {
		t.Errorf("counts = %d updates, %d lost; want 7, 1", u, lost)
	}
	if m := tr.missingPoints(10); len(m) != 0 {
		t.Errorf("missing %v, want none", m)
	}
}

func TestParseCPUPressure(t *testing.T) {
	got, err := parseCPUPressure([]byte("some avg10=40.42 avg60=55.28 avg300=49.33 total=875491267\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"))
	if err != nil || got != 875491267*time.Microsecond {
		t.Errorf("parseCPUPressure = %v, %v; want 875.491267s", got, err)
	}
	for _, bad := range []string{"", "full total=3\n", "some avg10=1\n", "some total=x\n"} {
		if _, err := parseCPUPressure([]byte(bad)); err == nil {
			t.Errorf("parseCPUPressure(%q): no error", bad)
		}
	}
}
