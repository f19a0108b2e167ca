// Package record describes EPICS records as an IOC serves them over Channel
// Access, as pure data and pure functions: the menus (menuScan,
// menuAlarmSevr, menuAlarmStat, ...), the field tables of the common record
// types (ai, ao, bi, bo, longin, longout, mbbi, mbbo, stringin, stringout,
// waveform) with the DBR type, element count and access an IOC reports for
// each field, the channel-name rules of dbChannel ("REC", "REC.FIELD",
// "REC.FIELD$"), and the record-processing rules a server needs to behave
// like an IOC: limit alarms with hysteresis (checkAlarms), monitor and
// archive deadbands (recGblCheckDeadband), drive-limit clamping and the
// limits reported in DBR_GR/DBR_CTRL metadata.
//
// The package does no I/O, keeps no state and starts no goroutines; all its
// values are immutable and safe for concurrent use. A server resolves a
// channel name like this:
//
//	n, err := record.ParseName("TEMP.DESC$")
//	if err != nil { /* no such channel */ }
//	rt, _ := record.LookupType("ai")
//	ch, err := rt.Resolve(n.Field, n.Dollar) // ch.Type == dbr.Char, ch.Count == 41
package record
