package autosave_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/autosave"
	"github.com/cabridge/cabridge/ca/catest"
)

// peer gates the interop test on pyepics (catest.PyEpics).
var peer catest.PyEpics

// requirePyepics skips the test when pyepics is missing, or fails it in CI.
func requirePyepics(t *testing.T) { t.Helper(); peer.Require(t) }

// caputget runs testdata/caputget.py against srv with args and returns its
// JSON result.
func caputget(t *testing.T, srv *catest.Server, args any) map[string]any {
	t.Helper()
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := catest.Command(ctx, append(srv.Env(), "AUTOSAVE_ARGS="+string(js)), filepath.Join("testdata", "caputget.py"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("caputget.py: %v\nstderr:\n%s", err, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("caputget.py output %q: %v\nstderr:\n%s", out, err, stderr.String())
	}
	return res
}

// TestInteropRestoreAcrossRestart: libca puts values, the IOC saves them
// and stops; a new IOC with fresh PVs restores them, and libca reads back
// what it put.
func TestInteropRestoreAcrossRestart(t *testing.T) {
	requirePyepics(t)
	path := filepath.Join(t.TempDir(), "ioc.sav")
	newPVs := func() map[string]ca.PV {
		return map[string]ca.PV{
			"AS:SP":    ca.NewDouble(ca.Options{Precision: 3}, 0),
			"AS:COUNT": ca.NewLong(ca.Options{}, 0),
			"AS:MODE":  ca.NewEnum(ca.Options{}, []string{"Off", "On", "Auto"}, 0),
			"AS:MSG":   ca.NewString(ca.Options{}, ""),
			"AS:WAVE":  ca.NewDouble(ca.Options{MaxLength: 5}),
			"AS:NOTE$": ca.NewChar(ca.Options{MaxLength: 128}, ""),
		}
	}
	entries := func(pvs map[string]ca.PV) []autosave.Entry {
		var es []autosave.Entry
		for _, name := range slices.Sorted(maps.Keys(pvs)) {
			es = append(es, autosave.Entry{Name: name, PV: pvs[name]})
		}
		return es
	}
	want := map[string]any{
		"AS:SP":    0.30000000000000004,
		"AS:COUNT": -42.0,
		"AS:MODE":  2.0,
		"AS:MSG":   `say "hi" # twice`,
		"AS:WAVE":  []any{1.5, -2.0, 3e10},
		"AS:NOTE$": "a long string, longer than forty characters, with \"quotes\"",
	}

	// First IOC: libca puts, autosave saves (Run's final save at the latest).
	pvs1 := newPVs()
	srv1 := catest.NewServer(t, pvs1)
	s1, err := autosave.New(autosave.Config{Path: path, PVs: entries(pvs1), MinInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = s1.Run(ctx) })
	put := caputget(t, srv1, map[string]any{"put": want})
	for name, st := range put {
		if st != 1.0 {
			t.Errorf("caput %s returned %v", name, st)
		}
	}
	cancel()
	wg.Wait()
	if runErr != nil {
		t.Fatal(runErr)
	}
	sctx, scancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer scancel()
	if err := srv1.Server.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}

	// Second IOC: fresh PVs, restored before serving.
	pvs2 := newPVs()
	s2, err := autosave.New(autosave.Config{Path: path, PVs: entries(pvs2)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv2 := catest.NewServer(t, pvs2)
	got := caputget(t, srv2, map[string]any{"get": slices.Sorted(maps.Keys(want))})
	for name, w := range want {
		if !reflect.DeepEqual(got[name], w) {
			t.Errorf("caget %s = %#v, want %#v", name, got[name], w)
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(path)
		t.Logf("save file:\n%s", b)
	}
}
