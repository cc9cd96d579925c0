"""papermill runs a parameterized PySpark notebook on the Toree kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOK = Path(__file__).parents[1] / "examples" / "parameterized_report.ipynb"

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(300)]


def test_papermill_injects_parameters(client_env, reap_children, tmp_path: Path) -> None:
    out_path = tmp_path / "report.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out_path),
        kernel_name="apache_toree_pyspark",
        parameters={"rows": 42},
        cwd=str(NOTEBOOK.parent),
        start_timeout=120,
        progress_bar=False,
    )
    nb = nbformat.read(out_path, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "rows = 42" in injected[0].source
    text = nbformat.writes(nb)
    assert "rows=42 sum_of_squares=23821" in text  # sum of i*i for i < 42
    results = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "execute_result"
    ]
    assert results[-1]["data"]["text/plain"] == "41"
    assert nb.metadata.papermill.parameters == {"rows": 42}
