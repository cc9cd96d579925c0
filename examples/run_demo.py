"""The main job: install the Toree PySpark kernelspec into this environment, run the walk-through
notebook through the kernel on embedded local[*] Spark, save the executed notebook and print a summary.

    hatch run demo [--notebook PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
# What R cells need, from Debian (README, "R"); ggplot2 for the tests and the R cells' plots.
R_PACKAGES = ["r-base-core", "r-cran-evaluate", "r-cran-repr", "r-cran-irdisplay", "r-cran-jsonlite", "r-cran-ggplot2"]


def have_r() -> bool:
    """R for the notebook's R cells; installed with apt-get when missing and this is root on Debian/Ubuntu."""
    if shutil.which("R"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("R is not installed: installing it for the R cells (apt-get) ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *R_PACKAGES], check=False)
    return shutil.which("R") is not None


def install_kernelspec() -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "toree_kernel.cli",
            "install",
            "--sys-prefix",
            "--replace",
            "--interpreters=PySpark",
        ],
        check=True,
    )


def summarize(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        first_line = cell.source.splitlines()[0] if cell.source else ""
        print(f"\n[{cell.execution_count}] {first_line}")
        for output in cell.outputs:
            if output.output_type == "stream":
                text = output.text
            elif output.output_type in ("execute_result", "display_data"):
                text = output.data.get("text/plain", "")
            else:
                text = f"{output.get('ename')}: {output.get('evalue')}"
            lines = text.rstrip("\n").splitlines()
            for line in lines[:12]:
                print(f"    {line}")
            if len(lines) > 12:
                print(f"    ... ({len(lines) - 12} more lines)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notebook", type=Path, default=HERE / "spark_walkthrough.ipynb")
    parser.add_argument("--out", type=Path, default=HERE.parent / "out")
    args = parser.parse_args()

    install_kernelspec()
    nb = nbformat.read(args.notebook, as_version=4)
    if not have_r():
        nb.cells = [c for c in nb.cells if "needs-r" not in c.metadata.get("tags", [])]
        print(f"R is not installed, so the R cells are left out (apt-get install {' '.join(R_PACKAGES)})")
    client = NotebookClient(nb, kernel_name="apache_toree_pyspark", timeout=600, startup_timeout=120)
    started = time.monotonic()
    failed = None
    try:
        client.execute(cwd=str(args.notebook.parent))
    except CellExecutionError as exc:
        failed = exc
    elapsed = time.monotonic() - started

    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{args.notebook.stem}.executed.ipynb"
    nbformat.write(nb, target)
    summarize(nb)
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    print(
        f"\n{code_cells} code cells ran through the Toree kernel in {elapsed:.1f} s; executed notebook: {target}"
    )
    if failed is not None:
        print(f"\nA cell failed:\n{failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
