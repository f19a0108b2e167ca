package iocstats

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// procFixture returns the /proc fixtures in testdata/proc as a MapFS, with
// nfd open file descriptors in self/fd.
func procFixture(t *testing.T, nfd int) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	for _, name := range []string{"self/status", "meminfo", "stat", "sys/kernel/osrelease"} {
		b, err := os.ReadFile(filepath.Join("testdata", "proc", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		m[name] = &fstest.MapFile{Data: b}
	}
	for i := range nfd {
		m[fmt.Sprintf("self/fd/%d", i)] = &fstest.MapFile{Mode: 0o777}
	}
	return m
}

// fakeTime is a settable clock and process CPU time.
type fakeTime struct {
	mu   sync.Mutex
	now  time.Time
	cpu  time.Duration
	fail bool
}

func (f *fakeTime) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

func (f *fakeTime) CPU() (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, fmt.Errorf("injected failure")
	}
	return f.cpu, nil
}

func (f *fakeTime) advance(wall, cpu time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(wall)
	f.cpu += cpu
}

func newFake() *fakeTime {
	return &fakeTime{now: time.Date(2025, 3, 4, 5, 6, 7, 0, time.Local)}
}

func TestPVTypes(t *testing.T) {
	ft := newFake()
	g := New("IOC:", nil, WithProcFS(procFixture(t, 0)), WithClock(ft.Now), withCPU(ft.CPU))
	var m ca.Map
	if err := g.AddTo(&m); err != nil {
		t.Fatal(err)
	}
	type want struct {
		typ   dbr.Type
		count int
		class string
		units string
		prec  int16
		hopr  float64
		high  float64 // NaN: no limit
		hihi  float64
	}
	nan := math.NaN()
	str := want{dbr.String, 1, "stringin", "", 0, 0, nan, nan}
	ai := want{dbr.Double, 1, "ai", "", 0, 0, nan, nan}
	mem := want{dbr.Double, 1, "ai", "byte", 0, 0, nan, nan}
	load := want{dbr.Double, 1, "ai", "%", 1, 100, 70, 80}
	wants := map[string]want{
		Uptime: str, StartTOD: str, TOD: str, Hostname: str, KernelVers: str, GoVersion: str,
		Heartbeat:  {dbr.Long, 1, "calcout", "", 0, 0, nan, nan},
		Goroutines: {dbr.Long, 1, "longin", "", 0, 0, nan, nan},
		ClientCnt:  {dbr.Double, 1, "ai", "", 0, 200, 100, 175},
		ConnCnt:    {dbr.Double, 1, "ai", "", 0, 5000, 4000, 4500},
		ProcessID:  ai, ParentID: ai, CPUCnt: ai, FDCnt: ai,
		MemUsed: mem, MemFree: mem, MemMax: mem, GoHeap: mem,
		IOCCPULoad: load, SysCPULoad: load,
		AppDir: {dbr.Char, 160, "waveform", "", 0, 0, nan, nan},
	}
	if got := len(m.Names()); got != len(wants) {
		t.Errorf("%d PVs in the map, want %d: %v", got, len(wants), m.Names())
	}
	for suffix, w := range wants {
		pv, ok := m.Lookup("IOC:" + suffix)
		if !ok {
			t.Errorf("no PV IOC:%s", suffix)
			continue
		}
		typ, count := pv.Native()
		p := pv.Snapshot().Meta.Properties
		if typ != w.typ || count != w.count || p == nil || p.ClassName != w.class {
			t.Errorf("%s: %v[%d] %+v, want %v[%d] class %s", suffix, typ, count, p, w.typ, w.count, w.class)
			continue
		}
		if p.Units != w.units || p.Precision != w.prec || p.Limits.DisplayHigh != w.hopr ||
			!sameFloat(p.Limits.WarningHigh, w.high) || !sameFloat(p.Limits.AlarmHigh, w.hihi) {
			t.Errorf("%s: units %q prec %d limits %+v, want %q %d HOPR %v HIGH %v HIHI %v",
				suffix, p.Units, p.Precision, p.Limits, w.units, w.prec, w.hopr, w.high, w.hihi)
		}
		if pv.Access() != ca.AccessRead {
			t.Errorf("%s: access %v, want read-only", suffix, pv.Access())
		}
		if err := pv.Put(t.Context(), dbr.Doubles{1}); err == nil {
			t.Errorf("%s: a put succeeded", suffix)
		}
	}
	// A second AddTo fails on the first name and adds nothing.
	if err := g.AddTo(&m); err == nil {
		t.Error("second AddTo succeeded")
	}
	var m2 ca.Map
	if err := m2.Add("IOC:"+GoHeap, ca.NewLong(ca.Options{}, 0)); err != nil {
		t.Fatal(err)
	}
	if err := g.AddTo(&m2); err == nil || m2.Len() != 1 {
		t.Errorf("AddTo onto a taken name: %v, %d PVs left", err, m2.Len())
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func doubleOf(t *testing.T, g *Group, suffix string) (float64, dbr.Alarm) {
	t.Helper()
	pv, ok := g.PV(suffix)
	if !ok {
		t.Fatalf("no PV %s", suffix)
	}
	s := pv.Snapshot()
	return s.Value.(dbr.Doubles)[0], s.Meta.Alarm
}

func stringOf(t *testing.T, g *Group, suffix string) string {
	t.Helper()
	pv, _ := g.PV(suffix)
	return pv.Snapshot().Value.(dbr.Strings)[0]
}

func TestUpdateFromFixtures(t *testing.T) {
	ft := newFake()
	stats := ca.Stats{Clients: 120, Channels: 4600}
	g := New("X:", func() ca.Stats { return stats }, WithProcFS(procFixture(t, 7)), WithClock(ft.Now), withCPU(ft.CPU))
	ft.advance(26*time.Hour+3*time.Minute+4*time.Second, 0)
	g.Update()

	if got := stringOf(t, g, Uptime); got != "1 days, 02:03:04" {
		t.Errorf("UPTIME = %q", got)
	}
	if got, want := stringOf(t, g, StartTOD), "03/04/2025 05:06:07"; got != want {
		t.Errorf("STARTTOD = %q, want %q", got, want)
	}
	if got, want := stringOf(t, g, TOD), "03/05/2025 07:09:11"; got != want {
		t.Errorf("TOD = %q, want %q", got, want)
	}
	if got := stringOf(t, g, KernelVers); got != "Linux 6.1.0-test" {
		t.Errorf("KERNEL_VERS = %q", got)
	}
	for _, tc := range []struct {
		suffix string
		want   float64
		alarm  dbr.Alarm
	}{
		{ClientCnt, 120, dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor}},
		{ConnCnt, 4600, dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}},
		{MemUsed, 12345 * 1024, dbr.Alarm{}},
		{MemFree, 24196720 * 1024, dbr.Alarm{}},
		{MemMax, 24684096 * 1024, dbr.Alarm{}},
		{SysCPULoad, 45, dbr.Alarm{}}, // average since boot on the first update
		{IOCCPULoad, 0, dbr.Alarm{}},
		{FDCnt, 7, dbr.Alarm{}},
		{ProcessID, float64(os.Getpid()), dbr.Alarm{}},
	} {
		v, a := doubleOf(t, g, tc.suffix)
		if v != tc.want || a != tc.alarm {
			t.Errorf("%s = %v %v, want %v %v", tc.suffix, v, a, tc.want, tc.alarm)
		}
	}

	// CPU load over the next interval: 1.5 s of CPU in 2 s is 75 % (HIGH),
	// then 1.7 s in 2 s is 85 % (HIHI); the clock not moving keeps the value.
	for _, tc := range []struct {
		wall, cpu time.Duration
		want      float64
		alarm     dbr.Alarm
	}{
		{2 * time.Second, 1500 * time.Millisecond, 75, dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor}},
		{2 * time.Second, 1700 * time.Millisecond, 85, dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}},
		{0, 0, 85, dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}},
		{time.Second, 100 * time.Millisecond, 10, dbr.Alarm{}},
	} {
		ft.advance(tc.wall, tc.cpu)
		g.Update()
		v, a := doubleOf(t, g, IOCCPULoad)
		if math.Abs(v-tc.want) > 1e-9 || a != tc.alarm {
			t.Errorf("after %v wall %v CPU: IOC_CPU_LOAD = %v %v, want %v %v", tc.wall, tc.cpu, v, a, tc.want, tc.alarm)
		}
	}
	ft.mu.Lock()
	ft.fail = true
	ft.mu.Unlock()
	g.Update()
	if _, a := doubleOf(t, g, IOCCPULoad); a.Severity != dbr.SeverityInvalid {
		t.Errorf("IOC_CPU_LOAD alarm %v after the CPU time source failed, want INVALID", a)
	}
}

func TestUpdateWithoutProc(t *testing.T) {
	g := New("X:", nil, WithProcFS(nil))
	g.Update()
	invalid := dbr.Alarm{Status: dbr.StatusRead, Severity: dbr.SeverityInvalid}
	for _, s := range []string{MemFree, MemMax, SysCPULoad, FDCnt, ClientCnt, ConnCnt} {
		if _, a := doubleOf(t, g, s); a != invalid {
			t.Errorf("%s alarm %v, want %v", s, a, invalid)
		}
	}
	if v, a := doubleOf(t, g, MemUsed); v <= 0 || a.Severity != dbr.SeverityNone {
		t.Errorf("MEM_USED = %v %v, want the runtime's memory", v, a)
	}
	if v, _ := doubleOf(t, g, GoHeap); v <= 0 {
		t.Errorf("GO_HEAP = %v", v)
	}
}

func TestHeartbeatWraps(t *testing.T) {
	g := New("X:", nil, WithProcFS(nil))
	g.beat = math.MaxInt32 - 1
	var got []int32
	for range 3 {
		g.Update()
		got = append(got, g.heartbeat.Value())
	}
	if want := []int32{math.MaxInt32, 1, 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("heartbeats %v, want %v", got, want)
	}
}

// beatWatcher delivers HEARTBEAT values.
type beatWatcher chan int32

func (w beatWatcher) Update(s *ca.Snapshot, _ dbr.EventMask) {
	select {
	case w <- s.Value.(dbr.Longs)[0]:
	default:
	}
}

// waitBeat waits until HEARTBEAT reaches want.
func waitBeat(t *testing.T, g *Group, w beatWatcher, want int32) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for g.heartbeat.Value() < want {
		select {
		case <-w:
		case <-deadline:
			t.Fatalf("HEARTBEAT stuck at %d, want %d", g.heartbeat.Value(), want)
		}
	}
}

func TestRunWithServer(t *testing.T) {
	srv := catest.NewServer(t, nil)
	ticks := make(chan time.Time)
	g := New("IOC:", srv.Server.Stats, WithTicks(ticks))
	if err := g.AddTo(srv.Map); err != nil {
		t.Fatal(err)
	}
	w := make(beatWatcher, 16)
	cancelWatch := g.heartbeat.Subscribe(w)
	defer cancelWatch()

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { g.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	waitBeat(t, g, w, 1) // the update at start

	// N clients, each with two channels.
	const n = 3
	cctx, ccancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer ccancel()
	var clients []*client.Client
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := client.New(client.Config{AddrList: []string{fmt.Sprintf("127.0.0.1:%d", srv.UDPPort)}})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		if _, err := c.ConnectMany(cctx, []string{"IOC:" + Heartbeat, "IOC:" + ClientCnt}); err != nil {
			t.Fatal(err)
		}
	}

	for i := range int32(3) {
		ticks <- time.Now()
		waitBeat(t, g, w, 2+i)
	}
	if v, _ := doubleOf(t, g, ClientCnt); v != n {
		t.Errorf("CA_CLNT_CNT = %v, want %d", v, n)
	}
	if v, _ := doubleOf(t, g, ConnCnt); v != 2*n {
		t.Errorf("CA_CONN_CNT = %v, want %d", v, 2*n)
	}

	// Over CA too.
	ch, err := clients[0].Connect(cctx, "IOC:"+ClientCnt)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := ch.Get(cctx, dbr.TimeDouble, 1)
	if err != nil || fmt.Sprint(v) != fmt.Sprint(dbr.Doubles{n}) {
		t.Errorf("CA get of CA_CLNT_CNT = %v, %v; want %d", v, err, n)
	}
}
