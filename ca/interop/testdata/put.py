"""Runs the puts in CAHELP_ARGS["ops"] in order and prints one JSON line per
op with the put's status and the PV read back afterwards as DBR_TIME of its
native type. An op is {"pv", "type", "values", "mode"} where mode is
"notify" (ca_array_put_callback), "plain" (ca_array_put; a rejection arrives
as a libca exception) or "pyepics" (epics.ca.put(wait=True) of values[0])."""

import cahelp
from epics import ca

a = cahelp.args()
cahelp.install_exception_handler()
ops = a["ops"]
names = sorted({op["pv"] for op in ops})
chids = dict(zip(names, cahelp.connect(names)))
for op in ops:
    chid = chids[op["pv"]]
    mode = op.get("mode", "notify")
    res = {"op": op}
    if mode == "pyepics":
        done = []
        res["ret"] = ca.put(chid, op["values"][0], wait=True, timeout=10,
                            callback=lambda pvname=None, **kw: done.append(pvname))
        res["callback"] = done
    elif mode == "plain":
        before = len(cahelp.exceptions())
        res.update(cahelp.put(chid, op["type"], op["values"], notify=False))
        if op.get("expect_exception"):
            res["exception"] = cahelp.wait_exceptions(before + 1)[before]
    else:
        res.update(cahelp.put(chid, op["type"], op["values"], notify=True))
    # A read on the same circuit after the put sees its effect.
    res["readback"] = cahelp.get(chid, cahelp.dbr_type("time", ca.field_type(chid)))
    cahelp.emit(res)
cahelp.emit({"exceptions": cahelp.exceptions()})
