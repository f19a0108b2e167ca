"""Moves the motor argv[1] (its prefix, e.g. MOTOR:) with libca: puts
argv[2] to VELO, then argv[3] to POS with a put callback (wait=True),
timing that put, then reads POS, POS_RBV and DMOV. Prints one JSON line:
{"put": ret, "elapsed": seconds, "pos": v, "rbv": v, "dmov": v}."""

import json
import sys
import time

import epics

m = sys.argv[1]
pvs = {n: epics.PV(m + n, auto_monitor=False) for n in ("VELO", "POS", "POS_RBV", "DMOV")}
for pv in pvs.values():
    if not pv.wait_for_connection(timeout=10):
        sys.exit("not connected: " + pv.pvname)
pvs["VELO"].put(float(sys.argv[2]), wait=True, timeout=10)
t0 = time.monotonic()
ret = pvs["POS"].put(float(sys.argv[3]), wait=True, timeout=10)
elapsed = time.monotonic() - t0
print(json.dumps({
    "put": ret,
    "elapsed": elapsed,
    "pos": pvs["POS"].get(use_monitor=False),
    "rbv": pvs["POS_RBV"].get(use_monitor=False),
    "dmov": pvs["DMOV"].get(use_monitor=False),
}), flush=True)
