"""A Spark Connect kernel's memory goal (issue #19, ``benchmarks/connect.py``): it loads neither the
classic path's modules (the Java check, class-data sharing) nor sqlparse before a SQL cell. Fast: a
subprocess, no JVM, no server (the session's start fails on a closed port, after choosing Connect)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

NOT_LOADED = ("sqlparse", "toree_interpreters.spark.java", "toree_interpreters.spark.class_sharing")
PROBE = """
import sys
import toree_kernel.app  # everything the kernel process imports at start-up
from toree_interpreters import SparkSessionManager, SparkUnavailable
spark = SparkSessionManager(["--remote", "sc://127.0.0.1:{port}"], init_mode="lazy")
try:
    spark.get(timeout=60)
except SparkUnavailable as exc:
    print("unavailable:", exc, file=sys.stderr)
print(" ".join(m for m in {names} if m in sys.modules))
from toree_interpreters.sql.interpreter import split_statements
print(split_statements("SELECT ';'; SELECT 2"), "sqlparse" in sys.modules)
"""


def test_a_connect_kernel_does_not_load_the_classic_paths_modules(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    probe = tmp_path / "probe.py"  # a file: under `python -c` pyspark takes a missing grpc for a doctest run
    probe.write_text(PROBE.format(port=port, names=NOT_LOADED))
    done = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120)
    loaded, sql = done.stdout.splitlines()
    # the Connect path was taken: "cannot reach the Spark Connect server" (or, without grpc, "the Spark
    # Connect client needs pyspark[connect]")
    assert "Spark Connect" in done.stderr, done.stderr
    assert loaded == "", f"loaded by a Connect kernel: {loaded}"
    assert sql == "[\"SELECT ';'\", 'SELECT 2'] True"  # the first SQL cell loads it
