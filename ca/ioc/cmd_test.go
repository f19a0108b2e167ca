package ioc_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/macro"
)

func TestFlags(t *testing.T) {
	fs := flag.NewFlagSet("ioc", flag.ContinueOnError)
	f := ioc.NewFlags(fs, "DFLT:", "")
	err := fs.Parse([]string{"--prefix", "X:", "--macro", "a=1,b=2", "--interfaces", "127.0.0.1", "-v", "--list-pvs"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.MacroSet()
	if err != nil {
		t.Fatal(err)
	}
	if want := (macro.Set{"a": "1", "b": "2", "P": "X:"}); m.String() != want.String() {
		t.Errorf("macros %v", m)
	}
	env := map[string]string{"EPICS_CAS_INTF_ADDR_LIST": "10.0.0.1"}
	var out strings.Builder
	cfg, err := f.Config(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Server.Interfaces) != 1 || cfg.Server.Interfaces[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("interfaces %v", cfg.Server.Interfaces)
	}
	if f.Level() != slog.LevelDebug || cfg.ListPVs == nil {
		t.Errorf("level %v list %v", f.Level(), cfg.ListPVs)
	}
	g := ioc.NewGroup("$(P)", m)
	ioc.Double(g, "A$(a)", ioc.Spec[float64]{})
	ioc.Double(g, "B$(b)", ioc.Spec[float64]{})
	if err := ioc.Run(t.Context(), cfg, g); err != nil {
		t.Fatal(err)
	}
	if out.String() != "X:A1\nX:B2\n" {
		t.Errorf("--list-pvs printed %q", out.String())
	}

	fs = flag.NewFlagSet("ioc", flag.ContinueOnError)
	f = ioc.NewFlags(fs, "D:", "")
	if err := fs.Parse([]string{"--macro", "a=1,P=Q:", "-q", "--interfaces", "nonsense"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.MacroSet(); m["P"] != "Q:" || f.Level() != slog.LevelWarn {
		t.Errorf("macros %v level %v", m, f.Level())
	}
	if _, err := f.Config(func(string) (string, bool) { return "", false }, io.Discard, io.Discard); err == nil {
		t.Error("bad --interfaces accepted")
	}
}

func TestRun(t *testing.T) {
	g := ioc.NewGroup("R:", nil)
	ioc.Double(g, "X", ioc.Spec[float64]{Value: 4})
	shutdown := make(chan struct{})
	g.OnShutdown(func(context.Context) error { close(shutdown); return nil })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addr := make(chan netip.AddrPort, 1)
	cfg := ioc.Config{
		Server:    ca.Config{Interfaces: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: -1},
		Listening: func(s *ca.Server) { addr <- s.TCPAddr() },
	}
	done := make(chan error, 1)
	go func() { done <- ioc.Run(ctx, cfg, g) }()
	var a netip.AddrPort
	select {
	case a = <-addr:
	case err := <-done:
		t.Fatal(err)
	}
	c, err := client.New(client.Config{NameServers: []string{a.String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := tctx(t)
	ch, err := c.Connect(tc, "R:X")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := ch.Get(tc, dbr.Double, 1); err != nil || v.(dbr.Doubles)[0] != 4 {
		t.Fatalf("get %v %v", v, err)
	}
	lost := make(chan struct{})
	sub, err := ch.Subscribe(dbr.Double, 1, dbr.EventValue, func(u client.Update) {
		if u.Err != nil {
			select {
			case <-lost:
			default:
				close(lost)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	select {
	case <-shutdown:
	default:
		t.Error("shutdown hook did not run")
	}
	select {
	case <-lost:
	case <-tc.Done():
		t.Error("client did not see the disconnect")
	}
}
