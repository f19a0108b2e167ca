// Package iocstats serves status PVs about the IOC process itself, like
// the EPICS iocStats module (iocAdmin): uptime, a 1 Hz heartbeat, the
// number of CA clients and channels, process ID, memory and CPU use, host
// name and versions.
//
//	srv := &ca.Server{Directory: m}
//	st := iocstats.New("IOC:", srv.Stats)
//	if err := st.AddTo(m); err != nil { ... }
//	var wg sync.WaitGroup
//	wg.Go(func() { st.Run(ctx) }) // updates the PVs once a second until ctx is done
//	...
//	cancel()
//	wg.Wait()
//
// PV names are the prefix followed by the iocStats names (see the name
// constants): with prefix "IOC:", IOC:UPTIME, IOC:HEARTBEAT,
// IOC:CA_CLNT_CNT and so on, as iocStats' $(IOCNAME):UPTIME. Numeric PVs
// are DBR_DOUBLE, as iocStats' ai records, with the same units, precision,
// display range and HIGH/HIHI alarm limits (MINOR/MAJOR); the alarm is
// computed on each update. A value whose source is not available on the
// system (/proc on other systems than Linux) keeps its last value with a
// READ/INVALID alarm.
//
// Memory and system CPU load come from /proc (self/status VmRSS,
// meminfo MemAvailable and MemTotal, stat); without /proc, MEM_USED is the
// memory the Go runtime has obtained from the system. IOC_CPU_LOAD is the
// process's user and system CPU time (getrusage) over the time since the
// previous update, in percent of one core, so a busy process on several
// cores can exceed 100.
package iocstats
