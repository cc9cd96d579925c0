"""The embedding example runs as a plain Spark application (no kernel, no zmq)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "embed_pyspark.py"


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_embed_example_runs() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[result] [(0, 1683), (1, 1717), (2, 1650)]" in done.stdout
    assert "rows: 100" in done.stdout
    assert "[error] AnalysisException" in done.stdout
