"""%%Scala, %%PySpark (%%Python), %%SparkR (%%R) and %%SQL: one cell in another language, on the same Spark
session."""

from __future__ import annotations

from toree_interpreters import ExecuteOutcome, SQLInterpreter

from ..magic import ArgumentParser, MagicContext, MagicError, magic


def _run_in(ctx: MagicContext, language: str, body: str) -> ExecuteOutcome:
    other = ctx.interpreter_named(language)
    return ctx.execute(other, "\n" + body)  # the blank line keeps line numbers those of the cell


@magic("Scala", "cell", "run the cell as Scala")
def scala(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    return _run_in(ctx, "Scala", body)


@magic("PySpark", "cell", "run the cell as Python (PySpark)", aliases=("Python",))
def pyspark(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    return _run_in(ctx, "PySpark", body)


@magic("SparkR", "cell", "run the cell as R (SparkR's API on the kernel's session)", aliases=("R",))
def sparkr(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    return _run_in(ctx, "SparkR", body)


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise ValueError(text)
    return number


_sql_args = ArgumentParser(
    "%%SQL",
    "Run Spark SQL statements (separated by ;) on the kernel's session. ${name} is replaced by "
    "kernel.data['name'] or, failing that, the variable `name` of the cell's language.",
)
_sql_args.add_argument("--limit", type=_positive, default=None, help="rows to show per result (default 20)")


@magic("SQL", "cell", "run Spark SQL; ${name} takes values from kernel.data or variables", parser=_sql_args)
def sql(ctx: MagicContext, args, body: str) -> ExecuteOutcome:
    interpreter = ctx.interpreter_named("SQL")
    if not isinstance(interpreter, SQLInterpreter):  # %%SQL passes options only Toree's SQL room takes
        raise MagicError(f"%%SQL needs Toree's SQL interpreter, and this kernel's is {type(interpreter).__name__}")
    variables = None if ctx.language is interpreter else ctx.language.value
    with ctx.running(interpreter):
        return interpreter.run(body, ctx.out, limit=args.limit or interpreter.limit, variables=variables)


MAGICS = [scala, pyspark, sparkr, sql]
