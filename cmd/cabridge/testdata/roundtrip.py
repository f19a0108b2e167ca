"""Round trips through libca: for each [setpoint, readback, value] in the
JSON list argv[1], caput the value to the setpoint with a put callback,
then wait (bounded) for the readback's monitor to show it. Prints one
JSON object: setpoint -> {"put": caput's result, "rb": the readback's
last value as a string, "sevr": its severity}.
"""

import json
import sys
import threading

import epics

TIMEOUT = 10.0


def same(a, b):
    if isinstance(b, str):
        return str(a) == b
    try:
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
    except (TypeError, ValueError):
        return False


def main():
    cases = json.loads(sys.argv[1])
    out = {}
    for sp, rb, value in cases:
        seen = threading.Event()
        last = {}

        def cb(pvname=None, value=None, char_value=None, severity=None, **kw):
            last["value"], last["char"], last["sevr"] = value, char_value, severity
            if same(char_value if isinstance(want, str) else value, want):
                seen.set()

        want = value
        pv = epics.PV(rb, form="time", auto_monitor=True, callback=cb)
        pv.wait_for_connection(timeout=TIMEOUT)
        put = epics.caput(sp, value, wait=True, timeout=TIMEOUT)
        seen.wait(TIMEOUT)
        out[sp] = {"put": put, "rb": str(last.get("char")), "sevr": last.get("sevr"), "match": seen.is_set()}
        pv.clear_callbacks()
        pv.disconnect()
    print(json.dumps(out), flush=True)


main()
