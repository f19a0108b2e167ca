package serial

import (
	"testing"
	"time"
)

// TestWritesFirst: while a transaction holds the port, a queued write
// gets it before a read that queued earlier.
func TestWritesFirst(t *testing.T) {
	l := newLink("test", &Config{TCP: "x"}, nil)
	ctx := t.Context()
	if err := l.acquire(ctx, time.Second, false); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 2)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		if err := l.acquire(ctx, 5*time.Second, false); err != nil {
			t.Error(err)
			return
		}
		order <- "read"
		l.release()
	}()
	l.writers.Add(1)
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		err := l.acquire(ctx, 5*time.Second, true)
		l.writers.Add(-1)
		if err != nil {
			t.Error(err)
			return
		}
		order <- "write"
		l.release()
	}()
	l.release()
	<-readDone
	<-writeDone
	if first := <-order; first != "write" {
		t.Errorf("%s got the port first, want the write", first)
	}
}

// TestLockTimeout: a transaction that cannot get the port within the lock
// timeout fails with a timeout.
func TestLockTimeout(t *testing.T) {
	l := newLink("test", &Config{TCP: "x"}, nil)
	if err := l.acquire(t.Context(), time.Second, false); err != nil {
		t.Fatal(err)
	}
	defer l.release()
	if err := l.acquire(t.Context(), 20*time.Millisecond, false); err == nil {
		t.Error("acquire of a busy port succeeded")
	}
}

func TestFindSerial(t *testing.T) {
	ports := []PortInfo{{Path: "/dev/ttyS0"}, {Path: "/dev/ttyUSB0", IsUSB: true, VID: "0403", PID: "6001", SerialNumber: "A1"},
		{Path: "/dev/ttyUSB1", IsUSB: true, SerialNumber: "B2"}, {Path: "/dev/ttyUSB2", IsUSB: true, SerialNumber: "B2"}}
	if p, err := findSerial(ports, "A1"); err != nil || p != "/dev/ttyUSB0" {
		t.Errorf("A1 = %q, %v", p, err)
	}
	if _, err := findSerial(ports, "C3"); err == nil {
		t.Error("a missing serial number was found")
	}
	if _, err := findSerial(ports, "B2"); err == nil {
		t.Error("an ambiguous serial number was accepted")
	}
	if s := ports[1].String(); s != "/dev/ttyUSB0 usb 0403:6001 serial A1" {
		t.Errorf("String = %q", s)
	}
}

// TestPorts lists the host's ports; a host may have none, and a platform
// without enumeration reports an error rather than panicking.
func TestPorts(t *testing.T) {
	ports, err := Ports()
	if err != nil {
		t.Skipf("no port enumeration here: %v", err)
	}
	for _, p := range ports {
		if p.Path == "" {
			t.Errorf("port without a path: %+v", p)
		}
		t.Log(p)
	}
}
