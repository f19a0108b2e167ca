package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
)

// demoWant is the demo's PV list: name without prefix, native type,
// element count and access.
var demoWant = []struct {
	name   string
	typ    dbr.Type
	count  int
	access ca.Access
}{
	{"ai", dbr.Double, 1, ca.AccessRead},
	{"char", dbr.Char, 1, ca.ReadWrite},
	{"counter", dbr.Long, 1, ca.AccessRead},
	{"enum", dbr.Enum, 1, ca.ReadWrite},
	{"float", dbr.Float, 1, ca.ReadWrite},
	{"long", dbr.Long, 1, ca.ReadWrite},
	{"longstring", dbr.Char, 1024, ca.ReadWrite},
	{"setpoint", dbr.Double, 1, ca.ReadWrite},
	{"setpoint_RBV", dbr.Double, 1, ca.AccessRead},
	{"short", dbr.Short, 1, ca.ReadWrite},
	{"string", dbr.String, 1, ca.ReadWrite},
	{"waveform", dbr.Double, demoWaveformLength, ca.ReadWrite},
}

func TestNewDemo(t *testing.T) {
	d := mustDemo(t, "x:")
	if len(d.pvs) != len(demoWant) {
		t.Fatalf("demo has %d PVs, want %d", len(d.pvs), len(demoWant))
	}
	for i, w := range demoWant {
		p := d.pvs[i]
		if p.name != "x:"+w.name {
			t.Errorf("PV %d is %q, want %q", i, p.name, "x:"+w.name)
			continue
		}
		typ, count := p.pv.Native()
		if typ != w.typ || count != w.count {
			t.Errorf("%s: native %v[%d], want %v[%d]", p.name, typ, count, w.typ, w.count)
		}
		if got := p.pv.Access(); got != w.access {
			t.Errorf("%s: access %v, want %v", p.name, got, w.access)
		}
	}
	// Every native type is represented.
	seen := map[dbr.Type]bool{}
	for _, p := range d.pvs {
		typ, _ := p.pv.Native()
		seen[typ] = true
	}
	for typ := dbr.String; typ <= dbr.Double; typ++ {
		if !seen[typ] {
			t.Errorf("no demo PV of native type %v", typ)
		}
	}
	if got := d.pvs[len(d.pvs)-1].pv.Snapshot().Value.Len(); got != demoWaveformLength {
		t.Errorf("waveform holds %d elements, want %d", got, demoWaveformLength)
	}
}

// TestDemoDriver checks that the driver goroutine increments the counter
// and copies the setpoint to the readback, and stops with its context.
func TestDemoDriver(t *testing.T) {
	d := mustDemo(t, "demo:")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); d.run(ctx) }()
	defer func() { cancel(); <-done }()

	rb := make(chan float64, 16)
	stop := d.readback.Subscribe(subscriberFunc(func(s *ca.Snapshot, _ dbr.EventMask) {
		select {
		case rb <- s.Value.(dbr.Doubles)[0]:
		default:
		}
	}))
	defer stop()
	counts := make(chan int32, 16)
	stopC := d.counter.Subscribe(subscriberFunc(func(s *ca.Snapshot, _ dbr.EventMask) {
		select {
		case counts <- s.Value.(dbr.Longs)[0]:
		default:
		}
	}))
	defer stopC()

	if err := d.setpoint.Put(t.Context(), dbr.Doubles{12.5}); err != nil {
		t.Fatal(err)
	}
	timeout := deadline()
	for v := 0.0; v != 12.5; {
		select {
		case v = <-rb:
		case <-timeout:
			t.Fatal("readback did not follow the setpoint")
		}
	}
	select {
	case c := <-counts:
		if c < 1 {
			t.Errorf("counter posted %d", c)
		}
	case <-timeout:
		t.Fatal("counter did not tick")
	}
}

func TestNewBench(t *testing.T) {
	b := newBench(25)
	if got, want := len(b.pvs), 25+benchCounters+2; got != want {
		t.Fatalf("bench has %d PVs, want %d", got, want)
	}
	names := make([]string, len(b.pvs))
	for i, p := range b.pvs {
		names[i] = p.name
		typ, _ := p.pv.Native()
		if typ != dbr.Double {
			t.Errorf("%s: native type %v, want DOUBLE", p.name, typ)
		}
	}
	for _, n := range []string{"BENCH:ai00000", "BENCH:ai00024", "BENCH:calc00000", "BENCH:calc00999", "BENCH:ao", "BENCH:wf"} {
		if !slices.Contains(names, n) {
			t.Errorf("missing %s", n)
		}
	}
	if slices.Contains(names, "BENCH:ai00025") {
		t.Error("BENCH:ai00025 present with -n 25")
	}
	for _, p := range b.pvs {
		switch p.name {
		case "BENCH:ai00003":
			s := p.pv.Snapshot()
			if s.Meta.Properties == nil || s.Meta.Properties.Units != "V" || s.Meta.Properties.Precision != 3 {
				t.Errorf("%s: properties %+v, want units V precision 3", p.name, s.Meta.Properties)
			}
		case "BENCH:wf":
			if _, n := p.pv.Native(); n != benchWaveformLength {
				t.Errorf("BENCH:wf count %d", n)
			}
		case "BENCH:ao":
			if p.pv.Access() != ca.ReadWrite {
				t.Error("BENCH:ao is not writable")
			}
		}
	}
}

func TestBenchCounters(t *testing.T) {
	b := newBench(0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); b.run(ctx) }()
	defer func() { cancel(); <-done }()
	got := make(chan *ca.Snapshot, 4)
	last := b.counters[benchCounters-1]
	stop := last.Subscribe(subscriberFunc(func(s *ca.Snapshot, _ dbr.EventMask) {
		select {
		case got <- s:
		default:
		}
	}))
	defer stop()
	select {
	case s := <-got:
		if v := s.Value.(dbr.Doubles)[0]; v < 1 {
			t.Errorf("counter value %v, want ≥ 1", v)
		}
		if s.Meta.Stamp.IsZero() {
			t.Error("counter has no timestamp")
		}
	case <-deadline():
		t.Fatal("counter did not tick")
	}
}

func TestListPVs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		first string
		n     int
	}{
		{"demo", []string{"demo", "-list-pvs"}, "demo:ai", len(demoWant)},
		{"prefix", []string{"demo", "--prefix", "lab:", "--list-pvs"}, "lab:ai", len(demoWant)},
		{"config", []string{"--config", "../../configs/demo.yaml", "--list-pvs"}, "cabridge:oven:STATE", 27}, // declaration order: health PVs first
		{"bench", []string{"bench-server", "-n", "3", "--list-pvs"}, "BENCH:ai00000", 3 + benchCounters + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run(t.Context(), tt.args, &out, &errb, nil); err != nil {
				t.Fatalf("run: %v (stderr %q)", err, errb.String())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != tt.n {
				t.Fatalf("%d names, want %d", len(lines), tt.n)
			}
			if lines[0] != tt.first {
				t.Errorf("first name %q, want %q", lines[0], tt.first)
			}
			if tt.name != "config" && !slices.IsSorted(lines) {
				t.Error("names not sorted")
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"help flag", []string{"-h"}, 0},
		{"help command", []string{"help"}, 0},
		{"bench help", []string{"bench-server", "-h"}, 0},
		{"unknown command", []string{"frobnicate"}, 2},
		{"unknown flag", []string{"--nope"}, 2},
		{"extra argument", []string{"demo", "extra"}, 2},
		{"bad n", []string{"bench-server", "-n", "-1"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(t.Context(), tt.args, &out, &errb, nil)
			if code := exitCode(err, &errb); code != tt.code {
				t.Errorf("exit code %d, want %d (err %v)", code, tt.code, err)
			}
			if tt.code == 0 && !errors.Is(err, flag.ErrHelp) && err != nil {
				t.Errorf("err %v", err)
			}
			if errb.Len() == 0 {
				t.Error("nothing printed to stderr")
			}
			if out.Len() != 0 {
				t.Errorf("usage went to stdout: %q", out.String())
			}
		})
	}
}

type subscriberFunc func(*ca.Snapshot, dbr.EventMask)

func (f subscriberFunc) Update(s *ca.Snapshot, m dbr.EventMask) { f(s, m) }

// deadline bounds every wait in these tests.
func deadline() <-chan time.Time { return time.After(10 * time.Second) }

// mustDemo returns newDemo(prefix) or fails the test.
func mustDemo(t *testing.T, prefix string) *demoIOC {
	t.Helper()
	d, err := newDemo(prefix)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
