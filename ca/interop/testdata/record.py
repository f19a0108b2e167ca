"""Exercises the record fields of an ai ("TEMP") and an ao ("OUT") served by
record.Directory, as libca sees them, and prints one JSON document:

- "fields": for each name in CAHELP_ARGS["fields"], the native type and
  count, the access rights, a plain read of the native type with count 0
  and a CTRL read of it (for enum strings);
- "missing": whether each name in CAHELP_ARGS["missing"] connected within a
  short timeout;
- "class": DBR_CLASS_NAME of each name in CAHELP_ARGS["class"];
- "egu": the events a DBE_PROPERTY monitor of TEMP (DBR_CTRL_DOUBLE) got
  around a put of "mm" to TEMP.EGU, the events of a VALUE monitor of
  TEMP.EGU, and the DBR_CTRL_DOUBLE units read afterwards;
- "alarms": for each value in CAHELP_ARGS["values"], put to TEMP with
  callback, then the DBR_TIME_DOUBLE of TEMP and plain reads of TEMP.SEVR
  and TEMP.STAT; plus the events of a VALUE monitor of TEMP.SEVR;
- "clamp": OUT read back after puts to OUT.DRVH, OUT.DRVL and OUT;
- "puts": the put-callback status of puts to TEMP.RTYP, TEMP.SEVR and
  TEMP.HHSV (out of the menu)."""

import ctypes
import time

import cahelp
from epics import ca, dbr

a = cahelp.args()
out = {}
LIBCA = cahelp.LIBCA

names = sorted(set(a["fields"]) | set(a["class"]) | {"TEMP", "TEMP.EGU", "TEMP.SEVR", "TEMP.STAT",
                                                      "TEMP.RTYP", "TEMP.HHSV", "OUT", "OUT.DRVH", "OUT.DRVL"})
chids = dict(zip(names, cahelp.connect(names)))

fields = {}
for n in a["fields"]:
    c = chids[n]
    ft = ca.field_type(c)
    fields[n] = {"ftype": ft, "count": ca.element_count(c), "read": bool(ca.read_access(c)), "write": bool(ca.write_access(c)),
                 "plain": cahelp.get(c, ft, 0), "ctrl": cahelp.get(c, cahelp.dbr_type("ctrl", ft), 0)}
out["fields"] = fields

missing = {}
for n in a["missing"]:
    c = ca.create_channel(n, connect=False, auto_cb=False)
    missing[n] = bool(ca.connect_channel(c, timeout=1.0))
out["missing"] = missing


# DBR_CLASS_NAME (38): a bare 40-byte string (dbr_class_name_t).
class _ClassName(ctypes.Structure):
    _fields_ = [("value", ctypes.c_char * 40)]


def class_name(chid):
    w = cahelp._Waiter()

    def on_get(args):
        if args.status != dbr.ECA_NORMAL:
            w.results.append({"status": args.status})
            return
        v = ctypes.cast(args.raw_dbr, ctypes.POINTER(_ClassName)).contents
        w.results.append({"status": args.status, "value": v.value.decode("latin-1")})

    cb = cahelp._make_cb(on_get)
    st = LIBCA.ca_array_get_callback(38, 1, chid, cb, ctypes.py_object(None))
    if st != dbr.ECA_NORMAL:
        return {"request_status": st}
    ca.flush_io()
    return w.wait(1)[0]


out["class"] = {n: class_name(chids[n]) for n in a["class"]}

# EGU: a PROPERTY monitor on the value, a VALUE monitor on the field.
prop = cahelp.Subscription(chids["TEMP"], cahelp.dbr_type("ctrl", cahelp.DOUBLE), 8)
egu = cahelp.Subscription(chids["TEMP.EGU"], cahelp.STRING, 1)
prop.wait(1)
egu.wait(1)
st = cahelp.put(chids["TEMP.EGU"], cahelp.STRING, ["mm"])
prop.wait(2)
egu.wait(2)
out["egu"] = {"put": st, "prop_events": prop.events, "egu_events": egu.events,
              "ctrl": cahelp.get(chids["TEMP"], cahelp.dbr_type("ctrl", cahelp.DOUBLE), 1)}

# Alarms as the value moves.
sevr = cahelp.Subscription(chids["TEMP.SEVR"], cahelp.ENUM, 1)
sevr.wait(1)
steps = []
for v in a["values"]:
    st = cahelp.put(chids["TEMP"], cahelp.DOUBLE, [v])
    steps.append({"put": st, "time": cahelp.get(chids["TEMP"], cahelp.dbr_type("time", cahelp.DOUBLE), 1),
                  "sevr": cahelp.get(chids["TEMP.SEVR"], cahelp.ENUM, 1),
                  "stat": cahelp.get(chids["TEMP.STAT"], cahelp.ENUM, 1)})
sevr.wait(a["sevr_events"])
out["alarms"] = {"steps": steps, "sevr_events": sevr.events}

# Drive limits.
cahelp.put(chids["OUT.DRVH"], cahelp.DOUBLE, [10.0])
cahelp.put(chids["OUT.DRVL"], cahelp.DOUBLE, [-10.0])
clamp = {}
for v in (20.0, -20.0, 5.0):
    cahelp.put(chids["OUT"], cahelp.DOUBLE, [v])
    clamp[str(v)] = cahelp.get(chids["OUT"], cahelp.DOUBLE, 1)["value"][0]
out["clamp"] = clamp

out["puts"] = {
    "TEMP.RTYP": cahelp.put(chids["TEMP.RTYP"], cahelp.STRING, ["ao"]),
    "TEMP.SEVR": cahelp.put(chids["TEMP.SEVR"], cahelp.ENUM, [1]),
    "TEMP.HHSV": cahelp.put(chids["TEMP.HHSV"], cahelp.ENUM, [7]),
}
cahelp.emit(out)
