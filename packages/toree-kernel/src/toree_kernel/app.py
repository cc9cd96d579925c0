"""Kernel process entry point: options -> Spark session manager -> interpreters -> server.

Start-up order is chosen for latency: sockets are bound and kernel_info is answerable before
Spark starts; in eager mode the JVM comes up in the background while the client connects.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from toree_interpreters import (
    IPythonInterpreter,
    OutputOptions,
    RInterpreter,
    ScalaInterpreter,
    SharedData,
    SparkSessionManager,
    SQLInterpreter,
)
from toree_interpreters.comms import CommManager
from toree_interpreters.contract import DiscardSink, Interpreter
from toree_magics import CellRunner, MagicContext, default_registry
from toree_protocol import read_connection_file
from toree_protocol.server import KernelServer

from . import __version__
from .debug_support import debugpy_available
from .debugger import Debugger
from .history import HistoryStore
from .kernel import ToreeKernel
from .lifecycle import Lifecycle, watch_parent
from .options import parse_options
from .pooled import Adoption, PoolChannel
from .pooled import apply as apply_adoption

# The Kernel Gateway's notebook-http mode assigns ``REQUEST = "<json>"`` before each call: Scala needs the var.
GATEWAY_PREDEF = 'var REQUEST: String = ""'

log = logging.getLogger("toree_kernel")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("TOREE_LOG_LEVEL", "WARNING").upper(),
        stream=sys.stderr,
        format="[toree %(levelname)s %(asctime)s %(name)s] %(message)s",
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its INFO lines are per-connection chatter
    try:
        pool = PoolChannel.from_environment()  # a kernel of a warm pool: adopted later, connection then
        options = parse_options(sys.argv[1:] if argv is None else argv)
        if not options.connection_file and pool is None:
            raise ValueError("a connection file is required: python -m toree_kernel -f CONNECTION_FILE")
        connection = None if pool is not None else read_connection_file(str(options.connection_file))
    except (ValueError, OSError) as exc:
        print(f"toree: {exc}", file=sys.stderr)
        return 2

    spark = SparkSessionManager(spark_args=options.spark_args, init_mode=options.init_mode)
    data = SharedData()  # kernel.data, one map for every language
    # %ShowTypes, %Truncation, %ShowOutput, %Progress (its default from --progress / TOREE_PROGRESS)
    output_options = OutputOptions(progress=options.progress)
    comms = CommManager()  # Jupyter comms (ipywidgets), one set for the kernel
    # The Jupyter Kernel Gateway sets KERNEL_GATEWAY=1 for the kernels it starts. Its notebook-http mode
    # assigns ``REQUEST = "<json>"`` before each call (Scala needs a declared var for that) and reads
    # every IOPub message as a reply to one of its requests: a parentless iopub_welcome arriving while a
    # request runs kills its IOPub stream, and that request (and all later ones) never answer.
    under_gateway = _under_gateway()
    scala = ScalaInterpreter(
        spark, shared_data=data, options=output_options, comms=comms, predef=GATEWAY_PREDEF if under_gateway else ""
    )
    # PySpark cells are IPython cells. The kernel owns its process: the PySpark hooks (sys.stdout,
    # getpass, comm) stay in place between cells, so threads that outlive a cell and widget callbacks
    # keep reaching the client.
    python = IPythonInterpreter(spark, shared_data=data, options=output_options, comms=comms, hooks="process")
    interpreters = {
        "PySpark": python,
        "Scala": scala,
        "SQL": SQLInterpreter(spark, shared_data=data, options=output_options),
        # R in a process of its own, started with the SparkR kernel or at a kernel's first R cell
        "SparkR": RInterpreter(
            spark, options=output_options, eager=options.default_interpreter.lower() == "sparkr"
        ),
    }
    # JupyterLab's debugger, for the PySpark kernel's cells when debugpy is installed
    pyspark_kernel = options.default_interpreter.lower() == "pyspark"
    debugger = Debugger(python) if pyspark_kernel and debugpy_available() else None
    work_dir = Path(tempfile.mkdtemp(prefix="toree-kernel-"))  # downloaded jars, the Ivy cache
    context = MagicContext(
        interpreters={name.lower(): i for name, i in interpreters.items()},
        spark=spark,
        options=output_options,
        shared_data=data,
        work_dir=work_dir,
    )
    try:
        kernel = ToreeKernel(
            interpreters,
            options.default_interpreter,
            CellRunner(default_registry(), context),
            history=HistoryStore(),
            banner=f"Toree {__version__} (Python) for Spark; interpreters: {', '.join(interpreters)}",
            comms=comms,
            debugger=debugger,
        )
    except ValueError as exc:
        print(f"toree: {exc}", file=sys.stderr)
        return 2

    servers: list[KernelServer] = []  # the one server, once the kernel has a connection

    def stop_serving() -> None:
        for server in servers:
            server.stop()

    def cleanup() -> None:
        kernel.close(rooms=False)  # the lifecycle shut them down
        for server in servers:
            server.close(timeout=0.5)
        shutil.rmtree(work_dir, ignore_errors=True)

    lifecycle = Lifecycle(
        stop_serving=stop_serving,
        interrupt=kernel.interrupt_running,
        main_busy=lambda: kernel.main_busy,
        rooms=interpreters.values(),
        spark=spark,
        cleanup=cleanup,
    )
    kernel.on_shutdown = lifecycle.shutdown
    kernel.install_sigint_handler()
    signal.signal(signal.SIGTERM, lambda *_: lifecycle.shutdown("SIGTERM"))
    watch_parent(lifecycle.shutdown)  # the server was killed (even with SIGKILL): no orphan kernel or JVM
    spark.start()  # eager: background JVM start; lazy/none: nothing yet
    for interpreter in interpreters.values():
        interpreter.start()
    connection_file = options.connection_file
    try:
        if pool is not None:
            adoption = _wait_in_pool(pool, kernel, interpreters.values(), spark, lifecycle)
            if adoption is None:
                return 0
            if not under_gateway and _under_gateway():  # the launch that adopted it set it
                _declare_gateway_request(scala)
            connection_file = adoption.connection_file
            connection = read_connection_file(connection_file)
        assert connection is not None
        # no iopub_welcome under the Kernel Gateway (a pooled kernel learns that it is with its adoption)
        welcome = not _under_gateway()
        server = KernelServer(connection, kernel, connection_file=connection_file, welcome=welcome)
        servers.append(server)
        server.bind()
        if not lifecycle.shutting_down:
            server.serve_forever()
    finally:
        lifecycle.main_returned()  # stops rooms, Spark and child processes within the shutdown deadline
    return 0


def _wait_in_pool(
    pool: PoolChannel,
    kernel: ToreeKernel,
    rooms: Iterable[Interpreter],
    spark: SparkSessionManager,
    lifecycle: Lifecycle,
) -> Adoption | None:
    """A pooled kernel: warm up (on a thread of its own) until a notebook adopts it, then take on the
    notebook's working directory, variables and language. None: the pool is gone (or the kernel stops)."""
    threading.Thread(
        target=_warm_up, args=(rooms, pool, lambda: lifecycle.shutting_down), name="toree-warm-up", daemon=True
    ).start()
    adoption = pool.wait_for_adoption(lambda: lifecycle.shutting_down)
    if adoption is None:
        lifecycle.shutdown("the warm pool is gone")
        return None
    apply_adoption(adoption)
    if adoption.cwd:
        spark.set_working_directory(adoption.cwd)
    interpreter = adoption.env.get("DEFAULT_INTERPRETER")
    if interpreter:
        try:
            kernel.use_default(interpreter)
        except ValueError as exc:
            log.warning("%s", exc)
    pool.watch(lifecycle.shutdown)
    return adoption


def _under_gateway() -> bool:
    """Started by the Jupyter Kernel Gateway (it sets ``KERNEL_GATEWAY=1``; a pooled kernel gets it at adoption)."""
    return os.environ.get("KERNEL_GATEWAY") == "1"


def _declare_gateway_request(scala: ScalaInterpreter) -> None:
    """A pooled kernel learns at adoption that the Gateway runs it, after its warm-up built the Scala REPL
    (or while it does): ``REQUEST`` is declared there now (waiting for a REPL being built), and in every
    REPL built later."""
    scala.predef = GATEWAY_PREDEF
    outcome = scala.execute(GATEWAY_PREDEF, DiscardSink())
    if outcome.status != "ok":
        log.warning("could not declare the Gateway's REQUEST in Scala: %s", outcome.error)


def _warm_up(rooms: Iterable[Interpreter], pool: PoolChannel, stopping: Callable[[], bool]) -> None:
    """Each room's warm-up in turn (Python first: it brings the session up), then "ready" to the pool."""
    started = time.monotonic()
    for room in rooms:
        try:
            room.warm_up()
        except Exception:  # a pooled kernel that cannot warm up still serves, as a cold one would
            if stopping():
                return
            log.warning("warming up %s failed", room.name, exc_info=True)
    log.info("pooled kernel warmed up in %.1f s: ready for a notebook", time.monotonic() - started)
    pool.tell("ready")
