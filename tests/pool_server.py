"""A stand-in for a server that starts kernels with plain jupyter_client (``KernelManager``) from a
warm-pool kernelspec: ``python pool_server.py REPORT NOTEBOOK_DIR``. It fills the pool, waits for a
warm kernel, starts a kernel (adopted from the pool), writes what it started to REPORT and waits to be
killed (tests/test_warm_pool.py kills it with SIGKILL)."""

import json
import os
import sys
import time

from jupyter_client.manager import KernelManager

from toree_kernel import provisioner

report, notebook = sys.argv[1], sys.argv[2]
started = time.monotonic()
warm = provisioner.fill_pool("apache_toree_pyspark", cwd=os.getcwd())
assert warm is not None, "the kernelspec has no warm pool"
while not any(m.ready for m in warm.members):
    assert time.monotonic() - started < 600, "no pooled kernel got ready"
    time.sleep(0.2)
ready_after = time.monotonic() - started
pooled = warm.members[0].process.pid
manager = KernelManager(kernel_name="apache_toree_scala")  # the pool serves the Scala spec too
manager.start_kernel(cwd=notebook, env={**os.environ, "KERNEL_PROBE": "one"})
adopted = {"connection_file": manager.connection_file, "pid": manager.provisioner.process.pid}
with open(report + ".tmp", "w") as out:
    json.dump({"pooled": pooled, "ready_after": ready_after, "adopted": adopted}, out)
os.rename(report + ".tmp", report)
time.sleep(3600)
