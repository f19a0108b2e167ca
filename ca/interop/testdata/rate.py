"""Subscribes to CAHELP_ARGS["pv"] (DBR_TIME of its native type, VALUE mask)
and counts the updates that arrive during CAHELP_ARGS["window"] seconds
measured from the first update; prints {"updates": n, "seconds": s}. The
Go test asserts only a generous minimum."""

import time

import cahelp
from epics import ca

a = cahelp.args()
(chid,) = cahelp.connect([a["pv"]])
t = cahelp.dbr_type("time", ca.field_type(chid))
sub = cahelp.Subscription(chid, t, 1, a.get("count", 1), keep=False)
sub.wait(1, 10.0)
cahelp.emit({"ready": True})
t0 = time.monotonic()
first = sub.n
while time.monotonic() - t0 < a["window"]:
    ca.poll(evt=1e-3, iot=0.01)
n = sub.n - first
cahelp.emit({"updates": n, "seconds": time.monotonic() - t0,
             "last_status": sub.events[-1]["status"] if sub.events else None})
