from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for interp_support (tests run with --import-mode=importlib)

from interp_support import SPARK_ARGS

from toree_interpreters import PySparkInterpreter, SparkSessionManager


@pytest.fixture(scope="module")
def spark_manager() -> Iterator[SparkSessionManager]:
    manager = SparkSessionManager(SPARK_ARGS, init_mode="lazy")
    yield manager
    manager.stop()


@pytest.fixture
def python(spark_manager: SparkSessionManager) -> Iterator[PySparkInterpreter]:
    interp = PySparkInterpreter(spark_manager)
    interp.start()
    yield interp
    interp.shutdown()
