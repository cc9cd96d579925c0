"""Class-data sharing (CDS) for the Spark driver JVM: about 2 s off every session start.

Each driver JVM parses and verifies ~10k classes from Spark's jars before the first job runs. A
dynamic CDS archive (JDK 13+) holds them ready to map. The JVM writes one only when it exits
normally with ``-XX:ArchiveClassesAtExit``, which a kernel's JVM rarely does (clients kill kernels
that take more than a few seconds to shut down), so ``toree_interpreters.archive_builder`` runs a throwaway session once (from
``toree install``) and sessions use the archive (``java_options``) when one exists for their Java,
Spark jars and driver class path. The JVM checks the archive itself and ignores one that does not
match; its messages about that are turned off. ``TOREE_CLASS_SHARING=off`` turns all of this off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import java
from .submit_args import conf_pairs, option_values

log = logging.getLogger(__name__)

SWITCH_ENV = "TOREE_CLASS_SHARING"  # "off" (or 0/false/no): neither build nor use archives
QUIET = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")  # a mismatched archive is ignored without a word
_CDS_FLAGS = ("SharedArchiveFile", "ArchiveClassesAtExit", "-Xshare")  # the user manages CDS: leave it
_KEEP = 4  # archives kept in the cache (one per Java/Spark/class path; ~120 MB each)
MIN_SIZE = 1 << 20  # smaller than this is not an archive of Spark's classes


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
    parts += class_path_args(spark_args)
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


def class_path_args(spark_args: Sequence[str]) -> list[str]:
    """The options that change the driver JVM's class path (the archive depends on them, and on no other)."""
    found: list[str] = []
    for value in option_values(spark_args, "--driver-class-path"):
        found += ["--driver-class-path", value]
    for key, value in conf_pairs(spark_args):
        if key == "spark.driver.extraClassPath":
            found += ["--conf", f"{key}={value}"]
    return found


def prune(directory: Path) -> None:
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
