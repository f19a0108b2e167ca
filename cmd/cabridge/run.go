package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/catools"
)

// usageError is a bad command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// app holds what every subcommand needs: the output writers, the
// environment, and a hook tests use to learn the bound addresses.
type app struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	// onServe, when set, is called with the server once it is listening.
	onServe func(*ca.Server)
	// reload delivers the requests to reload the configuration (SIGHUP).
	reload <-chan os.Signal
	// onReload, when set, is called after each reload attempt (tests).
	onReload func(error)
	// onMetrics, when set, gets the metrics listener's address (tests).
	onMetrics func(net.Addr)
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

// commands lists the subcommands in the order usage shows them. The first
// is the default when no subcommand is named.
func commands() []command {
	return []command{
		{"run", "serve the PVs of a configuration file, bridged to their devices (the default)", runBridge},
		{"validate", "check configuration files and report every problem with its line", runValidate},
		{"demo", "serve the demo IOC (one PV of every CA type, no devices)", runDemo},
		{"ports", "list the serial ports with their USB serial numbers", runPorts},
		{"discover-homie", "print a configuration for the Homie devices an MQTT broker describes", runDiscoverHomie},
		{"bench-server", "serve the softIoc benchmark database", runBenchServer},
		{"get", "read PVs and print their values, like caget", runGet},
		{"put", "write a PV and print its old and new value, like caput", runPut},
		{"monitor", "print every update of PVs until interrupted, like camonitor", runMonitor},
		{"info", "print the connection details of PVs, like cainfo", runInfo},
		{"healthcheck", "exit 0 if the local CA server answers (the Docker HEALTHCHECK)", runHealthcheck},
	}
}

// run executes the command line args (without the program name), writing
// to stdout and stderr and reading the process environment; each value
// from reload (SIGHUP) makes the run command reload its configuration.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, reload <-chan os.Signal) error {
	a := &app{stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv, reload: reload}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) error {
	cmds := commands()
	name := cmds[0].name
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		a.usage()
		return nil
	}
	for _, c := range cmds {
		if c.name == name {
			return c.run(ctx, a, args)
		}
	}
	a.usage()
	return &usageError{msg: fmt.Sprintf("unknown command %q", name)}
}

func (a *app) usage() {
	fmt.Fprintf(a.stderr, "usage: cabridge [command] [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(a.stderr, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(a.stderr, "\nRun 'cabridge <command> -h' for the flags of a command.\n")
}

// logFlags are the verbosity flags every subcommand has.
type logFlags struct{ verbose, quiet bool }

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&l.verbose, "v", false, "log debug messages")
	fs.BoolVar(&l.quiet, "q", false, "log errors only")
}

// logger returns a text logger on stderr: info by default, debug with -v,
// errors only with -q.
func (l *logFlags) logger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case l.quiet:
		level = slog.LevelError
	case l.verbose:
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// newFlagSet returns a FlagSet for subcommand name that reports errors
// instead of exiting and prints its usage to stderr.
func (a *app) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("cabridge "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: cabridge %s [flags]\n\n%s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
		if name == commands()[0].name {
			fmt.Fprintln(a.stderr)
			a.usage()
		}
	}
	return fs
}

// parse parses args into fs; -h gives flag.ErrHelp, which exits 0.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// exitCode maps the error run returned to a process exit status, printing
// it to stderr: 0 for success or -h, 2 for usage errors, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, catools.ErrFailed):
		return 1 // the tool has printed what went wrong, as the EPICS tools do
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "cabridge: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "cabridge: %v\n", err)
		return 1
	}
}

// serve serves dir until ctx is done, with the configuration read from
// the environment, then shuts the server down.
func (a *app) serve(ctx context.Context, log *slog.Logger, dir ca.Directory, what string) error {
	cfg, err := ca.ConfigFromEnv(a.lookupEnv)
	if err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	srv := &ca.Server{Directory: dir, Config: cfg, Logger: log}
	if err := srv.Listen(); err != nil {
		return err
	}
	log.Info("serving "+what, "tcp", srv.TCPAddr().String(), "udp", srv.UDPAddr().String())
	if a.onServe != nil {
		a.onServe(srv)
	}
	// Serve runs until Shutdown, so that a signal gets the graceful path:
	// queued replies are flushed and clients see a clean disconnect.
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.WithoutCancel(ctx)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	serr := srv.Shutdown(shutCtx)
	if err := <-errc; err != nil && !errors.Is(err, ca.ErrServerClosed) {
		return err
	}
	if serr != nil {
		return fmt.Errorf("shutdown: %w", serr)
	}
	return nil
}
