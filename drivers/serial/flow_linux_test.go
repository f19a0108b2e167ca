package serial

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSetRTSCTS switches hardware flow control on and off on a real tty
// (one end of a socat pty pair) and reads the flag back.
func TestSetRTSCTS(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("socat not found; install it with: sudo make peers")
		}
		t.Skip("socat not found; install it with: sudo make peers")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	cmd := exec.Command(socat, "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(a); err != nil; _, err = os.Stat(a) {
		if time.Now().After(deadline) {
			t.Fatal("socat link did not appear within 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling the file system: no event to wait on
	}
	for _, on := range []bool{true, false, true} {
		if err := setRTSCTS(a, on); err != nil {
			t.Fatal(err)
		}
		if got, err := rtsctsOn(a); err != nil || got != on {
			t.Errorf("after setRTSCTS(%v): CRTSCTS %v, %v", on, got, err)
		}
	}
	if err := setRTSCTS(filepath.Join(dir, "nope"), true); err == nil {
		t.Error("no error for a missing device")
	}
}
