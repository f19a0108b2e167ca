package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

func TestListPVs(t *testing.T) {
	var out strings.Builder
	err := run(t.Context(), []string{"--prefix", "R1:", "--list-pvs"}, func(string) (string, bool) { return "", false }, &out, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "R1:ADD:A R1:ADD:B R1:ADD:Process R1:ADD:Status R1:ADD:Retval R1:DIV:A R1:DIV:B R1:DIV:Process R1:DIV:Status R1:DIV:Retval"
	if got := strings.Join(strings.Fields(out.String()), " "); got != want {
		t.Errorf("PVs %q, want %q", got, want)
	}
}

// startIOC runs the IOC with prefix on loopback until the test ends
// and returns its server.
func startIOC(t *testing.T, prefix string) *ca.Server {
	t.Helper()
	return catest.StartIOC(t, func(ctx context.Context, lookup func(string) (string, bool), listening func(*ca.Server)) error {
		return run(ctx, []string{"--prefix", prefix, "-q"}, lookup, io.Discard, io.Discard, listening)
	})
}

// channels connects a new client of srv to names.
func channels(t *testing.T, ctx context.Context, srv *ca.Server, names ...string) []*client.Channel {
	t.Helper()
	c, err := client.New(client.Config{NameServers: []string{srv.TCPAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	chs, err := c.ConnectMany(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	return chs
}

func TestRPC(t *testing.T) {
	srv := startIOC(t, "R2:")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	tests := []struct {
		fn     string
		a, b   float64
		code   eca.Code
		retval float64
		status string
	}{
		{"ADD", 2, 3.5, eca.Normal, 5.5, "Success"},
		{"DIV", 1, 4, eca.Normal, 0.25, "Success"},
		{"DIV", 1, 0, eca.PutFail, 0.25, "Error: division by zero"},
		{"DIV", 9, 3, eca.Normal, 3, "Success"},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d_%s", i, tc.fn), func(t *testing.T) {
			p := "R2:" + tc.fn + ":"
			chs := channels(t, ctx, srv, p+"A", p+"B", p+"Process", p+"Retval", p+"Status")
			if err := chs[0].PutWait(ctx, dbr.Doubles{tc.a}); err != nil {
				t.Fatal(err)
			}
			if err := chs[1].PutWait(ctx, dbr.Doubles{tc.b}); err != nil {
				t.Fatal(err)
			}
			err := chs[2].PutWait(ctx, dbr.Longs{1})
			var e *eca.Error
			switch {
			case tc.code == eca.Normal && err != nil:
				t.Fatalf("call: %v", err)
			case tc.code != eca.Normal && (!errors.As(err, &e) || e.Code != tc.code):
				t.Fatalf("call: %v, want %v", err, tc.code.Name())
			}
			if v, _, err := chs[3].Get(ctx, dbr.Double, 1); err != nil || v.(dbr.Doubles)[0] != tc.retval {
				t.Errorf("Retval %v %v, want %v", v, err, tc.retval)
			}
			if v, _, err := chs[4].Get(ctx, dbr.String, 1); err != nil || v.(dbr.Strings)[0] != tc.status {
				t.Errorf("Status %v %v, want %q", v, err, tc.status)
			}
		})
	}
}

// The interop test calls the functions with libca through pyepics. It
// skips when pyepics is missing, and fails if CI=true.

// peer gates the tests that need pyepics (catest.PyEpics).
var peer catest.PyEpics

// requirePeer skips the test when pyepics is missing, or fails it in CI.
func requirePeer(t *testing.T) { t.Helper(); peer.Require(t) }

// pyOutput runs testdata/script with args as a libca client of srv only
// and returns its standard output; its standard error is shown on failure.
func pyOutput(t *testing.T, ctx context.Context, srv *ca.Server, script string, args ...string) []byte {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0") // a repeater port nobody uses
	if err != nil {
		t.Fatal(err)
	}
	repeater := pc.LocalAddr().(*net.UDPAddr).Port
	_ = pc.Close()
	cmd := catest.Command(ctx, []string{"EPICS_CA_AUTO_ADDR_LIST=NO", "EPICS_CA_ADDR_LIST=",
		"EPICS_CA_NAME_SERVERS=" + srv.TCPAddr().String(), fmt.Sprintf("EPICS_CA_REPEATER_PORT=%d", repeater)}, filepath.Join("testdata", script), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.Bytes())
	}
	return out
}

func TestInteropRPC(t *testing.T) {
	requirePeer(t)
	srv := startIOC(t, "R3:")
	tests := []struct {
		fn, a, b string
		retval   float64
		status   string
	}{
		{"ADD", "2", "40", 42, "Success"},
		{"DIV", "1", "8", 0.125, "Success"},
		{"DIV", "1", "0", 0.125, "Error: division by zero"},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d_%s", i, tc.fn), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			out := pyOutput(t, ctx, srv, "call.py", "R3:"+tc.fn+":", tc.a, tc.b)
			var res struct {
				Put    int
				Retval float64
				Status string
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("call.py printed %q: %v", out, err)
			}
			if res.Put != 1 || res.Retval != tc.retval || res.Status != tc.status {
				t.Errorf("got %+v, want retval %v status %q", res, tc.retval, tc.status)
			}
		})
	}
}
