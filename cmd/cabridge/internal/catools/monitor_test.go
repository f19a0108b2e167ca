package catools_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/catools"
)

// lines is an io.Writer that collects output and lets a test wait for it.
type lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.buf.Write(p)
}

// waitFor waits until the output contains want and returns the output.
func (l *lines) waitFor(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		s, ch := l.buf.String(), l.changed
		l.mu.Unlock()
		if strings.Contains(s, want) {
			return s
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("output lacks %q:\n%s", want, s)
		}
	}
}

// startMonitor runs Monitor with args until the test ends.
func startMonitor(t *testing.T, cfg client.Config, args ...string) (*lines, *lines) {
	t.Helper()
	o, names, err := catools.ParseMonitor(args, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Format.Location = time.UTC
	ctx, cancel := context.WithCancel(t.Context())
	out, errb := newLines(), newLines()
	done := make(chan error, 1)
	go func() { done <- catools.Monitor(ctx, cfg, names, o, out, errb) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Monitor: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Monitor did not return after its context ended")
		}
	})
	return out, errb
}

func TestMonitor(t *testing.T) {
	const ts = "2024-05-06 07:08:09.250000"
	pvs := testPVs()
	srv := catest.NewServer(t, pvs)
	cfg, err := client.ConfigFromEnv(env(srv.Env()))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := startMonitor(t, cfg, "-w", "0.2", "T:AI", "T:LATER", "T:WF")
	out.waitFor(t, "T:AI                           "+ts+" 21.5  \n")
	out.waitFor(t, "T:WF "+ts+" 4 1 2.5 -3 4  \n")
	out.waitFor(t, "T:LATER                        *** Not connected (PV not found)\n")

	pvs["T:AI"].(*ca.Double).Set(30)
	out.waitFor(t, "T:AI                           "+ts+" 30  \n")
	// A PV that appears later is found: the search goes on.
	if err := srv.Map.Add("T:LATER", ca.NewLong(ca.Options{Clock: func() time.Time { return stamp }}, 5)); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "T:LATER                        "+ts+" 5  \n")
	// A removed PV disconnects, and reconnects when it is back.
	srv.Map.Remove("T:WF")
	out.waitFor(t, " *** disconnected\n")
	if err := srv.Map.Add("T:WF", pvs["T:WF"]); err != nil {
		t.Fatal(err)
	}
	s := out.waitFor(t, " *** disconnected\nT:WF "+ts+" 4 1 2.5 -3 4  \n")
	if !strings.Contains(s, "\nT:WF ") {
		t.Errorf("output:\n%s", s)
	}
}

func TestMonitorOptions(t *testing.T) {
	pvs := testPVs()
	srv := catest.NewServer(t, pvs)
	cfg, err := client.ConfigFromEnv(env(srv.Env()))
	if err != nil {
		t.Fatal(err)
	}
	// No timestamps, two elements, values only (no alarm events), hex.
	out, _ := startMonitor(t, cfg, "-tn", "-#", "2", "-m", "v", "-0x", "-S", "T:WF", "T:LONG", "T:LONGSTR")
	out.waitFor(t, "T:WF  2 1 2.5  \n")
	out.waitFor(t, "T:LONG                          1 0xFFFFFFD6  \n")
	out.waitFor(t, "T:LONGSTR  a   \n")
	pvs["T:LONG"].(*ca.Long).Set(16)
	out.waitFor(t, "T:LONG                          1 0x10  \n")

	// Incremental timestamps by channel: the first update is absolute.
	out2, _ := startMonitor(t, cfg, "-t", "sI", "T:SHORT")
	out2.waitFor(t, "T:SHORT                        2024-05-06 07:08:09.250000 7  \n")
	pvs["T:SHORT"].(*ca.Short).Set(8)
	out2.waitFor(t, "T:SHORT"+strings.Repeat(" ", 23)+" "+strings.Repeat(" ", 14)+"   +0.000000 8  \n")
}

func TestParseMonitor(t *testing.T) {
	var errb bytes.Buffer
	o, names, err := catools.ParseMonitor([]string{"-m", "vx", "-t", "cz", "pv"}, nil, &errb)
	if err != nil || len(names) != 1 {
		t.Fatal(err, names)
	}
	if o.Mask != 0 || !o.Stamps.Client || !o.Stamps.NoServer {
		t.Errorf("options %+v", o)
	}
	for _, want := range []string{"Invalid argument 'vx' for option '-m' - ignored.", "Invalid argument 'z' for option '-t' - ignored."} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr %q lacks %q", errb.String(), want)
		}
	}
	if _, _, err := catools.ParseMonitor(nil, nil, &errb); !catools.UsageError(err) {
		t.Errorf("no PV: %v", err)
	}
}
