package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
)

// TestDemoFields checks the record fields the demo serves.
func TestDemoFields(t *testing.T) {
	d := mustDemo(t, "demo:")
	dir, err := ioc.NewDirectory(d.group)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string
	}{
		{"demo:ai.EGU", "degC"},
		{"demo:ai.HIHI", "90"},
		{"demo:ai.LOLO", "5"},
		{"demo:ai.RTYP", "ai"},
		{"demo:ai.DESC", "demo temperature"},
		{"demo:counter.SCAN", ".1 second"},
		{"demo:counter.RTYP", "longin"},
		{"demo:setpoint.DRVH", "100"},
		{"demo:setpoint_RBV.RTYP", "ai"},
		{"demo:enum.TWST", "Standby"},
		{"demo:waveform.NELM", "1000000"},
	}
	for _, tt := range tests {
		pv, ok := dir.Lookup(tt.name)
		if !ok {
			t.Errorf("%s not served", tt.name)
			continue
		}
		if got := text(pv.Snapshot()); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
		}
	}
	if _, ok := dir.Lookup("demo:char.EGU"); ok {
		t.Error("demo:char is a plain PV, yet serves fields")
	}
}

// text returns a scalar snapshot value as caget prints it.
func text(s *ca.Snapshot) string {
	switch v := s.Value.(type) {
	case dbr.Strings:
		return v[0]
	case dbr.Enums:
		return s.Meta.Properties.EnumStrings[v[0]]
	}
	c, err := dbr.Convert(s.Value, dbr.Double, nil)
	if err != nil {
		return err.Error()
	}
	return strconv.FormatFloat(c.(dbr.Doubles)[0], 'f', -1, 64)
}

// TestInteropDemoFields reads demo fields with libca (pyepics) and changes
// the counter's scan rate through demo:counter.SCAN. It skips without
// pyepics, and fails if CI=true.
func TestInteropDemoFields(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import epics, epics.ca; epics.ca.initialize_libca()").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import epics (%v: %s); install with: sudo make peers (apt-get install python3-pyepics)",
			python, err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	port, beacon, rep := freePort(t), freePort(t), freePort(t)
	env := map[string]string{
		"EPICS_CAS_INTF_ADDR_LIST":        "127.0.0.1",
		"EPICS_CAS_SERVER_PORT":           fmt.Sprint(port),
		"EPICS_CAS_BEACON_ADDR_LIST":      "127.0.0.1",
		"EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
		"EPICS_CAS_BEACON_PORT":           fmt.Sprint(beacon),
	}
	var errb lockedBuffer
	started := make(chan *ca.Server, 1)
	a := &app{stdout: &errb, stderr: &errb, lookupEnv: mapLookup(env), onServe: func(s *ca.Server) { started <- s }}
	ctx, cancel := context.WithCancel(t.Context())
	runErr := make(chan error, 1)
	go func() { runErr <- a.run(ctx, []string{"demo", "-q"}) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Error(err)
		}
	}()
	var srv *ca.Server
	select {
	case srv = <-started:
	case err := <-runErr:
		t.Fatalf("run: %v (%s)", err, errb.String())
	case <-deadline():
		t.Fatal("server did not start")
	}
	script := `
import json, epics
g = lambda n: epics.caget(n, as_string=True, timeout=10, use_monitor=False)
r = {n: g(n) for n in ["demo:ai.EGU", "demo:ai.HIHI", "demo:ai.RTYP", "demo:ai.DESC", "demo:counter.SCAN"]}
r["put"] = epics.caput("demo:counter.SCAN", "1 second", wait=True, timeout=10)
r["after"] = g("demo:counter.SCAN")
print(json.dumps(r), flush=True)
`
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	cmd := exec.CommandContext(pctx, python, "-c", script)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EPICS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "EPICS_CA_AUTO_ADDR_LIST=NO", "EPICS_CA_ADDR_LIST=",
		"EPICS_CA_NAME_SERVERS="+srv.TCPAddr().String(), fmt.Sprintf("EPICS_CA_REPEATER_PORT=%d", rep))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyepics: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pyepics printed %q: %v", out, err)
	}
	want := map[string]any{"demo:ai.EGU": "degC", "demo:ai.HIHI": "90.00", "demo:ai.RTYP": "ai",
		"demo:ai.DESC": "demo temperature", "demo:counter.SCAN": ".1 second", "put": float64(1), "after": "1 second"}
	for k, w := range want {
		if g := got[k]; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
}
