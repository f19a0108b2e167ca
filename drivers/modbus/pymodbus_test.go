package modbus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// pythonPath is the interpreter with Debian's python3-pymodbus.
const pythonPath = "/usr/bin/python3"

// requirePymodbus skips t when pymodbus cannot serve, or fails it when
// CI is "true", where make peers installs it.
func requirePymodbus(t *testing.T) {
	t.Helper()
	out, err := exec.Command(pythonPath, "-c", "import pymodbus.server.async_io").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s cannot import pymodbus.server.async_io (%v: %s); install it with: sudo make peers (or: sudo apt-get install python3-pymodbus python3-serial-asyncio)",
		pythonPath, err, strings.TrimSpace(string(out)))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startPymodbus runs testdata/pymodbus_server.py and returns its address.
func startPymodbus(t *testing.T) string {
	t.Helper()
	requirePymodbus(t)
	cmd := exec.Command(pythonPath, "testdata/pymodbus_server.py")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			port <- strings.TrimSpace(sc.Text())
		}
		close(port)
		for sc.Scan() { // drain until exit
		}
		exited <- cmd.Wait()
	}()
	select {
	case p, ok := <-port:
		if !ok || p == "" {
			t.Fatalf("pymodbus server printed no port; stderr:\n%s", stderr.String())
		}
		return "127.0.0.1:" + p
	case <-time.After(20 * time.Second):
		t.Fatalf("pymodbus server did not start within 20s; stderr:\n%s", stderr.String())
	}
	return ""
}

// TestPymodbus reads, writes and learns a hole against a real pymodbus
// server.
func TestPymodbus(t *testing.T) {
	addr := startPymodbus(t)
	js := fmt.Sprintf(`{"address": %q, "timeout": "3s", "max_gap": 200}`, addr)
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
	if st := d.Stats(); !st.Connected || st.LastException != 2 {
		t.Errorf("Stats = %+v", st)
	}
}
