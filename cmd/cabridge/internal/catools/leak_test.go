package catools_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if a goroutine of the CA client or of catools
// outlives the tests: every tool must close its client and stop its
// goroutines before it returns.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := leaked(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leaked returns the stacks of client or catools goroutines still running
// once the deadline passes; goroutines that are on their way out get
// until then.
func leaked(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var out []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "cabridge/ca/client.") || strings.Contains(g, "cmd/cabridge/internal/catools.") {
				out = append(out, g)
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return strings.Join(out, "\n\n")
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // goroutine exits have no event to wait on
	}
}
