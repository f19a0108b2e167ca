"""Puts or gets PVs with pyepics (libca) for the autosave interop test.

AUTOSAVE_ARGS is a JSON document: {"put": {name: value, ...}} puts each
value with epics.caput(wait=True) in name order, {"get": [name, ...]} reads
each with epics.caget (long strings as text, arrays as lists). Prints one
JSON object mapping each name to its put status or value read. Every call
has a timeout; nothing sleeps."""

import json
import os
import sys

import epics

a = json.loads(os.environ["AUTOSAVE_ARGS"])
out = {}
for name in sorted(a.get("put", {})):
    out[name] = epics.caput(name, a["put"][name], wait=True, timeout=10)
for name in a.get("get", []):
    pv_as_string = name.endswith("$")
    v = epics.caget(name, as_string=pv_as_string, timeout=10, use_monitor=False)
    if hasattr(v, "tolist"):
        v = v.tolist()
    out[name] = v
sys.stdout.write(json.dumps(out) + "\n")
sys.stdout.flush()
epics.ca.finalize_libca()
