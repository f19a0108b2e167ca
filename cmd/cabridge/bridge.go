package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/conf"
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
// file, bridging them to their devices, until ctx is done.
func runBridge(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("run", "Serves the PVs of a configuration file and bridges them to their devices.\n"+
		"The file is --config, else $CABRIDGE_CONFIG, else "+DefaultConfigPath+".\n"+
		"Network settings come from the EPICS_CAS_* variables.")
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
	l, err := loadConfig(path, ds, boot)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", newConfigError(path, err))
	}
	defer l.close()
	log := l.logger(a.stderr, &lf)
	flags := ioc.Flags{ListPVs: *list, Interfaces: *interfaces, ACF: l.cfg.ACF, Autosave: l.cfg.Autosave, Stats: l.cfg.StatsPrefix}
	icfg, err := flags.Config(a.lookupEnv, a.stdout, a.stderr)
	if err != nil {
		return err
	}
	icfg.Logger = log
	icfg.Listening = a.onServe
	g := ioc.NewGroup("", nil)
	br, err := mapping.New(&l.cfg.Config, l.devs, g, mapping.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("refusing to start: %w", newConfigError(path, err))
	}
	if *list {
		return ioc.Run(ctx, icfg, g)
	}
	log.Info("cabridge: starting", "config", path, "devices", len(l.cfg.Devices), "pvs", len(l.cfg.PVs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = br.Run(ctx) })
	err = ioc.Run(ctx, icfg, g)
	cancel()
	wg.Wait()
	return err
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
