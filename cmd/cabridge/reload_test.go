package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/dbr"
)

const reloadBase = `
devices:
  - name: oven
    driver: sim
    config:
      signals:
        - {name: temp, kind: constant, value: 21}
        - {name: sp, kind: setpoint, value: 5}
pvs:
  - {name: R:TEMP, scan: 100ms, binding: {device: oven, address: temp}}
  - {name: R:SP, direction: output, binding: {device: oven, address: sp}}
  - {name: R:OLD, scan: 100ms, binding: {device: oven, address: temp}}
`

// TestReload sends the daemon SIGHUP-style reloads: a valid edit keeps the
// clients of unchanged PVs connected, drops the removed PV and serves the
// new one; an invalid edit is rejected with its reasons and changes
// nothing.
func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cabridge.yaml")
	if err := os.WriteFile(path, []byte(reloadBase), 0o600); err != nil {
		t.Fatal(err)
	}
	hup := make(chan os.Signal)
	outcomes := make(chan error, 1)
	var logs lockedBuffer
	srv := catest.StartIOC(t, func(ctx context.Context, lookup func(string) (string, bool), listening func(*ca.Server)) error {
		a := &app{stdout: &logs, stderr: &logs, lookupEnv: lookup, onServe: listening, reload: hup,
			onReload: func(err error) { outcomes <- err }}
		return a.run(ctx, []string{"run", "--config", path})
	})
	c := newClient(t, srv)
	temp, sp := watch(t, c, "R:TEMP"), watch(t, c, "R:SP")
	temp.waitFor(t, "21", 10*time.Second, equals(21))
	sp.waitFor(t, "5", 10*time.Second, equals(5))
	old := watch(t, c, "R:OLD")
	old.waitFor(t, "21", 10*time.Second, equals(21))

	reload := func(config string) error {
		t.Helper()
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		select {
		case hup <- os.Interrupt: // any signal value asks for a reload
		case <-time.After(10 * time.Second):
			t.Fatal("the daemon does not take reloads")
		}
		select {
		case err := <-outcomes:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("no reload outcome")
		}
		return nil
	}

	// Invalid: rejected, with the reason, and everything keeps running.
	err := reload(strings.Replace(reloadBase, "scan: 100ms", "scan: soon", 1))
	if err == nil || !strings.Contains(err.Error(), `scan: "soon"`) {
		t.Fatalf("invalid reload: %v", err)
	}
	if !strings.Contains(logs.String(), "reload rejected") {
		t.Error("the rejection is not logged")
	}

	// Valid: R:OLD removed, R:NEW added, R:TEMP and R:SP unchanged.
	edited := strings.Replace(reloadBase, "  - {name: R:OLD, scan: 100ms, binding: {device: oven, address: temp}}\n",
		"  - {name: R:NEW, scan: 100ms, binding: {device: oven, address: temp}}\n", 1)
	if err := reload(edited); err != nil {
		t.Fatalf("valid reload: %v", err)
	}
	old.waitFor(t, "a disconnect", 10*time.Second, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	watch(t, c, "R:NEW").waitFor(t, "21 after the reload", 10*time.Second, equals(21))
	// The unchanged PVs' subscriptions never saw a disconnect, and a put
	// still reaches the device.
	for _, m := range []*monitor{temp, sp} {
		for len(m.updates) > 0 {
			if u := <-m.updates; u.Err != nil {
				t.Errorf("%s: %v during the reload", m.name, u.Err)
			}
		}
	}
	spCh, err := c.Connect(ctx, "R:SP")
	if err != nil {
		t.Fatal(err)
	}
	if err := spCh.PutWait(ctx, dbr.Doubles{7}); err != nil {
		t.Fatalf("put after the reload: %v", err)
	}
	sp.waitFor(t, "7", 10*time.Second, equals(7))
}
