"""Reads each PV in CAHELP_ARGS["pvs"] as every DBR family (plain, STS, TIME,
GR, CTRL) of its native type and of DBR_STRING, plus pyepics' own ca.get,
and prints one JSON document."""

import cahelp
from epics import ca

a = cahelp.args()
names = a["pvs"]
families = a.get("families", cahelp.FAMILIES)
count = a.get("count", 0)
chids = cahelp.connect(names, timeout=a.get("timeout", 10.0))
out = {}
for name, chid in zip(names, chids):
    native = ca.field_type(chid)
    reads = {}
    for fam in families:
        for base in sorted({native, cahelp.STRING}):
            t = cahelp.dbr_type(fam, base)
            reads[str(t)] = cahelp.get(chid, t, count)
    info = {"ftype": native, "count": ca.element_count(chid), "host": ca.host_name(chid),
            "read": ca.read_access(chid), "write": ca.write_access(chid), "reads": reads}
    if ca.element_count(chid) <= 1000:
        # pyepics' own path: ca.get of the native type, with and without count.
        info["pyepics"] = ca.get(chid)
        info["pyepics_count1"] = ca.get(chid, count=1)
    out[name] = info
cahelp.emit(out)
