// Command modbusbench measures cabridge bridging a Modbus TCP PLC: 1,000
// points scattered over the holding registers of an in-process
// modbustest server, mapped to 1,000 PVs scanned at 10 Hz by a
// `cabridge run` child process. It reports the Modbus requests per poll
// cycle next to the minimum the driver's planner allows for the layout
// (125 registers per read), the bridge's CPU use and RSS, and the latency
// from a register change on the server to the monitor update at a CA
// client.
//
//	make build && go run ./bench/modbusbench -server bin/cabridge
//
// Everything runs on 127.0.0.1: the Modbus server on a free port, the
// bridge's CA server on free non-default ports. The bridge is stopped
// with SIGTERM (then killed) when modbusbench exits or is interrupted,
// and the generated configuration is removed. Linux only: CPU and memory
// are read from /proc.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cabridge/cabridge/bench/internal/loadstat"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/drivers/modbus/modbustest"
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
	serverPath    string
	points        int
	space         int
	gap           int
	scan          time.Duration
	window        time.Duration
	churn         time.Duration
	samples       int
	sampleTimeout time.Duration
	requestTmo    time.Duration
	seed          uint64
	json          bool
	timeout       time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("modbusbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.serverPath, "server", "bin/cabridge", "path of the cabridge binary")
	fs.IntVar(&o.points, "points", 1000, "points (PVs) scattered over the holding registers")
	fs.IntVar(&o.space, "space", 65536, "holding registers 0..space-1 the points are scattered over")
	fs.IntVar(&o.gap, "gap", 10, "max_gap of the device: unmapped registers a read may span")
	fs.DurationVar(&o.scan, "scan", 100*time.Millisecond, "scan period of every PV")
	fs.DurationVar(&o.window, "window", 10*time.Second, "window over which requests and CPU are measured with static values")
	fs.DurationVar(&o.churn, "churn", 10*time.Second, "second window in which every register changes at every poll (0: skip)")
	fs.IntVar(&o.samples, "samples", 300, fmt.Sprintf("latency samples, one register change each (at most %d)", maxSamples))
	fs.DurationVar(&o.sampleTimeout, "sample-timeout", 2*time.Second, "how long one latency sample waits for its monitor update")
	fs.DurationVar(&o.requestTmo, "request-timeout", 500*time.Millisecond, "Modbus request timeout of the device")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random choice of sampled points and phases")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "upper bound on the whole run")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: modbusbench [flags]\n\nBenchmark of cabridge bridging 1,000 scattered Modbus registers to PVs.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("modbusbench: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.scan <= 0 || o.window <= 0 || o.churn < 0 || o.sampleTimeout <= 0 || o.requestTmo <= 0 || o.timeout <= 0:
		return o, errors.New("modbusbench: -scan, -window, -sample-timeout, -request-timeout and -timeout must be positive, -churn not negative")
	case o.samples < 1 || o.samples > maxSamples:
		return o, fmt.Errorf("modbusbench: -samples %d out of range 1..%d", o.samples, maxSamples)
	}
	return o, nil
}

// Report is everything modbusbench measured.
type Report struct {
	Machine Machine `json:"machine"`
	Layout  struct {
		Points       int            `json:"points"`
		Space        int            `json:"space"`
		Gap          int            `json:"max_gap"`
		Types        map[string]int `json:"types"`
		Registers    int            `json:"mapped_registers"`
		MinRequests  int            `json:"min_requests_per_cycle"`
		RegsPerCycle int            `json:"registers_read_per_cycle"`
		Scan         string         `json:"scan"`
	} `json:"layout"`
	StartRSS int64          `json:"rss_start_bytes"`
	Static   *WindowResult  `json:"static,omitempty"`
	Latency  *LatencyResult `json:"latency,omitempty"`
	Churn    *WindowResult  `json:"churn,omitempty"`
	PeakRSS  int64          `json:"rss_peak_bytes"`
	// BridgeLog is the end of what cabridge logged (errors only: -q).
	BridgeLog string   `json:"bridge_log,omitempty"`
	Errors    []string `json:"errors,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.serverPath); err != nil {
		return fmt.Errorf("modbusbench: server binary: %w (build it with `make build`)", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	progress := func(format string, a ...any) {
		fmt.Fprintf(stderr, "modbusbench: "+format+"\n", a...)
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
	return errors.Join(err, werr)
}

// measure sets up the Modbus server, the configuration, the bridge and
// the client, then runs the phases. It returns a nil report only when
// nothing could be measured.
func measure(ctx context.Context, o options, progress func(string, ...any)) (_ *Report, err error) {
	l, err := scatteredLayout(o.points, o.space, o.gap)
	if err != nil {
		return nil, err
	}
	minReq, regs, err := l.minRequests()
	if err != nil {
		return nil, err
	}
	rep := &Report{Machine: machine()}
	rep.Layout.Points, rep.Layout.Space, rep.Layout.Gap = len(l.points), l.space, l.gap
	rep.Layout.MinRequests, rep.Layout.RegsPerCycle, rep.Layout.Scan = minReq, regs, o.scan.String()
	rep.Layout.Types = map[string]int{}
	for t, n := range l.typeCounts() {
		rep.Layout.Types[t.String()] = n
		rep.Layout.Registers += n * t.registers()
	}
	defer func() { rep.Machine.LoadAfter = loadAvg() }()
	progress("%d points in hr:0..%d (gap %d): the planner's minimum is %d reads of %d registers per cycle",
		len(l.points), l.space-1, l.gap, minReq, regs)

	srv, err := modbustest.Start(modbustest.Options{Units: []byte{unitID}})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	want := make([]float64, len(l.points))
	for i, p := range l.points {
		want[i] = initialValue(i, p.typ)
		setPoint(srv, p, want[i])
	}

	dir, err := os.MkdirTemp("", "modbusbench-")
	if err != nil {
		return nil, fmt.Errorf("modbusbench: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cfgPath := filepath.Join(dir, "modbusbench.yaml")
	f, err := os.Create(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("modbusbench: %w", err)
	}
	err = writeConfig(f, l, configOptions{modbusAddr: srv.Addr(), scan: o.scan.String(), timeout: o.requestTmo.String()})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("modbusbench: write %s: %w", cfgPath, err)
	}
	if err := validateConfig(ctx, o.serverPath, cfgPath, 30*time.Second); err != nil {
		return nil, err
	}

	progress("starting %s run --config %s -q", o.serverPath, cfgPath)
	br, err := startBridge(o.serverPath, cfgPath)
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := br.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	bctx, release := br.whileRunning(ctx)
	defer release()

	c, err := client.New(br.clientConfig())
	if err != nil {
		return nil, fmt.Errorf("modbusbench: client: %w", err)
	}
	defer func() { _ = c.Close() }()
	tr := newTracker(want)
	cctx, ccancel := context.WithTimeout(bctx, 30*time.Second)
	err = subscribeAll(cctx, c, l, tr)
	if err == nil {
		err = waitAllSeen(cctx, tr, 30*time.Second)
	}
	var h *health
	if err == nil {
		h, err = connectHealth(cctx, c)
	}
	ccancel()
	if err != nil {
		return nil, errors.Join(err, br.exitErr())
	}
	rep.StartRSS, _ = loadstat.RSS(br.pid())
	progress("all %d PVs show their registers' values", len(l.points))

	fail := func(what string, err error) {
		rep.Errors = append(rep.Errors, what+": "+err.Error())
		progress("%s failed: %v", what, err)
	}
	progress("window: %v with static values", o.window)
	if r, err := window(bctx, srv, br, h, tr, l, o.window, o.scan, false); err != nil {
		fail("static window", errors.Join(err, br.exitErr()))
	} else {
		rep.Static = &r
	}
	if bctx.Err() == nil {
		progress("latency: %d samples", o.samples)
		rng := rand.New(rand.NewPCG(o.seed, uint64(o.points)))
		r, err := measureLatency(bctx, srv, br, h, tr, l, o.samples, o.scan, o.sampleTimeout, rng, progress)
		if err != nil {
			fail("latency", errors.Join(err, br.exitErr()))
		} else {
			rep.Latency = &r
		}
	}
	if bctx.Err() == nil && o.churn > 0 {
		progress("window: %v with every register changing each cycle", o.churn)
		if r, err := window(bctx, srv, br, h, tr, l, o.churn, o.scan, true); err != nil {
			fail("churn window", errors.Join(err, br.exitErr()))
		} else {
			rep.Churn = &r
		}
	}
	rep.PeakRSS, _ = loadstat.PeakRSS(br.pid())
	rep.BridgeLog = br.output.String()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("modbusbench: stopped: %w", err)
	}
	if len(rep.Errors) > 0 {
		return rep, fmt.Errorf("modbusbench: %d measurement(s) failed", len(rep.Errors))
	}
	return rep, nil
}
