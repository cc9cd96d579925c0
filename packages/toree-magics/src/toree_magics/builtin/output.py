"""%%Html, %%JavaScript and %%DataFrame: show a cell's body, or a DataFrame it names, as rich output."""

from __future__ import annotations

import json

from toree_interpreters import ExecuteOutcome
from toree_interpreters.spark import tables

from ..magic import ArgumentParser, MagicContext, MagicError, magic


@magic("Html", "cell", "show the cell as HTML")
def html(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    return ExecuteOutcome(result={"text/html": body, "text/plain": body})


@magic("JavaScript", "cell", "run the cell as JavaScript in the notebook")
def javascript(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    ctx.out.display({"application/javascript": body})
    return ExecuteOutcome()


_df_args = ArgumentParser(
    "%%DataFrame",
    "The cell is code in the cell's language whose last line names (or evaluates to) a Spark DataFrame; "
    "it is shown as an HTML table, JSON records or CSV.",
)
_df_args.add_argument("--output", choices=("html", "json", "csv"), default="html", help="format (default html)")
_df_args.add_argument("--limit", type=int, default=10, help="rows to show (default 10)")


@magic("DataFrame", "cell", "show a DataFrame as html, json or csv (--output, --limit)", parser=_df_args)
def dataframe(ctx: MagicContext, args, body: str) -> ExecuteOutcome:
    if args.limit < 0:
        raise MagicError("%%DataFrame --limit must be 0 or more")
    lines = body.rstrip().split("\n")
    if not lines[-1].strip():
        raise MagicError("%%DataFrame needs code whose last line is a DataFrame, e.g. `df` or `spark.table('t')`")
    if len(lines) > 1:
        setup = ctx.execute(ctx.language, "\n".join(lines[:-1]))
        if setup.status != "ok":
            return setup
    with ctx.running(ctx.language):
        try:
            value = ctx.language.value(lines[-1].strip())
        except KeyError as exc:
            raise MagicError(f"No variable found with the name {exc.args[0]}") from None
        except ValueError as exc:
            raise MagicError(str(exc)) from None
        view = getattr(ctx.language, "dataset_view", None)  # Scala on Spark Connect: read through a view
        with tables.jvm_dataframe(value, ctx.spark.session_if_ready, view) as df:
            if df is None:
                raise MagicError(f"%%DataFrame needs a DataFrame, but {lines[-1].strip()} is a {type(value).__name__}")
            table = tables.fetch(df, args.limit)
    if args.output == "json":
        return ExecuteOutcome(result={"application/json": json.loads(tables.to_json(table)), "text/plain": tables.to_json(table)})
    if args.output == "csv":
        return ExecuteOutcome(result={"text/plain": tables.to_csv(table)})
    return ExecuteOutcome(result={"text/html": tables.to_html(table), "text/plain": tables.to_text(table)})


MAGICS = [html, javascript, dataframe]
