"""The example notebooks run through the real kernel with nbclient (how papermill and CI run notebooks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]

EXAMPLES = Path(__file__).parents[1] / "examples"
SPARK_OPTS = "--master local[2] --conf spark.ui.enabled=false --conf spark.sql.shuffle.partitions=4"


@pytest.fixture(scope="module")
def kernelspecs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prefix = tmp_path_factory.mktemp("prefix")
    subprocess.run(
        [sys.executable, "-m", "toree_kernel.cli", "install", f"--prefix={prefix}",
         "--interpreters=PySpark,Scala,SQL", f"--spark_opts={SPARK_OPTS}"],
        check=True,
        capture_output=True,
    )
    return prefix / "share" / "jupyter"


@pytest.mark.parametrize("name", ["spark_walkthrough", "magics_tutorial"])
def test_example_notebook_runs_without_errors(name: str, kernelspecs: Path, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(kernelspecs))
    monkeypatch.setenv("TOREE_HISTORY_FILE", str(tmp_path / "history.sqlite"))
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, startup_timeout=120).execute(cwd=str(EXAMPLES))  # raises on a cell error
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors
    if name == "magics_tutorial":
        text = nbformat.writes(nb)
        assert "Hello, Python!" in text and "Hello, Scala!" in text  # %AddJar reached py4j and Scala
        assert "&lt;script&gt;eve&lt;/script&gt;" in text  # %%DataFrame and %%SQL escape HTML
        assert "IndexedSeq[Int] = Vector(2, 4, 6)" in text  # %ShowTypes on
