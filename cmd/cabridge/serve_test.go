package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// lockedBuffer is a bytes.Buffer safe for the server's logging goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a loopback TCP port that was free a moment ago. The
// server falls back to a system-chosen TCP port if it is taken since, and
// advertises that one in its search replies.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func mapLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// TestServeDemo runs the demo IOC on loopback and reads and writes it with
// the project's Go client.
func TestServeDemo(t *testing.T) {
	port, beacon := freePort(t), freePort(t)
	serverEnv := map[string]string{
		"EPICS_CAS_INTF_ADDR_LIST":        "127.0.0.1",
		"EPICS_CAS_SERVER_PORT":           fmt.Sprint(port),
		"EPICS_CAS_BEACON_ADDR_LIST":      "127.0.0.1",
		"EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
		"EPICS_CAS_BEACON_PORT":           fmt.Sprint(beacon),
	}
	var out, errb lockedBuffer
	started := make(chan *ca.Server, 1)
	a := &app{stdout: &out, stderr: &errb, lookupEnv: mapLookup(serverEnv),
		onServe: func(s *ca.Server) { started <- s }}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- a.run(ctx, []string{"demo", "-prefix", "t:"}) }()
	var srv *ca.Server
	select {
	case srv = <-started:
	case err := <-runErr:
		t.Fatalf("run returned before serving: %v (stderr %s)", err, errb.String())
	case <-deadline():
		t.Fatal("server did not start")
	}

	cfg, err := client.ConfigFromEnv(mapLookup(map[string]string{
		"EPICS_CA_AUTO_ADDR_LIST": "NO",
		"EPICS_CA_ADDR_LIST":      srv.UDPAddr().String(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opCtx, opCancel := context.WithTimeout(ctx, 10e9)
	defer opCancel()

	ai, err := c.Connect(opCtx, "t:ai")
	if err != nil {
		t.Fatal(err)
	}
	v, md, err := ai.Get(opCtx, dbr.CtrlDouble, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(dbr.Doubles); len(got) != 1 || got[0] != 21.5 {
		t.Errorf("t:ai = %v, want [21.5]", got)
	}
	if md.Properties == nil || md.Properties.Units != "degC" || md.Properties.Precision != 2 {
		t.Errorf("t:ai properties %+v", md.Properties)
	}

	// The readback follows the setpoint.
	sp, err := c.Connect(opCtx, "t:setpoint")
	if err != nil {
		t.Fatal(err)
	}
	rbv, err := c.Connect(opCtx, "t:setpoint_RBV")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan float64, 16)
	sub, err := rbv.Subscribe(dbr.TimeDouble, 1, dbr.EventValue, func(u client.Update) {
		if u.Err == nil {
			select {
			case got <- u.Value.(dbr.Doubles)[0]:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	if err := sp.PutWait(opCtx, dbr.Doubles{-3.25}); err != nil {
		t.Fatal(err)
	}
	for x := 0.0; x != -3.25; {
		select {
		case x = <-got:
		case <-opCtx.Done():
			t.Fatal("setpoint_RBV did not follow setpoint")
		}
	}

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-deadline():
		t.Fatal("run did not return after cancel")
	}
	if log := errb.String(); !strings.Contains(log, "serving demo IOC") {
		t.Errorf("no start line in the log: %q", log)
	}
	if out.String() != "" {
		t.Errorf("serve wrote to stdout: %q", out.String())
	}
}
