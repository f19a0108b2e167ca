"""Helpers shared by the interop scripts: raw libca reads, puts and
subscriptions of any DBR type through pyepics' ctypes binding, decoded into
plain JSON-able dicts. pyepics itself only unpacks the TIME and CTRL
families and does not report put statuses, so these go to libca directly.

Every wait has a deadline; nothing sleeps to wait for an event.
"""

import ctypes
import json
import math
import os
import sys
import time

from epics import ca, dbr

ca.initialize_libca()
LIBCA = ca.libca

# Plain DBR type codes and their element ctypes.
STRING, SHORT, FLOAT, ENUM, CHAR, LONG, DOUBLE = range(7)
ELEM = {
    STRING: ctypes.c_char * 40,
    SHORT: ctypes.c_int16,
    FLOAT: ctypes.c_float,
    ENUM: ctypes.c_uint16,
    CHAR: ctypes.c_uint8,
    LONG: ctypes.c_int32,
    DOUBLE: ctypes.c_double,
}
FAMILIES = ["plain", "sts", "time", "gr", "ctrl"]

_SS = [("status", ctypes.c_int16), ("severity", ctypes.c_int16)]
_UNITS = [("units", ctypes.c_char * 8)]
_LIMS = ["upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
         "upper_warning_limit", "lower_warning_limit", "lower_alarm_limit"]
_CTRL = ["upper_ctrl_limit", "lower_ctrl_limit"]


def _struct(name, fields):
    return type(name, (ctypes.Structure,), {"_fields_": fields})


def _lims(t, ctrl):
    return [(n, t) for n in _LIMS + (_CTRL if ctrl else [])]


def _meta_struct(family, base):
    """The metadata prefix of DBR type family/base (db_access.h)."""
    if family == "sts" or (family in ("gr", "ctrl") and base == STRING):
        return _struct("sts", list(_SS))
    if family == "time":
        return _struct("time", _SS + [("secs", ctypes.c_uint32), ("nsec", ctypes.c_uint32)])
    ctrl = family == "ctrl"
    if base == ENUM:
        return _struct("genum", _SS + [("no_str", ctypes.c_int16), ("strs", (ctypes.c_char * 26) * 16)])
    if base in (FLOAT, DOUBLE):
        t = ctypes.c_float if base == FLOAT else ctypes.c_double
        return _struct("gfp", _SS + [("precision", ctypes.c_int16), ("pad", ctypes.c_int16)] + _UNITS + _lims(t, ctrl))
    t = {SHORT: ctypes.c_int16, CHAR: ctypes.c_uint8, LONG: ctypes.c_int32}[base]
    return _struct("gint", _SS + _UNITS + _lims(t, ctrl))


def dbr_type(family, base):
    """The DBR type code of family ("plain".."ctrl") and plain type base."""
    return FAMILIES.index(family) * 7 + base


def _value_offset(t):
    return dbr.value_offset[t]


def _decode_elems(addr, base, count):
    arr = ctypes.cast(addr, ctypes.POINTER(ELEM[base] * count)).contents
    if base == STRING:
        out = []
        for e in arr:
            b = bytes(e)
            out.append(b.split(b"\0", 1)[0].decode("latin-1"))
        return out
    return list(arr)


def decode(t, count, raw, status):
    """Decodes the DBR of type t with count elements at address raw."""
    family = FAMILIES[t // 7]
    base = t % 7
    out = {"type": t, "count": count, "status": status}
    if status != dbr.ECA_NORMAL or not raw:
        return out
    if family != "plain":
        m = ctypes.cast(raw, ctypes.POINTER(_meta_struct(family, base))).contents
        for name, _ in m._fields_:
            if name == "pad":
                continue
            v = getattr(m, name)
            if name == "units":
                v = v.decode("latin-1")
            elif name == "strs":
                v = [bytes(v[i]).split(b"\0", 1)[0].decode("latin-1") for i in range(max(0, min(m.no_str, 16)))]
            out[name] = v
        if family == "time":
            out["posix"] = out["secs"] + 631152000 + out["nsec"] * 1e-9
    out["value"] = _decode_elems(raw + _value_offset(t), base, count)
    return out


class _Waiter:
    """Collects callback results; wait() polls libca under a deadline."""

    def __init__(self):
        self.results = []

    def wait(self, n=1, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.results) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("timed out after %.1fs waiting for %d callbacks (have %d)" % (timeout, n, len(self.results)))
            ca.poll(evt=1e-3, iot=0.01)
        return self.results


# Callbacks must stay referenced for the life of the process.
_KEEP = []


def _make_cb(fn):
    cb = dbr.make_callback(fn, dbr.event_handler_args)
    _KEEP.append(cb)
    return cb


def connect(names, timeout=10.0):
    """Creates and connects one channel per name; returns the chids."""
    chids = [ca.create_channel(n, connect=False, auto_cb=False) for n in names]
    deadline = time.monotonic() + timeout
    for n, c in zip(names, chids):
        if not ca.connect_channel(c, timeout=max(0.1, deadline - time.monotonic())):
            raise TimeoutError("channel %s did not connect" % n)
    return chids


def get(chid, t, count=0, timeout=10.0):
    """Reads chid as DBR type t (count 0 = server's current length)."""
    w = _Waiter()

    def on_get(args):
        w.results.append(decode(args.type, args.count, args.raw_dbr, args.status))

    cb = _make_cb(on_get)
    st = LIBCA.ca_array_get_callback(t, count, chid, cb, ctypes.py_object(None))
    if st != dbr.ECA_NORMAL:
        return {"type": t, "status": st, "request_status": st}
    ca.flush_io()
    return w.wait(1, timeout)[0]


def put(chid, t, values, notify=True, timeout=10.0):
    """Writes values (a list) as DBR type t. With notify it uses
    ca_array_put_callback and returns the completion status; otherwise
    ca_array_put and returns the status of the request and of any
    exception libca reported for it (see exceptions())."""
    base = t % 7
    n = len(values)
    arr = (ELEM[base] * n)()
    for i, v in enumerate(values):
        if base == STRING:
            arr[i].value = v.encode("latin-1")
        else:
            arr[i] = v
    if not notify:
        st = LIBCA.ca_array_put(t, n, chid, arr)
        ca.flush_io()
        return {"request_status": st}
    w = _Waiter()

    def on_put(args):
        w.results.append({"status": args.status})

    cb = _make_cb(on_put)
    st = LIBCA.ca_array_put_callback(t, n, chid, arr, cb, ctypes.py_object(None))
    if st != dbr.ECA_NORMAL:
        return {"request_status": st}
    ca.flush_io()
    return w.wait(1, timeout)[0]


class Subscription:
    """A raw subscription of DBR type t and count with an event mask."""

    def __init__(self, chid, t, mask, count=0, keep=True):
        self.events = []
        self.n = 0
        evid = ctypes.c_void_p()

        def on_event(args):
            self.n += 1
            if keep or not self.events:
                self.events.append(decode(args.type, args.count, args.raw_dbr, args.status))
            else:
                self.events[-1] = decode(args.type, args.count, args.raw_dbr, args.status)

        self._cb = _make_cb(on_event)
        st = LIBCA.ca_create_subscription(t, count, chid, mask, self._cb, ctypes.py_object(None), ctypes.byref(evid))
        if st != dbr.ECA_NORMAL:
            raise RuntimeError("ca_create_subscription: %s" % ca.message(st))
        self.evid = evid
        ca.flush_io()

    def wait(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("subscription: %d of %d events after %.1fs" % (len(self.events), n, timeout))
            ca.poll(evt=1e-3, iot=0.01)
        return self.events


class _ExceptionArgs(ctypes.Structure):
    _fields_ = [("usr", ctypes.c_void_p), ("chid", ctypes.c_void_p), ("type", ctypes.c_long),
                ("count", ctypes.c_long), ("addr", ctypes.c_void_p), ("stat", ctypes.c_long),
                ("op", ctypes.c_long), ("ctx", ctypes.c_char_p), ("pFile", ctypes.c_char_p),
                ("lineNo", ctypes.c_uint)]


_EXC_CB_T = ctypes.CFUNCTYPE(None, _ExceptionArgs)
_EXCEPTIONS = []


def _on_exception(args):
    _EXCEPTIONS.append({"stat": int(args.stat), "op": int(args.op), "type": int(args.type),
                        "ctx": (args.ctx or b"").decode("latin-1")})


_EXC_CB = _EXC_CB_T(_on_exception)


def install_exception_handler():
    """Routes libca's asynchronous exceptions (e.g. a rejected ca_put) to
    exceptions() instead of stderr."""
    LIBCA.ca_add_exception_event(_EXC_CB, None)


def exceptions():
    return _EXCEPTIONS


def wait_exceptions(n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(_EXCEPTIONS) < n:
        if time.monotonic() > deadline:
            raise TimeoutError("no libca exception within %.1fs" % timeout)
        ca.poll(evt=1e-3, iot=0.01)
    return _EXCEPTIONS


def args():
    """The JSON document the Go test passes in the CAHELP_ARGS variable."""
    return json.loads(os.environ.get("CAHELP_ARGS", "{}"))


def emit(obj):
    """Prints one JSON line and flushes it (the Go test reads line by line).
    Non-finite floats become the strings "NaN", "Infinity", "-Infinity"."""
    sys.stdout.write(json.dumps(_finite(obj), default=_jsonable, allow_nan=False) + "\n")
    sys.stdout.flush()


def _finite(o):
    if isinstance(o, float) and not math.isfinite(o):
        return "NaN" if o != o else ("Infinity" if o > 0 else "-Infinity")
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if hasattr(o, "tolist"):
        return _finite(o.tolist())
    return o


def _jsonable(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, bytes):
        return o.decode("latin-1")
    return str(o)
