"""Access security seen by libca. CAHELP_ARGS: {"pv": a DOUBLE PV the
first rules make read-only for this user and host, "locked": a DOUBLE PV
they deny entirely, "value": what to write once allowed, "extra": more
PVs whose rights are reported in each line, "timeout"}.

Connects both, records every access-rights callback, subscribes to
"locked" (DBR_DOUBLE, VALUE), tries a put-callback on "pv" and prints
{"phase": "denied", ...}. The Go test then replaces the server's rules at
run time; the script waits (bounded) until the same channels report write
access on "pv" and a value update on "locked", puts "value" to "pv" and
prints {"phase": "granted", ...}."""

import time

import cahelp
from epics import ca

a = cahelp.args()
timeout = a.get("timeout", 20.0)
extra = a.get("extra", [])
pv_chid, locked_chid, *extra_chids = cahelp.connect([a["pv"], a["locked"]] + extra)
events = {a["pv"]: [], a["locked"]: []}


def recorder(name):
    def cb(read_access, write_access):
        events[name].append([bool(read_access), bool(write_access)])
    return cb


ca.replace_access_rights_event(pv_chid, callback=recorder(a["pv"]))
ca.replace_access_rights_event(locked_chid, callback=recorder(a["locked"]))
sub = cahelp.Subscription(locked_chid, cahelp.DOUBLE, 1, 1)
sub.wait(1, timeout)


def state(chid):
    return {"read": bool(ca.read_access(chid)), "write": bool(ca.write_access(chid))}


def extra_states():
    return {n: state(c) for n, c in zip(extra, extra_chids)}


put = cahelp.put(pv_chid, cahelp.DOUBLE, [a["value"]], notify=True)
cahelp.emit({"phase": "denied", "pv": state(pv_chid), "locked": state(locked_chid),
             "put": put, "sub": list(sub.events), "extra": extra_states()})

deadline = time.monotonic() + timeout
while not (ca.write_access(pv_chid) and len(sub.events) >= 2):
    if time.monotonic() > deadline:
        cahelp.emit({"phase": "timeout", "pv": state(pv_chid), "locked": state(locked_chid),
                     "events": events, "sub": list(sub.events)})
        raise TimeoutError("write access not granted within %.1fs" % timeout)
    ca.poll(evt=1e-3, iot=0.01)

put = cahelp.put(pv_chid, cahelp.DOUBLE, [a["value"]], notify=True)
readback = cahelp.get(pv_chid, cahelp.DOUBLE)
cahelp.emit({"phase": "granted", "pv": state(pv_chid), "locked": state(locked_chid),
             "put": put, "readback": readback, "events": events, "sub": list(sub.events),
             "extra": extra_states()})
