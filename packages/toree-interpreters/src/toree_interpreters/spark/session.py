"""One managed SparkSession per kernel, started eagerly in the background, lazily, or never.

Spark options are spark-submit arguments (``--master``, ``--conf k=v``, ``--driver-memory``,
``--jars``, ``--packages`` ...). Rather than re-implement their parsing, they are handed to
spark-submit itself through ``PYSPARK_SUBMIT_ARGS``, which pyspark uses to launch the JVM.

Spark Connect: with ``--remote sc://HOST:PORT`` among the options (or ``SPARK_REMOTE`` set), the
session is a Connect client of that server instead (only the ``--conf`` options apply), in one
server-side session (``connect_url``) that every language's client shares. ``sc``/RDDs report
``SparkConnectUnsupported``; ``%AddJar`` uploads the jar as an artifact (``%AddDeps`` too, after resolving
in ``client_jvm``). Cells tag their operations (``spark.addTag``, in ``cell.py``) so interrupts cancel them.
"""

from __future__ import annotations

import getpass
import importlib.util
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import driver, launch, remote
from .catalog import CatalogNames
from .connect_jvm import ClientJvm
from .environment import LaunchEnvironment
from .resolver import MavenResolver
from .submit_args import option_values
from .unavailable import SparkConnectUnsupported, SparkUnavailable

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

INIT_MODES = ("eager", "lazy", "none")
# Defaults for interactive use, applied only where the user's options do not set the key.
INTERACTIVE_DEFAULTS = {
    # After an interrupt, Python UDF workers of cancelled tasks are killed after this long (Spark's
    # default, 2 s, keeps the cores busy and delays the next cell's job by that much).
    "spark.python.task.killTimeout": "200ms",
    # Spark's text progress bar writes to the driver's stderr, which would land in cells (and the
    # kernel's terminal) as carriage-return noise.
    "spark.ui.showConsoleProgress": "false",
}
STOPPED = "the Spark session was stopped while it started"
REQUEST_WAIT_S = 10.0  # completion/inspect right after start-up wait this long for the session
LOST_STATE = "DataFrames, temp views, cached data and Scala definitions of the old session are gone"


def is_connect(session: Any) -> bool:
    """True for a Spark Connect client session (``pyspark.sql.connect``), False for a classic one."""
    return type(session).__module__.startswith("pyspark.sql.connect")


class SparkSessionManager:
    """Owns the kernel's SparkSession. Thread-safe; ``get()`` blocks until the session is ready."""

    def __init__(
        self,
        spark_args: Sequence[str] = (),
        *,
        init_mode: str = "eager",
        app_name: str = "Toree",
        conf: Mapping[str, str] | None = None,
    ) -> None:
        if init_mode not in INIT_MODES:
            raise ValueError(f"init_mode must be one of {INIT_MODES}, not {init_mode!r}")
        self.spark_args = tuple(spark_args)
        self.init_mode = init_mode
        self.app_name = app_name
        self.conf = dict(conf or {})
        # Classes the Scala REPL compiles go here; executors fetch them (spark.repl.class.outputDir).
        self.repl_class_dir = tempfile.mkdtemp(prefix="toree-repl-classes-")
        self.connect_session_id = str(uuid.uuid4())  # Spark Connect: the server-side session of all languages
        self.ready_at: float | None = None  # wall-clock time the session became usable
        self._session: SparkSession | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._notice: str | None = None  # for the next cell: the session was replaced
        self._on_lost: list[Callable[[], None]] = []
        self._stopping = False  # stop() was called: a session still starting is not kept
        self._launching = False  # getOrCreate() is launching a driver JVM of this process
        self.generation = 0  # sessions started so far (a new one after the JVM died counts)
        self._env = LaunchEnvironment()  # what launching changed in os.environ; put back by stop()
        self._working_directory: str | None = None  # relative paths in Spark (set_working_directory)
        self.client_jvm = ClientJvm()  # Spark Connect: the kernel's one JVM (Scala cells, %AddDeps), if any
        # %AddDeps: Maven resolution in the driver JVM, or that client JVM (it remembers unreachable repositories)
        self.maven = MavenResolver(self._maven_jvm)
        self.catalog_names = CatalogNames(self)  # for completion in every language; cells invalidate it

    # Starting -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Eager mode: begin starting the JVM in the background and return at once."""
        if self.init_mode == "eager":
            self._start_in_background()

    @property
    def stopping(self) -> bool:  # stop() was called: no session is started any more (a kernel shutting down)
        return self._stopping

    def _start_in_background(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._create, name="spark-start", daemon=True)
                self._thread.start()

    @property
    def remote(self) -> str | None:
        """The Spark Connect URL: ``--remote URL`` in the spark options (the last one), else ``SPARK_REMOTE``."""
        urls = option_values(self.spark_args, "--remote")
        return (urls[-1] if urls else None) or os.environ.get("SPARK_REMOTE") or None

    @property
    def connect_url(self) -> str | None:
        """``remote`` with this kernel's session id and user: what every language's Connect client uses."""
        url = self.remote
        return url and remote.with_session(url, self.connect_session_id, getpass.getuser())

    def classic(self, feature: str) -> SparkSession:
        """The session, for ``feature`` that needs the driver JVM here; SparkConnectUnsupported on Connect."""
        session = self.get()
        if is_connect(session):
            raise SparkConnectUnsupported(
                f"{feature} not available with Spark Connect (the kernel uses {self.remote}): it needs the "
                "Spark driver JVM in the kernel's process. Use the DataFrame API or SQL, or start the kernel "
                "without --remote / SPARK_REMOTE."
            )
        return session

    def _maven_jvm(self) -> Any:
        """Where %AddDeps resolves: the driver JVM; on Spark Connect the client JVM (launched if need be)."""
        return self.client_jvm.get().jvm if self.remote else self.classic("%AddDeps is").sparkContext._jvm

    @property
    def is_ready(self) -> bool:
        """A session was started (its JVM may have died since: ``get()`` then starts a new one)."""
        return self._session is not None

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a session that is starting (never starts one): True when one is up.
        For requests that need the session but must not hang, such as completion right after start-up."""
        if self._thread is not None:
            self._done.wait(timeout)
        return self.session_if_ready is not None

    @property
    def session_if_ready(self) -> SparkSession | None:
        """The session if it is up and its JVM alive, without starting or waiting for it."""
        session = self._session
        return session if session is not None and _jvm_alive(session) else None

    @property
    def driver_process(self) -> subprocess.Popen[bytes] | None:
        """The Spark driver JVM this process launched (None before the session, on Spark Connect, or when
        pyspark attached to a JVM it did not start)."""
        session = self._session
        return None if session is None or is_connect(session) else driver.gateway_process(session)

    # A dead JVM -----------------------------------------------------------------------------------
    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (no locks held, must not block) when a session whose JVM died is dropped."""
        self._on_lost.append(callback)

    def take_notice(self) -> str | None:
        """Once: the message that the Spark session was lost and a new one started (for a cell's stderr)."""
        notice, self._notice = self._notice, None
        return notice

    def announce(self, sink: Any) -> None:
        """Write ``take_notice()`` (if any) to the cell's stderr."""
        notice = self.take_notice()
        if notice:
            try:
                sink.stream("stderr", notice + "\n")
            except Exception:
                log.debug("could not announce the new Spark session", exc_info=True)

    def died(self, exc: BaseException | None = None, wait: float = 3.0) -> SparkUnavailable | None:
        """The error to report when the classic session's JVM is gone (None while it lives). With a py4j
        connection error ``exc``, waits up to ``wait`` s for a dying JVM to be reaped."""
        session = self._session
        if session is not None and is_connect(session):
            gone = remote.server_gone(exc, self.remote or "")
            if gone is not None:  # a new client connects to the server when it is back
                self._replace_dead(session, gone)
                return SparkUnavailable(f"{gone}; the next cell connects again ({LOST_STATE})")
            return None
        if session is None:
            return None
        how = driver.death(session, exc, wait)
        if how is None:
            return None
        return SparkUnavailable(
            f"the Spark JVM died ({how}); the next cell starts a new Spark session ({LOST_STATE})"
        )

    def _replace_dead(self, session: SparkSession, why: str = "its JVM died") -> None:
        """Drop ``session`` (its JVM or Connect server is gone) and start a new one in the background."""
        with self._lock:
            if self._session is not session:
                return  # another thread replaced it already
            self._session = None
            self._error = None
            self._done.clear()  # get() in other threads waits for the new session (the old thread
            # object stays until the old session is discarded: nobody starts one meanwhile)
        log.warning("the Spark session was lost (%s); starting a new one", why)
        try:
            driver.discard(session) if not is_connect(session) else None
        except Exception:  # a new session must be started whatever happens here
            log.exception("forgetting the dead Spark session failed")
        shutil.rmtree(self.repl_class_dir, ignore_errors=True)
        self.repl_class_dir = tempfile.mkdtemp(prefix="toree-repl-classes-")
        self._notice = f"The Spark session was lost ({why}); started a new one. {LOST_STATE[0].upper()}{LOST_STATE[1:]}."
        for callback in self._on_lost:
            try:
                callback()
            except Exception:
                log.exception("on_lost callback failed")
        with self._lock:
            self._thread = None
        self._start_in_background()

    def get(self, timeout: float | None = None) -> SparkSession:
        """The session, starting it now in lazy mode; raises SparkUnavailable with a readable reason."""
        if self.init_mode == "none":
            raise SparkUnavailable(
                "this kernel was started without a Spark session (--nosparkcontext or "
                "--spark-context-initialization-mode none)"
            )
        if self.remote and self._error is not None and self._done.is_set():  # the Connect server: try again
            with self._lock:
                self._thread, self._error = None, None
                self._done.clear()
        self._start_in_background()
        if self._stopping and self._thread is None:
            raise SparkUnavailable(STOPPED)
        if not self._done.wait(timeout):
            raise SparkUnavailable(f"the Spark session did not start within {timeout} s")
        session = self._session
        if session is not None and not _jvm_alive(session):
            self._replace_dead(session)
            return self.get(timeout)
        if session is None:
            if self._done.is_set() or self._error is not None:
                raise SparkUnavailable(f"the Spark session could not be started: {self._error}") from self._error
            return self.get(timeout)  # replaced by another thread meanwhile
        return session

    def _create(self) -> None:
        started = time.perf_counter()
        try:
            with self._env.recorded():
                session = self._build()
            with self._lock:
                stopping = self._stopping
                if not stopping:
                    self._session = session
            if stopping:  # stop() came while it started, too late to cancel the launch
                self._stop_session(session, 5.0)
                raise SparkUnavailable(STOPPED)
            self.generation += 1
            self.ready_at = time.time()
            if self._working_directory is not None and not is_connect(session):
                driver.set_working_directory(session, self._working_directory)
            log.info("Spark session ready in %.1f s", time.perf_counter() - started)
        except BaseException as exc:  # reported to every cell that asks for the session
            if self._stopping:
                self._error = SparkUnavailable(STOPPED)
                if self.remote is None:
                    driver.forget_launch()  # pyspark may hold the gateway of the JVM stop() killed
            else:
                self._error = _explain_start_failure(exc)
                log.error("Spark session failed to start: %s", self._error)
        finally:
            self._done.set()

    def _build(self) -> SparkSession:
        if self.remote:
            return remote.connect(self.connect_url or self.remote, self.remote, self.spark_args, self.conf)
        from . import class_sharing, java  # the classic path's own: never loaded by a Spark Connect kernel

        try:  # say what to install, rather than pyspark's "Java gateway process exited"
            java.check_java(java.required_java(os.environ.get("SPARK_HOME")))
        except java.JavaError as exc:
            raise SparkUnavailable(f"{exc} Then restart the kernel.") from None
        # Workers run the kernel's Python, not whatever `python3` is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ["PYSPARK_SUBMIT_ARGS"] = shlex.join([*self.spark_args, "pyspark-shell"])
        defaults = dict(INTERACTIVE_DEFAULTS)
        if not (importlib.util.find_spec("pyarrow") and importlib.util.find_spec("pandas")):
            # Spark 4 turns Arrow on for Python UDFs, then warns in every UDF cell that it cannot.
            defaults["spark.sql.execution.pythonUDF.arrow.enabled"] = "false"
        builder = driver.builder(self.spark_args, self.conf, self.app_name, self.repl_class_dir, defaults)

        sharing = class_sharing.java_options(self.spark_args)
        if sharing:
            log.info("the driver JVM uses the class-data-sharing archive %s", sharing[0].partition("=")[2])
        with self._env.prepended_opts(sharing):
            if self._stopping:
                raise SparkUnavailable(STOPPED)
            self._launching = driver.launches_jvm()  # from here on stop() kills the launch
            try:
                return builder.getOrCreate()
            finally:
                self._launching = False

    # Jars -----------------------------------------------------------------------------------------
    def add_jar(self, url: str) -> None:
        """Put a jar on the driver's classpath and ship it to the executors (``%AddJar``). The driver side is
        the context class loader of py4j's threads (Spark's MutableURLClassLoader): ``spark._jvm.some.Class``
        then resolves. Language compilers (Scala) add it themselves."""
        session = self.get()
        if is_connect(session):  # uploaded to the server's session (the Scala REPL adds it itself)
            session.addArtifacts(remote.jar_path(url))
            return
        driver.add_jar(session, url)

    # Stopping -------------------------------------------------------------------------------------
    def stop(self, timeout: float = 5.0, *, exiting: bool = False) -> None:
        """Stop the session and make sure the JVM process is gone; the environment variables its launch
        set (``PYSPARK_SUBMIT_ARGS`` ...) get the host's values back. Idempotent. ``exiting``: the process
        is about to exit (a kernel shutting down): the JVM is only told to exit (it stops the SparkContext
        in its own shutdown hook) and killed after ``timeout``, with no py4j calls that a busy JVM (a
        running cell, the Scala compiler) could hold up."""
        try:
            self._stop(timeout, exiting)
        finally:
            self._env.restore()

    def set_working_directory(self, path: str) -> None:
        """Resolve relative paths in Spark (``spark.read.csv("data.csv")``) against ``path`` from now on,
        as in a driver started there: a kernel from a warm pool adopted by a notebook in ``path``."""
        self._working_directory = path
        session = self.session_if_ready
        if session is not None and not is_connect(session):
            driver.set_working_directory(session, path)

    def _stop(self, timeout: float, exiting: bool = False) -> None:
        with self._lock:
            self._stopping = True
        # A session still starting: its JVM launch is killed rather than waited for (see launch.py).
        deadline = time.monotonic() + timeout
        while self._thread is not None and not self._done.is_set() and time.monotonic() < deadline:
            if self._launching:
                launch.kill_launch()
            self._done.wait(0.05)
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            self._stop_session(session, timeout, exiting)
        self.client_jvm.stop(timeout)
        shutil.rmtree(self.repl_class_dir, ignore_errors=True)

    @staticmethod
    def _stop_session(session: SparkSession, timeout: float, exiting: bool = False) -> None:
        if is_connect(session):  # a client: the server (and its session) live on
            try:
                session.stop()
            except Exception:
                log.exception("closing the Spark Connect session failed")
            return
        if exiting:
            driver.end(session, timeout)
        else:
            driver.stop(session, timeout)


def _jvm_alive(session: Any) -> bool:
    """False once the classic session's JVM process has exited (a Connect session: always True)."""
    return is_connect(session) or driver.alive(session)


def _explain_start_failure(exc: BaseException) -> BaseException:
    if isinstance(exc, SparkUnavailable):
        return exc
    if isinstance(exc, remote.ConnectUnreachable):
        return SparkUnavailable(str(exc))
    text = str(exc)
    if "Java gateway process exited" in text:
        return SparkUnavailable(
            "the Spark JVM exited during start-up; check the spark options (SPARK_OPTS / --spark_opts) "
            f"and the kernel's stderr for the JVM's own message ({text})"
        )
    return exc
