"""A Spark application embedding the PySpark interpreter: no kernel, no zmq, no Jupyter.

python examples/embed_pyspark.py [--master local[2]]
"""

from __future__ import annotations

import sys

from toree_interpreters import PySparkInterpreter, SparkSessionManager


class PrintSink:
    """An OutputSink that prints what a cell produces."""

    def stream(self, name, text):
        (sys.stderr if name == "stderr" else sys.stdout).write(text)

    def display(self, data, metadata=None, *, display_id=None, update=False):
        print(f"[display] {data.get('text/plain', sorted(data))}")

    def clear_output(self, wait=False):
        pass

    def input(self, prompt, password=False):
        raise EOFError("no user here")


def main() -> int:
    spark = SparkSessionManager(sys.argv[1:] or ["--master", "local[2]", "--conf", "spark.ui.enabled=false"])
    python = PySparkInterpreter(spark)
    python.start()
    sink = PrintSink()
    try:
        for code in [
            "df = spark.range(1, 101).selectExpr('id % 3 AS k', 'id AS v')\n"
            "sorted(tuple(r) for r in df.groupBy('k').sum('v').collect())",
            "print('rows:', df.count())",
            "df.select('no_such_column')",
        ]:
            outcome = python.execute(code, sink)
            if outcome.status == "ok" and outcome.result:
                print(f"[result] {outcome.result['text/plain']}")
            elif outcome.status == "error":
                print(f"[error] {outcome.error.ename}: {outcome.error.evalue.splitlines()[0]}")
    finally:
        python.shutdown()
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
