package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
)

func TestListPVs(t *testing.T) {
	var out strings.Builder
	err := run(t.Context(), []string{"--prefix", "M1:", "--list-pvs"}, func(string) (string, bool) { return "", false }, &out, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(out.String()), " "); got != "M1:POS M1:POS_RBV M1:VELO M1:DMOV M1:STOP" {
		t.Errorf("PVs %q", got)
	}
}

func TestPosition(t *testing.T) {
	tests := []struct {
		name           string
		from, to, velo float64
		elapsed        time.Duration
		want           float64
	}{
		{"start", 0, 10, 2, 0, 0},
		{"up", 0, 10, 2, time.Second, 2},
		{"down", 5, -5, 4, 500 * time.Millisecond, 3},
		{"arrived", 0, 10, 2, 5 * time.Second, 10},
		{"past", 0, -1, 2, time.Hour, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := position(tc.from, tc.to, tc.velo, tc.elapsed); got != tc.want {
				t.Errorf("position = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMoveTiming checks the move in virtual time: the setpoint's put
// returns when the readback reaches it, after distance/velocity.
func TestMoveTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := ioc.NewGroup("S:", nil)
		m := newMotor(g, motorConfig{Velocity: 2, Low: -10, High: 10, Tick: 10 * time.Millisecond})
		r, err := ioc.Start(t.Context(), nil, g)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := r.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		}()
		ctx := t.Context()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- m.pos.Setpoint.Put(ctx, dbr.Doubles{5}) }()
		time.Sleep(time.Second + time.Millisecond) // virtual time
		synctest.Wait()
		if rb := m.pos.Readback.Value(); rb != 2 || m.dmov.Value() != 0 || m.pos.Setpoint.Value() != 5 {
			t.Errorf("after 1 s: readback %v, DMOV %v, setpoint %v", rb, m.dmov.Value(), m.pos.Setpoint.Value())
		}
		select {
		case err := <-done:
			t.Fatalf("put returned during the move: %v", err)
		default:
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 2500*time.Millisecond {
			t.Errorf("move took %v, want 2.5 s", d)
		}
		if m.pos.Readback.Value() != 5 || m.dmov.Value() != 1 {
			t.Errorf("after the move: readback %v, DMOV %v", m.pos.Readback.Value(), m.dmov.Value())
		}

		// A new target during a move retargets it; STOP ends both puts.
		go func() { done <- m.pos.Setpoint.Put(ctx, dbr.Doubles{-5}) }()
		time.Sleep(time.Second)
		synctest.Wait()
		second := make(chan error, 1)
		go func() { second <- m.pos.Setpoint.Put(ctx, dbr.Doubles{9}) }()
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		at := m.pos.Readback.Value()
		pvs, err := g.PVs()
		if err != nil {
			t.Fatal(err)
		}
		if err := pvs["S:STOP"].Put(ctx, dbr.Shorts{1}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := <-second; err != nil {
			t.Error(err)
		}
		if at != 4 || m.pos.Readback.Value() != at || m.pos.Setpoint.Value() != at || m.dmov.Value() != 1 {
			t.Errorf("stopped at %v: readback %v, setpoint %v, DMOV %v", at, m.pos.Readback.Value(), m.pos.Setpoint.Value(), m.dmov.Value())
		}

		// Out of limits and bad velocities are rejected.
		if err := m.pos.Setpoint.Put(ctx, dbr.Doubles{11}); err == nil {
			t.Error("target beyond the high limit accepted")
		}
		if err := m.velo.Put(ctx, dbr.Doubles{0}); err == nil {
			t.Error("zero velocity accepted")
		}
	})
}

// startIOC runs the motor IOC with prefix on loopback until the test ends
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

func getDouble(t *testing.T, ctx context.Context, ch *client.Channel) float64 {
	t.Helper()
	v, _, err := ch.Get(ctx, dbr.Double, 1)
	if err != nil {
		t.Fatalf("get %s: %v", ch.Name(), err)
	}
	return v.(dbr.Doubles)[0]
}

func TestMotorCA(t *testing.T) {
	srv := startIOC(t, "M2:")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	mover := channels(t, ctx, srv, "M2:VELO", "M2:POS")
	other := channels(t, ctx, srv, "M2:POS_RBV", "M2:DMOV", "M2:POS")
	const velo, target = 3.0, 3.0 // a 1 s move
	if err := mover[0].PutWait(ctx, dbr.Doubles{velo}); err != nil {
		t.Fatal(err)
	}
	moving := make(chan struct{})
	var once sync.Once
	sub, err := other[1].Subscribe(dbr.Short, 1, dbr.EventValue, func(u client.Update) {
		if u.Err == nil && u.Value.(dbr.Shorts)[0] == 0 {
			once.Do(func() { close(moving) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- mover[1].PutWait(ctx, dbr.Doubles{target}) }()
	select {
	case <-moving:
	case <-ctx.Done():
		t.Fatal("DMOV never went to 0")
	}
	// Another client's reads answer during the move: DMOV still reads 0.
	rbv := getDouble(t, ctx, other[0])
	dmov := getDouble(t, ctx, other[1])
	sp := getDouble(t, ctx, other[2])
	if dmov != 0 || rbv < 0 || rbv >= target || sp != target {
		t.Errorf("during the move: RBV %v, DMOV %v, POS %v", rbv, dmov, sp)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if least := time.Duration(target/velo*float64(time.Second)) - 20*time.Millisecond; elapsed < least {
		t.Errorf("put completed after %v, before the move could end (%v)", elapsed, least)
	}
	if rbv, dmov := getDouble(t, ctx, other[0]), getDouble(t, ctx, other[1]); rbv != target || dmov != 1 {
		t.Errorf("after the move: RBV %v, DMOV %v", rbv, dmov)
	}
}

// The interop test moves the motor with libca through pyepics. It skips
// when pyepics is missing, and fails if CI=true.

// peer gates the tests that need pyepics (catest.PyEpics).
var peer catest.PyEpics

// requirePeer skips the test when pyepics is missing, or fails it in CI.
func requirePeer(t *testing.T) { t.Helper(); peer.Require(t) }

// pyOutput runs testdata/script with args as a libca client of srv only
// and returns its standard output; its standard error is logged.
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

func TestInteropMove(t *testing.T) {
	requirePeer(t)
	srv := startIOC(t, "M3:")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const velo, target = 4.0, 2.0 // a 0.5 s move
	out := pyOutput(t, ctx, srv, "move.py", "M3:", fmt.Sprint(velo), fmt.Sprint(target))
	var res struct {
		Put      int
		Elapsed  float64
		Pos, Rbv float64
		Dmov     float64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("move.py printed %q: %v", out, err)
	}
	if want := target/velo - 0.02; res.Put != 1 || res.Elapsed < want {
		t.Errorf("caput wait=True returned %d after %.3f s, want 1 after at least %.3f s", res.Put, res.Elapsed, want)
	}
	if res.Pos != target || res.Rbv != target || res.Dmov != 1 {
		t.Errorf("after the move: %+v", res)
	}
}
