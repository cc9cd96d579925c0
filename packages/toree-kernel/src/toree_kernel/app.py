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
from collections.abc import Sequence
from pathlib import Path

from toree_interpreters import (
    IPythonInterpreter,
    OutputOptions,
    ScalaInterpreter,
    SharedData,
    SparkSessionManager,
    SQLInterpreter,
)
from toree_interpreters.comms import CommManager
from toree_magics import CellRunner, MagicContext, default_registry
from toree_protocol import read_connection_file
from toree_protocol.server import KernelServer

from . import __version__
from .history import HistoryStore
from .kernel import ToreeKernel
from .options import parse_options

log = logging.getLogger("toree_kernel")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("TOREE_LOG_LEVEL", "WARNING").upper(),
        stream=sys.stderr,
        format="[toree %(levelname)s %(asctime)s %(name)s] %(message)s",
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its INFO lines are per-connection chatter
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv)
        if not options.connection_file:
            raise ValueError("a connection file is required: python -m toree_kernel -f CONNECTION_FILE")
        connection = read_connection_file(options.connection_file)
    except (ValueError, OSError) as exc:
        print(f"toree: {exc}", file=sys.stderr)
        return 2

    spark = SparkSessionManager(spark_args=options.spark_args, init_mode=options.init_mode)
    data = SharedData()  # kernel.data, one map for every language
    # %ShowTypes, %Truncation, %ShowOutput, %Progress (its default from --progress / TOREE_PROGRESS)
    output_options = OutputOptions(progress=options.progress)
    comms = CommManager()  # Jupyter comms (ipywidgets), one set for the kernel
    interpreters = {
        # PySpark cells are IPython cells. The kernel owns its process: the PySpark hooks (sys.stdout,
        # getpass, comm) stay in place between cells, so threads that outlive a cell and widget callbacks
        # keep reaching the client.
        "PySpark": IPythonInterpreter(
            spark, shared_data=data, options=output_options, comms=comms, hooks="process"
        ),
        "Scala": ScalaInterpreter(spark, shared_data=data, options=output_options, comms=comms),
        "SQL": SQLInterpreter(spark, shared_data=data, options=output_options),
    }
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
        )
    except ValueError as exc:
        print(f"toree: {exc}", file=sys.stderr)
        return 2

    server = KernelServer(connection, kernel, connection_file=options.connection_file)
    server.bind()
    kernel.install_sigint_handler()

    def on_sigterm(*_: object) -> None:
        server.stop()
        kernel.interrupt_running()  # a running cell must not hold up the exit

    signal.signal(signal.SIGTERM, on_sigterm)
    spark.start()  # eager: background JVM start; lazy/none: nothing yet
    for interpreter in interpreters.values():
        interpreter.start()
    try:
        server.serve_forever()
    finally:
        kernel.close()
        spark.stop()
        server.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0

