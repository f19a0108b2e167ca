package ca

import (
	"io"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// BenchmarkServerReadNotifyTCP measures pipelined READ_NOTIFY of a scalar
// on one circuit over loopback; one op is one batch of 1000 reads.
func BenchmarkServerReadNotifyTCP(b *testing.B) {
	s, _, _ := startServer(b, Config{})
	c := dialRaw(b, s)
	sid := c.open("T:AI", 1)
	const batch = 1000
	var req []byte
	for i := range batch {
		req = wire.AppendReadNotify(req, uint16(dbr.TimeDouble), 1, sid, uint32(i))
	}
	reply := make([]byte, batch*(16+24))
	b.ResetTimer()
	for b.Loop() {
		c.send(req)
		if _, err := io.ReadFull(c.conn, reply); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "reads/s")
}
