"""A stand-in kernel for the warm pool tests: the real kernel's side of the pool channel (``pooled.py``),
no Spark. It reports what it was given in files ``<pid>.<event>`` of the directory in argv[1]."""

import json
import os
import sys
import threading
import time

from toree_kernel.pooled import PoolChannel, apply

reports = sys.argv[1]


def report(event: str, **found: object) -> None:
    with open(os.path.join(reports, f"{os.getpid()}.{event}"), "w") as out:
        json.dump(found, out)


pool = PoolChannel.from_environment()
if pool is None:  # started cold, as jupyter_client starts any kernel
    report("cold", argv=sys.argv)
    time.sleep(300)
    sys.exit(0)
if os.environ.get("FAKE_FAIL"):
    sys.exit(3)
time.sleep(float(os.environ.get("FAKE_WARM_S", "0.2")))
pool.tell("ready")
adoption = pool.wait_for_adoption(lambda: False)
if adoption is None:
    report("orphaned")
    sys.exit(0)
apply(adoption)
report("adopted", cwd=os.getcwd(), env=dict(os.environ), connection_file=adoption.connection_file, argv=sys.argv)
gone = threading.Event()
pool.watch(lambda why: gone.set())
gone.wait()
report("gone")
