"""Scala cells on Spark Connect: the REPL bridge in the client JVM (``spark.connect_jvm``), on the kernel's session.

``spark`` there is a Connect client of the same server-side session as Python's (``connect_url``), so temp
views, configs and artifacts are shared; a class finder uploads what the REPL compiles before each
operation (closures, UDFs, case classes, typed Dataset lambdas run on the server); ``sc`` says clearly
that it needs the classic session.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from ..spark.connect_jvm import ConnectJvm
from ..spark.session import SparkSessionManager
from .bridge import ReplBridge, scala_source

SUPPORT = "connect_support.scala"  # compiled as a file: the class finder needs package-private access
SESSION = "connect_session.scala"
LINE = "\n// REPL line\n"  # where SESSION's REPL lines are cut


def progress_poll(bridge: ReplBridge, tag: str) -> Callable[[], str] | None:
    """The Scala client's progress reports on the cell of ``tag`` (kept from now on), for its progress
    display; None on the classic session, where Spark's status tracker has them."""
    try:
        progress = bridge.term("toreeConnect").progress()
    except KeyError:
        return None
    progress.watch(tag)
    return lambda: str(progress.snapshot(tag))


def dataset_view(bridge: ReplBridge, value: Any, name: str) -> bool:
    """A Dataset of the Scala client as temp view ``name`` of the session Python shares; False for another
    value, or on the classic session (where Python wraps the JVM Dataset itself)."""
    try:
        helper = bridge.term("toreeConnect")
    except KeyError:
        return False
    return bool(helper.view(value, name))


def new_bridge(
    client: ConnectJvm, spark: SparkSessionManager, session: Any, options: str, predef: str = ""
) -> ReplBridge:
    """A REPL in ``client``'s JVM whose ``spark`` is the kernel's Connect session (``predef``: as the classic
    REPL's, e.g. the Kernel Gateway's ``var REQUEST``)."""
    class_dir = str(spark.repl_class_dir)
    source = string.Template(scala_source(SESSION)).substitute(
        url=spark.connect_url, class_dir=class_dir, remote=spark.remote
    )
    lines = tuple(source.split(LINE)[1:])  # the first part is the file's header comment
    return ReplBridge(
        session, class_dir, options, predef, jvm=client.jvm, spark_lines=lines, units=(scala_source(SUPPORT),)
    )


class ReplJvm:
    """The client JVM a kernel's Scala REPL runs in over Spark Connect: the kernel's one (``spark.client_jvm``,
    which ``%AddDeps`` may have launched already), launched when a REPL is first built, again after it died
    (the server went away)."""

    def __init__(self, spark: SparkSessionManager) -> None:
        self.spark = spark
        self.jvm: ConnectJvm | None = None  # the one the REPL was built in

    def usable(self) -> bool:
        """No client JVM was needed, or the REPL's is still the kernel's and runs."""
        client = self.jvm
        return client is None or (client is self.spark.client_jvm.launched and client.alive)

    def factory(self, session: Any, predef: str) -> tuple[Any, Callable[[str], ReplBridge]]:
        """The client JVM's py4j gateway, and a builder of a REPL bridge in it (given compiler options)."""
        self.jvm = client = self.spark.client_jvm.get()
        return client.gateway, lambda options: new_bridge(client, self.spark, session, options, predef)

    def stop(self) -> None:
        """The REPL is gone with its session: the JVM too, so the next REPL starts in a fresh one."""
        if self.jvm is not None:
            self.jvm = None
            self.spark.client_jvm.stop()
