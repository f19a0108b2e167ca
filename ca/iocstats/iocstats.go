package iocstats

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
)

// The PV names, after the prefix. Where EPICS iocStats (iocAdmin's
// ioc.template) has a PV for the same thing, the name, type, units,
// display range and alarm limits are those of iocStats; the GO_* names and
// GOROUTINES are cabridge's own.
const (
	Uptime     = "UPTIME"       // DBR_STRING: time since New, "D days, HH:MM:SS"
	StartTOD   = "STARTTOD"     // DBR_STRING: local time of New, "MM/DD/YYYY HH:MM:SS"
	TOD        = "TOD"          // DBR_STRING: local time of the last update
	Heartbeat  = "HEARTBEAT"    // DBR_LONG: +1 per update, from 1 to 2147483647, then 1 again
	ClientCnt  = "CA_CLNT_CNT"  // DBR_DOUBLE: CA clients (circuits) connected; HIGH 100 MINOR, HIHI 175 MAJOR
	ConnCnt    = "CA_CONN_CNT"  // DBR_DOUBLE: CA channels open; HIGH 4000 MINOR, HIHI 4500 MAJOR
	ProcessID  = "PROCESS_ID"   // DBR_DOUBLE: the process ID
	ParentID   = "PARENT_ID"    // DBR_DOUBLE: the parent's process ID
	CPUCnt     = "CPU_CNT"      // DBR_DOUBLE: logical CPUs usable by the process
	MemUsed    = "MEM_USED"     // DBR_DOUBLE: process resident memory in bytes
	MemFree    = "MEM_FREE"     // DBR_DOUBLE: system memory available, in bytes
	MemMax     = "MEM_MAX"      // DBR_DOUBLE: system memory in all, in bytes
	IOCCPULoad = "IOC_CPU_LOAD" // DBR_DOUBLE: process CPU use in % of one core; HIGH 70 MINOR, HIHI 80 MAJOR
	SysCPULoad = "SYS_CPU_LOAD" // DBR_DOUBLE: system CPU use in % of all cores; HIGH 70 MINOR, HIHI 80 MAJOR
	FDCnt      = "FD_CNT"       // DBR_DOUBLE: open file descriptors
	Hostname   = "HOSTNAME"     // DBR_STRING: the host name
	KernelVers = "KERNEL_VERS"  // DBR_STRING: the operating system and kernel release
	AppDir     = "APP_DIR"      // DBR_CHAR[160] long string: the working directory
	GoVersion  = "GO_VERSION"   // DBR_STRING: the Go release the IOC was built with
	GoHeap     = "GO_HEAP"      // DBR_DOUBLE: bytes in live and unswept Go heap objects
	Goroutines = "GOROUTINES"   // DBR_LONG: goroutines running
)

// todLayout is iocStats' default TODFORMAT, %m/%d/%Y %H:%M:%S.
const todLayout = "01/02/2006 15:04:05"

// Option configures a Group.
type Option func(*config)

type config struct {
	ticks   <-chan time.Time
	proc    fs.FS
	now     func() time.Time
	log     *slog.Logger
	cpu     func() (time.Duration, error)
	procSet bool
}

// WithTicks makes Run update on every value received from c instead of
// once a second (for tests). Run returns if c is closed.
func WithTicks(c <-chan time.Time) Option { return func(o *config) { o.ticks = c } }

// WithProcFS reads the Linux /proc files (self/status, meminfo, stat,
// sys/kernel/osrelease, self/fd) from fsys instead of /proc. nil disables
// them: MEM_USED then falls back to the Go runtime's total memory,
// FD_CNT, MEM_FREE, MEM_MAX and SYS_CPU_LOAD get an INVALID alarm.
func WithProcFS(fsys fs.FS) Option {
	return func(o *config) { o.proc, o.procSet = fsys, true }
}

// WithClock replaces time.Now for uptime, time of day and CPU load, and
// for the PVs' timestamps.
func WithClock(now func() time.Time) Option { return func(o *config) { o.now = now } }

// WithLogger sets the logger for diagnostics (each unavailable source is
// logged once); the default discards them.
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.log = l } }

// withCPU replaces the process CPU time source (tests).
func withCPU(f func() (time.Duration, error)) Option { return func(o *config) { o.cpu = f } }

// entry is one PV of the group.
type entry struct {
	suffix string
	pv     ca.PV
}

// Group is a set of iocStats-like status PVs for the process it runs in.
// Create it with New, serve its PVs with AddTo and keep them current with
// Run. All PVs are read-only to clients. Its methods are safe for
// concurrent use.
type Group struct {
	prefix string
	stats  func() ca.Stats
	cfg    config
	start  time.Time
	pvs    []entry

	uptime, tod                                   *ca.String
	heartbeat, goroutines                         *ca.Long
	clients, conns, memUsed, memFree, memMax, ioc *ca.Double
	sys, fds, heap                                *ca.Double
	startTOD, hostname, kernel, goVersion         *ca.String
	pid, ppid, cpus                               *ca.Double
	appDir                                        *ca.Char

	mu       sync.Mutex // guards the fields below and orders updates
	beat     int32
	prevWall time.Time
	prevCPU  time.Duration
	cpuOK    bool
	prevSys  cpuTimes
	sysOK    bool
	warned   map[string]bool
}

// New returns a Group whose PVs are named prefix+suffix, e.g. "IOC:" +
// Uptime, as iocStats' $(IOCNAME):UPTIME. stats, usually the Stats method
// of the ca.Server serving the PVs, gives the client and channel counts;
// nil leaves them at 0 with an INVALID alarm. The start time for UPTIME is
// now. New reads the static values (host name, process IDs, working
// directory, kernel release) once.
func New(prefix string, stats func() ca.Stats, opts ...Option) *Group {
	g := &Group{prefix: prefix, stats: stats, warned: make(map[string]bool)}
	for _, o := range opts {
		o(&g.cfg)
	}
	if g.cfg.now == nil {
		g.cfg.now = time.Now
	}
	if g.cfg.log == nil {
		g.cfg.log = slog.New(slog.DiscardHandler)
	}
	if g.cfg.cpu == nil {
		g.cfg.cpu = processCPU
	}
	if !g.cfg.procSet && runtime.GOOS == "linux" {
		g.cfg.proc = os.DirFS("/proc")
	}
	g.start = g.cfg.now()

	nan := math.NaN()
	str := func(class string) ca.Options {
		return ca.Options{ReadOnly: true, ClassName: class, Clock: g.cfg.now}
	}
	num := func(class, egu string, prec int16, hopr, high, hihi float64) ca.Options {
		o := str(class)
		o.Units, o.Precision = egu, prec
		if hopr != 0 || !math.IsNaN(high) || !math.IsNaN(hihi) {
			o.Limits = dbr.Limits{DisplayHigh: hopr, AlarmHigh: hihi, WarningHigh: high, WarningLow: nan, AlarmLow: nan, ControlHigh: hopr}
		}
		return o
	}
	plain := num("ai", "", 0, 0, nan, nan)
	bytesOpt := num("ai", "byte", 0, 0, nan, nan)
	loadOpt := num("ai", "%", 1, 100, 70, 80)

	g.uptime = ca.NewString(str("stringin"), FormatUptime(0))
	g.startTOD = ca.NewString(str("stringin"), g.start.Format(todLayout))
	g.tod = ca.NewString(str("stringin"), g.start.Format(todLayout))
	g.heartbeat = ca.NewLong(ca.Options{ReadOnly: true, ClassName: "calcout", Clock: g.cfg.now}, 0)
	g.clients = ca.NewDouble(num("ai", "", 0, 200, 100, 175), 0)
	g.conns = ca.NewDouble(num("ai", "", 0, 5000, 4000, 4500), 0)
	g.pid = ca.NewDouble(plain, float64(os.Getpid()))
	g.ppid = ca.NewDouble(plain, float64(os.Getppid()))
	g.cpus = ca.NewDouble(plain, float64(runtime.NumCPU()))
	g.memUsed = ca.NewDouble(bytesOpt, 0)
	g.memFree = ca.NewDouble(bytesOpt, 0)
	g.memMax = ca.NewDouble(bytesOpt, 0)
	g.ioc = ca.NewDouble(loadOpt, 0)
	g.sys = ca.NewDouble(loadOpt, 0)
	g.fds = ca.NewDouble(plain, 0)
	host, err := os.Hostname()
	if err != nil {
		g.cfg.log.Warn("iocstats: no host name", "err", err)
	}
	g.hostname = ca.NewString(str("stringin"), clip(host))
	g.kernel = ca.NewString(str("stringin"), clip(g.kernelVersion()))
	wd, err := os.Getwd()
	if err != nil {
		g.cfg.log.Warn("iocstats: no working directory", "err", err)
	}
	const appDirLen = 160 // NELM of iocStats' APP_DIR
	if len(wd) > appDirLen-1 {
		wd = wd[len(wd)-(appDirLen-1):] // keep the informative end
	}
	g.appDir = ca.NewChar(ca.Options{ReadOnly: true, MaxLength: appDirLen, Clock: g.cfg.now}, wd)
	g.goVersion = ca.NewString(str("stringin"), clip(runtime.Version()))
	g.heap = ca.NewDouble(bytesOpt, 0)
	g.goroutines = ca.NewLong(ca.Options{ReadOnly: true, ClassName: "longin", Clock: g.cfg.now}, 0)

	g.pvs = []entry{
		{Uptime, g.uptime}, {StartTOD, g.startTOD}, {TOD, g.tod}, {Heartbeat, g.heartbeat},
		{ClientCnt, g.clients}, {ConnCnt, g.conns},
		{ProcessID, g.pid}, {ParentID, g.ppid}, {CPUCnt, g.cpus},
		{MemUsed, g.memUsed}, {MemFree, g.memFree}, {MemMax, g.memMax},
		{IOCCPULoad, g.ioc}, {SysCPULoad, g.sys}, {FDCnt, g.fds},
		{Hostname, g.hostname}, {KernelVers, g.kernel}, {AppDir, g.appDir},
		{GoVersion, g.goVersion}, {GoHeap, g.heap}, {Goroutines, g.goroutines},
	}
	if cpu, err := g.cfg.cpu(); err == nil {
		g.prevCPU, g.cpuOK = cpu, true
	}
	g.prevWall = g.start
	return g
}

// clip cuts s to the 39 bytes of a DBR_STRING, at a character boundary.
func clip(s string) string {
	const maxLen = dbr.MaxStringSize - 1
	if len(s) <= maxLen {
		return s
	}
	i := maxLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// kernelVersion returns "Linux <release>" from the proc file system, or
// the GOOS name.
func (g *Group) kernelVersion() string {
	if g.cfg.proc != nil {
		if b, err := fs.ReadFile(g.cfg.proc, "sys/kernel/osrelease"); err == nil {
			return "Linux " + strings.TrimSpace(string(b))
		}
	}
	return runtime.GOOS
}

// Names returns the full names of the PVs, in a fixed order.
func (g *Group) Names() []string {
	out := make([]string, len(g.pvs))
	for i, e := range g.pvs {
		out[i] = g.prefix + e.suffix
	}
	return out
}

// PV returns the PV with the given suffix (one of the name constants).
func (g *Group) PV(suffix string) (ca.PV, bool) {
	for _, e := range g.pvs {
		if e.suffix == suffix {
			return e.pv, true
		}
	}
	return nil, false
}

// AddTo adds the PVs to m. If a name is taken, it adds none and returns
// the error.
func (g *Group) AddTo(m *ca.Map) error {
	for i, e := range g.pvs {
		if err := m.Add(g.prefix+e.suffix, e.pv); err != nil {
			for _, done := range g.pvs[:i] {
				m.Remove(g.prefix + done.suffix)
			}
			return fmt.Errorf("iocstats: %w", err)
		}
	}
	return nil
}

// Run updates the PVs once now and then once a second (or on each tick
// of WithTicks) until ctx is done. It starts no goroutines.
func (g *Group) Run(ctx context.Context) {
	ticks := g.cfg.ticks
	if ticks == nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		ticks = t.C
	}
	g.Update()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ticks:
			if !ok {
				return
			}
			g.Update()
		}
	}
}

// Update refreshes every changing PV once; Run calls it on each tick.
// HEARTBEAT is updated last, so a client that sees it change sees the
// other values of the same update.
func (g *Group) Update() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.now()
	_ = g.uptime.Set(FormatUptime(now.Sub(g.start)))
	_ = g.tod.Set(now.Format(todLayout))

	if g.stats != nil {
		st := g.stats()
		setLimited(g.clients, float64(st.Clients))
		setLimited(g.conns, float64(st.Channels))
	} else {
		g.invalid(g.clients, "stats", nil)
		g.invalid(g.conns, "stats", nil)
	}

	g.updateMemory()
	g.updateCPU(now)
	if g.cfg.proc != nil {
		if ents, err := fs.ReadDir(g.cfg.proc, "self/fd"); err == nil {
			setLimited(g.fds, float64(len(ents)))
		} else {
			g.invalid(g.fds, "self/fd", err)
		}
	} else {
		g.invalid(g.fds, "self/fd", nil)
	}
	g.goroutines.Set(int32(runtime.NumGoroutine()))

	if g.beat == math.MaxInt32 {
		g.beat = 0
	}
	g.beat++
	g.heartbeat.Set(g.beat)
}

// runtimeMetrics reads the Go runtime's heap and total memory in bytes.
func runtimeMetrics() (heap, total uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		heap = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		total = s[1].Value.Uint64()
	}
	return heap, total
}

// updateMemory sets MEM_USED, MEM_FREE, MEM_MAX and GO_HEAP.
func (g *Group) updateMemory() {
	heap, total := runtimeMetrics()
	setLimited(g.heap, float64(heap))
	rssOK := false
	if g.cfg.proc != nil {
		b, err := fs.ReadFile(g.cfg.proc, "self/status")
		if err == nil {
			var rss uint64
			if rss, err = parseStatusRSS(b); err == nil {
				setLimited(g.memUsed, float64(rss))
				rssOK = true
			}
		}
		if err != nil {
			g.warnOnce("self/status", err)
		}
		b, err = fs.ReadFile(g.cfg.proc, "meminfo")
		if err == nil {
			var mi memInfo
			if mi, err = parseMeminfo(b); err == nil {
				setLimited(g.memFree, float64(mi.Available))
				setLimited(g.memMax, float64(mi.Total))
			}
		}
		if err != nil {
			g.invalid(g.memFree, "meminfo", err)
			g.invalid(g.memMax, "meminfo", err)
		}
	} else {
		g.invalid(g.memFree, "meminfo", nil)
		g.invalid(g.memMax, "meminfo", nil)
	}
	if !rssOK {
		setLimited(g.memUsed, float64(total)) // memory the Go runtime got from the OS
	}
}

// updateCPU sets IOC_CPU_LOAD and SYS_CPU_LOAD from the change since the
// previous update.
func (g *Group) updateCPU(now time.Time) {
	wall := now.Sub(g.prevWall)
	cpu, err := g.cfg.cpu()
	switch {
	case err != nil:
		g.invalid(g.ioc, "process CPU time", err)
		g.cpuOK = false
	case g.cpuOK:
		if load, ok := cpuLoad(cpu-g.prevCPU, wall); ok {
			setLimited(g.ioc, load)
		}
	}
	if err == nil && wall > 0 {
		g.prevCPU, g.cpuOK = cpu, true
	}
	if wall > 0 {
		g.prevWall = now
	}

	if g.cfg.proc == nil {
		g.invalid(g.sys, "stat", nil)
		return
	}
	b, err := fs.ReadFile(g.cfg.proc, "stat")
	var cur cpuTimes
	if err == nil {
		cur, err = parseProcStat(b)
	}
	if err != nil {
		g.invalid(g.sys, "stat", err)
		g.sysOK = false
		return
	}
	prev := cpuTimes{} // the first load is the average since boot
	if g.sysOK {
		prev = g.prevSys
	}
	if load, ok := sysLoad(prev, cur); ok {
		setLimited(g.sys, load)
		g.prevSys, g.sysOK = cur, true
	}
}

// setLimited publishes v with the alarm its PV's limits give, as an ai
// record with HHSV and LLSV MAJOR and HSV and LSV MINOR does (without
// hysteresis).
func setLimited(d *ca.Double, v float64) {
	var l dbr.Limits
	if p := d.Snapshot().Meta.Properties; p != nil {
		l = p.Limits
	}
	a := limitAlarm(v, l)
	_ = d.Post(ca.Post[float64]{Values: []float64{v}, Alarm: &a})
}

// limitAlarm returns the alarm of v against l; NaN limits never trigger.
func limitAlarm(v float64, l dbr.Limits) dbr.Alarm {
	switch {
	case v >= l.AlarmHigh:
		return dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}
	case v <= l.AlarmLow:
		return dbr.Alarm{Status: dbr.StatusLoLo, Severity: dbr.SeverityMajor}
	case v >= l.WarningHigh:
		return dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMinor}
	case v <= l.WarningLow:
		return dbr.Alarm{Status: dbr.StatusLow, Severity: dbr.SeverityMinor}
	}
	return dbr.Alarm{}
}

// invalid raises READ/INVALID on d, keeping its value, because source is
// not available; err, if any, is logged the first time.
func (g *Group) invalid(d *ca.Double, source string, err error) {
	a := dbr.Alarm{Status: dbr.StatusRead, Severity: dbr.SeverityInvalid}
	_ = d.Post(ca.Post[float64]{Alarm: &a})
	if err != nil {
		g.warnOnce(source, err)
	}
}

// warnOnce logs err for source the first time. g.mu must be held.
func (g *Group) warnOnce(source string, err error) {
	if g.warned[source] {
		return
	}
	g.warned[source] = true
	g.cfg.log.Warn("iocstats: source not available", "source", source, "err", err)
}
