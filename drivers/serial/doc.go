// Package serial is the driver of ASCII command/response instruments
// (power supplies, gauges, temperature controllers, multimeters) on an
// RS-232/RS-485 port through go.bug.st/serial, or on the raw TCP socket of
// a serial-device server. It speaks StreamDevice's language: protocols
// made of an output and an expected input with format conversions,
// terminators, and the timeouts ReplyTimeout, ReadTimeout, WriteTimeout
// and LockTimeout with StreamDevice's defaults.
//
// A device of the cabridge daemon's config file (configs/serial-psu.yaml
// is the full example):
//
//	devices:
//	  - name: psu
//	    driver: serial
//	    config:
//	      port: /dev/ttyUSB0          # or usb_serial: "A12345", or tcp: "10.0.0.7:4001"
//	      baud: 9600
//	      in_terminator: CRLF
//	      out_terminator: CRLF
//	      reply_timeout: 500ms
//	      init:                       # on every (re)connect
//	        - {out: "*IDN?", in: "ACME,PSU%*s"}
//	      protocols:
//	        meas: {out: "MEAS?", in: "V=%f;I=%f"}                   # two PVs, one query
//	        volt: {out: "VOLT?", in: "%f", write: {out: "VOLT %.3f"}}
//	        mode: {out: "MODE?", in: "%{OFF|ON}", write: {out: "MODE %{OFF|ON}", in: "OK"}}
//	        trip: {in: "TRIP %d"}                                   # sent unasked: I/O Intr
//	pvs:
//	  - {name: "PSU:V", scan: 1s, binding: {device: psu, address: meas}}
//	  - {name: "PSU:I", scan: 1s, binding: {device: psu, address: meas, options: {field: "1"}}}
//	  - {name: "PSU:VSET", direction: output, binding: {device: psu, address: volt}}
//	  - {name: "PSU:MODE", direction: output, type: enum, enum_strings: ["OFF", "ON"], binding: {device: psu, address: mode}}
//	  - {name: "PSU:TRIP", scan: "I/O Intr", binding: {device: psu, address: trip}}
//	  - {name: "PSU:T", binding: {device: psu, address: "TEMP?", options: {in: "T=%f C"}}}  # inline protocol
//
// # Protocols
//
// A binding's address names a protocol of the device (or, with the option
// "in", is itself the query of an inline protocol: the option "write",
// and "write_in" for its reply, make it writable). A protocol's out is
// sent and its in parsed to read; its write formats the value into an
// output and, when it has an in, waits for that reply. Reading several
// points whose protocol is the same query sends the query once; the
// option "field" picks a value field of the reply (from 0). A protocol
// with an in and no out describes lines the instrument sends unasked: an
// "I/O Intr" PV gets every such line, and a scanned one waits for the
// next.
//
// Formats (see Format) take %f %e %g, %d %i %u, %x %o, %s %c, %[set], enums
// %{A|B|C}, regexps %/re(gex)/ (input), %* to skip a field and
// checksums %<sum8>, %<xor8>, %<lrc>, %<crc16-modbus>, %<crc-ccitt>
// (raw bytes; hex text with the 0 flag: %0<sum8>) appended on output and
// verified on input. A format with a single conversion and a binding with
// len > 1 is an array whose elements are separated by the separator.
//
// # Transactions and failures
//
// One transaction runs at a time on a port: the output, then the wait for
// the reply, each bounded by its own deadline (the call's context and
// the protocol's timeouts; go.bug.st/serial reports a read timeout as
// (0, nil), so the driver reads in ReadTimeout slices and tracks the
// deadlines itself). Writes go ahead of reads waiting for the port.
// Input is split into lines by the in_terminator; a line that comes
// outside a transaction, or that the transaction's reply format does not
// match but an input-only protocol does, is offered to every Subscribe
// call of the port. Input that stops without its terminator for
// ReadTimeout is dropped as a partial line, and so is, as StreamDevice
// does, the incomplete input pending when a transaction sends its output.
// On a port that carries
// unsolicited lines (a device on it has an input-only protocol, or a
// Subscribe call runs), a line that matches neither the reply nor any
// unsolicited format is skipped, and the transaction fails with that
// mismatch only if no matching reply comes within ReplyTimeout; on other
// ports it fails at once, as with StreamDevice. A reply that comes after its
// transaction timed out is dropped, unless it arrives once the next
// transaction sent its output: it is then taken for that reply, as with
// StreamDevice; formats that tell replies apart ("V=%f" rather than
// "%f") turn that into a mismatch rather than a wrong value.
//
// A reply that does not come within ReplyTimeout fails its points with an
// error wrapping drivers.ErrTimeout (TIMEOUT alarm); a reply that does
// not match fails them with drivers.ErrMismatch (CALC alarm), after the
// protocol's retries; the offending bytes are logged escaped, at most
// once per log_interval per point, and the next good reply clears the
// alarm. A port that vanishes (a USB adapter unplugged, a TCP reset)
// fails the calls with drivers.ErrDisconnected, and the mapping layer
// opens the device again with a back-off; every Open runs the init
// sequence.
//
// Devices built by one Driver share the ports they name: several
// instruments on one RS-485 bus, or several device entries for one
// instrument, use one connection and take turns on it, writes first. The
// daemon registers Driver.New as the "serial" factory; the package-level
// New builds devices that share nothing.
//
// Ports lists the host's serial ports with their USB vendor, product and
// serial number; a device names its adapter by serial number with
// usb_serial, which survives re-plugging into another socket.
package serial
