// Command thermometer is a simulated thermometer IOC: a scan task updates
// $(P)TEMP every period, and its alarm follows the HIHI/HIGH/LOW/LOLO
// limits. $(P)PERIOD changes the scan period at run time.
//
//	thermometer --prefix LAB:THERMO: --macro "PERIOD=0.5"
package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
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

// run parses args, builds the thermometer and serves it until ctx is
// done. listening, if not nil, gets the server once it listens.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer, listening func(*ca.Server)) error {
	cmd := ioc.Command{Name: "thermometer", Prefix: "THERMO:", Lookup: lookup, Stdout: stdout, Stderr: stderr, Listening: listening}
	return cmd.Main(ctx, args, func(g *ioc.Group, macros macro.Set) error {
		period := time.Second
		if s, ok := macros["PERIOD"]; ok {
			sec, err := strconv.ParseFloat(s, 64)
			if err != nil || sec <= 0 {
				return fmt.Errorf("thermometer: PERIOD=%q: not a positive number of seconds", s)
			}
			period = time.Duration(sec * float64(time.Second))
		}
		newThermometer(g, period)
		return nil
	})
}

// thermoLimits returns the thermometer's display and alarm limits in
// degrees C.
func thermoLimits() dbr.Limits {
	return dbr.Limits{DisplayHigh: 50, DisplayLow: 0, AlarmHigh: 35, WarningHigh: 30, WarningLow: 10, AlarmLow: 5}
}

// newThermometer declares the thermometer's PVs in g: TEMP (read-only,
// scanned), SIM:SLOPE (the simulated change per scan) and PERIOD (the scan
// period in seconds).
func newThermometer(g *ioc.Group, period time.Duration) {
	limits := thermoLimits()
	slope := ioc.Double(g, "SIM:SLOPE", ioc.Spec[float64]{Value: 1, Units: "C", Precision: 2,
		Doc: "simulated change per scan"})
	var task *ioc.ScanTask
	ioc.Double(g, "TEMP", ioc.Spec[float64]{Value: 20, ReadOnly: true, Units: "C", Precision: 1, Limits: limits,
		Doc: "temperature",
		Scan: ioc.Scan[float64]{
			ScanOptions: ioc.ScanOptions{Period: period, SubtractElapsed: true},
			Func: func(_ context.Context, pv *ioc.PV[float64]) error {
				v := pv.Value() + slope.Value()
				a := alarmOf(v, limits)
				return pv.Post(ca.Post[float64]{Values: []float64{v}, Alarm: &a})
			},
		}})
	task = g.Tasks()[0]
	ioc.Double(g, "PERIOD", ioc.Spec[float64]{Value: period.Seconds(), Units: "s", Precision: 3,
		Doc: "scan period",
		Put: func(_ context.Context, _ *ioc.PV[float64], v float64) (float64, error) {
			if !(v >= 0.001) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("thermometer: period %v s out of range", v)
			}
			task.SetPeriod(time.Duration(v * float64(time.Second)))
			return v, nil
		}})
}

// alarmOf computes the alarm of v against the alarm limits, as an ai
// record with the usual severities (MAJOR outside HIHI/LOLO, MINOR outside
// HIGH/LOW) does without hysteresis.
func alarmOf(v float64, l dbr.Limits) dbr.Alarm {
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
