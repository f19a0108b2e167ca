package ioc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
)

// Runner runs the startup hooks, scan tasks and shutdown hooks of a set of
// groups: the part of an IOC's life that is not the CA server. Run uses
// one; tests and programs that run their own ca.Server may use Start and
// Stop directly.
type Runner struct {
	log       *slog.Logger
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	shutdowns []hook
	stopOnce  sync.Once
}

// Start checks the groups for construction errors and duplicate names
// across groups, then starts every startup hook and scan task in its own
// goroutine with a context derived from ctx that Stop cancels. logger may
// be nil (discard). A group's errors are returned without starting
// anything.
func Start(ctx context.Context, logger *slog.Logger, groups ...*Group) (*Runner, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := checkGroups(groups); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	r := &Runner{log: logger, cancel: cancel}
	seen := make(map[*groupRoot]bool)
	for _, g := range groups {
		root := g.root
		if seen[root] {
			continue
		}
		seen[root] = true
		root.mu.Lock()
		startups, scans := root.startups, root.scans
		r.shutdowns = append(r.shutdowns, root.shutdowns...)
		root.mu.Unlock()
		for _, h := range startups {
			r.wg.Go(func() {
				if err := callHook(lctx, h.f); err != nil && lctx.Err() == nil {
					logger.Error("ioc: startup hook failed", "group", h.name, "err", err)
				}
			})
		}
		for _, t := range scans {
			r.wg.Go(func() { t.run(lctx, logger) })
		}
	}
	return r, nil
}

// Stop cancels the startup hooks' and scan tasks' context, waits for them
// to return, then runs the shutdown hooks in declaration order with ctx.
// It returns the shutdown hooks' errors. Only the first call does
// anything.
func (r *Runner) Stop(ctx context.Context) error {
	var errs []error
	r.stopOnce.Do(func() {
		r.cancel()
		r.wg.Wait()
		for _, h := range r.shutdowns {
			if err := callHook(ctx, h.f); err != nil {
				r.log.Error("ioc: shutdown hook failed", "group", h.name, "err", err)
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// callHook calls f, turning a panic into an error with the stack.
func callHook(ctx context.Context, f func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("ioc: hook panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return f(ctx)
}

// checkGroups returns the construction errors of groups and the names
// declared by more than one of them.
func checkGroups(groups []*Group) error {
	var errs []error
	seen := make(map[*groupRoot]bool)
	names := make(map[string]bool)
	for _, g := range groups {
		if seen[g.root] {
			continue
		}
		seen[g.root] = true
		if err := g.Err(); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range g.Names() {
			if names[n] {
				errs = append(errs, fmt.Errorf("ioc: PV %q declared twice", n))
			}
			names[n] = true
		}
	}
	return errors.Join(errs...)
}
