package drivertest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
)

// broken wraps a Fake and breaks one rule of the contract.
type broken struct {
	*drivertest.Fake
	rule string
	stop chan struct{}
}

func (b *broken) Read(ctx context.Context, pts []drivers.Point) ([]drivers.Sample, error) {
	switch b.rule {
	case "ignores-ctx":
		ctx = context.Background()
	case "leaks":
		go func() { <-b.stop }() // never stopped: stop is never closed
	case "fails-whole-read":
		ss, err := b.Fake.Read(ctx, pts)
		for _, s := range ss {
			if s.Err != nil {
				return nil, s.Err
			}
		}
		return ss, err
	}
	return b.Fake.Read(ctx, pts)
}

func (b *broken) Close() error {
	if b.rule == "close-twice" {
		err := b.Fake.Close()
		b.rule = "closed"
		return err
	}
	if b.rule == "closed" {
		return os.ErrClosed
	}
	return b.Fake.Close()
}

// TestBrokenDriver is run in a child process by TestSuiteCatchesBrokenDrivers.
func TestBrokenDriver(t *testing.T) {
	rule := os.Getenv("DRIVERTEST_BROKEN")
	if rule == "" {
		t.Skip("run by TestSuiteCatchesBrokenDrivers")
	}
	drivertest.Run(t, func(t *testing.T) (drivers.Device, drivertest.Fixture) {
		dev, fx := fakeFixture(t)
		fx.Timeout = 200 * time.Millisecond
		return &broken{Fake: dev.(*drivertest.Fake), rule: rule, stop: make(chan struct{})}, fx
	})
}

func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	tests := []struct{ rule, want string }{
		{"ignores-ctx", "want context.Canceled"},
		{"leaks", "goroutines before"},
		{"fails-whole-read", "ReadBadPoints"},
		{"close-twice", "second Close"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenDriver$", "-test.v", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), "DRIVERTEST_BROKEN="+tc.rule)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a driver that %s:\n%s", tc.rule, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("the suite failed a driver that %s without %q:\n%s", tc.rule, tc.want, out)
			}
		})
	}
}
