package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine,
// which can wait for its content.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced by every write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
	return s.b.Write(p)
}

// waitFor waits until the content holds want, done delivers, or the
// deadline passes; it reports whether want arrived.
func (s *syncBuffer) waitFor(want string, done <-chan error, deadline <-chan time.Time) bool {
	for {
		s.mu.Lock()
		ok, ch := strings.Contains(s.b.String(), want), s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-done:
			return false
		case <-deadline:
			return false
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCATools runs the get, put, info and monitor subcommands against a
// test server found through the EPICS_CA_* variables, and checks their
// exit statuses (the output itself is tested in internal/catools).
func TestCATools(t *testing.T) {
	srv := catest.NewServer(t, map[string]ca.PV{"T:AI": ca.NewDouble(ca.Options{}, 3.5)})
	env := map[string]string{}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	tests := []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"get", "-t", "T:AI"}, "3.5\n", 0},
		{[]string{"put", "-t", "T:AI", "4.25"}, "4.25\n", 0},
		{[]string{"put", "-c", "T:AI", "5"}, "Old : T:AI                           4.25\nNew : T:AI                           5\n", 0},
		{[]string{"info", "T:AI"}, "T:AI\n    State:            connected\n", 0},
		{[]string{"get", "-w", "0.1", "T:NOPE"}, "", 1},
		{[]string{"put", "T:AI", "abc"}, "Old : T:AI", 1},
		{[]string{"get", "-z", "T:AI"}, "", 2},
		{[]string{"get"}, "", 2},
		{[]string{"monitor", "-h"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			a := &app{stdout: &out, stderr: &errb, lookupEnv: mapLookup(env)}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := a.run(ctx, tt.args)
			if code := exitCode(err, io.Discard); code != tt.code {
				t.Errorf("exit %d (%v), want %d; stderr:\n%s", code, err, tt.code, errb.String())
			}
			if !strings.HasPrefix(out.String(), tt.out) {
				t.Errorf("stdout %q, want prefix %q", out.String(), tt.out)
			}
		})
	}

	t.Run("monitor", func(t *testing.T) {
		out, errb := newSyncBuffer(), newSyncBuffer()
		a := &app{stdout: out, stderr: errb, lookupEnv: mapLookup(env)}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- a.run(ctx, []string{"monitor", "T:AI"}) }()
		if !out.waitFor("T:AI ", done, time.After(10*time.Second)) {
			cancel()
			t.Fatalf("no update; stdout %q; stderr:\n%s", out.String(), errb.String())
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("monitor: %v", err)
		}
	})
}
