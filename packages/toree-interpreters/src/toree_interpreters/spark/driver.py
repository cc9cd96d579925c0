"""The classic session's driver JVM as a process: is it alive, and letting go of a dead one.

pyspark launches the JVM and keeps it (and its py4j gateway) in class attributes; when the JVM dies,
that state has to be reset by hand before ``getOrCreate()`` will launch a new one.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from .. import process_tree

log = logging.getLogger(__name__)


def builder(
    spark_args: Sequence[str], conf: Mapping[str, str], app_name: str, class_dir: str, defaults: Mapping[str, str]
) -> Any:
    """pyspark's builder of the driver: the app name unless the options name one, the REPL's class
    directory, the ``defaults`` the options leave alone, then ``conf``."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if not ("--name" in spark_args or any(a.startswith(("--name=", "spark.app.name=")) for a in spark_args)):
        builder = builder.appName(app_name)
    builder = builder.config("spark.repl.class.outputDir", class_dir)
    for key, value in defaults.items():
        if key not in conf and not any(key in arg for arg in spark_args):
            builder = builder.config(key, value)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder


def add_jar(session: Any, url: str) -> None:
    """A jar on the driver's classpath (the context class loader of py4j's threads, Spark's
    MutableURLClassLoader) and shipped to the executors."""
    jvm: Any = session.sparkContext._jvm  # Optional in the stubs: set on a live classic session
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    try:
        loader.addURL(jvm.java.net.URL(url))
    except Exception as exc:  # not a MutableURLClassLoader: py4j will not see the classes
        log.warning("could not add %s to the driver class loader: %s", url, exc)
    session.sparkContext._jsc.sc().addJar(url)


def gateway_process(session: Any) -> subprocess.Popen[bytes] | None:
    gateway = getattr(session.sparkContext, "_gateway", None)
    return getattr(gateway, "proc", None)


def alive(session: Any) -> bool:
    """False once the classic session's JVM process has exited."""
    proc = gateway_process(session)
    return proc is None or not process_ended(proc)


def process_ended(proc: subprocess.Popen[bytes]) -> bool:
    """The process exited, or is exiting: on Linux a SIGKILLed JVM's main thread is a zombie (state Z)
    while its other threads still tear down, and only then can it be reaped (``poll()`` says alive)."""
    # without /proc (not Linux) poll() is all there is
    return proc.poll() is not None or process_tree.state(proc.pid) in (b"Z", b"X")


def connection_error(exc: BaseException | None) -> bool:
    """py4j lost its connection (not a Java exception): what a dying JVM looks like from here."""
    if exc is None:
        return False
    try:
        from py4j.protocol import Py4JError, Py4JJavaError
    except ImportError:
        return isinstance(exc, OSError | EOFError)
    return isinstance(exc, OSError | EOFError | Py4JError) and not isinstance(exc, Py4JJavaError)


def discard(session: Any) -> None:
    """Forget a classic session whose JVM died: pyspark's class-level state (the gateway, the active
    context and session) is reset so that the next ``getOrCreate()`` launches a new JVM."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    sc = session.sparkContext
    with warnings.catch_warnings():  # "Unable to cleanly shutdown Spark JVM process": we know
        warnings.simplefilter("ignore")
        try:
            sc.stop()  # the JVM side fails fast; this closes the Python-side accumulator server
        except Exception:
            log.debug("stopping the dead SparkContext", exc_info=True)
    gateway = getattr(sc, "_gateway", None)
    if gateway is not None:
        try:
            gateway.shutdown()  # py4j's sockets and (pinned-thread mode) its Python server
        except Exception:
            log.debug("closing the dead py4j gateway", exc_info=True)
    proc = getattr(gateway, "proc", None)
    if proc is not None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(5)  # reap it
        except (subprocess.TimeoutExpired, OSError):
            pass
    with SparkContext._lock:
        SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    try:
        from pyspark.sql import SQLContext

        SQLContext._instantiatedContext = None
    except ImportError:
        pass
    forget_gateway()


def forget_gateway() -> None:
    """pyspark keeps the (now dead) JVM gateway in class attributes; a later session must launch a new one."""
    from pyspark import SparkContext

    SparkContext._gateway = None
    SparkContext._jvm = None


def launches_jvm() -> bool:
    """``getOrCreate()`` will launch a driver JVM of this process: pyspark has no gateway yet and is
    not told to attach to one (``PYSPARK_GATEWAY_PORT``)."""
    from pyspark import SparkContext

    return SparkContext._gateway is None and "PYSPARK_GATEWAY_PORT" not in os.environ


def forget_launch() -> None:
    """A launch killed half-way (``launch.kill_launch``): pyspark may already keep the gateway of the
    killed JVM (and a context being built on it); forget both so that a later session launches anew."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is not None:
        try:
            gateway.shutdown()
        except Exception:
            log.debug("closing the killed JVM's py4j gateway", exc_info=True)
    with SparkContext._lock:
        SparkContext._active_spark_context = None
    forget_gateway()


def death(session: Any, exc: BaseException | None = None, wait: float = 3.0) -> str | None:
    """How the classic session's JVM died (``exit code 1``, ``killed by signal 9`` ...), None while it
    lives. With a py4j connection error ``exc``, waits up to ``wait`` s for a dying JVM to be reaped."""
    proc = gateway_process(session)
    if proc is None:
        return None
    if connection_error(exc):
        deadline = time.monotonic() + wait
        while not process_ended(proc) and time.monotonic() < deadline:
            time.sleep(0.05)
    if not process_ended(proc):
        return None
    try:
        code: int | None = proc.wait(5)  # a JVM with many threads takes a moment to be reapable
    except subprocess.TimeoutExpired:
        code = None
    how = "exit status unknown" if code is None else f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    if code == 52:  # SparkExitCode.OOM
        how += ", out of memory"
    return how


def stop(session: Any, timeout: float) -> None:
    """Stop a classic session and make sure its JVM process is gone (killed after ``timeout`` s)."""
    proc = gateway_process(session)
    if not alive(session):
        discard(session)
    else:
        try:
            session.stop()
        except Exception:
            log.exception("stopping the Spark session failed")
    if proc is not None:
        process_tree.end_process(proc, timeout)
    forget_gateway()


def end(session: Any, timeout: float) -> None:
    """End a classic session's JVM as fast as is clean: told to exit (pyspark's gateway exits when its stdin
    closes, stopping the SparkContext in its shutdown hook), killed after ``timeout`` s. No py4j calls:
    for a process about to exit, whatever the JVM is busy with."""
    proc = gateway_process(session)
    if proc is not None:
        process_tree.end_process(proc, timeout)
    forget_gateway()


def set_working_directory(session: Any, path: str) -> None:
    """Relative paths in Spark resolve against ``path`` (a driver started elsewhere, adopted by a notebook
    in ``path``): Hadoop's local file system, which ``spark.read``/``write`` use, and ``user.dir``."""
    try:
        jvm = session.sparkContext._jvm
        hadoop_conf = session.sparkContext._jsc.hadoopConfiguration()
        local = jvm.org.apache.hadoop.fs.FileSystem.getLocal(hadoop_conf)
        local.setWorkingDirectory(jvm.org.apache.hadoop.fs.Path(jvm.java.io.File(path).toURI()))
        jvm.java.lang.System.setProperty("user.dir", path)
    except Exception:
        log.warning("could not set the Spark driver's working directory to %s", path, exc_info=True)
