package ioc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/access"
	"github.com/cabridge/cabridge/ca/autosave"
	"github.com/cabridge/cabridge/ca/iocstats"
	"github.com/cabridge/cabridge/ca/macro"
)

// Flags are the command-line options every Go IOC shares (caproto's
// ioc_arg_parser and template_arg_parser). Register them on a FlagSet
// with NewFlags, parse, then build the groups with Prefix and Macros and
// call Run with Config.
type Flags struct {
	// Prefix is the PV name prefix (--prefix).
	Prefix string
	// ListPVs prints the PV names and exits (--list-pvs).
	ListPVs bool
	// Interfaces are the addresses to serve on, separated by spaces or
	// commas (--interfaces, default EPICS_CAS_INTF_ADDR_LIST).
	Interfaces string
	// Macros are "a=1,b=2" macro definitions (--macro).
	Macros string
	// Verbose and Quiet select the log level: debug with -v, warnings
	// and errors only with -q, info otherwise.
	Verbose, Quiet bool
	// ACF is an access security file (--acf) whose rules the server
	// applies; empty means none (every client may do what the PVs allow).
	ACF string
	// Autosave is a save file (--autosave) for the writable PVs: restored
	// at startup, written when they change; empty means none.
	Autosave string
	// Stats is the prefix of the IOC's own status PVs (--stats, package
	// iocstats: UPTIME, HEARTBEAT, CA_CLNT_CNT, IOC_CPU_LOAD, ...); empty
	// means none.
	Stats string
}

// NewFlags registers the IOC flags on fs with the given default prefix
// and macro definitions, and returns where they are stored.
func NewFlags(fs *flag.FlagSet, prefix, macros string) *Flags {
	f := &Flags{}
	fs.StringVar(&f.Prefix, "prefix", prefix, "PV name prefix")
	fs.BoolVar(&f.ListPVs, "list-pvs", false, "print the PV names and exit")
	fs.StringVar(&f.Interfaces, "interfaces", "", "addresses to serve on (default EPICS_CAS_INTF_ADDR_LIST or all)")
	fs.StringVar(&f.Macros, "macro", macros, `macro definitions, as "a=1,b=2"`)
	fs.BoolVar(&f.Verbose, "v", false, "verbose: log debug messages")
	fs.BoolVar(&f.Quiet, "q", false, "quiet: log only warnings and errors")
	fs.StringVar(&f.ACF, "acf", "", "access security file (EPICS ACF) to apply")
	fs.StringVar(&f.Autosave, "autosave", "", "file to save the writable PVs to and restore them from at startup")
	fs.StringVar(&f.Stats, "stats", "", `prefix of the IOC's status PVs (iocStats names, e.g. "IOC1:"); empty for none`)
	return f
}

// MacroSet returns the parsed --macro definitions, with P set to the
// prefix unless --macro defines it.
func (f *Flags) MacroSet() (macro.Set, error) {
	m, err := macro.Parse(f.Macros)
	if err != nil {
		return nil, fmt.Errorf("ioc: --macro %q: %w", f.Macros, err)
	}
	if _, ok := m["P"]; !ok {
		m = m.With(macro.Set{"P": f.Prefix})
	}
	return m, nil
}

// Level returns the log level the flags select.
func (f *Flags) Level() slog.Level {
	switch {
	case f.Verbose:
		return slog.LevelDebug
	case f.Quiet:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// Config returns the Run configuration: the server settings from the
// EPICS_CAS_* variables that lookup returns (os.LookupEnv in a main) with
// --interfaces applied, a text logger on logw at the selected level, the
// access rules of --acf (read here, so that a bad file fails at once),
// the --autosave file, and the PV listing on out if --list-pvs was given.
func (f *Flags) Config(lookup func(string) (string, bool), out, logw io.Writer) (Config, error) {
	sc, err := ca.ConfigFromEnv(lookup)
	if err != nil {
		return Config{}, err
	}
	if f.Interfaces != "" {
		sc.Interfaces = nil
		for _, s := range strings.FieldsFunc(f.Interfaces, func(r rune) bool { return r == ',' || r == ' ' }) {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return Config{}, fmt.Errorf("ioc: --interfaces: %w", err)
			}
			sc.Interfaces = append(sc.Interfaces, a)
		}
	}
	c := Config{Server: sc, Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: f.Level()})),
		Autosave: f.Autosave, StatsPrefix: f.Stats}
	if f.ACF != "" {
		rules, err := access.Load(f.ACF)
		if err != nil {
			return Config{}, fmt.Errorf("ioc: --acf: %w", err)
		}
		c.AccessRules = rules
	}
	if f.ListPVs {
		c.ListPVs = out
	}
	return c, nil
}

// Config configures Run.
type Config struct {
	// Server configures the CA server.
	Server ca.Config
	// Logger receives the server's and the IOC's log; nil discards it.
	Logger *slog.Logger
	// ListPVs, if not nil, makes Run print the PV names to it, one per
	// line, and return without serving.
	ListPVs io.Writer
	// Listening, if not nil, is called with the server once it listens,
	// before the startup hooks run (tests use it to learn the ports).
	Listening func(s *ca.Server)
	// ShutdownTimeout bounds the shutdown (closing circuits, shutdown
	// hooks); 0 means 10 s.
	ShutdownTimeout time.Duration
	// AccessRules, if not nil, are the server's access security rules
	// (ca.Server.AccessRules), e.g. an *access.Config from access.Load.
	AccessRules access.Rules
	// Autosave, if not empty, is the save file of the groups' writable
	// PVs (package autosave): Run restores them from it before serving
	// (failures are logged), and saves them when they change and once
	// more at shutdown.
	Autosave string
	// AutosaveInterval is the minimum time between two saves; 0 means
	// autosave.DefaultMinInterval.
	AutosaveInterval time.Duration
	// Directory, if not nil, is the directory Run serves: it adds the
	// groups to it, and the caller may Add and Remove groups and names
	// while Run serves (a daemon reloading its configuration). Nil means
	// a directory of the groups alone.
	Directory *Directory
	// StatsPrefix, if not empty, adds the IOC's status PVs (package
	// iocstats: uptime, heartbeat, client and channel counts, CPU and
	// memory) under this prefix, updated once a second.
	StatsPrefix string
}

// Run serves the PVs of groups until ctx is done (a main passes a
// signal.NotifyContext for SIGINT and SIGTERM), then shuts down cleanly:
// the clients' circuits are closed (they see the disconnect), the startup
// hooks and scan tasks are stopped, and the shutdown hooks run. Plain PVs
// and records (with their fields) are served through a Directory. It
// returns the groups' construction errors without serving, and nil after
// a clean shutdown.
func Run(ctx context.Context, cfg Config, groups ...*Group) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkGroups(groups); err != nil {
		return err
	}
	dir := cfg.Directory
	if dir == nil {
		dir = &Directory{}
	}
	var names []string
	for _, g := range groups {
		if err := dir.Add(g); err != nil {
			return err
		}
		names = append(names, g.Names()...)
	}
	var srv *ca.Server
	var stats *iocstats.Group
	if cfg.StatsPrefix != "" {
		stats = iocstats.New(cfg.StatsPrefix, func() ca.Stats { return srv.Stats() }, iocstats.WithLogger(log))
		if err := stats.AddTo(&dir.m); err != nil {
			return fmt.Errorf("ioc: status PVs: %w", err)
		}
		names = append(names, stats.Names()...)
	}
	if cfg.ListPVs != nil {
		for _, n := range names {
			if _, err := fmt.Fprintln(cfg.ListPVs, n); err != nil {
				return err
			}
		}
		return nil
	}
	var saver *autosave.Saver
	if cfg.Autosave != "" {
		var err error
		if saver, err = newSaver(cfg, log, dir, names); err != nil {
			return err
		}
		if err := saver.Restore(ctx); err != nil {
			log.Warn("ioc: autosave restore incomplete", "err", err)
		}
	}
	srv = &ca.Server{Directory: dir, Config: cfg.Server, Logger: log, AccessRules: cfg.AccessRules}
	if err := srv.Listen(); err != nil {
		return err
	}
	if cfg.Listening != nil {
		cfg.Listening(srv)
	}
	log.Info("ioc: serving", "pvs", len(names), "tcp", srv.TCPAddr().String())
	r, err := Start(ctx, log, groups...)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	sctx, stopSaver := context.WithCancel(ctx)
	if stats != nil {
		wg.Go(func() { stats.Run(sctx) })
	}
	if saver != nil {
		wg.Go(func() {
			if err := saver.Run(sctx); err != nil {
				log.Error("ioc: autosave", "err", err)
			}
		})
	}
	serr := srv.Serve(ctx)
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	shctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	herr := r.Stop(shctx)
	stopSaver()
	wg.Wait()
	if errors.Is(serr, ca.ErrServerClosed) {
		serr = nil
	}
	log.Info("ioc: stopped")
	return errors.Join(serr, herr)
}

// newSaver returns the autosave.Saver of the writable PVs among names.
func newSaver(cfg Config, log *slog.Logger, dir *Directory, names []string) (*autosave.Saver, error) {
	var entries []autosave.Entry
	for _, n := range names {
		if pv, ok := dir.Lookup(n); ok && pv.Access()&ca.AccessWrite != 0 {
			entries = append(entries, autosave.Entry{Name: n, PV: pv})
		}
	}
	s, err := autosave.New(autosave.Config{Path: cfg.Autosave, PVs: entries, MinInterval: cfg.AutosaveInterval, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("ioc: %w", err)
	}
	return s, nil
}

// Command is a whole command-line IOC: caproto's ioc_arg_parser and run in
// one call. Main parses the IOC flags, builds one group with the prefix
// "$(P)" and the --macro definitions (P is the --prefix), and serves it
// with Run until ctx is done:
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		cmd := ioc.Command{Name: "thermo", Prefix: "THERMO:", Lookup: os.LookupEnv, Stdout: os.Stdout, Stderr: os.Stderr}
//		if err := cmd.Main(ctx, os.Args[1:], declarePVs); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//	}
type Command struct {
	// Name is the command's name in usage messages.
	Name string
	// Prefix is the default of --prefix, and Macros of --macro.
	Prefix, Macros string
	// Lookup reads the EPICS_CAS_* environment (os.LookupEnv in a main).
	Lookup func(string) (string, bool)
	// Stdout receives --list-pvs, Stderr usage and the log; nil discards.
	Stdout, Stderr io.Writer
	// Listening, if not nil, gets the server once it listens (tests).
	Listening func(*ca.Server)
}

// Main parses args, calls build to declare the PVs in the IOC's group
// (with the parsed macros, for values other than names), and runs the IOC
// until ctx is done. Errors from the flags, build, the group or the
// server are returned; flag.ErrHelp for -h.
func (c Command) Main(ctx context.Context, args []string, build func(g *Group, macros macro.Set) error) error {
	stdout, stderr := c.Stdout, c.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := NewFlags(fs, c.Prefix, c.Macros)
	if err := fs.Parse(args); err != nil {
		return err
	}
	macros, err := flags.MacroSet()
	if err != nil {
		return err
	}
	cfg, err := flags.Config(c.Lookup, stdout, stderr)
	if err != nil {
		return err
	}
	cfg.Listening = c.Listening
	g := NewGroup("$(P)", macros)
	if err := build(g, macros); err != nil {
		return err
	}
	return Run(ctx, cfg, g)
}
