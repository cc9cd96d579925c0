"""The REPL compiler's interrupt-check plugin (resources/interrupt_checks.scala), compiled once.

Java 20 removed ``Thread.stop``, the only way to end ``while (true) {}`` from outside (Almond and
Ammonite still call it; JVMTI's StopThread needs a debugger agent loaded at JVM start). So loops stop
themselves: the plugin puts an interrupt check at the top of every loop a cell compiles, and the
cell interrupt's ``Thread.interrupt`` ends them on any Java.

The plugin is compiled against the Scala compiler pyspark ships, in the driver JVM, the first time a
kernel of that Scala version starts (a few seconds), into a per-user cache directory that later
kernels reuse. Anything going wrong only costs the checks: the REPL starts without them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .bridge import scala_source

log = logging.getLogger(__name__)
SOURCE = "interrupt_checks.scala"
DESCRIPTOR = "scalac-plugin.xml"
PLUGIN_NAME = "toree-interrupt-checks"


def cache_root() -> Path:
    """Where compiled plugins are kept: ``$TOREE_SCALA_CACHE``, else the user's cache directory."""
    if explicit := os.environ.get("TOREE_SCALA_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "toree-in-python" / "scala"


def plugin_key(scala_version: str) -> str:
    """A cache entry's name: the Scala version and the plugin's source (a changed source recompiles)."""
    digest = hashlib.sha256(f"{scala_source(SOURCE)}\0{scala_source(DESCRIPTOR)}".encode()).hexdigest()
    return f"interrupt-checks-{scala_version}-{digest[:12]}"


def compiler_options(plugin_dir: Path) -> str:
    """The REPL settings that load the plugin (and fail the REPL's start if it does not load)."""
    return f"-Xplugin:{plugin_dir} -Xplugin-require:{PLUGIN_NAME}"


def plugin_dir(gateway: Any, scala_version: str) -> Path | None:
    """The compiled plugin's directory (compiling it first if needed), or None when it cannot be had."""
    try:
        root = cache_root()
        target = root / plugin_key(scala_version)
        if (target / DESCRIPTOR).is_file():
            return target
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".compiling-", dir=root))
        try:
            if not _compile(gateway, work):
                log.warning("the Scala interrupt checks did not compile: loops stop only via Thread.stop")
                return None
            try:
                work.rename(target)  # atomic: a kernel starting alongside sees all of it or nothing
            except OSError:  # another kernel was quicker
                if not (target / DESCRIPTOR).is_file():
                    raise
            return target
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except Exception:
        log.warning("the Scala interrupt checks are unavailable", exc_info=True)
        return None


def _compile(gateway: Any, out: Path) -> bool:
    """scalac in the REPL's JVM (py4j ``gateway``): the plugin's classes and descriptor into ``out``."""
    source = out / SOURCE
    source.write_text(scala_source(SOURCE), "utf-8")
    jvm = gateway.jvm
    args = ["-usejavacp", "-nowarn", "-d", str(out), str(source)]
    array = gateway.new_array(jvm.java.lang.String, len(args))
    for i, arg in enumerate(args):
        array[i] = arg
    if not jvm.scala.tools.nsc.Main.process(array):
        return False
    source.unlink()
    (out / DESCRIPTOR).write_text(scala_source(DESCRIPTOR), "utf-8")
    return any(out.glob("toree_plugin/*.class"))
