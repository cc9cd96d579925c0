"""Builds the class-data-sharing archive of ``spark.class_sharing``: a throwaway Spark session in a child
process whose JVM writes the archive when it exits normally.

Its own module (and ``python -m`` target) because the archiving session runs every language's first
cell: it needs the language rooms, which the Spark core must not import.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .spark import class_sharing
from .spark.submit_args import prepend_opts

log = logging.getLogger(__name__)


def build(spark_args: Sequence[str] = (), *, timeout: float = 600.0) -> Path:
    """Build the archive for these spark options (if it does not exist yet) and return its path.

    Runs a throwaway local session in a child process (a PySpark job, a Python UDF, SQL and a Scala
    cell, so their classes are in it) and waits for its JVM to exit by itself, which is when the JVM
    writes the archive. Raises RuntimeError saying why when no archive could be made.
    """
    target = class_sharing.archive_path(spark_args)
    if target is None:
        raise RuntimeError("no Java or no Spark installation found")
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    pending = target.with_name(f".building-{os.getpid()}-{target.name}")  # the JVM writes it at exit
    env = dict(os.environ)
    env[class_sharing.SWITCH_ENV] = "off"  # the child archives; it must not also use an archive
    env["SPARK_SUBMIT_OPTS"] = prepend_opts(
        [f"-XX:ArchiveClassesAtExit={pending}", *class_sharing.QUIET], env.get("SPARK_SUBMIT_OPTS")
    )
    command = [
        sys.executable,
        "-m",
        "toree_interpreters.archive_builder",
        "archive",
        str(timeout),
        *class_sharing.class_path_args(spark_args),
    ]
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not pending.is_file() or pending.stat().st_size < class_sharing.MIN_SIZE:
            detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            raise RuntimeError(f"the archiving Spark session did not write an archive ({detail})")
        os.replace(pending, target)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the archiving Spark session took more than {timeout:.0f} s") from None
    finally:
        pending.unlink(missing_ok=True)
    class_sharing.prune(target.parent)
    return target


class _Discard:
    """An OutputSink for the archiving session's Scala cell."""

    def stream(self, name: str, text: str) -> None:
        pass

    def display(
        self, data: object, metadata: object = None, *, display_id: object = None, update: bool = False
    ) -> None:
        pass

    def clear_output(self, wait: bool = False) -> None:
        pass

    def input(self, prompt: str, password: bool = False) -> str:
        return ""


def _archiving_session(timeout: float, class_path_args: Sequence[str]) -> int:
    """The child of ``build``: a first session's work, then a normal JVM exit (which writes the archive)."""
    from pyspark.sql import functions

    from .scala.interpreter import ScalaInterpreter
    from .spark.session import SparkSessionManager

    manager = SparkSessionManager(
        [*class_path_args, "--master", "local[1]"], init_mode="lazy", app_name="toree-cds"
    )
    spark = manager.get()
    proc = manager.driver_process
    df = spark.range(1000).withColumn("even", functions.col("id") % 2 == 0)
    df.groupBy("even").count().collect()
    df.limit(20).collect()
    spark.createDataFrame([(1, "a"), (2, "b")], ["n", "s"]).createOrReplaceTempView("t")
    spark.sql("SELECT s, sum(n) FROM t GROUP BY s").collect()
    spark.range(10).select(functions.udf(lambda x: x + 1, "long")("id")).collect()
    scala = ScalaInterpreter(manager)
    scala.warmup_compiles = 0
    outcome = scala.execute('val n = spark.range(10).count(); println(s"n=$n")', _Discard())
    if outcome.status != "ok":
        log.warning("the Scala part of the archiving session failed: %s", outcome.error)
    manager.stop(timeout=timeout)
    if proc is None or proc.returncode != 0:
        print(f"the Spark JVM did not exit normally ({proc and proc.returncode})", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str]) -> int:
    """``build [SPARK_ARGS...]``: build the archive, print its path (``toree install`` runs this with the
    kernel's Python). ``archive TIMEOUT [CLASS_PATH_ARGS...]``: the archiving session, run by ``build``."""
    logging.basicConfig(level=logging.WARNING)
    command, args = (argv[0], list(argv[1:])) if argv else ("", [])
    if command == "archive" and args:
        return _archiving_session(float(args[0]), args[1:])
    if command == "build":
        try:
            print(build(args))
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    print("usage: python -m toree_interpreters.archive_builder build [SPARK_ARGS...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
