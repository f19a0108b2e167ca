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
// On top of these tables, Record serves a value container of package ca
// (*ca.Double, *ca.Enum, ...) as a record: the container is VAL, and the
// other fields are PVs made on first use, whose puts act on the container
// (units, precision, limits, deadbands, state strings, the limit alarm
// computed on every value update, drive limits). Directory serves records
// to a ca.Server under "REC", "REC.FIELD" and "REC.FIELD$":
//
//	temp := ca.NewDouble(ca.Options{Units: "degC"}, 20)
//	r, err := record.New("TEMP", temp, record.Config{Type: "ai",
//		Alarm: &record.LimitAlarm{HIHI: 80, HHSV: dbr.SeverityMajor, HYST: 1}})
//	if err != nil { /* container does not fit the record type */ }
//	var dir record.Directory
//	_ = dir.Add(r)
//	srv := &ca.Server{Directory: &dir}
//
// The tables and functions do no I/O, keep no state and start no
// goroutines; Record and Directory are safe for concurrent use and start no
// goroutines either. A server resolves a channel name like this:
//
//	n, err := record.ParseName("TEMP.DESC$")
//	if err != nil { /* no such channel */ }
//	rt, _ := record.LookupType("ai")
//	ch, err := rt.Resolve(n.Field, n.Dollar) // ch.Type == dbr.Char, ch.Count == 41
package record
