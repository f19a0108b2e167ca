// Package mqtt is the MQTT driver: a Device is one broker connection
// (paho.mqtt.golang), its points are topics. Messages on a topic feed
// I/O Intr PVs (Subscriber) and scanned ones (Read returns the last
// message); CA puts publish to a command topic (Write), optionally
// waiting for a confirming message on a readback topic; Export publishes
// any PV of the bridge to the broker. A working configuration:
//
//	devices:
//	  - name: plant
//	    driver: mqtt
//	    config:
//	      broker: tcp://127.0.0.1:1883      # ssl://, ws://, wss:// too
//	      client_id: cabridge-plant
//	      qos: 1
//	      status_topic: cabridge/status      # retained online/offline (last will)
//	      subscriptions: ["plant/+/temp"]    # one subscription feeds every room
//	      stale: 30s                         # INVALID/TIMEOUT after 30 s of silence
//	      export:
//	        pvs: ["PLANT:boiler:TEMP"]
//	        topic: "cabridge/export/{pv}"
//	        min_interval: 1s
//	pvs:
//	  - name: "PLANT:{room}:TEMP"            # one PV per room, see ExpandPVs
//	    egu: degC
//	    prec: 1
//	    scan: I/O Intr
//	    binding:
//	      device: plant
//	      address: "plant/{room}/temp"       # payload {"t": 21.5, "ts": 1767225600, "sev": "MINOR"}
//	      options: {expand: "room=boiler,chiller", path: t, time_path: ts, severity_path: sev}
//	  - name: "PLANT:boiler:SP"
//	    direction: output_readback
//	    scan: I/O Intr
//	    binding:
//	      device: plant
//	      address: plant/boiler/sp           # state topic, plain payload "60"
//	      options: {command: plant/boiler/sp/set, template: '{"sp": {value}}', readback: plant/boiler/sp}
//	  - name: "PLANT:SPECTRUM"
//	    scan: I/O Intr
//	    binding: {device: plant, address: plant/spectrum, len: 256, options: {path: "data.bins"}}
//
// # Points
//
// A binding's address is the state topic filter; wildcards (+, #) make
// one point take the messages of several topics. The payload is plain
// text (a number, a boolean, a string; an array is a JSON array or
// comma-separated) unless the option path is set: then it is JSON and the
// path ("sensors.temp", "values[2]", "$" for the whole document) selects
// the value, and time_path and severity_path may select a timestamp (RFC
// 3339 or Unix seconds/milliseconds → Sample.Time) and an EPICS severity
// (0..3 or its name → Sample.Alarm, status STATE). A point with len > 1
// is an array (a waveform); messages with fewer elements give a shorter
// value. Options command, template, qos and retain make a point writable
// (access: w makes the address the command topic and the point
// write-only); readback waits for confirmation. See the Opt* constants.
//
// A payload that cannot be decoded gives a Sample whose Err wraps
// ErrPayload (READ/INVALID alarm) and a log line with the topic and the
// escaped, truncated payload, at most one per point and Config.LogEvery;
// the next good message clears the alarm.
//
// # Connection
//
// Open connects; paho then reconnects by itself, and every connect
// subscribes again to every topic (a clean session forgets them) before
// the device counts as ready. While the broker is away, Read, Write and
// Subscribe fail with drivers.ErrDisconnected (COMM alarm) and a later
// Open waits for the reconnect. Retained messages give points their
// initial values, also after a reconnect. A subscribed point that gets
// no message within its staleness time gets a Sample whose Err wraps
// drivers.ErrTimeout (TIMEOUT alarm; the mapping layer keeps the value).
//
// # Homie
//
// A point with the option homie on a Homie property topic also
// subscribes to the property's $unit, $name and $format: they travel
// with its samples as drivers.Meta (units, description, and display
// limits from a numeric format), so the PV follows them at run time.
// DiscoverHomie reads the retained Homie descriptions of a broker and
// HomiePVs turns them into PV entries: units, descriptions, enum states,
// numeric ranges (drive and display limits) and settable properties (an
// output_readback PV publishing to PROPERTY/set, confirmed by the state
// topic) become PV metadata. Option enum maps payload strings to enum
// states for any point.
//
// # Sparkplug B
//
// A point with the option "sparkplug" (the metric's name) on a
// spBv1.0/GROUP/+/NODE[/DEVICE] topic decodes Sparkplug B protobuf
// payloads: it finds its metric by name in a BIRTH, learning the alias
// that DATA messages then use, and takes the value by the metric's data
// type. The BIRTH's properties engUnit, engLow, engHigh and description
// travel with the sample as drivers.Meta, which the mapping layer makes
// the PV's units, display limits and DESC where the configuration does
// not set them. Messages about other metrics (or a DEATH) leave the point
// alone. With a command topic (the device's spBv1.0/GROUP/DCMD/NODE/DEVICE
// or the node's NCMD) a put sends a protobuf command setting the metric,
// with the data type of the point's type; a readback topic (its DDATA)
// makes the put wait for the edge node to report the value.
//
// # Export
//
// The Device is a drivers.Exporter: the mapping layer hands it every
// change of the PVs listed in Config.Export, and it publishes them as
// JSON, {"value": 21.5, "severity": "MINOR", "status": "HIGH",
// "timestamp": "2026-01-02T03:04:05Z", "units": "degC"}, at most once
// per PV and min_interval.
package mqtt
