// Package ioc is the high-level API for writing a Channel Access IOC in
// Go, the counterpart of caproto's PVGroup and pvproperty.
//
// A Group holds PVs under a prefix with EPICS macros; Double, Long,
// String, Enum, Char and the other declaration functions add a typed PV
// from a Spec (initial value, metadata, put/get/startup/shutdown hooks, a
// scan task). DeclarePair adds a NAME/NAME_RBV pair, AlarmGroup shares an
// alarm between PVs, Group.Scan adds a periodic task, and NewFunction
// and Func0..Func3 expose an RPC-like function as argument, Process,
// Status and Retval PVs (caproto's pvfunction). Flags and Run make a
// command-line IOC:
//
//	fs := flag.NewFlagSet("thermo", flag.ExitOnError)
//	flags := ioc.NewFlags(fs, "THERMO:", "")
//	_ = fs.Parse(os.Args[1:])
//	macros, _ := flags.MacroSet()
//	g := ioc.NewGroup("$(P)", macros)
//	ioc.Double(g, "TEMP", ioc.Spec[float64]{Value: 20, Units: "C", ReadOnly: true})
//	cfg, _ := flags.Config(os.LookupEnv, os.Stdout, os.Stderr)
//	err := ioc.Run(ctx, cfg, g) // until ctx (signal.NotifyContext) is done
//
// Construction never fails on the spot: errors (an unresolved macro, a
// duplicate name, an invalid spec) are collected, each naming the PV, and
// returned by Group.Err, Group.PVs, Start and Run before anything is
// served. See examples/thermometer, examples/motor and examples/rpc.
package ioc
