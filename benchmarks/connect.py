"""Spark Connect benchmark (issue #19): kernel memory, first result and interrupts, local vs Connect.

    hatch run connect:bench-connect [--repeat N] [--only KERNEL ...] [--class-sharing]

One Spark Connect server (``local[2]``) is started from the pyspark install on 127.0.0.1 and answers one
untimed query (its first is slow whoever asks), then five kernels are launched fresh, interleaved, by the
same code as ``run.py`` (its ``Bench``): ours with the embedded local Spark, ours over Connect with PySpark
cells, ours over Connect with Scala cells (the client JVM), and the reference, ipykernel + PySpark, local
and over Connect (the cell builds the session). Memory is the RSS of the kernel process and all its
descendants (JVMs included) 2 s after the first Spark result; ``client-only`` is a bare Python process with
pyspark's Connect client after the same query: the floor of any Python kernel over Connect.
Targets: ours over Connect (PySpark) <= 150 MiB with no JVM; interrupt -> reply <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import instant  # beside this file
import psutil
import run

MEMORY_GOAL_MIB = 150.0
INTERRUPT_GOAL_S = 1.0
FIRST = run.PYTHON_CODE["first"]  # spark.range(10).count()
# The interrupted cells of tests/test_spark_connect.py: ~20 s of tasks per server core without the interrupt
SLOW_PYTHON = (
    "from pyspark.sql.functions import udf\nimport time\n"
    "spark.range(40).repartition(2).select(udf(lambda x: time.sleep(1) or x, 'long')('id')).collect()"
)
SLOW_SCALA = "spark.range(0, 40, 1, 2).map(x => { Thread.sleep(1000); x }).collect().length"
CLIENT_ONLY = (  # the floor: pyspark's Connect client in a bare Python process, after the same query
    "import os, sys, time, psutil\nfrom pyspark.sql import SparkSession\n"
    "SparkSession.builder.remote(sys.argv[1]).getOrCreate().range(10).count()\ntime.sleep(2)\n"
    "print(psutil.Process().memory_info().rss)"
)
REFERENCE = {  # each kernel's ratios are against this one
    "ours-local": "ipykernel-local",
    "ours-connect": "ipykernel-connect",
    "ours-connect-scala": "ipykernel-connect",
    "client-only": "ipykernel-connect",
}


def kernels(url: str) -> dict[str, dict[str, Any]]:
    """Kernelspec argv and environment. Ours over Connect is what ``toree install --interpreters=PySpark,SQL
    --remote=URL`` writes (the Scala one: that kernel's first cell is Scala)."""
    remote = {"__TOREE_SPARK_OPTS__": f"--remote {url}"}
    ipykernel = run.KERNELS["ipykernel"]["argv"]
    return {
        "ours-local": {"argv": run.OURS_ARGV, "env": {"SPARK_OPTS": run.SPARK_ARGS}},
        "ours-connect": {"argv": run.OURS_ARGV, "env": {**remote, "DEFAULT_INTERPRETER": "PySpark"}},
        "ours-connect-scala": {"argv": run.OURS_ARGV, "env": {**remote, "DEFAULT_INTERPRETER": "Scala"}},
        "ipykernel-local": run.KERNELS["ipykernel"],
        "ipykernel-connect": {"argv": ipykernel, "env": {}},
    }


def code(url: str) -> dict[str, dict[str, str]]:
    build = "from pyspark.sql import SparkSession\nspark = SparkSession.builder.{}getOrCreate()\n"
    return {
        "ours-local": {"first": FIRST},
        "ours-connect": {"first": FIRST, "slow": SLOW_PYTHON, "next": FIRST},
        "ours-connect-scala": {"first": FIRST, "slow": SLOW_SCALA, "next": FIRST},
        "ipykernel-local": {"first": build.format("") + FIRST},
        "ipykernel-connect": {"first": build.format(f"remote({url!r}).") + FIRST},
    }


def start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    """The command of tests/test_spark_connect.py's ``start_server``; waits until the port answers."""
    home = run._spark_home()
    env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    env.pop("SPARK_REMOTE", None)
    with log.open("ab") as output:
        server = subprocess.Popen(
            [os.path.join(home, "bin", "spark-submit"), "--class",
             "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[2]",
             "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.ui.enabled=false",
             "--conf", "spark.sql.shuffle.partitions=4"],
            env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.5)
    stop(server)
    raise RuntimeError(f"the Spark Connect server did not come up; its log: {log}")


def stop(server: subprocess.Popen[bytes]) -> None:
    procs = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    for proc in procs:
        proc.terminate()
    for proc in psutil.wait_procs(procs, timeout=10)[1]:
        proc.kill()


def measure(name: str, log: Path) -> dict[str, Any]:
    bench = run.Bench(name, log)
    try:
        bench.kc.wait_for_ready(timeout=120)
        content, _ = bench.run("first")
        figures: dict[str, Any] = {"first_result": time.perf_counter() - bench.started}
        assert content["status"] == "ok", content
        time.sleep(2)  # settled: the answer's buffers freed, background start-up work done
        procs = bench.processes()
        figures["processes"] = " ".join(sorted(p.name() for p in procs))  # e.g. "java python"
        figures["rss_mib"] = instant.tree_memory(procs[0].pid)[0]
        figures["jvm"] = any(run._is_java(p) for p in procs[1:])
        if "slow" in bench.code:
            figures.update(measure_interrupt(bench))
    finally:
        bench.close()
    return figures


def measure_interrupt(bench: run.Bench) -> dict[str, Any]:
    """The slow cell interrupted after 4 s: interrupt sent -> execute_reply, then the next action's time."""
    sent: list[float] = []

    def interrupt() -> None:
        sent.append(time.perf_counter())
        bench.km.interrupt_kernel()

    timer = threading.Timer(4.0, interrupt)
    timer.start()
    content, _ = bench.run("slow", timeout=120)
    replied = time.perf_counter()
    timer.join()
    next_time, next_content, _ = bench.timed("next")
    assert next_content["status"] == "ok", next_content
    return {
        "interrupt": replied - sent[0] if sent else float("nan"),
        "interrupt_status": content.get("ename", content["status"]),
        "next_action": next_time,
    }


def measure_client_only(url: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:  # under `python -c` pyspark's Connect
        script.write(CLIENT_ONLY)  # client takes itself for a doctest run and imports pyspark.testing
        script.flush()
        out = subprocess.run([sys.executable, script.name, url], capture_output=True, text=True, check=True)
    return {"rss_mib": int(out.stdout) / 2**20, "jvm": False, "processes": "python"}


def mib(value: Any) -> str:
    if not isinstance(value, dict):
        return "-"
    spread = f" [{value['min']:.0f}-{value['max']:.0f}]" if value["min"] != value["max"] else ""
    return f"{value['median']:.1f} MiB{spread}"


def processes(value: Any) -> str:
    """The process names of the tree; a list when runs differed (e.g. spark-submit's shell still there)."""
    return " | ".join(dict.fromkeys(value)) if isinstance(value, list) else str(value or "-")


def report(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    head = ["kernel", "first result", "ratio", "memory (RSS, tree)", "ratio", "processes", "interrupt", "next action"]
    widths = [19, 26, 6, 22, 6, 14, 34, 26]
    print("\n" + " ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for name, r in results.items():
        interrupt = f"{run.fmt(r['interrupt'])} ({r['interrupt_status']})" if "interrupt" in r else "-"
        base = REFERENCE.get(name, "")
        cells = [name, run.fmt(r.get("first_result")), run.ratio(results, "first_result", name, base), mib(r.get("rss_mib")),
                 run.ratio(results, "rss_mib", name, base), processes(r.get("processes")), interrupt,
                 run.fmt(r.get("next_action"))]
        print(" ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    print("ratios: " + ", ".join(f"{k} / {v}" for k, v in REFERENCE.items() if k in results))
    for ours, base in (("ours-connect", "ours-local"), ("ipykernel-connect", "ipykernel-local")):
        a, b = (run.median(results.get(k, {}).get("first_result")) for k in (ours, base))
        if a is not None and b:
            print(f"first result over Connect / local: {ours} / {base} = {a / b:.2f}")
    verdicts = []

    def target(kernel: str, what: str, ok: bool | None) -> None:
        verdict = None if ok is None else "PASS" if ok else "MISS"
        verdicts.append({"kernel": kernel, "target": what, "verdict": verdict})
        print(f"target: {kernel} {what}: {verdict or 'not measured'}")

    connect = results.get("ours-connect", {})
    memory = run.median(connect.get("rss_mib"))
    target("ours-connect", f"<= {MEMORY_GOAL_MIB:g} MiB, no JVM",
           None if memory is None else memory <= MEMORY_GOAL_MIB and connect.get("jvm") is False)
    for kernel in ("ours-connect", "ours-connect-scala"):
        latency = run.median(results.get(kernel, {}).get("interrupt"))
        target(kernel, f"interrupt -> reply <= {INTERRUPT_GOAL_S:g} s",
               None if latency is None else latency <= INTERRUPT_GOAL_S)
    return verdicts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="runs of every kernel, interleaved")
    names = ["ours-local", "ours-connect", "ours-connect-scala", "ipykernel-local", "ipykernel-connect", "client-only"]
    parser.add_argument("--only", nargs="+", choices=names, help="these kernels only")
    parser.add_argument("--class-sharing", action="store_true",
                        help="build and use the local driver JVM's class-data-sharing archive (off: ours-local "
                             "starts its JVM as ipykernel-local does)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "connect.json")
    args = parser.parse_args(argv)

    info = run.machine()
    print(f"{info}\nload average at start: {os.getloadavg()}")
    print(run.prepare_class_sharing(args.class_sharing), flush=True)
    names = args.only or names
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"sc://127.0.0.1:{port}"
        server = start_server(port, Path(tmp) / "connect-server.log")
        try:
            measure_client_only(url)  # untimed: the server's first query (code generation, JIT) is slow
            run.KERNELS.update(kernels(url))  # run.Bench launches and drives them
            run.CODE.update(code(url))
            run.write_specs(Path(tmp), [n for n in names if n != "client-only"])
            os.environ["JUPYTER_PATH"] = tmp
            for i in range(args.repeat):
                for name in list(runs):  # interleaved, so drift in machine load hits every kernel alike
                    print(f"run {i + 1}/{args.repeat}: {name} ...", flush=True)
                    log = Path(tmp) / f"{name}.log"
                    try:
                        runs[name].append(measure_client_only(url) if name == "client-only" else measure(name, log))
                    except Exception as exc:  # report it, measure the others
                        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
                        print(f"{name}: failed, dropped: {exc!r}; its log ends:", *tail, sep="\n  ")
                        del runs[name]
                    load.append(os.getloadavg())
        finally:
            stop(server)
    results = {name: run.summarize(r) for name, r in runs.items() if r}
    run.write_results(args.json, info, load, results, report(results))
    return 0 if set(runs) == set(names) else 1


if __name__ == "__main__":
    sys.exit(main())
