package main

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/mapping"
)

// statusPVs are the bridge's own status PVs (status_prefix), beside the
// iocStats-named PVs of the process that ioc.Run serves under the same
// prefix.
type statusPVs struct {
	group     *ioc.Group
	devices   *ioc.PV[int32]
	devicesOK *ioc.PV[int32]
	reloads   *ioc.PV[int32]
}

// statusPeriod is how often the status PVs are updated.
const statusPeriod = time.Second

// newStatusPVs declares the status PVs under prefix.
func newStatusPVs(prefix, configPath string) *statusPVs {
	g := ioc.NewGroup(prefix, nil)
	ro := func(doc string) ioc.Spec[int32] { return ioc.Spec[int32]{ReadOnly: true, Doc: doc, Record: "longin"} }
	ioc.String(g, "VERSION", ioc.Spec[string]{ReadOnly: true, Value: truncate(version(), dbr.MaxStringSize-1),
		Doc: "cabridge version", Record: "stringin"})
	ioc.Char(g, "CONFIG", ioc.Spec[string]{ReadOnly: true, Value: configPath, MaxLength: 256, Doc: "configuration file"})
	s := &statusPVs{group: g, devices: ioc.Long(g, "DEVICES", ro("configured devices")),
		reloads: ioc.Long(g, "RELOADS", ro("configuration reloads applied"))}
	sp := ro("devices connected and answering")
	sp.Limits = dbr.Limits{AlarmLow: 0.5, WarningLow: math.NaN(), WarningHigh: math.NaN(), AlarmHigh: math.NaN(),
		DisplayLow: math.NaN(), DisplayHigh: math.NaN(), ControlLow: math.NaN(), ControlHigh: math.NaN()}
	s.devicesOK = ioc.Long(g, "DEVICES_OK", sp)
	return s
}

// run updates the status PVs from the daemon until ctx is done.
func (s *statusPVs) run(ctx context.Context, d *daemon) {
	t := time.NewTicker(statusPeriod)
	defer t.Stop()
	for {
		st := d.bridge.Load().Status()
		ok := 0
		for _, dv := range st {
			if dv.State == mapping.StateOK {
				ok++
			}
		}
		_ = s.devices.Set(int32(len(st)))
		_ = s.devicesOK.Set(int32(ok))
		_ = s.reloads.Set(int32(d.applied.Load()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// buildVersion is stamped in by the linker (make build: -X
// main.buildVersion=$(git describe)); empty in plain go builds.
//
//nolint:gochecknoglobals // set at link time, never written at run time
var buildVersion string

// version returns the daemon's version: the stamped one, else the module
// version and the VCS revision from the build information.
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, dirty string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		return fmt.Sprintf("%s (%s%s)", v, rev, dirty)
	}
	return v
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
