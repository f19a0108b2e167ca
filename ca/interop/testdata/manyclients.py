"""Starts CAHELP_ARGS["clients"] processes at once; each imports epics in the
child (its own libca context and TCP circuit), waits at a barrier so all are
connected together, reads CAHELP_ARGS["pv"], and reports. Prints one JSON
summary."""

import multiprocessing as mp
import os

import cahelp_args


def worker(i, pv, barrier, q):
    try:
        from epics import ca
        chid = ca.create_channel(pv, connect=False, auto_cb=False)
        ok = ca.connect_channel(chid, timeout=30)
        if not ok:
            q.put({"i": i, "error": "not connected"})
            return
        barrier.wait(100)
        v = ca.get(chid, timeout=30)
        q.put({"i": i, "value": v, "pid": os.getpid()})
    except Exception as e:  # reported to the Go test, never swallowed
        q.put({"i": i, "error": repr(e)})


if __name__ == "__main__":
    a = cahelp_args.args()
    n = a["clients"]
    ctx = mp.get_context("fork")  # the parent has not loaded libca
    barrier = ctx.Barrier(n)
    q = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(i, a["pv"], barrier, q)) for i in range(n)]
    for p in procs:
        p.start()
    results = []
    for _ in range(n):
        try:
            results.append(q.get(timeout=130))
        except Exception as e:
            results.append({"error": "no result: %r" % e})
            break
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.kill()
    ok = sum(1 for r in results if "value" in r)
    errors = [r for r in results if "error" in r][:5]
    values = sorted({r["value"] for r in results if "value" in r})
    cahelp_args.emit({"ok": ok, "n": n, "errors": errors, "values": values,
                      "pids": len({r.get("pid") for r in results if "pid" in r})})
