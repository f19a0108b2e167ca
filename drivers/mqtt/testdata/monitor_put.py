"""Drive the bridge with libca (pyepics): wait for a monitor to see an
MQTT-published value, then caput a setpoint; print JSON results.

Args: MONITOR_PV WANT_VALUE PUT_PV PUT_VALUE. The test publishes WANT_VALUE
after this script prints "ready" on stderr.
"""
import json
import sys
import time

import epics

mon_name, want, put_name, put_value = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
seen = []


def on_change(pvname=None, value=None, severity=None, **kw):
    seen.append((value, severity))


mon = epics.PV(mon_name, callback=on_change, auto_monitor=True)
if not mon.wait_for_connection(timeout=20):
    print(json.dumps({"error": "no connection to " + mon_name}))
    sys.exit(1)
sys.stderr.write("ready\n")
sys.stderr.flush()
deadline = time.time() + 20
while time.time() < deadline and not any(v == want for v, _ in seen):
    time.sleep(0.02)
got = any(v == want for v, _ in seen)
status = epics.caput(put_name, put_value, wait=True, timeout=20)
print(json.dumps({"monitor_saw": got, "values": [v for v, _ in seen], "put_status": status}))
