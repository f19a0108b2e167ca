package ioc_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/access"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/iocstats"
	"github.com/cabridge/cabridge/ca/record"
)

func TestAutoRecordTypes(t *testing.T) {
	g := ioc.NewGroup("A:", nil)
	auto := ioc.AutoRecord
	type recorded interface{ Record() *record.Record }
	pvs := []struct {
		want string
		pv   recorded
	}{
		{"ai", ioc.Double(g, "ai", ioc.Spec[float64]{ReadOnly: true, Record: auto})},
		{"ao", ioc.Double(g, "ao", ioc.Spec[float64]{Record: auto})},
		{"ao", ioc.Float(g, "aof", ioc.Spec[float32]{Record: auto})},
		{"longin", ioc.Long(g, "li", ioc.Spec[int32]{ReadOnly: true, Record: auto})},
		{"longout", ioc.Short(g, "lo", ioc.Spec[int16]{Record: auto})},
		{"bi", ioc.Enum(g, "bi", ioc.Spec[uint16]{ReadOnly: true, EnumStrings: []string{"Off", "On"}, Record: auto})},
		{"bo", ioc.Enum(g, "bo", ioc.Spec[uint16]{EnumStrings: []string{"Off", "On"}, Record: auto})},
		{"mbbi", ioc.Enum(g, "mbbi", ioc.Spec[uint16]{ReadOnly: true, EnumStrings: []string{"a", "b", "c"}, Record: auto})},
		{"mbbo", ioc.Enum(g, "mbbo", ioc.Spec[uint16]{EnumStrings: []string{"a", "b", "c"}, Record: auto})},
		{"stringin", ioc.String(g, "si", ioc.Spec[string]{ReadOnly: true, Record: auto})},
		{"stringout", ioc.String(g, "so", ioc.Spec[string]{Record: auto})},
		{"waveform", ioc.Double(g, "wf", ioc.Spec[float64]{MaxLength: 8, Record: auto})},
		{"waveform", ioc.Char(g, "ls", ioc.Spec[string]{Value: "long", Record: auto})},
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range pvs {
		if tt.pv.Record() == nil {
			t.Errorf("%s: no record", tt.want)
			continue
		}
		if got := tt.pv.Record().Type().Name(); got != tt.want {
			t.Errorf("%s: record type %q, want %q", tt.pv.Record().Name(), got, tt.want)
		}
	}
	if n := len(g.Records()); n != len(pvs) {
		t.Errorf("%d records, want %d", n, len(pvs))
	}
	plain := ioc.Double(g, "plain", ioc.Spec[float64]{})
	if plain.Record() != nil {
		t.Error("a plain spec got a record")
	}
}

func TestRecordSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		decl func(g *ioc.Group)
		want string
	}{
		{"unknown type", func(g *ioc.Group) { ioc.Double(g, "X", ioc.Spec[float64]{Record: "calcout"}) }, "unknown record type"},
		{"string as ai", func(g *ioc.Group) { ioc.String(g, "X", ioc.Spec[string]{Record: "ai"}) }, "does not fit"},
		{"bi of 3 states", func(g *ioc.Group) {
			ioc.Enum(g, "X", ioc.Spec[uint16]{EnumStrings: []string{"a", "b", "c"}, Record: "bi"})
		}, "2 states"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := ioc.NewGroup("E:", nil)
			tt.decl(g)
			err := g.Err()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"E:X"`) {
				t.Errorf("err %v, want one naming E:X and containing %q", err, tt.want)
			}
		})
	}
}

// field returns the PV of field f of the record of pv.
func field(t *testing.T, rec *record.Record, f string) ca.PV {
	t.Helper()
	pv, err := rec.Field(f, false)
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

func TestRecordScanField(t *testing.T) {
	g := ioc.NewGroup("S:", nil)
	runs := make(chan struct{}, 16)
	pv := ioc.Long(g, "N", ioc.Spec[int32]{ReadOnly: true, Record: ioc.AutoRecord, Scan: ioc.Scan[int32]{
		ScanOptions: ioc.ScanOptions{Period: time.Second},
		Func: func(_ context.Context, pv *ioc.PV[int32]) error {
			select {
			case runs <- struct{}{}:
			default:
			}
			return pv.Set(pv.Value() + 1)
		},
	}})
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	rec, task := pv.Record(), pv.Task()
	scan := field(t, rec, "SCAN")
	read := func() string {
		s := scan.Snapshot()
		return s.Meta.Properties.EnumStrings[s.Value.(dbr.Enums)[0]]
	}
	if got := read(); got != "1 second" {
		t.Errorf("SCAN %q, want 1 second", got)
	}
	steps := []struct {
		put    string
		period time.Duration
		paused bool
	}{
		{".5 second", 500 * time.Millisecond, false},
		{".1 second", 100 * time.Millisecond, false},
		{"Passive", 100 * time.Millisecond, true},
		{"10 second", 10 * time.Second, false},
		{"I/O Intr", 10 * time.Second, true},
		{"Event", 10 * time.Second, true},
		{"2 second", 2 * time.Second, false},
	}
	for _, s := range steps {
		if err := scan.Put(t.Context(), dbr.Strings{s.put}); err != nil {
			t.Fatalf("put %q: %v", s.put, err)
		}
		if task.Period() != s.period || task.Paused() != s.paused {
			t.Errorf("after SCAN %q: period %v paused %v, want %v %v", s.put, task.Period(), task.Paused(), s.period, s.paused)
		}
		if got := read(); got != s.put {
			t.Errorf("SCAN reads %q after a put of %q", got, s.put)
		}
	}
	// Changes made from Go show in SCAN, at the nearest menu choice.
	task.SetPeriod(300 * time.Millisecond)
	if got := read(); got != ".2 second" {
		t.Errorf("SCAN %q after SetPeriod(300ms)", got)
	}
	if task.Period() != 300*time.Millisecond {
		t.Errorf("period %v: the SCAN update changed it", task.Period())
	}
	task.Pause()
	if got := read(); got != "Passive" {
		t.Errorf("SCAN %q after Pause", got)
	}
	task.Resume()
	if got := read(); got != ".2 second" {
		t.Errorf("SCAN %q after Resume", got)
	}

	// PROC runs the scan function once.
	before := pv.Value()
	if err := field(t, rec, "PROC").Put(t.Context(), dbr.Longs{1}); err != nil {
		t.Fatal(err)
	}
	if pv.Value() != before+1 || task.Stats().Runs != 1 {
		t.Errorf("after PROC: value %d (was %d), runs %d", pv.Value(), before, task.Stats().Runs)
	}
}

func TestRecordProcGetHook(t *testing.T) {
	g := ioc.NewGroup("G:", nil)
	n := int32(0)
	pv := ioc.Long(g, "N", ioc.Spec[int32]{ReadOnly: true, Record: "longin", Get: func(context.Context, *ioc.PV[int32]) (int32, error) {
		n++
		return n * 10, nil
	}})
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	if err := field(t, pv.Record(), "PROC").Put(t.Context(), dbr.Longs{1}); err != nil {
		t.Fatal(err)
	}
	if pv.Value() != 10 {
		t.Errorf("value %d after PROC, want 10", pv.Value())
	}
	if _, ok := pv.Record().Value().(ca.Reader); !ok {
		t.Error("the record's value does not run the get hook on reads")
	}
}

// runIOC runs groups with ioc.Run on loopback until the test ends and
// returns the server's TCP address.
func runIOC(t *testing.T, cfg ioc.Config, groups ...*ioc.Group) netip.AddrPort {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	addr := make(chan netip.AddrPort, 1)
	cfg.Server = ca.Config{Interfaces: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: -1}
	cfg.Listening = func(s *ca.Server) { addr <- s.TCPAddr() }
	done := make(chan error, 1)
	go func() { done <- ioc.Run(ctx, cfg, groups...) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not listen")
	}
	return netip.AddrPort{}
}

// dial returns a client of the server at a.
func dial(t *testing.T, a netip.AddrPort) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{NameServers: []string{a.String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRunServesRecordFields(t *testing.T) {
	g := ioc.NewGroup("F:", nil)
	ioc.Double(g, "T", ioc.Spec[float64]{Value: 95, ReadOnly: true, Units: "degC", Doc: "temperature",
		Record: ioc.AutoRecord, Limits: dbr.Limits{AlarmHigh: 90, WarningHigh: 80, WarningLow: 10, AlarmLow: 5}})
	ioc.Double(g, "PLAIN", ioc.Spec[float64]{Value: 3})
	a := runIOC(t, ioc.Config{}, g)
	c := dial(t, a)
	tc := tctx(t)
	get := func(name string, typ dbr.Type) (dbr.Value, dbr.Metadata) {
		t.Helper()
		ch, err := c.Connect(tc, name)
		if err != nil {
			t.Fatalf("connect %s: %v", name, err)
		}
		v, md, err := ch.Get(tc, typ, 0)
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		return v, md
	}
	cases := []struct {
		name string
		typ  dbr.Type
		want string
	}{
		{"F:T.EGU", dbr.String, "[degC]"},
		{"F:T.DESC", dbr.String, "[temperature]"},
		{"F:T.RTYP", dbr.String, "[ai]"},
		{"F:T.HIHI", dbr.Double, "[90]"},
		{"F:T.SEVR", dbr.String, "[MAJOR]"},
		{"F:T.SCAN", dbr.String, "[Passive]"},
		{"F:T.VAL", dbr.Double, "[95]"},
		{"F:PLAIN", dbr.Double, "[3]"},
	}
	for _, tt := range cases {
		v, _ := get(tt.name, tt.typ)
		if got := fmtValue(v); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
		}
	}
	// The value's alarm comes from HIHI.
	_, md := get("F:T", dbr.TimeDouble)
	if md.Severity != dbr.SeverityMajor || md.Status != dbr.StatusHiHi {
		t.Errorf("F:T alarm %v", md.Alarm)
	}
	short, cancel := context.WithTimeout(tc, time.Second)
	defer cancel()
	if _, err := c.Connect(short, "F:PLAIN.EGU"); err == nil {
		t.Error("a plain PV serves fields")
	}
}

// fmtValue formats v as "[e1 e2 ...]".
func fmtValue(v dbr.Value) string {
	var s []string
	switch x := v.(type) {
	case dbr.Strings:
		s = x
	case dbr.Doubles:
		for _, f := range x {
			s = append(s, strconv.FormatFloat(f, 'g', -1, 64))
		}
	default:
		return "?"
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestDirectoryRemove(t *testing.T) {
	g := ioc.NewGroup("D:", nil)
	ioc.Double(g, "R", ioc.Spec[float64]{Record: "ao"})
	ioc.Double(g, "P", ioc.Spec[float64]{})
	d, err := ioc.NewDirectory(g)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Names(), ","); got != "D:P,D:R" {
		t.Errorf("names %s", got)
	}
	for _, n := range []string{"D:R", "D:R.EGU", "D:R.NAME$", "D:P"} {
		if _, ok := d.Lookup(n); !ok {
			t.Errorf("%s not found", n)
		}
	}
	if err := d.Add(g); err == nil {
		t.Error("adding a group twice succeeded")
	}
	var removed []string
	stop := d.NotifyRemove(func(name string, _ ca.PV) { removed = append(removed, name) })
	defer stop()
	if !d.Remove("D:P") || !d.Remove("D:R") || d.Remove("D:X") {
		t.Error("Remove results")
	}
	if _, ok := d.Lookup("D:R.EGU"); ok {
		t.Error("removed record still served")
	}
	if !strings.Contains(strings.Join(removed, ","), "D:P") || !strings.Contains(strings.Join(removed, ","), "D:R") {
		t.Errorf("removal notified for %v", removed)
	}
}

func TestRunAutosave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ioc.sav")
	build := func() (*ioc.Group, *ioc.PV[float64], *ioc.PV[float64]) {
		g := ioc.NewGroup("AS:", nil)
		sp := ioc.Double(g, "SP", ioc.Spec[float64]{Value: 1, Record: ioc.AutoRecord})
		ro := ioc.Double(g, "RO", ioc.Spec[float64]{Value: 2, ReadOnly: true})
		return g, sp, ro
	}
	cfg := ioc.Config{Autosave: path, AutosaveInterval: time.Millisecond}
	{
		g, _, _ := build()
		ctx, cancel := context.WithCancel(t.Context())
		addr := make(chan netip.AddrPort, 1)
		c := cfg
		c.Server = ca.Config{Interfaces: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: -1}
		c.Listening = func(s *ca.Server) { addr <- s.TCPAddr() }
		done := make(chan error, 1)
		go func() { done <- ioc.Run(ctx, c, g) }()
		cl := dial(t, <-addr)
		ch, err := cl.Connect(tctx(t), "AS:SP")
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.PutWait(tctx(t), dbr.Doubles{42.5}); err != nil {
			t.Fatal(err)
		}
		cancel() // Run saves once more at shutdown
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "AS:SP double 42.5") || strings.Contains(string(data), "AS:RO") {
		t.Errorf("save file:\n%s", data)
	}
	g, sp, _ := build()
	runIOC(t, cfg, g)
	if sp.Value() != 42.5 {
		t.Errorf("restored %v, want 42.5", sp.Value())
	}
}

func TestFlagsACF(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.acf")
	if err := os.WriteFile(good, []byte("ASG(DEFAULT) {\n  RULE(1, READ)\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.acf")
	if err := os.WriteFile(bad, []byte("ASG(DEFAULT {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file string
		ok   bool
	}{{good, true}, {bad, false}, {filepath.Join(dir, "missing.acf"), false}} {
		f := &ioc.Flags{ACF: tt.file}
		cfg, err := f.Config(func(string) (string, bool) { return "", false }, nil, discard{})
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v", tt.file, err)
		}
		if tt.ok && cfg.AccessRules == nil {
			t.Errorf("%s: no rules", tt.file)
		}
	}
	// The rules are applied: a write is refused.
	f := &ioc.Flags{ACF: good}
	cfg, err := f.Config(func(string) (string, bool) { return "", false }, nil, discard{})
	if err != nil {
		t.Fatal(err)
	}
	g := ioc.NewGroup("ACF:", nil)
	ioc.Double(g, "X", ioc.Spec[float64]{})
	a := runIOC(t, ioc.Config{AccessRules: cfg.AccessRules}, g)
	ch, err := dial(t, a).Connect(tctx(t), "ACF:X")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.PutWait(tctx(t), dbr.Doubles{1}); err == nil {
		t.Error("put allowed by a read-only ACF")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestAccessGroups puts PVs in access security groups by spec: a record and
// all its fields follow the record's group, other PVs stay in DEFAULT.
func TestAccessGroups(t *testing.T) {
	rules, err := access.Parse(strings.NewReader(`
ASG(DEFAULT) { RULE(1, WRITE) }
ASG(LOCKED)  { RULE(1, READ) }
`), "test.acf")
	if err != nil {
		t.Fatal(err)
	}
	g := ioc.NewGroup("ASG:", nil)
	ioc.Double(g, "OPEN", ioc.Spec[float64]{Record: "ao"})
	ioc.Double(g, "LOCKED", ioc.Spec[float64]{Record: "ao", AccessGroup: "LOCKED"})
	ioc.Double(g, "PLAIN", ioc.Spec[float64]{AccessGroup: "LOCKED"})
	a := runIOC(t, ioc.Config{AccessRules: rules}, g)
	c := dial(t, a)
	for _, tt := range []struct {
		name     string
		v        dbr.Value
		writable bool
	}{
		{"ASG:OPEN", dbr.Doubles{1}, true},
		{"ASG:OPEN.DESC", dbr.Strings{"open"}, true},
		{"ASG:LOCKED", dbr.Doubles{1}, false},
		{"ASG:LOCKED.DESC", dbr.Strings{"locked"}, false},
		{"ASG:LOCKED.HIHI", dbr.Doubles{5}, false},
		{"ASG:PLAIN", dbr.Doubles{1}, false},
	} {
		ch, err := c.Connect(tctx(t), tt.name)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		err = ch.PutWait(tctx(t), tt.v)
		if tt.writable && err != nil {
			t.Errorf("%s: put refused: %v", tt.name, err)
		}
		if !tt.writable && eca.Of(err, eca.Normal) != eca.NoWtAccess {
			t.Errorf("%s: put gave %v, want ECA_NOWTACCESS", tt.name, err)
		}
	}
	ch, err := c.Connect(tctx(t), "ASG:LOCKED.ASG")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := ch.Get(tctx(t), dbr.String, 1)
	if err != nil || v.(dbr.Strings)[0] != "LOCKED" {
		t.Errorf("LOCKED.ASG = %v, %v; want LOCKED", v, err)
	}
}

// TestRunStats serves the IOC's status PVs next to its groups.
func TestRunStats(t *testing.T) {
	g := ioc.NewGroup("ST:", nil)
	ioc.Double(g, "X", ioc.Spec[float64]{})
	a := runIOC(t, ioc.Config{StatsPrefix: "ST:IOC:"}, g)
	c := dial(t, a)
	for _, tt := range []struct {
		name string
		min  float64
	}{{"ST:IOC:" + iocstats.Heartbeat, 0}, {"ST:IOC:" + iocstats.ClientCnt, 1}, {"ST:IOC:" + iocstats.ConnCnt, 1}} {
		ch, err := c.Connect(tctx(t), tt.name)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		// The counts are updated once a second; the first update runs at
		// start, when no client was connected yet, so wait for the next
		// one with a monitor rather than polling.
		got := make(chan float64, 8)
		sub, err := ch.Subscribe(dbr.Double, 1, dbr.EventValue, func(u client.Update) {
			if u.Err == nil {
				v, _ := dbr.Convert(u.Value, dbr.Double, nil)
				select {
				case got <- v.(dbr.Doubles)[0]:
				default:
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case v := <-got:
				if v >= tt.min {
					break wait
				}
			case <-deadline:
				t.Fatalf("%s never reached %v", tt.name, tt.min)
			}
		}
		_ = sub.Cancel()
	}
}
