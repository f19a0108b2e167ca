"""Reads each PV named in the command line once with epics.caget and
prints {"values": [...]} as one JSON line (null for a failed read)."""

import json
import sys

import epics

vals = []
for name in sys.argv[1:]:
    v = epics.caget(name, timeout=10, use_monitor=False)
    if v is not None and hasattr(v, "tolist"):
        v = v.tolist()
    vals.append(v)
print(json.dumps({"values": vals}), flush=True)
