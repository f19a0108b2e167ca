"""Puts float(argv[2]) to argv[1] with epics.caput(wait=True) and prints
{"ret": ..., "elapsed": seconds} as one JSON line. It prints {"connected":
true} first, once the channel is connected."""

import json
import sys
import time

import epics

pv = epics.PV(sys.argv[1])
if not pv.wait_for_connection(timeout=10):
    sys.exit("not connected")
print(json.dumps({"connected": True}), flush=True)
t0 = time.monotonic()
ret = pv.put(float(sys.argv[2]), wait=True, timeout=20)
print(json.dumps({"ret": ret, "elapsed": time.monotonic() - t0}), flush=True)
