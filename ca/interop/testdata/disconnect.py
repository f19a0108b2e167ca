"""Connects to CAHELP_ARGS["pv"] with a connection callback, prints
{"connected": true}, then waits (deadline CAHELP_ARGS["timeout"]) for the
callback with conn=False that the server's shutdown must cause, and prints
the result."""

import time

import cahelp
from epics import ca

a = cahelp.args()
events = []


def on_conn(pvname=None, chid=None, conn=None, **kw):
    events.append(bool(conn))


chid = ca.create_channel(a["pv"], connect=False, auto_cb=False, callback=on_conn)
deadline = time.monotonic() + 10
while True not in events:
    if time.monotonic() > deadline:
        raise TimeoutError("not connected")
    ca.poll(evt=1e-3, iot=0.01)
v = ca.get(chid, timeout=10)
cahelp.emit({"connected": True, "value": v})
t0 = time.monotonic()
deadline = t0 + a.get("timeout", 30.0)
while False not in events and time.monotonic() < deadline:
    ca.poll(evt=1e-3, iot=0.05)
cahelp.emit({"disconnected": False in events, "events": events, "seconds": time.monotonic() - t0,
             "state_connected": ca.isConnected(chid)})
