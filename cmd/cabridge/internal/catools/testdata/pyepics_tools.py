"""Print what caget -a -S and cainfo print for the PVs on the command line,
built from pyepics (libca) readings and EPICS base's own text tables, for
catools' output comparison (pyepics_test.go).

usage: pyepics_tools.py get|info PV...
       pyepics_tools.py monitor N PV...   (camonitor's lines for N updates)
"""
import ctypes
import ctypes.util
import datetime
import sys
import threading
import time

import epics
from epics import ca

libca = ca.initialize_libca()
libcom = ctypes.CDLL(ctypes.util.find_library("Com"))
STAT = [s.decode() for s in (ctypes.c_char_p * 22).in_dll(libcom, "epicsAlarmConditionStrings")]
SEVR = [s.decode() for s in (ctypes.c_char_p * 4).in_dll(libcom, "epicsAlarmSeverityStrings")]
DBF = [s.decode() for s in (ctypes.c_char_p * 9).in_dll(libca, "dbf_text")]
DBR = [s.decode() for s in (ctypes.c_char_p * 39).in_dll(libca, "dbr_text")]
STATES = ["never connected", "previously connected", "connected", "closed"]
ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
           "\v": "\\v", "\\": "\\\\", "'": "\\'", '"': '\\"'}


def escape(s):
    return "".join(ESCAPES.get(c, c if 32 <= ord(c) < 127 else "\\x%02x" % ord(c)) for c in s)


def element(ftype, x):
    if ftype == 0:
        return escape(x)
    if ftype in (2, 6):
        return "%g" % x
    if ftype == 4:
        return "%d" % (x - 256 if x > 127 else x)  # C's char is signed
    return "%d" % x


def wide(name):
    pv = epics.PV(name, form="time", auto_monitor=False)
    if not pv.wait_for_connection(timeout=5):
        return "%s not connected" % name
    ftype, nelm = ca.field_type(pv.chid), ca.element_count(pv.chid)
    value = pv.get(use_monitor=False, timeout=5)
    if ftype == 3:
        items = [escape(pv.get(as_string=True, use_monitor=False, timeout=5))]
    elif ftype == 4 and nelm > 1:
        items = [escape(pv.get(as_string=True, use_monitor=False, timeout=5))]
    elif nelm > 1:
        items = ["%d" % len(value)] + [element(ftype, x) for x in value]
    else:
        items = [element(ftype, value)]
    stamp = datetime.datetime.fromtimestamp(pv.posixseconds).strftime("%Y-%m-%d %H:%M:%S")
    stamp += ".%06d" % (pv.nanoseconds // 1000)
    head = "%-30s" % name if nelm <= 1 else name
    alarm = "%s %s" % (STAT[pv.status], SEVR[pv.severity]) if pv.status or pv.severity else " "
    return "%s %s %s %s" % (head, stamp, " ".join(items), alarm)


def info(name):
    pv = epics.PV(name, auto_monitor=False)
    if not pv.wait_for_connection(timeout=5):
        return "%s not connected" % name
    chid = pv.chid
    no = lambda ok: "" if ok else "no "
    ftype = ca.field_type(chid)
    return "\n".join([
        name,
        "    State:            %s" % STATES[ca.state(chid)],
        "    Host:             %s" % ca.host_name(chid),
        "    Access:           %sread, %swrite" % (no(ca.read_access(chid)), no(ca.write_access(chid))),
        "    Native data type: %s" % DBF[ftype + 1],
        "    Request type:     %s" % DBR[ftype],
        "    Element count:    %d" % ca.element_count(chid),
    ])


def stamp_text(posixseconds, nanoseconds):
    text = datetime.datetime.fromtimestamp(posixseconds).strftime("%Y-%m-%d %H:%M:%S")
    return text + ".%06d" % (nanoseconds // 1000)


def monitor(n, names):
    """Print camonitor's line for each update until n were printed."""
    done = threading.Event()
    lock = threading.Lock()
    count = [0]

    def update(**kw):
        try:
            show(**kw)
        except Exception:  # pyepics would swallow it
            import traceback
            traceback.print_exc()

    def show(pvname=None, value=None, char_value=None, status=0, severity=0,
               posixseconds=0, nanoseconds=0, ftype=None, **kw):
        base = ftype % 7 if ftype is not None else 6
        nelem = len(value) if hasattr(value, "__len__") and not isinstance(value, str) else 1
        if base == 3:
            items = [escape(states[pvname][value])]
        elif base == 4 and nelem > 1:  # a char array with -S
            items = [escape(char_value)]
        elif nelem > 1:
            items = ["%d" % nelem] + [element(base, x) for x in value]
        else:
            items = [element(base, value[0] if nelem == 1 and hasattr(value, "__len__") and not isinstance(value, str) else value)]
        head = "%-30s" % pvname if nelem <= 1 else pvname
        alarm = "%s %s" % (STAT[status], SEVR[severity]) if status or severity else " "
        line = "%s %s %s %s" % (head, stamp_text(posixseconds, nanoseconds), " ".join(items), alarm)
        with lock:
            if count[0] < n:
                print(line, flush=True)
                count[0] += 1
            if count[0] >= n:
                done.set()

    states = {}
    for name in names:
        pv = epics.PV(name, auto_monitor=False)
        pv.wait_for_connection(timeout=5)
        if ca.field_type(pv.chid) == 3:
            states[name] = ca.get_enum_strings(pv.chid)
    pvs = [epics.PV(name, form="time", callback=update) for name in names]
    deadline = time.monotonic() + 30
    while not done.is_set() and time.monotonic() < deadline:
        epics.poll(0.01, 0.05)  # lets pyepics finish connecting and subscribing
    for pv in pvs:
        pv.clear_callbacks()


def main():
    if sys.argv[1] == "monitor":
        monitor(int(sys.argv[2]), sys.argv[3:])
        return
    show = wide if sys.argv[1] == "get" else info
    for name in sys.argv[2:]:
        print(show(name))


if __name__ == "__main__":
    main()
