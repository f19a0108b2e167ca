"""Subscribes as CAHELP_ARGS["subs"] says ([{"name", "pv", "type", "mask",
"count"}]) plus a VALUE subscription to the DBR_LONG marker PV
CAHELP_ARGS["marker"]. Prints {"ready": events} once every subscription
has its initial update, then for step i = 1..CAHELP_ARGS["steps"] waits
until the marker reads i and prints {"step": i, "events": {name: [...]}}
with the updates each subscription got since the previous line. The
server writes the marker after each change it makes; updates of one circuit
arrive in order, so the marker bounds each step's updates."""

import time

import cahelp
from epics import ca

a = cahelp.args()
subs_spec = a["subs"]
names = sorted({s["pv"] for s in subs_spec} | {a["marker"]})
chids = dict(zip(names, cahelp.connect(names)))
subs = {}
for s in subs_spec:
    subs[s["name"]] = cahelp.Subscription(chids[s["pv"]], s["type"], s["mask"], s.get("count", 0))
marker = cahelp.Subscription(chids[a["marker"]], cahelp.LONG, 1, 1)
timeout = a.get("timeout", 10.0)
marker.wait(1, timeout)
for sub in subs.values():
    sub.wait(1, timeout)


def take():
    got = {}
    for name, sub in subs.items():
        # Swap the list rather than copy and clear it: libca's threads may
        # append at any moment.
        got[name], sub.events = sub.events, []
    return got


# The marker's initial update is the last thing the server sent after the
# initial updates of the other subscriptions only if it was created last,
# which it was.
cahelp.emit({"ready": take()})
for i in range(1, a["steps"] + 1):
    # Callbacks run on libca's threads, so the marker may already be here.
    deadline = time.monotonic() + timeout
    while not (marker.events and marker.events[-1]["value"][0] >= i):
        if time.monotonic() > deadline:
            cahelp.emit({"error": "marker %d not seen within %.1fs" % (i, timeout), "step": i,
                         "marker_events": marker.events, "events": take()})
            raise TimeoutError("marker %d" % i)
        ca.poll(evt=1e-3, iot=0.01)
    cahelp.emit({"step": i, "events": take()})
