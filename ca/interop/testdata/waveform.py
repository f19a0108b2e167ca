"""Round trip of a large waveform: reads CAHELP_ARGS["pv"] with
epics.ca.get, puts a ramp of the same length with ca.put(wait=True), reads
it back, and prints a JSON summary (lengths, checksums, first/last
elements) rather than the million values."""

import time

import cahelp
import numpy
from epics import ca

a = cahelp.args()
(chid,) = cahelp.connect([a["pv"]])
n = ca.element_count(chid)
res = {"count": n, "ftype": ca.field_type(chid)}
t0 = time.monotonic()
v = ca.get(chid, count=n, timeout=30)
res["get_seconds"] = time.monotonic() - t0
res["before_len"] = len(v)
res["before_sum"] = float(numpy.sum(v))
res["before_first"] = float(v[0])
res["before_last"] = float(v[-1])
ramp = numpy.arange(n, dtype=numpy.float64) * a.get("scale", 0.5)
t0 = time.monotonic()
res["put_ret"] = ca.put(chid, ramp, wait=True, timeout=30)
res["put_seconds"] = time.monotonic() - t0
w = ca.get(chid, count=n, timeout=30)
res["after_len"] = len(w)
res["after_equal"] = bool(numpy.array_equal(w, ramp))
res["after_last"] = float(w[-1])
# A partial read: count smaller than the native count.
p = ca.get(chid, count=10, timeout=10)
res["partial"] = [float(x) for x in p]
cahelp.emit(res)
