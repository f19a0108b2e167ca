// Command caload measures a `cabridge bench-server` child process with the
// project's Go CA client: search and connect rates, gets with all channels
// in flight, monitor rate and latency with the server's CPU use, put round
// trips, waveform throughput, and the server's memory per PV and per
// client. It prints the numbers next to those of EPICS Base's softIoc.
//
//	go build -o bin/cabridge ./cmd/cabridge && go run ./bench/caload
//
// The server runs on 127.0.0.1 with free, non-default ports and is
// stopped when caload exits or is interrupted. Linux only: CPU and memory
// are read from /proc.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cabridge/cabridge/bench/internal/loadstat"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode writes err, if any, to stderr and returns the process exit
// status: 0 on success, 2 when help was asked for, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, err)
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// options are the command-line settings.
type options struct {
	ns         []int
	duration   time.Duration
	serverPath string
	json       bool
	rounds     int
	puts       int
	wfGets     int
	clients    int
	clientPVs  int
	timeout    time.Duration
	cpuProfile string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("caload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nlist := fs.String("n", "1000,10000,100000", "comma-separated numbers of PVs to connect (each ≤ 100000); one server serves the largest")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "monitor measurement window (also bounds the put phase)")
	fs.StringVar(&o.serverPath, "server", "bin/cabridge", "path of the cabridge binary")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.IntVar(&o.rounds, "rounds", 7, "rounds of gets with all N in flight, per N")
	fs.IntVar(&o.puts, "puts", 5000, "sequential put-with-callback round trips (stops early after -duration)")
	fs.IntVar(&o.wfGets, "wf-gets", 10, "gets of the 1,000,000-element waveform per DBR type")
	fs.IntVar(&o.clients, "clients", 100, "idle clients connected for the memory-per-client measurement")
	fs.IntVar(&o.clientPVs, "client-pvs", 10, "channels each idle client connects")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "upper bound on the whole run")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of caload itself (the client side) to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: caload [flags]\n\nLoad test of `cabridge bench-server` with the Go CA client.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("caload: unexpected argument %q", fs.Arg(0))
	}
	for _, f := range strings.Split(*nlist, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100000 {
			return o, fmt.Errorf("caload: -n %q: want numbers in 1..100000", f)
		}
		o.ns = append(o.ns, n)
	}
	if o.duration <= 0 || o.rounds < 1 || o.puts < 1 || o.wfGets < 1 || o.clients < 1 || o.clientPVs < 1 || o.timeout <= 0 {
		return o, errors.New("caload: -duration, -rounds, -puts, -wf-gets, -clients, -client-pvs and -timeout must be positive")
	}
	return o, nil
}

// Report is everything caload measured.
type Report struct {
	Machine   Machine          `json:"machine"`
	Server    ServerInfo       `json:"server"`
	Connect   []ConnectResult  `json:"connect"`
	Monitor   *MonitorResult   `json:"monitor,omitempty"`
	Put       *PutResult       `json:"put,omitempty"`
	Waveform  []WaveformResult `json:"waveform,omitempty"`
	Memory    MemoryResult     `json:"memory"`
	Reference Reference        `json:"softioc_reference"`
	Errors    []string         `json:"errors,omitempty"`
}

// Machine describes where the numbers were taken.
type Machine struct {
	CPUs      int    `json:"nproc"`
	CPUModel  string `json:"cpu_model"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Date      string `json:"date"`
}

// ServerInfo says what was measured.
type ServerInfo struct {
	Binary string `json:"binary"`
	N      int    `json:"n"`
	Note   string `json:"note"`
}

// MemoryResult holds the server's resident memory figures.
type MemoryResult struct {
	BaselineRSS       int64   `json:"rss_n0_bytes"`
	RSS               int64   `json:"rss_n_bytes"`
	PerPV             float64 `json:"rss_per_pv_bytes"`
	Clients           int     `json:"clients"`
	ChannelsPerClient int     `json:"channels_per_client"`
	PerClient         float64 `json:"rss_per_client_bytes"`
	FinalRSS          int64   `json:"rss_end_bytes"`
	PeakRSS           int64   `json:"rss_peak_bytes"`
}

// Reference holds the softIoc numbers of issue 3 (EPICS Base 7.0.8.1,
// libca client, same 2-core machine).
type Reference struct {
	ConnectsPerS    float64 `json:"connects_per_s_at_100000"`
	GetsPerSMin     float64 `json:"gets_per_s_min"`
	GetsPerSMax     float64 `json:"gets_per_s_max"`
	MonitorPerS     float64 `json:"monitor_updates_per_s"`
	MonitorMedianMS float64 `json:"monitor_latency_median_ms"`
	MonitorCPUPct   float64 `json:"monitor_server_cpu_pct"`
	WaveformMBs     float64 `json:"waveform_mb_per_s"`
	RSSPerPVBytes   float64 `json:"rss_per_pv_bytes"`
	Source          string  `json:"source"`
}

func softIoc() Reference {
	return Reference{
		ConnectsPerS: 377000, GetsPerSMin: 2.5e6, GetsPerSMax: 5.2e6,
		MonitorPerS: 10000, MonitorMedianMS: 0.6, MonitorCPUPct: 2,
		WaveformMBs: 1900, RSSPerPVBytes: 1700,
		Source: "EPICS Base 7.0.8.1 softIoc with a libca client on the same 2-core machine (issue 3)",
	}
}

func machine() Machine {
	m := Machine{
		CPUs:      runtime.NumCPU(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion: runtime.Version(),
		Date:      time.Now().UTC().Format(time.RFC3339),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = loadstat.ParseCPUModel(b)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.serverPath); err != nil {
		return fmt.Errorf("caload: server binary: %w (build it with `make build`)", err)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("caload: %w", err)
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("caload: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	progress := func(format string, a ...any) {
		fmt.Fprintf(stderr, "caload: "+format+"\n", a...)
	}
	rep, err := measure(ctx, o, progress)
	if rep == nil {
		return err
	}
	var werr error
	if o.json {
		werr = writeJSON(stdout, rep)
	} else {
		werr = writeTable(stdout, rep)
	}
	if err != nil {
		return err // interrupted: the partial report is printed above
	}
	if werr != nil {
		return werr
	}
	if len(rep.Errors) > 0 {
		return fmt.Errorf("caload: %d measurement(s) failed: %s", len(rep.Errors), strings.Join(rep.Errors, "; "))
	}
	return nil
}

// measure runs every phase. A failed phase is recorded in Report.Errors
// and the others still run; only an interruption or a server that does
// not start stops the run.
func measure(ctx context.Context, o options, progress func(string, ...any)) (*Report, error) {
	maxN := slices.Max(o.ns)
	rep := &Report{
		Machine:   machine(),
		Server:    ServerInfo{Binary: o.serverPath, N: maxN},
		Reference: softIoc(),
	}
	rep.Server.Note = fmt.Sprintf("one bench-server -n %d serves every phase; each N uses a fresh client; "+
		"the RSS baseline comes from a separate bench-server -n 0", maxN)
	fail := func(what string, err error) {
		rep.Errors = append(rep.Errors, what+": "+err.Error())
		progress("%s failed: %v", what, err)
	}

	// Baseline memory: the same database without the ai PVs.
	progress("starting bench-server -n 0 for the memory baseline")
	base, err := startServer(ctx, o.serverPath, 0)
	if err != nil {
		return nil, err
	}
	err = base.waitReady(ctx)
	if err == nil {
		rep.Memory.BaselineRSS, err = settledRSS(ctx, base.pid())
	}
	base.stop()
	if err != nil {
		return nil, err
	}

	progress("starting bench-server -n %d", maxN)
	srv, err := startServer(ctx, o.serverPath, maxN)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if err := srv.waitReady(ctx); err != nil {
		return nil, err
	}
	if rep.Memory.RSS, err = settledRSS(ctx, srv.pid()); err != nil {
		return nil, err
	}
	rep.Memory.PerPV = float64(rep.Memory.RSS-rep.Memory.BaselineRSS) / float64(maxN)

	progress("memory per client: %d idle clients with %d channels each", o.clients, o.clientPVs)
	rep.Memory.Clients, rep.Memory.ChannelsPerClient = o.clients, o.clientPVs
	if rep.Memory.PerClient, err = measureClients(ctx, srv.target(), o.clients, o.clientPVs); err != nil {
		fail("memory per client", err)
	}

	for _, n := range o.ns {
		if ctx.Err() != nil {
			break
		}
		progress("connect %d PVs, then %d rounds of %d gets in flight", n, o.rounds, n)
		r, err := measureConnect(ctx, srv.target(), n, o.rounds)
		rep.Connect = append(rep.Connect, r)
		if err != nil {
			fail(fmt.Sprintf("connect/get N=%d", n), err)
		}
	}

	if ctx.Err() == nil {
		progress("monitors: 1,000 counters for %v", o.duration)
		if r, err := measureMonitors(ctx, srv.target(), o.duration); err != nil {
			fail("monitors", err)
		} else {
			rep.Monitor = &r
		}
	}
	if ctx.Err() == nil {
		progress("puts: up to %d sequential put-callbacks to BENCH:ao", o.puts)
		if r, err := measurePuts(ctx, srv.target(), o.puts, o.duration); err != nil {
			fail("puts", err)
		} else {
			rep.Put = &r
		}
	}
	if ctx.Err() == nil {
		progress("waveform: %d gets of BENCH:wf per type", o.wfGets)
		r, err := measureWaveform(ctx, srv.target(), o.wfGets)
		rep.Waveform = r
		if err != nil {
			fail("waveform", err)
		}
	}
	rep.Memory.FinalRSS, _ = loadstat.RSS(srv.pid())
	rep.Memory.PeakRSS, _ = loadstat.PeakRSS(srv.pid())
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("caload: stopped: %w", err)
	}
	return rep, nil
}
