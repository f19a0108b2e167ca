// Command motor is a simulated motor IOC: a CA put to the setpoint
// $(P)POS starts a move at $(P)VELO units per second, the readback
// $(P)POS_RBV ramps towards it, $(P)DMOV is 0 while the motor moves, and
// the put (its put callback: caput -c, or caput -w with pyepics) completes
// only when the move ends. $(P)STOP stops the motor where it is; the
// pending puts then complete.
//
//	motor --prefix LAB:M1:
//	caput LAB:M1:VELO 2
//	caput -c -w 10 LAB:M1:POS 5     # returns after about 2.5 s
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/macro"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		stop()
		os.Exit(1)
	}
}

// run parses args, builds the motor and serves it until ctx is done.
// listening, if not nil, gets the server once it listens.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer, listening func(*ca.Server)) error {
	cmd := ioc.Command{Name: "motor", Prefix: "MOTOR:", Lookup: lookup, Stdout: stdout, Stderr: stderr, Listening: listening}
	return cmd.Main(ctx, args, func(g *ioc.Group, _ macro.Set) error {
		newMotor(g, motorConfig{Velocity: 1, Low: -100, High: 100, Tick: 10 * time.Millisecond})
		return nil
	})
}

// motorConfig holds the initial settings of a simulated motor.
type motorConfig struct {
	Velocity  float64       // units per second
	Low, High float64       // soft limits of the setpoint
	Tick      time.Duration // readback update period while moving
}

// errStopped fails the moves pending when the IOC shuts down.
var errStopped = errors.New("motor: IOC stopped")

// command is a request to the motor's goroutine: a move to target, or a
// stop. done receives the move's result when the motor stops (it has
// room for one value so the goroutine never blocks on it).
type command struct {
	target float64
	stop   bool
	done   chan error
}

// motor is a simulated velocity-limited motor. Its goroutine (a startup
// hook of the group, so it runs and stops with the IOC) owns the motion;
// put hooks send it commands.
type motor struct {
	pos  ioc.Pair[float64]
	velo *ioc.PV[float64]
	dmov *ioc.PV[int16]
	tick time.Duration
	cmds chan command
	quit chan struct{} // closed when the goroutine has returned
}

// newMotor declares the motor's PVs in g: POS and POS_RBV (a pair whose
// readback the motor drives), VELO, DMOV and STOP, and registers its
// goroutine as a startup hook.
func newMotor(g *ioc.Group, cfg motorConfig) *motor {
	m := &motor{tick: cfg.Tick, cmds: make(chan command), quit: make(chan struct{})}
	limits := dbr.Limits{DisplayLow: cfg.Low, DisplayHigh: cfg.High, ControlLow: cfg.Low, ControlHigh: cfg.High}
	m.pos = ioc.DeclarePair(g, "POS", ioc.Double, ioc.Spec[float64]{Units: "mm", Precision: 3, Limits: limits,
		Doc: "position", Put: m.move}, ioc.Device)
	m.velo = ioc.Double(g, "VELO", ioc.Spec[float64]{Value: cfg.Velocity, Units: "mm/s", Precision: 3, Doc: "velocity",
		Put: func(_ context.Context, _ *ioc.PV[float64], v float64) (float64, error) {
			if !(v > 0) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("motor: velocity %v is not positive", v)
			}
			return v, nil
		}})
	m.dmov = ioc.Short(g, "DMOV", ioc.Spec[int16]{Value: 1, ReadOnly: true, Doc: "done moving"})
	ioc.Short(g, "STOP", ioc.Spec[int16]{Doc: "stop the motor",
		Put: func(ctx context.Context, _ *ioc.PV[int16], v int16) (int16, error) {
			if v == 0 {
				return 0, nil
			}
			return 0, m.send(ctx, command{stop: true})
		}})
	g.OnStartup(m.run)
	return m
}

// send gives c to the motor's goroutine.
func (m *motor) send(ctx context.Context, c command) error {
	select {
	case m.cmds <- c:
		return nil
	case <-m.quit:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// move is the setpoint's put hook: it starts a move to v and returns when
// the motor stops, so that the client's put callback completes then.
func (m *motor) move(ctx context.Context, sp *ioc.PV[float64], v float64) (float64, error) {
	l := sp.Snapshot().Meta.Properties.Limits
	if math.IsNaN(v) || v < l.ControlLow || v > l.ControlHigh {
		return 0, fmt.Errorf("motor: target %v outside the limits %v..%v", v, l.ControlLow, l.ControlHigh)
	}
	done := make(chan error, 1)
	if err := m.send(ctx, command{target: v, done: done}); err != nil {
		return 0, err
	}
	if err := sp.Set(v); err != nil { // the setpoint shows the target during the move
		return 0, err
	}
	select {
	case err := <-done:
		return sp.Value(), err // a stop may have changed the setpoint
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run is the motor's goroutine: it moves the readback towards the target
// at the velocity read when the move started, one step per tick, and
// completes the pending moves when it gets there or is stopped.
func (m *motor) run(ctx context.Context) error {
	defer close(m.quit)
	var (
		ticker   *time.Ticker
		tick     <-chan time.Time
		from, to float64
		velo     float64
		started  time.Time
		waiters  []chan error
	)
	rb := m.pos.Readback
	// finish ends the move: DMOV goes back to 1 before the pending puts
	// complete, so a client whose put callback returned reads DMOV 1.
	finish := func(err error) {
		if ticker != nil {
			ticker.Stop()
			ticker, tick = nil, nil
		}
		_ = m.dmov.Set(1)
		for _, w := range waiters {
			w <- err
		}
		waiters = nil
	}
	for {
		select {
		case <-ctx.Done():
			finish(errStopped)
			return nil
		case c := <-m.cmds:
			if c.stop {
				if tick != nil {
					_ = m.pos.Setpoint.Set(rb.Value())
					finish(nil)
				}
				continue
			}
			waiters = append(waiters, c.done)
			from, to, velo, started = rb.Value(), c.target, m.velo.Value(), time.Now()
			if from == to {
				finish(nil)
				continue
			}
			if tick == nil {
				ticker = time.NewTicker(m.tick)
				tick = ticker.C
				_ = m.dmov.Set(0)
			}
		case now := <-tick:
			p := position(from, to, velo, now.Sub(started))
			_ = rb.Set(p)
			if p == to {
				finish(nil)
			}
		}
	}
}

// position returns where a move from from to to at velocity velo is after
// elapsed.
func position(from, to, velo float64, elapsed time.Duration) float64 {
	d := velo * elapsed.Seconds()
	if d >= math.Abs(to-from) {
		return to
	}
	if to < from {
		d = -d
	}
	return from + d
}
