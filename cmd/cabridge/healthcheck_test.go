package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
)

// healthcheck runs the healthcheck command with env and args and returns
// its stdout, the process exit status its error maps to, and the error.
func healthcheck(t *testing.T, env map[string]string, args ...string) (string, int, error) {
	t.Helper()
	var out, errb lockedBuffer
	a := &app{stdout: &out, stderr: &errb, lookupEnv: mapLookup(env)}
	err := a.run(t.Context(), append([]string{"healthcheck"}, args...))
	return out.String(), exitCode(err, io.Discard), err
}

func TestHealthcheck(t *testing.T) {
	srv := catest.NewServer(t, map[string]ca.PV{"T:HEALTH": ca.NewDouble(ca.Options{}, 42)})
	env := map[string]string{
		"EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
		"EPICS_CAS_SERVER_PORT":    fmt.Sprint(srv.TCPPort),
	}
	addr := srv.Addr().String()

	t.Run("handshake", func(t *testing.T) {
		out, code, err := healthcheck(t, env)
		if err != nil || code != 0 {
			t.Fatalf("err %v (exit %d)", err, code)
		}
		if want := "ok: CA server " + addr + " answered (CA 4.13)\n"; out != want {
			t.Errorf("stdout %q, want %q", out, want)
		}
	})
	t.Run("server flag", func(t *testing.T) {
		// The flag wins over the environment, which here names no server.
		out, code, err := healthcheck(t, map[string]string{"EPICS_CAS_SERVER_PORT": "1"}, "-server", addr)
		if err != nil || code != 0 || !strings.HasPrefix(out, "ok: ") {
			t.Fatalf("err %v (exit %d), stdout %q", err, code, out)
		}
	})
	t.Run("EPICS_CA_SERVER_PORT", func(t *testing.T) {
		_, code, err := healthcheck(t, map[string]string{"EPICS_CA_SERVER_PORT": fmt.Sprint(srv.TCPPort)})
		if err != nil || code != 0 {
			t.Fatalf("err %v (exit %d)", err, code)
		}
	})
	t.Run("pv from env", func(t *testing.T) {
		e := map[string]string{healthPVEnv: "T:HEALTH"}
		for k, v := range env {
			e[k] = v
		}
		out, code, err := healthcheck(t, e)
		if err != nil || code != 0 {
			t.Fatalf("err %v (exit %d)", err, code)
		}
		if want := "ok: T:HEALTH 42\n"; out != want {
			t.Errorf("stdout %q, want %q", out, want)
		}
	})
	t.Run("pv flag", func(t *testing.T) {
		e := map[string]string{healthPVEnv: "T:NONE"}
		for k, v := range env {
			e[k] = v
		}
		out, code, err := healthcheck(t, e, "-pv", "T:HEALTH")
		if err != nil || code != 0 || out != "ok: T:HEALTH 42\n" {
			t.Fatalf("err %v (exit %d), stdout %q", err, code, out)
		}
	})
	t.Run("missing pv", func(t *testing.T) {
		start := time.Now()
		_, code, err := healthcheck(t, env, "-pv", "T:NONE", "-timeout", "300ms")
		if err == nil || code != 1 {
			t.Fatalf("err %v (exit %d), want a failure with exit status 1", err, code)
		}
		if !strings.Contains(err.Error(), "T:NONE") {
			t.Errorf("error %q does not name the PV", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v with a 300ms timeout", d)
		}
	})
}

// TestHealthcheckFails checks that every failure exits 1 (Docker reserves
// status 2) and that a silent server fails within the timeout.
func TestHealthcheckFails(t *testing.T) {
	closed := func() string {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()

	// silent accepts connections and never answers.
	silent, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		silent.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"refused", nil, []string{"-server", closed}, "refused"},
		{"refused pv", nil, []string{"-server", closed, "-pv", "T:X", "-timeout", "300ms"}, "T:X"},
		{"silent", nil, []string{"-server", silent.Addr().String(), "-timeout", "300ms"}, "timeout"},
		{"bad env", map[string]string{"EPICS_CAS_SERVER_PORT": "x"}, nil, "EPICS_CAS_SERVER_PORT"},
		{"bad server", nil, []string{"-server", "localhost"}, "-server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			var out, errb lockedBuffer
			a := &app{stdout: &out, stderr: &errb, lookupEnv: mapLookup(tc.env)}
			err := a.run(ctx, append([]string{"healthcheck"}, tc.args...))
			if code := exitCode(err, io.Discard); err == nil || code != 1 {
				t.Fatalf("err %v (exit %d), want a failure with exit status 1", err, code)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if ctx.Err() != nil {
				t.Error("the healthcheck outlived its timeout")
			}
			if out.String() != "" {
				t.Errorf("stdout %q on failure", out.String())
			}
		})
	}
}
