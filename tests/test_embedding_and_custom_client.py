"""Two ways to use Toree without Jupyter: our own 0MQ client, and embedding the interpreters in a Spark app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CUSTOM_CLIENT = ROOT / "examples" / "custom_client.py"
EMBED_APP = ROOT / "packages" / "toree-interpreters" / "examples" / "embed_spark_app.py"
SPARK_OPTS = "--master local[2] --conf spark.ui.enabled=false --conf spark.sql.shuffle.partitions=4"

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]


@pytest.mark.slow
def test_custom_zmq_client_runs_scala_and_sql(run, client_env: dict[str, str]) -> None:
    code, out, err = run([sys.executable, str(CUSTOM_CLIENT), "--spark-opts", SPARK_OPTS], env=client_env)
    assert code == 0, f"{out}\n{err[-3000:]}"
    assert "on 127.0.0.1" in out
    assert "[PySpark] result 10" in out
    assert "[Scala] stdout evens: 5" in out
    assert "|odd_count|odd_sum|" in out and "|        5|     25|" in out
    assert "kernel exited with code 0" in out


def check_embed_output(code: int, out: str, err: str) -> None:
    assert code == 0, f"{out}\n{err[-3000:]}"
    assert "scala sum of squares: 385" in out
    assert "python sees the Scala view: 385 and kernel.data: 385" in out
    assert "[PySpark result] 770" in out
    assert "protocol modules loaded: none" in out  # no zmq, toree_protocol, toree_kernel


def test_embedded_scala_and_python_without_the_kernel(run) -> None:
    code, out, err = run([sys.executable, "-X", "importtime", str(EMBED_APP), *SPARK_OPTS.split()])
    check_embed_output(code, out, err)
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in err.splitlines()
        if line.startswith("import time:")
    }
    assert {"toree_interpreters", "pyspark", "py4j"} <= imported
    assert not imported & {"zmq", "toree_protocol", "toree_kernel", "jupyter_client"}


def test_embedded_app_under_spark_submit(run) -> None:
    import pyspark

    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    if not os.access(spark_submit, os.X_OK):
        pytest.skip(f"no executable spark-submit in the pyspark install: {spark_submit}")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    check_embed_output(*run([str(spark_submit), *SPARK_OPTS.split(), str(EMBED_APP)], env=env))
