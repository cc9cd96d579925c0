"""Fixtures that run the real kernel: our kernelspec installed by the real CLI into a temp prefix."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # kernel_support, for the tests (importlib import mode)
from kernel_support import TEST_SPARK_OPTS, Kernel, toree_install

from toree_interpreters.r.process import INSTALL_HINT, r_binary


@pytest.fixture(scope="session", autouse=True)
def toree_kernelspecs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Install the PySpark, Scala, SQL and SparkR kernelspecs into a private prefix and point Jupyter at it for this test session."""
    prefix = tmp_path_factory.mktemp("jupyter-prefix")
    # No class-data-sharing archive: building one takes a minute and no test here needs it.
    jupyter_path = toree_install(
        prefix, "--interpreters=PySpark,Scala,SQL,SparkR", f"--spark_opts={TEST_SPARK_OPTS}", "--no-class-sharing"
    )
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "TOREE_HISTORY_FILE")}
    os.environ["JUPYTER_PATH"] = str(jupyter_path)
    os.environ["TOREE_HISTORY_FILE"] = str(tmp_path_factory.mktemp("history") / "history.sqlite")
    # Kernels started from a shell with `cmd &` would inherit SIGINT ignored (DESIGN.md §3).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield prefix
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def py() -> Iterator[Kernel]:
    """A PySpark kernel per test module (progress off: those tests count outputs; test_progress has its own)."""
    k = Kernel("apache_toree_pyspark", TOREE_PROGRESS="off")
    yield k
    k.close()


@pytest.fixture(scope="module")
def scala() -> Iterator[Kernel]:
    k = Kernel("apache_toree_scala", TOREE_PROGRESS="off")
    yield k
    k.close()


@pytest.fixture(scope="module")
def r() -> Iterator[Kernel]:
    """A SparkR kernel per test module (R's tests skip where R is not installed)."""
    if r_binary() is None:
        pytest.skip(INSTALL_HINT)
    k = Kernel("apache_toree_sparkr", TOREE_PROGRESS="off")
    yield k
    k.close()
