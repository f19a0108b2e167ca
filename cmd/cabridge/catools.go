package main

import (
	"context"
	"fmt"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/catools"
)

// The CA tools: get, put, monitor and info work like EPICS base's caget,
// caput, camonitor and cainfo (same options, output and EPICS_CA_*
// variables), for images that have no EPICS base.

// toolErr maps a catools command-line error to a usage error (exit 2);
// other errors, already reported on stderr, exit 1.
func toolErr(err error) error {
	if catools.UsageError(err) {
		return &usageError{msg: err.Error()}
	}
	return err
}

// caConfig returns the CA client configuration of the environment.
func (a *app) caConfig() (client.Config, error) {
	cfg, err := client.ConfigFromEnv(a.lookupEnv)
	if err != nil {
		return cfg, fmt.Errorf("environment: %w", err)
	}
	return cfg, nil
}

// runGet is "cabridge get", caget.
func runGet(ctx context.Context, a *app, args []string) error {
	o, names, err := catools.ParseGet(args, a.lookupEnv, a.stderr)
	if err != nil {
		return toolErr(err)
	}
	cfg, err := a.caConfig()
	if err != nil {
		return err
	}
	return toolErr(catools.Get(ctx, cfg, names, o, a.stdout, a.stderr))
}

// runPut is "cabridge put", caput.
func runPut(ctx context.Context, a *app, args []string) error {
	o, name, values, err := catools.ParsePut(args, a.lookupEnv, a.stderr)
	if err != nil {
		return toolErr(err)
	}
	cfg, err := a.caConfig()
	if err != nil {
		return err
	}
	return toolErr(catools.Put(ctx, cfg, name, values, o, a.stdout, a.stderr))
}

// runMonitor is "cabridge monitor", camonitor: it runs until ctx ends.
func runMonitor(ctx context.Context, a *app, args []string) error {
	o, names, err := catools.ParseMonitor(args, a.lookupEnv, a.stderr)
	if err != nil {
		return toolErr(err)
	}
	cfg, err := a.caConfig()
	if err != nil {
		return err
	}
	return toolErr(catools.Monitor(ctx, cfg, names, o, a.stdout, a.stderr))
}

// runInfo is "cabridge info", cainfo.
func runInfo(ctx context.Context, a *app, args []string) error {
	o, names, err := catools.ParseInfo(args, a.lookupEnv, a.stderr)
	if err != nil {
		return toolErr(err)
	}
	cfg, err := a.caConfig()
	if err != nil {
		return err
	}
	return toolErr(catools.Info(ctx, cfg, names, o, a.stdout, a.stderr))
}
