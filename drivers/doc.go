// Package drivers is the contract between the mapping layer, which
// serves PVs, and the device drivers that talk to field hardware, in the
// manner of database/sql/driver: one small required interface, Device,
// and optional ones found by type assertion.
//
// One contract serves three kinds of device. A polled device (Modbus) is
// read with Read on the caller's schedule, in one batched round trip per
// call where the protocol allows. A pushed device (MQTT) also implements
// Subscriber and delivers values as they arrive. A command/response
// device with unsolicited input (a serial instrument) does both: Read
// asks, Subscribe delivers what the instrument volunteers.
//
// The lifecycle of a device, step by step:
//
//  1. The daemon fills a Registry with the drivers it links in, by name;
//     there is no registration at init time.
//  2. For each configured device it calls Registry.New, whose Factory
//     decodes the device's config section strictly into the driver's
//     Config (Params.Decode), validates it (Validator: no I/O, every
//     problem reported as a ConfigError) and constructs the Device without
//     I/O or goroutines.
//  3. The mapping layer parses each binding with Device.ParsePoint (no
//     I/O), so a config can be checked completely before anything opens.
//  4. Open (Opener) connects; Read, Write and Subscribe do the work; an
//     error wrapping ErrDisconnected sends the caller back to Open with a
//     back-off.
//  5. Close releases everything, also after a failed Open.
//
// Drivers report failures with the sentinel errors of this package and
// per-point failures in Sample.Err; AlarmFor turns either into the EPICS
// alarm of the PVs concerned (TIMEOUT, COMM, READ or WRITE, INVALID).
// Values cross the contract as raw device values (Bools, Ints, Uints,
// Floats, Strings); scaling and conversion to PV types is the mapping
// layer's job. Writes are applied at most once and never retried
// silently; see Device.Write.
//
// Package drivertest holds the conformance suite every driver runs and an
// in-memory Fake device; package sim is a simulated device.
//
//	var reg drivers.Registry
//	_ = reg.Register("sim", sim.New)
//	dev, err := reg.New("sim", drivers.Params{Name: "sim1", Decode: decode})
//	if err != nil {
//		return err // names the device and every config problem
//	}
//	defer dev.Close()
//	pt, err := dev.ParsePoint(drivers.PointSpec{Address: "temp"})
//	...
//	if o, ok := dev.(drivers.Opener); ok {
//		err = o.Open(ctx)
//	}
//	samples, err := dev.Read(ctx, []drivers.Point{pt})
package drivers
