"""The JSON argument and output helpers of cahelp, without loading libca
(for scripts that fork before importing epics)."""

import json
import os
import sys


def args():
    return json.loads(os.environ.get("CAHELP_ARGS", "{}"))


def emit(obj):
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()
