"""Reads REC.SCAN as a string, writes the menu choice CHOICE to it with a
put callback, reads it again, then reads each further FIELD of REC as a
string, and prints one JSON line:
{"before": ..., "put": ..., "after": ..., "fields": {FIELD: ...}}.

usage: scan.py REC CHOICE [FIELD...]"""

import json
import sys

import epics

rec, choice = sys.argv[1], sys.argv[2]


def get(field):
    return epics.caget(rec + "." + field, as_string=True, timeout=10, use_monitor=False)


before = get("SCAN")
ok = epics.caput(rec + ".SCAN", choice, wait=True, timeout=10)
after = get("SCAN")
fields = {f: get(f) for f in sys.argv[3:]}
print(json.dumps({"before": before, "put": ok, "after": after, "fields": fields}), flush=True)
