package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/cabridge/cabridge/cmd/cabridge/internal/conf"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/modbus"
	"github.com/cabridge/cabridge/drivers/mqtt"
	"github.com/cabridge/cabridge/drivers/serial"
	"github.com/cabridge/cabridge/drivers/sim"
	"github.com/cabridge/cabridge/mapping"
)

// daemonConfig is a cabridge configuration file: the daemon's own
// settings and the mapping (macros, devices, PVs) at the top level.
type daemonConfig struct {
	// Log sets the log level and format.
	Log logConfig `json:"log"`
	// ACF is an EPICS access security file applied to every PV.
	ACF string `json:"acf"`
	// Autosave is a file that the writable PVs are saved to and restored
	// from at start.
	Autosave string `json:"autosave"`
	// StatusPrefix, if set, serves the bridge's status PVs under this
	// prefix: the iocStats-named ones of the process (UPTIME, HEARTBEAT,
	// CA_CLNT_CNT, ...) and VERSION, DEVICES, DEVICES_OK, RELOADS.
	StatusPrefix string `json:"status_prefix"`
	// Metrics configures the HTTP endpoints for Prometheus and probes.
	Metrics metricsConfig `json:"metrics"`

	mapping.Config
}

// metricsConfig is the metrics section.
type metricsConfig struct {
	// Listen is the address of the HTTP listener serving /metrics,
	// /healthz and /readyz ("127.0.0.1:9102", ":9102"); empty turns it
	// off (the default).
	Listen string `json:"listen"`
}

// logConfig is the log section.
type logConfig struct {
	// Level is debug, info (the default), warn or error.
	Level string `json:"level"`
	// Format is text (the default) or json.
	Format string `json:"format"`
}

// envKeys are the settings CABRIDGE_ environment variables may override
// even when the file does not set them (CABRIDGE_LOG_LEVEL=debug).
//
//nolint:gochecknoglobals // read-only list
var envKeys = []string{"log.level", "log.format", "acf", "autosave", "status_prefix", "metrics.listen", "macros"}

// level parses the log level; ok is false for an unknown one.
func (l logConfig) level() (slog.Level, bool) {
	switch strings.ToLower(l.Level) {
	case "", "info":
		return slog.LevelInfo, true
	case "debug":
		return slog.LevelDebug, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// driverSet is the daemon's driver table: every driver it links in, by
// the name a device's driver key uses. The Modbus driver shares one
// connection between the devices (unit ids) behind one gateway.
type driverSet struct {
	reg    drivers.Registry
	modbus *modbus.Driver
	serial *serial.Driver
}

// close releases what the drivers share, once every device is closed.
func (ds *driverSet) close() { _ = ds.modbus.Close() }

// newDriverSet fills the registry explicitly: no driver registers itself.
// log receives the drivers' own logs (shared connections).
func newDriverSet(log *slog.Logger) (*driverSet, error) {
	ds := &driverSet{modbus: modbus.NewDriver(log), serial: serial.NewDriver(log)}
	for _, d := range []struct {
		name string
		f    drivers.Factory
	}{
		{"sim", sim.New},
		{"modbus", ds.modbus.New},
		{"serial", ds.serial.New},
		{"mqtt", mqtt.New},
	} {
		if err := ds.reg.Register(d.name, d.f); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// loaded is a configuration file with its devices constructed (no I/O).
type loaded struct {
	file *conf.File
	cfg  daemonConfig
	devs map[string]drivers.Device
}

// close closes the devices.
func (l *loaded) close() {
	for _, d := range l.devs {
		_ = d.Close()
	}
}

// loadConfig reads and checks the file at path: strict decoding, every
// device's own section through its driver, and the mapping against the
// devices. It returns every problem found, each naming the file, line and
// key path; on success the caller closes the devices.
func loadConfig(path string, ds *driverSet, log *slog.Logger) (*loaded, error) {
	f, err := conf.Load(path, envKeys)
	if err != nil {
		return nil, err
	}
	l := &loaded{file: f, devs: map[string]drivers.Device{}}
	// Decoding problems do not stop the checks: the rest of the file is
	// checked too, leaving out what sits under a key already reported.
	decodeErrs := flatten(f.Decode("", &l.cfg))
	var errs []error
	if _, ok := l.cfg.Log.level(); !ok {
		errs = append(errs, f.At("log.level", fmt.Sprintf("unknown level %q (want debug, info, warn or error)", l.cfg.Log.Level)))
	}
	if fm := strings.ToLower(l.cfg.Log.Format); fm != "" && fm != "text" && fm != "json" {
		errs = append(errs, f.At("log.format", fmt.Sprintf("unknown format %q (want text or json)", l.cfg.Log.Format)))
	}
	for i, dc := range l.cfg.Devices {
		if dc.Name == "" || dc.Driver == "" || l.devs[dc.Name] != nil {
			continue // mapping's Validate reports these
		}
		entry := fmt.Sprintf("devices[%d]", i)
		section := f.Value(entry + ".config")
		dev, err := ds.reg.New(dc.Driver, drivers.Params{
			Name:   dc.Name,
			Logger: log, // drivers name the device in every line
			Decode: func(into any) error {
				if section == nil {
					section = map[string]any{}
				}
				return f.DecodeValue(entry+".config", section, into)
			},
		})
		if err != nil {
			errs = append(errs, deviceErrors(f, entry, dc, err)...)
			continue
		}
		l.devs[dc.Name] = dev
	}
	// With a status prefix, the devices' health PVs default to it too,
	// so that all of the bridge's own PVs share one prefix.
	if l.cfg.StatusPrefix != "" {
		for i := range l.cfg.Devices {
			if dc := &l.cfg.Devices[i]; dc.HealthPrefix == "" && dc.Name != "" {
				dc.HealthPrefix = l.cfg.StatusPrefix + dc.Name + ":"
			}
		}
	}
	origin, xerrs := expandTemplates(f, &l.cfg.Config)
	errs = append(errs, xerrs...)
	err = l.cfg.Validate(l.devs)
	for _, e := range flatten(err) {
		var fe *mapping.FieldError
		if errors.As(e, &fe) {
			// Point at the file's entry, which a template may have
			// expanded into several.
			if i, ok := strings.CutPrefix(fe.Entry, "pvs["); ok {
				if n, err := strconv.Atoi(strings.TrimSuffix(i, "]")); err == nil && n < len(origin) {
					fe.Entry = fmt.Sprintf("pvs[%d]", origin[n])
				}
			}
			errs = append(errs, &conf.Error{File: f.Path, Line: f.Line(fe.Path()), Path: fe.Path(), Msg: fe.Error()})
		} else {
			errs = append(errs, &conf.Error{File: f.Path, Msg: e.Error()})
		}
	}
	if len(decodeErrs) > 0 || len(errs) > 0 {
		l.close()
		return nil, errors.Join(append(decodeErrs, dropShadowed(decodeErrs, errs)...)...)
	}
	return l, nil
}

// expandTemplates replaces each PV entry whose binding has the option
// "expand" by the PVs it stands for (mqtt.ExpandPVs: names built from
// topic levels), and returns for each resulting PV the index of its
// entry in the file.
func expandTemplates(f *conf.File, c *mapping.Config) (origin []int, errs []error) {
	var out []mapping.PVConfig
	for i, pv := range c.PVs {
		xs, err := mqtt.ExpandPVs([]mapping.PVConfig{pv})
		if err != nil {
			p := fmt.Sprintf("pvs[%d].binding.options.%s", i, mqtt.ExpandOption)
			msg := strings.Replace(err.Error(), "pvs[0]", fmt.Sprintf("pvs[%d]", i), 1)
			errs = append(errs, &conf.Error{File: f.Path, Line: f.Line(p), Path: p, Msg: msg})
			xs = []mapping.PVConfig{pv}
		}
		for range xs {
			origin = append(origin, i)
		}
		out = append(out, xs...)
	}
	c.PVs = out
	return origin, errs
}

// dropShadowed returns the errors of errs whose key path is not under,
// equal to, or above the path of a decoding error: a key that failed to
// decode is absent from the config, and the checks after decoding would
// report it, or the object holding it, again (as missing, say).
func dropShadowed(decodeErrs, errs []error) []error {
	var paths []string
	for _, e := range decodeErrs {
		var ce *conf.Error
		if errors.As(e, &ce) && ce.Path != "" {
			paths = append(paths, ce.Path)
		}
	}
	var out []error
	for _, e := range errs {
		var ce *conf.Error
		if errors.As(e, &ce) && ce.Path != "" &&
			slices.ContainsFunc(paths, func(p string) bool { return underPath(ce.Path, p) || underPath(p, ce.Path) }) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// underPath reports whether key path p is q or lies under it.
func underPath(p, q string) bool {
	return p == q || strings.HasPrefix(p, q+".") || strings.HasPrefix(p, q+"[")
}

// deviceErrors turns a driver factory's error into file errors: strict
// decoding errors are already *conf.Error; the driver's ConfigErrors get
// the device's key path.
func deviceErrors(f *conf.File, entry string, dc mapping.DeviceConfig, err error) []error {
	head := fmt.Sprintf("%s %q", entry, dc.Name)
	if errors.Is(err, drivers.ErrUnknownDriver) {
		p := entry + ".driver"
		return []error{&conf.Error{File: f.Path, Line: f.Line(p), Path: p, Msg: fmt.Sprintf("%s: driver: %v", head, err)}}
	}
	var out []error
	for _, e := range flatten(err) {
		var ce *drivers.ConfigError
		var fe *conf.Error
		switch {
		case errors.As(e, &fe):
			out = append(out, fe)
		case errors.As(e, &ce):
			p := entry + ".config." + ce.Path
			out = append(out, &conf.Error{File: f.Path, Line: f.Line(p), Path: p, Msg: fmt.Sprintf("%s: config.%v", head, ce)})
		default:
			out = append(out, &conf.Error{File: f.Path, Line: f.Line(entry), Path: entry, Msg: fmt.Sprintf("%s: %v", head, e)})
		}
	}
	return out
}

// flatten returns the leaves of an error tree built with errors.Join and
// %w: the errors that join nothing further. A wrapped join contributes
// its leaves; a plain wrapped error is a leaf itself.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(interface{ Unwrap() []error }); ok {
			return flatten(e)
		}
	}
	return []error{err}
}
