package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/conf"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/ops"
	"github.com/cabridge/cabridge/mapping"
)

// DefaultConfigPath is where run looks for its configuration when neither
// --config nor CABRIDGE_CONFIG names one (the Docker image's location).
const DefaultConfigPath = "/etc/cabridge/cabridge.yaml"

// configPath returns the config file to use: the flag, else
// CABRIDGE_CONFIG, else DefaultConfigPath.
func (a *app) configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p, ok := a.lookupEnv(conf.EnvPrefix + "_CONFIG"); ok && p != "" {
		return p
	}
	return DefaultConfigPath
}

// configError reports the problems of a configuration file, one per line,
// and counts them.
type configError struct {
	path string
	errs []error
}

func (e *configError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem", e.path, len(e.errs))
	if len(e.errs) != 1 {
		b.WriteString("s")
	}
	for _, err := range e.errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// newConfigError wraps the error of loadConfig, its problems in the
// order of their lines.
func newConfigError(path string, err error) error {
	errs := flatten(err)
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(lineOf(a), lineOf(b)) })
	return &configError{path: path, errs: errs}
}

// lineOf returns the line of a *conf.Error, 0 for other errors.
func lineOf(err error) int {
	var ce *conf.Error
	if errors.As(err, &ce) {
		return ce.Line
	}
	return 0
}

// runValidate is the validate command: it checks configuration files
// without connecting to anything.
func runValidate(_ context.Context, a *app, args []string) error {
	fs := a.newFlagSet("validate", "Checks configuration files without connecting to any device, and reports\n"+
		"every problem with its file, line and key path. Usage: cabridge validate FILE...")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	files := fs.Args()
	if len(files) == 0 {
		return &usageError{msg: "validate: name at least one configuration file"}
	}
	ds, err := newDriverSet(slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	var bad []error
	for _, path := range files {
		l, err := loadConfig(path, ds, slog.New(slog.DiscardHandler))
		if err != nil {
			bad = append(bad, newConfigError(path, err))
			continue
		}
		fmt.Fprintf(a.stdout, "%s: ok (%d devices, %d PVs)\n", path, len(l.cfg.Devices), len(l.cfg.PVs))
		l.close()
	}
	return errors.Join(bad...)
}

// runBridge is the run command: it serves the PVs of a configuration
// file, bridging them to their devices, until ctx is done; a value on
// a.reload (SIGHUP) reloads the file.
func runBridge(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("run", "Serves the PVs of a configuration file and bridges them to their devices.\n"+
		"The file is --config, else $CABRIDGE_CONFIG, else "+DefaultConfigPath+".\n"+
		"Network settings come from the EPICS_CAS_* variables. SIGHUP reloads the file.")
	configFlag := fs.String("config", "", "configuration file (YAML, TOML or JSON)")
	list := fs.Bool("list-pvs", false, "print the PV names, one per line, and exit")
	interfaces := fs.String("interfaces", "", "addresses to serve on (default EPICS_CAS_INTF_ADDR_LIST or all)")
	var lf logFlags
	lf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	path := a.configPath(*configFlag)
	boot := lf.logger(a.stderr)
	ds, err := newDriverSet(boot)
	if err != nil {
		return err
	}
	defer ds.close()
	l, err := loadConfig(path, ds, boot)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", newConfigError(path, err))
	}
	log := l.logger(a.stderr, &lf)
	flags := ioc.Flags{ListPVs: *list, Interfaces: *interfaces, ACF: l.cfg.ACF, Autosave: l.cfg.Autosave, Stats: l.cfg.StatusPrefix}
	icfg, err := flags.Config(a.lookupEnv, a.stdout, a.stderr)
	if err != nil {
		l.close()
		return err
	}
	d := &daemon{path: path, ds: ds, log: log, dir: &ioc.Directory{}}
	g := ioc.NewGroup("", nil)
	br, err := mapping.New(&l.cfg.Config, l.devs, g, mapping.Options{Logger: log})
	if err != nil {
		l.close()
		return fmt.Errorf("refusing to start: %w", newConfigError(path, err))
	}
	groups := []*ioc.Group{g}
	var status *statusPVs
	if l.cfg.StatusPrefix != "" {
		status = newStatusPVs(l.cfg.StatusPrefix, path)
		groups = append(groups, status.group)
	}
	icfg.Logger = log
	icfg.Listening = func(s *ca.Server) {
		d.srv.Store(s)
		if a.onServe != nil {
			a.onServe(s)
		}
	}
	icfg.Directory = d.dir
	if *list {
		defer l.close()
		return ioc.Run(ctx, icfg, groups...)
	}
	log.Info("cabridge: starting", "config", path, "devices", len(l.cfg.Devices), "pvs", len(l.cfg.PVs), "version", version())
	d.start(ctx, l, br)
	defer d.stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // stops the goroutines below before waiting for them
	wg.Go(func() { d.handleReloads(ctx, a.reload, a.onReload) })
	if status != nil {
		wg.Go(func() { status.run(ctx, d) })
	}
	if addr := l.cfg.Metrics.Listen; addr != "" {
		src := d.opsSource()
		h := ops.Handler(ops.NewRegistry(src), src)
		errc := make(chan error, 1)
		wg.Go(func() { errc <- ops.Serve(ctx, addr, h, log, a.onMetrics) })
		defer func() {
			if err := <-errc; err != nil {
				log.Error("cabridge: metrics", "err", err)
			}
		}()
	}
	return ioc.Run(ctx, icfg, groups...)
}

// daemon is the running bridge of the run command and what a reload
// replaces: the loaded configuration with its devices, and the bridge
// serving them into dir.
type daemon struct {
	path string
	ds   *driverSet
	log  *slog.Logger
	dir  *ioc.Directory

	srv      atomic.Pointer[ca.Server]      // once it listens
	bridge   atomic.Pointer[mapping.Bridge] // the running one, for metrics and status
	driverOf atomic.Pointer[map[string]string]
	applied  atomic.Uint64 // reloads applied
	rejected atomic.Uint64 // reloads rejected

	// owned by the goroutine of run, then of handleReloads
	cur    *loaded
	br     *mapping.Bridge
	cancel context.CancelFunc
	done   chan struct{}
}

// opsSource returns what the metrics and probes read.
func (d *daemon) opsSource() ops.Source {
	return ops.Source{
		Version: version(),
		Server: func() (ca.Stats, bool) {
			if s := d.srv.Load(); s != nil {
				return s.Stats(), true
			}
			return ca.Stats{}, false
		},
		Devices: func() []mapping.DeviceStatus { return d.bridge.Load().Status() },
		Drivers: func() map[string]string { return *d.driverOf.Load() },
		Reloads: func() (uint64, uint64) { return d.applied.Load(), d.rejected.Load() },
	}
}

// start runs br over l's devices until stop.
func (d *daemon) start(ctx context.Context, l *loaded, br *mapping.Bridge) {
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = br.Run(bctx) }()
	d.cur, d.br, d.cancel, d.done = l, br, cancel, done
	drv := map[string]string{}
	for _, dc := range l.cfg.Devices {
		drv[dc.Name] = dc.Driver
	}
	d.driverOf.Store(&drv)
	d.bridge.Store(br)
}

// stop stops the bridge and closes the devices.
func (d *daemon) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	<-d.done
	d.cur.close()
	d.cancel = nil
}

// handleReloads reloads the configuration for each signal on sig until
// ctx is done; done, if not nil, is called with the outcome of each
// attempt (tests).
func (d *daemon) handleReloads(ctx context.Context, sig <-chan os.Signal, done func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-sig:
			if !ok {
				return
			}
			err := d.reload(ctx)
			if err == nil {
				d.applied.Add(1)
			} else {
				d.rejected.Add(1)
				d.log.Error("cabridge: reload rejected; the running configuration stays", "config", d.path, "err", err)
			}
			if done != nil {
				done(err)
			}
		}
	}
}

// reload validates the configuration file anew and, if it is valid,
// replaces the running bridge: PVs whose config is unchanged keep their
// clients, devices whose config is unchanged keep their connections,
// removed or changed PVs are dropped (their clients are disconnected) and
// new ones are served. An invalid file changes nothing.
func (d *daemon) reload(ctx context.Context) error {
	l, err := loadConfig(d.path, d.ds, d.log)
	if err != nil {
		return newConfigError(d.path, err)
	}
	if fixed := restartOnly(d.cur.cfg, l.cfg); len(fixed) > 0 {
		d.log.Warn("cabridge: reload: these settings take effect only at a restart", "keys", strings.Join(fixed, ", "))
	}
	// Devices whose config is unchanged keep their connection.
	kept := map[string]bool{}
	for _, nc := range l.cfg.Devices {
		for _, oc := range d.cur.cfg.Devices {
			if nc.Name == oc.Name && reflect.DeepEqual(nc, oc) {
				_ = l.devs[nc.Name].Close()
				l.devs[nc.Name] = d.cur.devs[oc.Name]
				kept[nc.Name] = true
			}
		}
	}
	g := ioc.NewGroup("", nil)
	br, err := mapping.New(&l.cfg.Config, l.devs, g, mapping.Options{Logger: d.log, Previous: d.br})
	if err != nil {
		for name, dev := range l.devs {
			if !kept[name] {
				_ = dev.Close()
			}
		}
		return newConfigError(d.path, err)
	}
	// Stop the old bridge, keeping the devices the new one took over.
	d.cancel()
	<-d.done
	for name, dev := range d.cur.devs {
		if !kept[name] {
			_ = dev.Close()
		}
	}
	removed, added := 0, len(g.Names())
	for _, name := range d.br.Names() {
		if !br.Kept(name) {
			d.dir.Remove(name)
			removed++
		}
	}
	if err := d.dir.Add(g); err != nil {
		d.log.Error("cabridge: reload: some PVs could not be served", "err", err)
	}
	d.start(ctx, l, br)
	d.log.Info("cabridge: configuration reloaded", "config", d.path, "pvs", len(br.Names()),
		"kept", len(br.Names())-added, "removed", removed, "added", added, "devices_kept", len(kept))
	return nil
}

// restartOnly returns the keys of settings that differ between a and b
// and that a reload does not apply.
func restartOnly(a, b daemonConfig) []string {
	var out []string
	for _, c := range []struct {
		key      string
		old, new string
	}{
		{"acf", a.ACF, b.ACF}, {"autosave", a.Autosave, b.Autosave}, {"status_prefix", a.StatusPrefix, b.StatusPrefix},
		{"metrics.listen", a.Metrics.Listen, b.Metrics.Listen},
		{"log.level", a.Log.Level, b.Log.Level}, {"log.format", a.Log.Format, b.Log.Format},
	} {
		if c.old != c.new {
			out = append(out, c.key)
		}
	}
	return out
}

// logger returns the daemon's logger: the file's level and format, with
// -v and -q taking precedence.
func (l *loaded) logger(w io.Writer, lf *logFlags) *slog.Logger {
	level, _ := l.cfg.Log.level() // validated
	switch {
	case lf.quiet:
		level = slog.LevelError
	case lf.verbose:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(l.cfg.Log.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
