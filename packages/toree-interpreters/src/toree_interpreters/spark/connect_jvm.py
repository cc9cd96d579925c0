"""The kernel's JVM on Spark Connect: the Connect JVM client and the Scala compiler, no Spark driver.

pyspark 4.x ships the client (``jars/connect-repl/spark-connect-client-jvm``, what ``spark-connect-shell``
runs). The kernel launches it with py4j's gateway server, so the Scala REPL bridge drives it exactly as it
drives the classic driver JVM, and ``%AddDeps`` resolves in it with Spark's Ivy (``MavenUtils``, in
spark-common-utils). Its classpath is spark-connect-shell's: the client first, then pyspark's jars without
the classic SQL engine and the Connect server. One per kernel (``ClientJvm``, owned by the session manager):
whichever of Scala cells and ``%AddDeps`` needs it first launches it, the other reuses it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from ..process_tree import end_process
from .unavailable import SparkConnectUnsupported

log = logging.getLogger(__name__)

SERVER_SIDE = ("spark-sql_", "spark-connect_")  # classic engine and server: not in a client's JVM
JAVA_OPTIONS = [
    "-Dscala.usejavacp=true",
    "-Xss4m",  # the compiler recurses deeply on long cells
    "-XX:+UseSerialGC",  # one small client heap: the least memory for the kernel's own JVM
    "--add-opens=java.base/java.nio=ALL-UNNAMED",  # Arrow, which decodes the server's results
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dlog4j2.level=WARN",
]


def spark_home() -> Path:
    """SPARK_HOME, else the installed pyspark's own directory (where its jars are)."""
    home = os.environ.get("SPARK_HOME")
    if home:
        return Path(home)
    import pyspark

    return Path(pyspark.__file__).parent


def classpath(home: Path) -> list[str]:
    """The client's JVM classpath; SparkConnectUnsupported when this Spark has no JVM Connect client."""
    clients = sorted((home / "jars" / "connect-repl").glob("spark-connect-client-jvm_*.jar"))
    if not clients:
        raise SparkConnectUnsupported(
            f"Scala cells on Spark Connect need the Spark Connect JVM client (jars/connect-repl in pyspark 4.x); "
            f"{home} has none"
        )
    jars = sorted(jar for jar in (home / "jars").glob("*.jar") if not jar.name.startswith(SERVER_SIDE))
    return [str(clients[-1]), *map(str, jars)]


class ConnectJvm:
    """A launched client JVM and the py4j gateway to it."""

    def __init__(self, gateway: Any, process: subprocess.Popen[bytes]) -> None:
        self.gateway = gateway
        self.jvm = gateway.jvm
        self.process = process

    @classmethod
    def launch(cls) -> ConnectJvm:
        from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway

        home = spark_home()
        jars = classpath(home)
        py4j_jars = sorted((home / "jars").glob("py4j-*.jar"))
        # die_on_exit: the JVM ends with the kernel even when the kernel is killed. A process group of its
        # own: a SIGINT to the kernel's group (Jupyter's interrupt) must not kill it.
        port, process = launch_gateway(
            classpath=os.pathsep.join(jars),
            jarpath=str(py4j_jars[-1]) if py4j_jars else "",
            javaopts=JAVA_OPTIONS,
            die_on_exit=True,
            create_new_process_group=True,
            return_proc=True,
        )
        gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))
        log.info("Spark Connect Scala JVM started (pid %s)", process.pid)
        return cls(gateway, process)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 3.0) -> None:
        """Close the gateway and make sure the JVM is gone. Idempotent. The JVM exits when its stdin closes
        (py4j's die-on-broken-pipe): closing the gateway alone leaves it running until ``timeout`` and a kill."""
        try:
            self.gateway.shutdown()
        except Exception:
            log.debug("closing the Connect JVM's gateway failed", exc_info=True)
        end_process(self.process, timeout)


class ClientJvm:
    """The kernel's one client JVM over Spark Connect, launched on first use and again after it died (or
    was stopped: the Scala room stops it when the server went away). Thread-safe."""

    def __init__(self) -> None:
        self._jvm: ConnectJvm | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """A JVM was launched and still runs (``get()`` would not launch one)."""
        return self._jvm is not None and self._jvm.alive

    @property
    def launched(self) -> ConnectJvm | None:
        """The JVM launched last (alive or not), without launching one."""
        return self._jvm

    def get(self) -> ConnectJvm:
        """The running JVM, launching it now (~1 s) when there is none."""
        with self._lock:
            if self._jvm is None or not self._jvm.alive:
                self._jvm = ConnectJvm.launch()
            return self._jvm

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the JVM if one runs. Idempotent."""
        with self._lock:
            client, self._jvm = self._jvm, None
        if client is not None:
            client.stop(timeout)
