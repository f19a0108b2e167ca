"""Drives the bridged simulated power supply with pyepics (libca) for the
serial driver's interop test, and prints one JSON object of what it saw.

- caget PSU:VOLT and PSU:CURR (both filled from one MEAS? reply);
- caput PSU:CURR_SP with wait=True (the put callback completes when the
  instrument acknowledged the write), then waits for PSU:CURR to follow;
- waits for PSU:SILENT (a query the instrument never answers) to show
  INVALID severity and reads its status (TIMEOUT), and the same for
  PSU:GARBLED (a reply that does not match: CALC);
- monitors PSU:EVT, fed by unsolicited lines, until it saw three values.

Every wait is bounded by a deadline; polling uses short waits on libca
(epics.poll), never a bare sleep."""

import json
import sys
import time

import epics

DEADLINE = 20.0
out = {}


def wait_for(cond):
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        epics.poll(evt=0.01, iot=0.05)
    return None


out["volt"] = epics.caget("PSU:VOLT", timeout=10, use_monitor=False)
out["curr"] = epics.caget("PSU:CURR", timeout=10, use_monitor=False)
out["put"] = epics.caput("PSU:CURR_SP", 1.75, wait=True, timeout=10)
out["curr_after"] = wait_for(
    lambda: (lambda v: v if v is not None and abs(v - 1.75) < 1e-9 else None)(
        epics.caget("PSU:CURR", timeout=5, use_monitor=False)))


def alarm(name):
    pv = epics.PV(name, form="time", auto_monitor=False)
    pv.wait_for_connection(timeout=10)

    def invalid():
        pv.get(use_monitor=False, timeout=5)
        return pv.severity == 3
    wait_for(invalid)
    return {"severity": pv.severity, "status": pv.status}


out["silent"] = alarm("PSU:SILENT")
out["garbled"] = alarm("PSU:GARBLED")

seen = []
pv = epics.PV("PSU:EVT", auto_monitor=True, callback=lambda value=None, **kw: seen.append(value))
pv.wait_for_connection(timeout=10)
wait_for(lambda: len(set(seen)) >= 3)
out["events"] = [float(v) for v in seen]

sys.stdout.write(json.dumps(out) + "\n")
sys.stdout.flush()
epics.ca.finalize_libca()
