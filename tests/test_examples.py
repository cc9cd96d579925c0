"""The example notebooks run through the real kernel with nbclient (how papermill and CI run notebooks)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]

EXAMPLES = Path(__file__).parents[1] / "examples"
@pytest.mark.parametrize("name", ["spark_walkthrough", "magics_tutorial"])
def test_example_notebook_runs_without_errors(name: str, client_env: dict[str, str]) -> None:
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, startup_timeout=120).execute(cwd=str(EXAMPLES))  # raises on a cell error
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code)  # not vacuous: the notebook has code
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors
    if name == "spark_walkthrough":  # the chart cell shows an inline plot (matplotlib's inline backend)
        assert any("image/png" in o.get("data", {}) for cell in code for o in cell.outputs)
        # one view through PySpark, Scala, SQL and R, read back in PySpark (R is installed by .ci/run)
        last = "".join(o.get("text", "") for o in code[-1].outputs)
        assert "| product| units|place|share|" in last, last
    if name == "magics_tutorial":
        text = nbformat.writes(nb)
        assert "Hello, Python!" in text and "Hello, Scala!" in text  # %AddJar reached py4j and Scala
        assert "&lt;script&gt;eve&lt;/script&gt;" in text  # %%DataFrame and %%SQL escape HTML
        assert "IndexedSeq[Int] = Vector(2, 4, 6)" in text  # %ShowTypes on
