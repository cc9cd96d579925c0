"""Class-data sharing (CDS) for the Spark driver JVM: about 2 s off every session start.

Each driver JVM parses and verifies ~10k classes from Spark's jars before the first job runs. A
dynamic CDS archive (JDK 13+) holds them ready to map. The JVM writes one only when it exits
normally with ``-XX:ArchiveClassesAtExit``, which a kernel's JVM rarely does (clients kill kernels
that take more than a few seconds to shut down), so ``build`` runs a throwaway session once (from
``toree install``) and sessions use the archive (``java_options``) when one exists for their Java,
Spark jars and driver class path. The JVM checks the archive itself and ignores one that does not
match; its messages about that are turned off. ``TOREE_CLASS_SHARING=off`` turns all of this off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import java
from .submit_args import conf_pairs, option_values, prepend_opts

log = logging.getLogger(__name__)

SWITCH_ENV = "TOREE_CLASS_SHARING"  # "off" (or 0/false/no): neither build nor use archives
QUIET = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")  # a mismatched archive is ignored without a word
_CDS_FLAGS = ("SharedArchiveFile", "ArchiveClassesAtExit", "-Xshare")  # the user manages CDS: leave it
_KEEP = 4  # archives kept in the cache (one per Java/Spark/class path; ~120 MB each)
_MIN_SIZE = 1 << 20  # smaller than this is not an archive of Spark's classes


def enabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(SWITCH_ENV, "").strip().lower() not in ("off", "0", "false", "no")


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "toree" / "class-sharing"


def archive_path(spark_args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Path | None:
    """Where the archive for these spark options lives (it may not exist yet); None without Java or Spark.

    The key is what the JVM's class path is made of: the java binary, Spark's jars and the driver class
    path options. Jars added with ``--jars``/``--packages``/``%AddJar`` are loaded by Spark's own class
    loader, not from the class path, and do not matter.
    """
    env = os.environ if env is None else env
    java_bin = java.find_java(dict(env))
    home = spark_home(env)
    if java_bin is None or home is None:
        return None
    parts: list[object] = [_file_id(Path(os.path.realpath(java_bin))), str(home)]
    jars = home / "jars"
    try:
        parts += sorted(_file_id(jar) for jar in jars.iterdir())
    except OSError:
        return None
    parts += _class_path_args(spark_args)
    parts += [env.get("SPARK_DIST_CLASSPATH", ""), env.get("SPARK_CONF_DIR", "")]
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]
    return cache_dir(env) / f"spark-driver-{key}.jsa"


def spark_home(env: Mapping[str, str] | None = None) -> Path | None:
    """SPARK_HOME, else the pyspark installation (which is a Spark home: it has ``jars/``)."""
    env = os.environ if env is None else env
    if env.get("SPARK_HOME"):
        return Path(env["SPARK_HOME"]).expanduser().resolve()
    try:
        from pyspark.find_spark_home import _find_spark_home
    except ImportError:
        return None
    try:
        return Path(_find_spark_home()).resolve()
    except (SystemExit, Exception):  # it exits when it finds nothing
        return None


def java_options(spark_args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> list[str]:
    """JVM options that make the driver use its archive: empty when off, missing, or the user sets CDS flags."""
    env = os.environ if env is None else env
    if not enabled(env):
        return []
    user_opts = [env.get("SPARK_SUBMIT_OPTS", ""), *option_values(spark_args, "--driver-java-options")]
    user_opts += [value for key, value in conf_pairs(spark_args) if key == "spark.driver.extraJavaOptions"]
    if any(flag in opts for opts in user_opts for flag in _CDS_FLAGS):
        return []
    path = archive_path(spark_args, env)
    if path is None or not path.is_file():
        return []
    return [f"-XX:SharedArchiveFile={path}", *QUIET]


def build(spark_args: Sequence[str] = (), *, timeout: float = 600.0) -> Path:
    """Build the archive for these spark options (if it does not exist yet) and return its path.

    Runs a throwaway local session in a child process (a PySpark job, a Python UDF, SQL and a Scala
    cell, so their classes are in it) and waits for its JVM to exit by itself, which is when the JVM
    writes the archive. Raises RuntimeError saying why when no archive could be made.
    """
    target = archive_path(spark_args)
    if target is None:
        raise RuntimeError("no Java or no Spark installation found")
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    pending = target.with_name(f".building-{os.getpid()}-{target.name}")  # the JVM writes it at exit
    env = dict(os.environ)
    env[SWITCH_ENV] = "off"  # the child archives; it must not also use an archive
    env["SPARK_SUBMIT_OPTS"] = prepend_opts(
        [f"-XX:ArchiveClassesAtExit={pending}", *QUIET], env.get("SPARK_SUBMIT_OPTS")
    )
    command = [
        sys.executable,
        "-m",
        "toree_interpreters.class_sharing",
        "archive",
        str(timeout),
        *_class_path_args(spark_args),
    ]
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not pending.is_file() or pending.stat().st_size < _MIN_SIZE:
            detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            raise RuntimeError(f"the archiving Spark session did not write an archive ({detail})")
        os.replace(pending, target)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the archiving Spark session took more than {timeout:.0f} s") from None
    finally:
        pending.unlink(missing_ok=True)
    _prune(target.parent)
    return target


def _class_path_args(spark_args: Sequence[str]) -> list[str]:
    """The options that change the driver JVM's class path (the archive depends on them, and on no other)."""
    found: list[str] = []
    for value in option_values(spark_args, "--driver-class-path"):
        found += ["--driver-class-path", value]
    for key, value in conf_pairs(spark_args):
        if key == "spark.driver.extraClassPath":
            found += ["--conf", f"{key}={value}"]
    return found


def _prune(directory: Path) -> None:
    """Keep the newest few archives (each Java/Spark upgrade leaves one behind), and no half-written one
    of a build that timed out (its JVM may still write after the build gave up) once it is an hour old."""
    archives = sorted(directory.glob("spark-driver-*.jsa"), key=lambda p: p.stat().st_mtime, reverse=True)
    stale = [p for p in directory.glob(".building-*") if p.stat().st_mtime < time.time() - 3600]
    for old in archives[_KEEP:] + stale:
        old.unlink(missing_ok=True)


def _file_id(path: Path) -> list[object]:
    """Name, size and modification time: what the JVM itself checks of each class path entry."""
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


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

    from .scala_interpreter import ScalaInterpreter
    from .spark_session import SparkSessionManager, _gateway_process

    manager = SparkSessionManager(
        [*class_path_args, "--master", "local[1]"], init_mode="lazy", app_name="toree-cds"
    )
    spark = manager.get()
    proc = _gateway_process(spark)
    df = spark.range(1000).withColumn("even", functions.col("id") % 2 == 0)
    df.groupBy("even").count().collect()
    df.limit(20).collect()
    spark.createDataFrame([(1, "a"), (2, "b")], ["n", "s"]).createOrReplaceTempView("t")
    spark.sql("SELECT s, sum(n) FROM t GROUP BY s").collect()
    spark.range(10).select(functions.udf(lambda x: x + 1, "long")("id")).collect()
    scala = ScalaInterpreter(manager)
    scala.warmup_compiles = 0
    outcome = scala.execute('val n = spark.range(10).count(); println(s"n=$n")', _Discard())  # type: ignore[arg-type]
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
    print("usage: python -m toree_interpreters.class_sharing build [SPARK_ARGS...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
