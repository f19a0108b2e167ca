package interop_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
)

// rawMsg appends one CA message with a 16-byte header and a payload padded
// to 8 bytes (the raw client below needs nothing more).
func rawMsg(b []byte, cmd, dt, count uint16, p1, p2 uint32, payload []byte) []byte {
	padded := (len(payload) + 7) &^ 7
	b = binary.BigEndian.AppendUint16(b, cmd)
	b = binary.BigEndian.AppendUint16(b, uint16(padded))
	b = binary.BigEndian.AppendUint16(b, dt)
	b = binary.BigEndian.AppendUint16(b, count)
	b = binary.BigEndian.AppendUint32(b, p1)
	b = binary.BigEndian.AppendUint32(b, p2)
	b = append(b, payload...)
	return append(b, make([]byte, padded-len(payload))...)
}

// stuckClient completes the CA handshake, creates a channel to name,
// subscribes to it (DBR_DOUBLE, count 0, DBE_VALUE) and then never reads
// again. It returns the connection.
func stuckClient(t *testing.T, addr string, name string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn := c.(*net.TCPConn)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadBuffer(4096) // fill up fast once we stop reading
	var b []byte
	b = rawMsg(b, 0, 0, 13, 0, 0, nil)                      // VERSION, priority 0, minor 13
	b = rawMsg(b, 20, 0, 0, 0, 0, []byte("stuck\x00"))      // CLIENT_NAME
	b = rawMsg(b, 21, 0, 0, 0, 0, []byte("localhost\x00"))  // HOST_NAME
	b = rawMsg(b, 18, 0, 0, 1, 13, append([]byte(name), 0)) // CREATE_CHAN cid 1
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var sid uint32
	hdr := make([]byte, 16)
	for found := false; !found; {
		if _, err := io.ReadFull(conn, hdr); err != nil {
			t.Fatalf("raw client: reading the CREATE_CHAN reply: %v", err)
		}
		cmd := binary.BigEndian.Uint16(hdr)
		size := int(binary.BigEndian.Uint16(hdr[2:]))
		if size == 0xFFFF {
			ext := make([]byte, 8)
			if _, err := io.ReadFull(conn, ext); err != nil {
				t.Fatal(err)
			}
			size = int(binary.BigEndian.Uint32(ext))
		}
		if _, err := io.CopyN(io.Discard, conn, int64(size)); err != nil {
			t.Fatal(err)
		}
		switch cmd {
		case 18:
			sid, found = binary.BigEndian.Uint32(hdr[12:]), true
		case 26:
			t.Fatalf("raw client: CREATE_CH_FAIL for %s", name)
		}
	}
	ev := make([]byte, 16)
	binary.BigEndian.PutUint16(ev[12:], 1) // DBE_VALUE
	if _, err := conn.Write(rawMsg(nil, 1, 6, 0, sid, 1, ev)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestStuckClient subscribes a raw client that never reads to a PV updated
// as fast as a goroutine can, and checks that a libca client subscribed to
// the same PV keeps getting updates, that the server's heap stays bounded,
// and that the stuck circuit is dropped.
func TestStuckClient(t *testing.T) {
	requirePeer(t)
	fast := ca.NewDouble(ca.Options{MaxLength: 1000, ValueDeadband: -1}, make([]float64, 1000)...)
	srv := startServer(t, map[string]ca.PV{"stuck:fast": fast}, func(c *ca.Config) {
		c.WriteTimeout = 2 * time.Second
		c.MaxOutputBytes = 4 << 20
	})

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var pushed int
	wg.Go(func() {
		vals := make([]float64, 1000)
		for ctx.Err() == nil {
			vals[0]++
			_ = fast.SetArray(vals)
			pushed++
			if pushed%64 == 0 {
				runtime.Gosched() // leave the other core's share to the server and the peer
			}
		}
	})

	_ = stuckClient(t, srv.TCPAddr().String(), "stuck:fast")

	var r struct {
		Updates    int     `json:"updates"`
		Seconds    float64 `json:"seconds"`
		LastStatus int     `json:"last_status"`
	}
	p := startPy(t, 60*time.Second, "rate.py", srv.Env(), map[string]any{"pv": "stuck:fast", "window": 2.0, "count": 1})
	var ready struct{ Ready bool }
	p.next(&ready)
	p.next(&r)
	p.wait()
	t.Logf("libca client got %d updates in %.2fs while the raw client was stuck", r.Updates, r.Seconds)
	if r.Updates < 20 {
		t.Errorf("libca client got only %d updates in %.2fs next to a stuck client", r.Updates, r.Seconds)
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const heapBound = 256 << 20
	t.Logf("heap in use %d MiB after the window", ms.HeapInuse>>20)
	if ms.HeapInuse > heapBound {
		t.Errorf("heap in use %d MiB, bound %d MiB", ms.HeapInuse>>20, heapBound>>20)
	}

	// The stuck circuit is dropped once a write blocks past WriteTimeout or
	// its queue passes MaxOutputBytes. There is no event to wait on from
	// outside the server, so poll its counters under a deadline.
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st := srv.Stats()
		if n := st.Closes[ca.CloseWriteTimeout] + st.Closes[ca.CloseOverflow]; n > 0 {
			t.Logf("stuck circuit dropped: %v", st.Closes)
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("stuck circuit not dropped within 30s: %+v", st)
		}
	}
	cancel()
	wg.Wait()
	if pushed == 0 {
		t.Error("producer pushed nothing")
	}
}
