"""Connects CAHELP_ARGS["n"] channels named prefix + "%05d" (or "%06d") from
one client and prints how many connected before the deadline and how long it
took. Channels are created with a connection callback; the script polls
libca until all are up or the deadline passes."""

import time

import cahelp
from epics import ca

a = cahelp.args()
n = a["n"]
fmt = a["prefix"] + a.get("format", "%06d")
up = set()


def on_conn(pvname=None, chid=None, conn=None, **kw):
    if conn:
        up.add(pvname)


t0 = time.monotonic()
chids = [ca.create_channel(fmt % i, connect=False, auto_cb=False, callback=on_conn) for i in range(n)]
created = time.monotonic() - t0
deadline = t0 + a.get("timeout", 120.0)
while len(up) < n and time.monotonic() < deadline:
    ca.poll(evt=1e-3, iot=0.05)
elapsed = time.monotonic() - t0
# Spot-check a few values on the connected channels.
sample = {}
for i in (0, n // 2, n - 1):
    sample[fmt % i] = ca.get(chids[i], timeout=10)
cahelp.emit({"connected": len(up), "n": n, "create_seconds": created, "seconds": elapsed, "sample": sample})
