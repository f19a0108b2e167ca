"""Calls a function of the rpc IOC with libca: argv[1] is the function's
prefix (e.g. RPC:ADD:), argv[2] and argv[3] the values of its arguments A
and B. It puts the arguments, puts 1 to Process with a put callback
(wait=True), then reads Retval and Status, and prints one JSON line:
{"put": ret, "retval": v, "status": s}."""

import json
import sys

import epics

fn = sys.argv[1]
pvs = {n: epics.PV(fn + n, auto_monitor=False) for n in ("A", "B", "Process", "Retval", "Status")}
for pv in pvs.values():
    if not pv.wait_for_connection(timeout=10):
        sys.exit("not connected: " + pv.pvname)
pvs["A"].put(float(sys.argv[2]), wait=True, timeout=10)
pvs["B"].put(float(sys.argv[3]), wait=True, timeout=10)
ret = pvs["Process"].put(1, wait=True, timeout=10)
print(json.dumps({
    "put": ret,
    "retval": pvs["Retval"].get(use_monitor=False),
    "status": pvs["Status"].get(use_monitor=False, as_string=True),
}), flush=True)
