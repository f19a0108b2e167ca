package mapping

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/drivers"
)

// TestReloadKeepsUnchangedPVs replaces a running bridge with one built
// from an edited config: unchanged PVs and health PVs are kept (same
// objects, so their clients stay), edited ones are declared anew, and
// puts to a kept PV reach the device through the new bridge.
func TestReloadKeepsUnchangedPVs(t *testing.T) {
	fk := newFake()
	devs := map[string]drivers.Device{"dev": fk}
	cfg1 := testConfig()
	g1 := ioc.NewGroup("", nil)
	br1, err := New(cfg1, devs, g1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pvs1, _ := g1.PVs()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = br1.Run(ctx) })
	if err := pvs1["T:SP"].Put(t.Context(), dbr.Doubles{20}); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	// A put to the stopped bridge waits for a successor, or its context.
	pctx, pcancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	if err := pvs1["T:SP"].Put(pctx, dbr.Doubles{21}); err == nil {
		t.Error("put to a stopped bridge succeeded")
	}
	pcancel()

	cfg2 := testConfig()
	cfg2.PVs[0].EGU = "K"                    // T:TEMP edited
	cfg2.PVs = slices.Delete(cfg2.PVs, 1, 2) // T:COUNT removed
	cfg2.PVs = append(cfg2.PVs, PVConfig{Name: "$(P)NEW", Scan: "1s", Binding: Binding{Device: "dev", Address: "t1"}})
	g2 := ioc.NewGroup("", nil)
	br2, err := New(cfg2, devs, g2, Options{Previous: br1})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"T:TEMP": false, "T:COUNT": false, "T:SP": true, "T:SP:RBV": true,
		"T:PUSH": true, "T:NEW": false, "cabridge:dev:CONNECTED": true} {
		if got := br2.Kept(name); got != want {
			t.Errorf("Kept(%s) = %v, want %v", name, got, want)
		}
	}
	declared := g2.Names()
	slices.Sort(declared)
	if want := []string{"T:NEW", "T:TEMP"}; !slices.Equal(declared, want) {
		t.Errorf("declared anew: %v, want %v", declared, want)
	}
	if names := br2.Names(); slices.Contains(names, "T:COUNT") || !slices.Contains(names, "T:SP") || !slices.Contains(names, "T:NEW") {
		t.Errorf("Names = %v", names)
	}
	// A put made between the two bridges waits for the new one.
	pending := make(chan error, 1)
	go func() {
		pctx, pcancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer pcancel()
		pending <- pvs1["T:SP"].Put(pctx, dbr.Doubles{25})
	}()
	ctx2, cancel2 := context.WithCancel(t.Context())
	wg.Go(func() { _ = br2.Run(ctx2) })
	defer func() { cancel2(); wg.Wait() }()
	if err := <-pending; err != nil {
		t.Fatalf("put during the reload: %v", err)
	}
	if err := pvs1["T:SP"].Put(t.Context(), dbr.Doubles{30}); err != nil {
		t.Fatalf("put to a kept PV after the reload: %v", err)
	}
	// Exports and other lookups find kept PVs too, as the same objects.
	if br2.served["T:SP"] != pvs1["T:SP"] || br2.served["T:NEW"] == nil || br2.served["T:COUNT"] != nil {
		t.Errorf("served after the reload: T:SP kept %v, T:NEW %v, T:COUNT %v",
			br2.served["T:SP"] == pvs1["T:SP"], br2.served["T:NEW"] != nil, br2.served["T:COUNT"] != nil)
	}
	w := fk.Writes()
	if len(w) != 3 || !drivers.Equal(w[1].Value, drivers.Floats{2.5}) || !drivers.Equal(w[2].Value, drivers.Floats{3}) {
		t.Errorf("writes = %v, want the puts of 25 and 30 (2.5 and 3 raw) through the new bridge", w)
	}
}
