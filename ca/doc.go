// Package ca is a Channel Access (CA 4.13) server: the protocol EPICS
// clients such as caget, camonitor, pyepics, Phoebus and the Archiver
// Appliance speak to an IOC. A Go program publishes values as PVs and the
// clients cannot tell it from an IOC.
//
// # A first server
//
// A Server serves the PVs of a Directory; a Map is the usual Directory.
// This program serves one writable double on the EPICS default ports and
// updates it once a second:
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
//		defer stop()
//
//		temp := ca.NewDouble(ca.Options{Units: "degC", Precision: 2}, 21.5)
//		var pvs ca.Map
//		if err := pvs.Add("demo:temp", temp); err != nil {
//			log.Fatal(err)
//		}
//		cfg, err := ca.ConfigFromEnv(nil) // EPICS_CAS_* variables, as an IOC reads them
//		if err != nil {
//			log.Fatal(err)
//		}
//		srv := &ca.Server{Directory: &pvs, Config: cfg, Logger: slog.Default()}
//
//		var wg sync.WaitGroup
//		defer wg.Wait()
//		wg.Go(func() { // a driver publishing new values
//			t := time.NewTicker(time.Second)
//			defer t.Stop()
//			for {
//				select {
//				case <-ctx.Done():
//					return
//				case <-t.C:
//					temp.Set(20 + rand.Float64())
//				}
//			}
//		})
//		if err := srv.ListenAndServe(ctx); !errors.Is(err, ca.ErrServerClosed) {
//			log.Fatal(err)
//		}
//	}
//
// Then, from any host on the subnet: caget demo:temp, camonitor demo:temp,
// caput demo:temp 25.
//
// # What the server does
//
// Listen binds the TCP port and the UDP search port (Config.Port, 5064 by
// default; a busy TCP port is replaced by one the system chooses, which the
// server advertises) on each of Config.Interfaces. Serve then
//
//   - answers UDP name searches for the names the Directory has, batching
//     the replies per request datagram and echoing the client's sequence
//     number, and never answering names it does not have;
//   - answers name searches over TCP (EPICS_CA_NAME_SERVERS clients);
//   - sends beacons to Config.BeaconAddrs (and, with AutoBeaconAddrs, every
//     interface's broadcast address), 20 ms apart at first, doubling up to
//     Config.BeaconPeriod;
//   - serves every client circuit: channels, reads, writes, put-notify,
//     subscriptions filtered by their DBE mask, flow control, echo.
//
// Each circuit has a reader goroutine that decodes and answers requests,
// a writer goroutine that sends replies and subscription updates in as few
// writes as possible, and a put worker that runs PV.Put so that a slow put
// never stalls the circuit (requests on a channel with a put in progress
// wait for it, so each channel sees its requests in order). A PV's
// subscribers never block it: each subscription queues at most four
// updates, replacing the newest when full, and a client that stops reading
// is disconnected after Config.WriteTimeout. A client that breaks the
// protocol is disconnected with a logged reason; the others are not
// affected.
//
// # Writing a PV
//
// The containers NewDouble, NewFloat, NewLong, NewShort, NewByte, NewChar,
// NewEnum and NewString cover the CA types. Anything else can implement
// PV: Native, Access, Snapshot, Put and Subscribe, all safe for concurrent
// use. Snapshot must not block; Put returns when the write is done and its
// error becomes the client's status (see package eca); Subscribe's
// Subscriber must be called for every change, in order, from the goroutine
// that made it.
//
// # Access security
//
// PV.Access gives every client the same rights (read-only PVs). For rules
// by user and host, set Server.AccessRules to an EPICS access security
// file parsed by package access (or Server.LoadAccessFile, also at run
// time) or to an access.RulesFunc written in Go; PVs belong to groups
// through Server.AccessGroup or the AccessGrouper interface. Rights are
// recomputed, and ACCESS_RIGHTS sent again, when the rules or a client's
// host or user name change.
//
// # Higher layers
//
// Package ioc builds IOCs from groups of typed PV specs with hooks and
// scan tasks (caproto's PVGroup), package record serves EPICS record
// fields (NAME.EGU, NAME.HIHI, ...), packages autosave and iocstats add
// save/restore and status PVs.
//
// # Removing PVs
//
// Removing a name from a Map while the server runs disconnects the
// channels created under it (SERVER_DISCONN): clients see the PV
// disconnect and search for it again.
//
// # Tests
//
// Package catest starts a server on 127.0.0.1 with free ports and returns
// the environment that points pyepics or caget at it.
package ca
