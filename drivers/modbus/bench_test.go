package modbus

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/modbus/modbustest"
)

// BenchmarkRead1000Scattered reads 1,000 holding-register points
// scattered over a PLC address space (the layouts of
// TestPlanScattered1000: 1, 2 or 4 registers each) through Device.Read
// against modbustest over Modbus TCP on 127.0.0.1, and reports the
// requests per cycle.
func BenchmarkRead1000Scattered(b *testing.B) {
	for _, tc := range []struct{ space, gap int }{{65536, 10}, {5000, 8}, {1500, 3}} {
		b.Run(fmt.Sprintf("space=%d/gap=%d", tc.space, tc.gap), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(tc.space), uint64(tc.gap)))
			s := modbustest.NewServer(b, modbustest.Options{})
			dev, err := New(drivers.Params{Name: "bench", Decode: drivers.DecodeJSON(fmt.Appendf(nil,
				`{"address": %q, "timeout": "5s", "max_gap": %d}`, s.Addr(), tc.gap))})
			if err != nil {
				b.Fatal(err)
			}
			d := dev.(*Device)
			b.Cleanup(func() { _ = d.Close() })
			types := map[int]string{1: "uint16", 2: "uint32", 4: "uint64"}
			var pts []drivers.Point
			for _, r := range scattered(rng, 1000, tc.space) {
				pt, err := d.ParsePoint(drivers.PointSpec{Address: fmt.Sprintf("hr:%d", r.Start), Type: types[r.Count]})
				if err != nil {
					b.Fatal(err)
				}
				pts = append(pts, pt)
			}
			ctx := b.Context()
			if _, err := d.Read(ctx, pts); err != nil { // plan, connect
				b.Fatal(err)
			}
			before := s.Total()
			b.ReportAllocs()
			for b.Loop() {
				ss, err := d.Read(ctx, pts)
				if err != nil || ss[0].Err != nil {
					b.Fatal(err, ss[0].Err)
				}
			}
			b.ReportMetric(float64(s.Total()-before)/float64(b.N), "requests/op")
		})
	}
}
