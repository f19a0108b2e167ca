package modbus

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// pythonPath is the interpreter with Debian's python3-pymodbus.
const pythonPath = "/usr/bin/python3"

// requirePeer skips t with msg, or fails it when CI is "true", where
// make peers installs every peer.
func requirePeer(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// requirePymodbus skips t when pymodbus cannot serve, or fails it when
// CI is "true".
func requirePymodbus(t *testing.T) {
	t.Helper()
	out, err := exec.Command(pythonPath, "-c", "import pymodbus.server.async_io").CombinedOutput()
	if err == nil {
		return
	}
	requirePeer(t, fmt.Sprintf("%s cannot import pymodbus.server.async_io (%v: %s); install it with: sudo make peers (or: sudo apt-get install python3-pymodbus python3-serial-asyncio)",
		pythonPath, err, strings.TrimSpace(string(out))))
}

// lockedBuffer is a bytes.Buffer for a child's stderr, read by the test
// while the child runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// pyServer is a running testdata/pymodbus_server.py.
type pyServer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	exited chan struct{}
	line   string // first line of its output: the port, or "ready"
}

// startPymodbus runs testdata/pymodbus_server.py with args, waits until
// it serves and kills it at cleanup.
func startPymodbus(t *testing.T, args ...string) *pyServer {
	t.Helper()
	requirePymodbus(t)
	cmd := exec.Command(pythonPath, append([]string{"testdata/pymodbus_server.py"}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	p := &pyServer{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	first := make(chan string, 1)
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- strings.TrimSpace(sc.Text())
		}
		close(first)
		for sc.Scan() { // drain until exit
		}
		_ = cmd.Wait()
	}()
	select {
	case l, ok := <-first:
		if !ok || l == "" {
			t.Fatalf("pymodbus server %v printed nothing; stderr:\n%s", args, p.stderr.String())
		}
		p.line = l
	case <-time.After(20 * time.Second):
		t.Fatalf("pymodbus server %v did not start within 20s; stderr:\n%s", args, p.stderr.String())
	}
	return p
}

// addr returns the TCP address it serves.
func (p *pyServer) addr() string { return "127.0.0.1:" + p.line }

// stop ends the server: stdin closes, then SIGKILL after 5 s.
func (p *pyServer) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// kill kills the server at once, as a PLC losing power.
func (p *pyServer) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// checkPymodbusTables reads every table, writes with every function code
// and checks exception 2 past the tables, against a pymodbus server.
func checkPymodbusTables(t *testing.T, ctx context.Context, d *Device) {
	t.Helper()
	pts := parse(t, d, "hr:0", "hr:1", "hr:97", "hr:99 uint32", "ir:5", "coil:3", "di:4", "hr:150")
	want := []drivers.Value{drivers.Uints{100}, drivers.Uints{101}, drivers.Uints{197}, nil, drivers.Uints{205}, drivers.Bools{true}, drivers.Bools{false}, nil}
	for cycle := range 2 {
		ss, err := d.Read(ctx, pts)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range ss {
			if want[i] == nil {
				if code, ok := drivers.ExceptionCode(s.Err); !ok || code != 2 {
					t.Errorf("cycle %d: %v = %v, %v; want exception 2", cycle, pts[i], s.Value, s.Err)
				}
				continue
			}
			if s.Err != nil || !drivers.Equal(s.Value, want[i]) {
				t.Errorf("cycle %d: %v = %v, %v; want %v", cycle, pts[i], s.Value, s.Err, want[i])
			}
		}
	}

	writes := []struct {
		spec drivers.PointSpec
		v    drivers.Value
	}{
		{drivers.PointSpec{Address: "hr:10", Type: "int16"}, drivers.Ints{-5}},
		{drivers.PointSpec{Address: "hr:20", Type: "float32", Order: "CDAB"}, drivers.Floats{1.5}},
		{drivers.PointSpec{Address: "hr:24", Type: "float64", Order: "DCBA"}, drivers.Floats{-0.25}},
		{drivers.PointSpec{Address: "hr:30", Bit: new(3)}, drivers.Bools{true}},
		{drivers.PointSpec{Address: "hr:40", Type: "string", Len: 4}, drivers.Strings{"ab"}},
		{drivers.PointSpec{Address: "coil:6"}, drivers.Bools{true}},
	}
	for _, w := range writes {
		pt, err := d.ParsePoint(w.spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Write(ctx, pt, w.v); err != nil {
			t.Errorf("Write(%v, %v): %v", pt, w.v, err)
			continue
		}
		ss, err := d.Read(ctx, []drivers.Point{pt})
		if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, w.v) {
			t.Errorf("after Write(%v, %v): %v, %v", pt, w.v, ss, err)
		}
	}
	pt := parse(t, d, "hr:120")[0]
	if code, _ := drivers.ExceptionCode(d.Write(ctx, pt, drivers.Uints{1})); code != 2 {
		t.Errorf("write past the table: want exception 2")
	}
	if st := d.Stats(); !st.Connected || st.LastException != 2 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestPymodbus reads, writes and learns a hole against a real pymodbus
// server over TCP.
func TestPymodbus(t *testing.T) {
	srv := startPymodbus(t)
	js := fmt.Sprintf(`{"address": %q, "timeout": "3s", "max_gap": 200}`, srv.addr())
	dev, err := New(drivers.Params{Name: "pymodbus", Decode: drivers.DecodeJSON([]byte(js))})
	if err != nil {
		t.Fatal(err)
	}
	d := dev.(*Device)
	t.Cleanup(func() { _ = d.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	checkPymodbusTables(t, ctx, d)
}

// TestPymodbusDeadUnit: pymodbus serves units 1 and 2 and ignores unit
// 3; three devices of one Driver share the connection. Units 1 and 2
// keep being read while unit 3 times out once per probe period.
func TestPymodbusDeadUnit(t *testing.T) {
	srv := startPymodbus(t, "--units", "1,2")
	const (
		timeout = 200 * time.Millisecond
		backoff = 300 * time.Millisecond
		span    = 2 * time.Second
	)
	dr := &Driver{ProbeBackoff: backoff, MaxProbeBackoff: 2 * backoff}
	var devs [3]*Device
	var pts [3]drivers.Point
	for i := range 3 {
		js := fmt.Sprintf(`{"address": %q, "unit_id": %d, "timeout": %q}`, srv.addr(), i+1, timeout.String())
		devs[i] = newDriverDevice(t, dr, fmt.Sprintf("u%d", i+1), js)
		pts[i] = parse(t, devs[i], "hr:0")[0]
	}
	r := runDeadUnit(t, devs, pts, [2]drivers.Value{drivers.Uints{1000}, drivers.Uints{2000}}, span)
	var held time.Duration
	for _, b := range r.blocked {
		held += b
	}
	t.Logf("pymodbus, %v: unit 1 read %d times, unit 2 %d; unit 3 asked %d times, %d on the wire holding the link %v in all (%v), %d failed fast; slowest read of 1 or 2: %v",
		span, r.good[0], r.good[1], r.deadCalls, len(r.blocked), held, r.blocked, r.fastFails, r.maxGood)
	t.Logf("unit 3 error: %v", r.lastErr)
	for _, err := range r.goodErrs {
		t.Errorf("unit 1 or 2: %v", err)
	}
	for _, err := range r.deadErrs {
		t.Errorf("unit 3: %v; want a timeout", err)
	}
	// Probes at 0, +300ms, +600ms, +600ms...: at most 1+span/backoff.
	if n, most := len(r.blocked), 1+int(span/backoff); n < 2 || n > most {
		t.Errorf("unit 3 went on the wire %d times in %v; want 2..%d", n, span, most)
	}
	if r.good[0] < 10 || r.good[1] < 10 {
		t.Errorf("units 1 and 2 read %v times in %v; the dead unit starves them", r.good, span)
	}
	if r.maxGood > timeout+time.Second {
		t.Errorf("a read of unit 1 or 2 took %v; at most one timeout (%v) of unit 3 may delay it", r.maxGood, timeout)
	}
	if r.fastFails == 0 {
		t.Error("unit 3 never failed fast")
	}
}

// TestPymodbusRestart: the server is killed between polls and restarted
// on the same port; two units, on connections of their own (New) or
// sharing one (Driver), fail, reopen and recover.
func TestPymodbusRestart(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "own connections", true: "shared"}[shared], func(t *testing.T) {
			testPymodbusRestart(t, shared)
		})
	}
}

func testPymodbusRestart(t *testing.T, shared bool) {
	srv := startPymodbus(t, "--units", "1,2")
	port := srv.line
	var dr Driver
	var devs [2]*Device
	var pts [2]drivers.Point
	for i := range 2 {
		js := fmt.Sprintf(`{"address": %q, "unit_id": %d, "timeout": "1s"}`, srv.addr(), i+1)
		if shared {
			devs[i] = newDriverDevice(t, &dr, fmt.Sprintf("u%d", i+1), js)
		} else {
			dev, err := New(drivers.Params{Name: fmt.Sprintf("u%d", i+1), Decode: drivers.DecodeJSON([]byte(js))})
			if err != nil {
				t.Fatal(err)
			}
			devs[i] = dev.(*Device)
			t.Cleanup(func() { _ = devs[i].Close() })
			if err := devs[i].Open(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		pts[i] = parse(t, devs[i], "hr:0")[0]
	}
	read := func(i int) error {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		v, err := readOne(t, ctx, devs[i], pts[i])
		if err == nil && !drivers.Equal(v, drivers.Uints{uint64(1000 * (i + 1))}) {
			err = fmt.Errorf("unit %d read %v", i+1, v)
		}
		return err
	}
	for i := range 2 {
		if err := read(i); err != nil {
			t.Fatal(err)
		}
	}
	srv.kill()
	err := read(0)
	if !errors.Is(err, drivers.ErrDisconnected) && !errors.Is(err, drivers.ErrTimeout) {
		t.Fatalf("read from a killed server = %v; want ErrDisconnected or ErrTimeout", err)
	}
	t.Logf("read from the killed server: %v", err)
	for i := range 2 {
		if err := devs[i].Open(t.Context()); !errors.Is(err, drivers.ErrDisconnected) {
			t.Errorf("unit %d: Open with the server down = %v; want ErrDisconnected", i+1, err)
		}
	}
	startPymodbus(t, "--units", "1,2", "--port", port)
	for i := range 2 {
		if err := devs[i].Open(t.Context()); err != nil {
			t.Fatalf("unit %d: Open after the restart: %v", i+1, err)
		}
		if err := read(i); err != nil {
			t.Fatalf("unit %d after the restart: %v", i+1, err)
		}
	}
}

// requireSocat skips t when socat is missing, or fails it when CI is
// "true".
func requireSocat(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("socat")
	if err != nil {
		requirePeer(t, "socat not found; install it with: sudo make peers (or: sudo apt-get install socat)")
	}
	return p
}

// ptyPair runs socat to make two linked ptys and returns their paths; it
// kills socat at cleanup.
func ptyPair(t *testing.T) (a, b string) {
	t.Helper()
	socat := requireSocat(t)
	dir := t.TempDir()
	a, b = filepath.Join(dir, "a"), filepath.Join(dir, "b")
	cmd := exec.Command(socat, "-d", "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if strings.Count(stderr.String(), "starting data transfer loop") > 0 {
			_, errA := os.Stat(a)
			_, errB := os.Stat(b)
			if errA == nil && errB == nil {
				return a, b
			}
		}
		select {
		case <-exited:
			t.Fatalf("socat exited; stderr:\n%s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("socat made no pty pair within 10s; stderr:\n%s", stderr.String())
		}
	}
}

// TestPymodbusSerial: pymodbus serves RTU and ASCII on one end of a socat
// pty pair; the driver reads and writes every table on the other. Parity
// is none: Linux ptys refuse PARENB (tcsetattr EINVAL).
func TestPymodbusSerial(t *testing.T) {
	for _, tr := range []TransportKind{TransportRTU, TransportASCII} {
		t.Run(string(tr), func(t *testing.T) {
			requirePymodbus(t)
			a, b := ptyPair(t)
			startPymodbus(t, "--serial", a, "--framer", string(tr), "--baud", "19200", "--parity", "N")
			js := fmt.Sprintf(`{"transport": %q, "device": %q, "baud_rate": 19200, "parity": "none", "timeout": "1s", "max_gap": 200}`, tr, b)
			dev, err := New(drivers.Params{Name: "line", Decode: drivers.DecodeJSON([]byte(js))})
			if err != nil {
				t.Fatal(err)
			}
			d := dev.(*Device)
			t.Cleanup(func() { _ = d.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if err := d.Open(ctx); err != nil {
				t.Fatal(err)
			}
			checkPymodbusTables(t, ctx, d)
		})
	}
}

// TestPymodbusSerialMultidrop: units 1 and 2 on one RTU bus (a pty pair)
// share the line through a Driver while unit 3, absent, times out.
func TestPymodbusSerialMultidrop(t *testing.T) {
	requirePymodbus(t)
	a, b := ptyPair(t)
	startPymodbus(t, "--serial", a, "--framer", "rtu", "--baud", "19200", "--parity", "N", "--units", "1,2")
	// pymodbus on a pty is slow under load: a generous timeout.
	const (
		backoff = 300 * time.Millisecond
		span    = 2 * time.Second
	)
	dr := &Driver{ProbeBackoff: backoff, MaxProbeBackoff: 2 * backoff}
	var devs [3]*Device
	var pts [3]drivers.Point
	for i := range 3 {
		js := fmt.Sprintf(`{"transport": "rtu", "device": %q, "baud_rate": 19200, "parity": "none", "unit_id": %d, "timeout": "500ms"}`, b, i+1)
		devs[i] = newDriverDevice(t, dr, fmt.Sprintf("u%d", i+1), js)
		pts[i] = parse(t, devs[i], "hr:0")[0]
	}
	if n := dr.Links(); n != 1 {
		t.Fatalf("Links = %d, want 1 (one bus)", n)
	}
	r := runDeadUnit(t, devs, pts, [2]drivers.Value{drivers.Uints{1000}, drivers.Uints{2000}}, span)
	t.Logf("RTU bus, %v: unit 1 read %d times, unit 2 %d; unit 3 asked %d times, %d on the wire (%v), %d failed fast; slowest read of 1 or 2: %v",
		span, r.good[0], r.good[1], r.deadCalls, len(r.blocked), r.blocked, r.fastFails, r.maxGood)
	for _, err := range r.goodErrs {
		t.Errorf("unit 1 or 2: %v", err)
	}
	for _, err := range r.deadErrs {
		t.Errorf("unit 3: %v; want a timeout", err)
	}
	if n, most := len(r.blocked), 1+int(span/backoff); n < 1 || n > most {
		t.Errorf("unit 3 went on the wire %d times in %v; want 1..%d", n, span, most)
	}
	if r.good[0] < 5 || r.good[1] < 5 {
		t.Errorf("units 1 and 2 read %v times in %v; the dead unit starves them", r.good, span)
	}
}
