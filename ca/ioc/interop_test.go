package ioc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
)

// The interop tests drive the IOC with libca through pyepics, gated as in
// ca/interop: they skip when pyepics is missing, and fail if CI=true.

// peer gates the tests that need pyepics (catest.PyEpics).
var peer catest.PyEpics

// requirePeer skips the test when pyepics is missing, or fails it in CI.
func requirePeer(t *testing.T) { t.Helper(); peer.Require(t) }

// pyCmd returns the command running testdata/script with args against srv.
func pyCmd(ctx context.Context, srv *catest.Server, script string, args ...string) *exec.Cmd {
	cmd := catest.Command(ctx, srv.NameServerEnv(), filepath.Join("testdata", script), args...)
	return cmd
}

// caget reads names with pyepics in a new process.
func caget(t *testing.T, srv *catest.Server, names ...string) []any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := pyCmd(ctx, srv, "caget.py", names...).Output()
	if err != nil {
		t.Fatalf("caget.py: %v", err)
	}
	var res struct{ Values []any }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("caget.py printed %q: %v", out, err)
	}
	return res.Values
}

func TestInteropSlowPut(t *testing.T) {
	requirePeer(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	g := ioc.NewGroup("IOP:", nil)
	ioc.DeclarePair(g, "MOVE", ioc.Double, ioc.Spec[float64]{Value: 1, Put: func(ctx context.Context, _ *ioc.PV[float64], v float64) (float64, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return v, nil
	}}, ioc.Follow)
	srv := serve(t, g)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := pyCmd(ctx, srv, "caput_wait.py", "IOP:MOVE", "7")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("put hook not called")
	}
	held := time.Now()
	// Another libca client reads at once while the put is in progress.
	if got := caget(t, srv, "IOP:MOVE", "IOP:MOVE_RBV"); fmt.Sprint(got) != "[1 1]" {
		t.Errorf("values during the put: %v", got)
	}
	heldFor := time.Since(held)
	close(release)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 {
		t.Fatalf("caput_wait.py printed %q", lines)
	}
	var res struct {
		Ret     int
		Elapsed float64
	}
	if err := json.Unmarshal([]byte(lines[1]), &res); err != nil {
		t.Fatal(err)
	}
	if res.Ret != 1 || res.Elapsed < heldFor.Seconds() {
		t.Errorf("put returned %d after %.3f s; the hook was held %.3f s", res.Ret, res.Elapsed, heldFor.Seconds())
	}
	if got := caget(t, srv, "IOP:MOVE", "IOP:MOVE_RBV"); fmt.Sprint(got) != "[7 7]" {
		t.Errorf("values after the put: %v", got)
	}
}

func TestInteropGetHookAndScan(t *testing.T) {
	requirePeer(t)
	var n atomic.Int32
	g := ioc.NewGroup("IOG:", nil)
	ioc.Long(g, "COUNT", ioc.Spec[int32]{ReadOnly: true, Get: func(context.Context, *ioc.PV[int32]) (int32, error) {
		return n.Add(1), nil
	}})
	ticks := ioc.Long(g, "TICKS", ioc.Spec[int32]{ReadOnly: true, Scan: ioc.Scan[int32]{
		ScanOptions: ioc.ScanOptions{Period: 10 * time.Millisecond},
		Func:        func(_ context.Context, pv *ioc.PV[int32]) error { return pv.Set(pv.Value() + 1) },
	}})
	srv := serve(t, g)
	got := caget(t, srv, "IOG:COUNT", "IOG:COUNT", "IOG:TICKS")
	if len(got) != 3 || got[0] != float64(1) || got[1] != float64(2) {
		t.Errorf("get hook reads: %v", got)
	}
	if v, ok := got[2].(float64); !ok || v < 1 || int32(v) > ticks.Value() {
		t.Errorf("scanned value %v (now %d)", got[2], ticks.Value())
	}
}

// scanPy runs testdata/scan.py against the server at a (TCP name server).
func scanPy(t *testing.T, a netip.AddrPort, rec, choice string, fields ...string) (before, after string, got map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := catest.Command(ctx, []string{"EPICS_CA_AUTO_ADDR_LIST=NO", "EPICS_CA_ADDR_LIST=",
		"EPICS_CA_NAME_SERVERS=" + a.String(), fmt.Sprintf("EPICS_CA_REPEATER_PORT=%d", catest.FreePort(t))}, filepath.Join("testdata", "scan.py"), append([]string{rec, choice}, fields...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scan.py: %v", err)
	}
	var res struct {
		Before, After string
		Put           int
		Fields        map[string]string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("scan.py printed %q: %v", out, err)
	}
	if res.Put != 1 {
		t.Errorf("caput %s.SCAN %q returned %d", rec, choice, res.Put)
	}
	return res.Before, res.After, res.Fields
}

// TestInteropScanField changes a scan task's period through the record's
// SCAN field with libca, and reads other fields.
func TestInteropScanField(t *testing.T) {
	requirePeer(t)
	g := ioc.NewGroup("IOS:", nil)
	ticks := ioc.Long(g, "TICKS", ioc.Spec[int32]{ReadOnly: true, Units: "ticks", Doc: "scan test",
		Record: ioc.AutoRecord, Scan: ioc.Scan[int32]{
			ScanOptions: ioc.ScanOptions{Period: 10 * time.Second},
			Func:        func(_ context.Context, pv *ioc.PV[int32]) error { return pv.Set(pv.Value() + 1) },
		}})
	a := runIOC(t, ioc.Config{}, g)
	before, after, fields := scanPy(t, a, "IOS:TICKS", ".1 second", "EGU", "DESC", "RTYP")
	if before != "10 second" || after != ".1 second" {
		t.Errorf("SCAN %q then %q", before, after)
	}
	if want := map[string]string{"EGU": "ticks", "DESC": "scan test", "RTYP": "longin"}; fmt.Sprint(fields) != fmt.Sprint(want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	if p := ticks.Task().Period(); p != 100*time.Millisecond {
		t.Errorf("period %v after SCAN .1 second", p)
	}
	// The task now runs at 10 Hz: wait for a few runs.
	sub := make(chan struct{}, 1)
	cancel := ticks.Subscribe(subscriberFunc(func() {
		select {
		case sub <- struct{}{}:
		default:
		}
	}))
	defer cancel()
	deadline := time.After(10 * time.Second)
	for ticks.Value() < 3 {
		select {
		case <-sub:
		case <-deadline:
			t.Fatalf("%d runs in 10 s at .1 second", ticks.Value())
		}
	}
	_, after, _ = scanPy(t, a, "IOS:TICKS", "Passive")
	if after != "Passive" || !ticks.Task().Paused() {
		t.Errorf("SCAN %q, paused %v after a put of Passive", after, ticks.Task().Paused())
	}
}

// subscriberFunc is a ca.Subscriber calling f on each update.
type subscriberFunc func()

func (f subscriberFunc) Update(*ca.Snapshot, dbr.EventMask) { f() }
