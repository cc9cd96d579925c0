"""R benchmark: the SparkR kernel's R cells against IRkernel (Debian's r-cran-irkernel), in one run.

    hatch run bench35:bench-r [--repeat 3]

Figures: kernel_info (start -> kernel_info_reply), roundtrip median/p95 (200 x ``1+1``), and for ours the
100,000-row crossings timed inside R: Spark DataFrame -> R data.frame (``collect``) and data.frame ->
Spark DataFrame (``createDataFrame``), six columns (int, bigint, double, string, boolean, date): the
median of three after a first, cold one (also printed).
Targets (issue #18): roundtrip <= 1.0x IRkernel; each crossing <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

SPARK_ARGS = "--master local[*] --conf spark.ui.enabled=false"
ROUNDTRIPS = 200
KERNELS = {
    "ours-r": {
        "argv": [sys.executable, "-m", "toree_kernel", "-f", "{connection_file}"],
        "env": {"SPARK_OPTS": SPARK_ARGS, "DEFAULT_INTERPRETER": "SparkR", "TOREE_PROGRESS": "off"},
    },
    "irkernel": {"argv": ["R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"], "env": {}},
}
ROWS_SQL = (
    "SELECT CAST(id AS INT) AS i, id AS l, id * 0.5 AS d, CAST(id AS STRING) AS s, id % 2 = 0 AS b, "
    "date_add(DATE'2020-01-01', CAST(id % 1000 AS INT)) AS dt FROM range(100000)"
)
CROSSINGS = (  # 4 times: the first (cold: Arrow and the JVM paths warm up) and the median of the others
    f'sdf <- sql("{ROWS_SQL}"); invisible(count(sdf))\n'
    "times <- sapply(1:4, function(k) {\n"
    "  to_r <- system.time(rdf <- collect(sdf))[['elapsed']]\n"
    "  to_spark <- system.time(back <- createDataFrame(rdf))[['elapsed']]\n"
    "  stopifnot(nrow(rdf) == 100000, count(back) == 100000)\n"
    "  c(to_r, to_spark)\n"
    "})\n"
    "cat(times[, 1], apply(times[, -1], 1, median))"
)


def run(kc: Any, code: str) -> tuple[dict[str, Any], str]:
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, output_hook=hook, timeout=300, store_history=False)
    return reply["content"], "".join(out)


def measure(name: str, log: Path) -> dict[str, float]:
    with log.open("ab") as sink:
        started = time.perf_counter()
        km = KernelManager(kernel_name=f"bench_{name}")
        km.start_kernel(env={**os.environ, **KERNELS[name]["env"]}, stdout=sink, stderr=sink)
        kc = km.client()
        kc.start_channels(hb=False)
        try:
            kc.wait_for_ready(timeout=120)
            figures = {"kernel_info": time.perf_counter() - started}
            run(kc, "1+1")
            times = []
            for _ in range(ROUNDTRIPS):
                t0 = time.perf_counter()
                run(kc, "1+1")
                times.append(time.perf_counter() - t0)
            figures["roundtrip_median"] = statistics.median(times)
            figures["roundtrip_p95"] = statistics.quantiles(times, n=20)[-1]
            if name == "ours-r":
                content, text = run(kc, CROSSINGS)
                assert content["status"] == "ok", content
                cold_to_r, cold_to_spark, to_r, to_spark = map(float, text.split())
                figures.update(spark_to_r_100k=to_r, r_to_spark_100k=to_spark,
                               spark_to_r_100k_cold=cold_to_r, r_to_spark_100k_cold=cold_to_spark)
            return figures
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each kernel, interleaved")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "r.json")
    args = parser.parse_args(argv)
    if not shutil.which("R"):
        print("R is not installed (apt-get install r-base-core r-cran-irkernel ...)")
        return 1
    print(f"load average at start: {os.getloadavg()}")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in KERNELS}
    with tempfile.TemporaryDirectory() as tmp:
        for name, kernel in KERNELS.items():
            spec = Path(tmp, "kernels", f"bench_{name}")
            spec.mkdir(parents=True)
            spec.joinpath("kernel.json").write_text(json.dumps({"argv": kernel["argv"], "display_name": name, "language": "R"}))
        os.environ["JUPYTER_PATH"] = tmp
        for i in range(args.repeat):
            for name in KERNELS:
                print(f"run {i + 1}/{args.repeat}: {name} ...", flush=True)
                runs[name].append(measure(name, Path(tmp, f"{name}.log")))
    medians = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    ours, base = medians["ours-r"], medians["irkernel"]
    print(f"\n{'figure':<20}{'ours-r':>10}{'irkernel':>10}{'ratio':>8}  target")
    for figure in ("kernel_info", "roundtrip_median", "roundtrip_p95"):
        ratio = ours[figure] / base[figure]
        target = "<= 1.0x: " + ("PASS" if ratio <= 1.0 else "MISS") if figure == "roundtrip_median" else ""
        print(f"{figure:<20}{ours[figure]:>9.4f}s{base[figure]:>9.4f}s{ratio:>7.2f}x  {target}")
    for figure in ("spark_to_r_100k", "r_to_spark_100k"):
        verdict = "PASS" if ours[figure] <= 1 else "MISS"
        print(f"{figure:<20}{ours[figure]:>9.3f}s{'':>18}  <= 1 s: {verdict} (first, cold: {ours[figure + '_cold']:.3f} s)")
    print(f"load average at end: {os.getloadavg()}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": runs, "medians": medians, "load_end": os.getloadavg()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
