"""A custom 0MQ client (toree_protocol's client library, no jupyter_client) driving the Toree kernel.

Starts ``python -m toree_kernel`` on loopback with a fresh connection file, runs a PySpark cell, a Scala
cell and a SQL cell (Toree's ``%%Scala`` / ``%%SQL`` cell magics) on the kernel's one SparkSession,
prints what came back and shuts the kernel down.

    python examples/custom_client.py [--spark-opts "--master local[2]"]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from toree_protocol.client import ExecuteResult, KernelClient
from toree_protocol.launcher import start_kernel

CELLS = [
    ("PySpark", "spark.range(10).createOrReplaceTempView('numbers')\nspark.range(10).count()"),
    (
        "Scala",
        '%%Scala\nval evens = spark.table("numbers").where("id % 2 = 0").count()\nprintln(s"evens: $evens")',
    ),
    ("SQL", "%%SQL\nSELECT count(*) AS odd_count, sum(id) AS odd_sum FROM numbers WHERE id % 2 = 1"),
]


def show(label: str, result: ExecuteResult) -> None:
    if result.error:
        print(f"[{label}] error {result.error['ename']}: {result.error['evalue']}")
        return
    if result.stdout:
        print(f"[{label}] stdout {result.stdout.strip()}")
    for msg in result.outputs:  # the cell's value (display_data also carries Spark progress bars)
        if msg.msg_type == "execute_result":
            print(f"[{label}] result {msg.content['data']['text/plain'].strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spark-opts", default="--master local[2] --conf spark.ui.enabled=false")
    args = parser.parse_args()
    env = {**os.environ, "__TOREE_SPARK_OPTS__": args.spark_opts}
    proc, info, path = start_kernel(
        [sys.executable, "-m", "toree_kernel", "-f", "{connection_file}"], env=env
    )
    print(f"kernel pid {proc.pid} on {info.ip}, shell port {info.port('shell')}")
    failed = False
    try:
        with KernelClient(info) as client:
            client.wait_for_ready(timeout=60)
            for label, code in CELLS:
                result = client.execute(code, timeout=180)
                show(label, result)
                failed = failed or result.status != "ok"
            client.shutdown()
        proc.wait(timeout=60)
        print(f"kernel exited with code {proc.returncode}")
    finally:
        if proc.poll() is None:  # the kernel and its JVM share one process group (start_kernel's session)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        path.unlink(missing_ok=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
