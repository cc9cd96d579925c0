"""%ShowTypes, %Truncation, %ShowOutput, %Progress: Toree's kernel-wide output switches (``on``, ``off``,
or no argument to ask the current state)."""

from __future__ import annotations

from toree_interpreters import ExecuteOutcome

from ..magic import MagicContext, UsageError, magic


def _switch(ctx: MagicContext, name: str, field: str, value: str, on: str, off: str) -> ExecuteOutcome:
    setting = value.strip().lower()
    if setting == "":
        ctx.print(f"{name} is currently {'on' if getattr(ctx.options, field) else 'off'}.")
    elif setting in ("on", "off"):
        setattr(ctx.options, field, setting == "on")
        ctx.print(on if setting == "on" else off)
    else:
        raise UsageError(f"{value.strip()!r} is not a valid option for %{name}: use %{name} on|off")
    return ExecuteOutcome()


@magic("ShowTypes", "line", "on|off: show Scala values with their types (res0: Int = 2)")
def show_types(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    return _switch(ctx, "ShowTypes", "show_types", args, "Types will be printed.", "Types will not be printed.")


@magic("Truncation", "line", "on|off: shorten long Scala values the way the REPL does (on by default)")
def truncation(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    return _switch(
        ctx, "Truncation", "truncation", args, "Output WILL be truncated.", "Output will NOT be truncated."
    )


@magic("ShowOutput", "line", "on|off: echo Scala definitions (x = 2, defined class Foo) and warnings")
def show_output(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    return _switch(
        ctx, "ShowOutput", "show_output", args, "Console output WILL be shown.", "Console output will NOT be shown."
    )


@magic("Progress", "line", "on|off: show live Spark job progress while a cell runs (on by default)")
def progress(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    on, off = "Spark job progress WILL be shown.", "Spark job progress will NOT be shown."
    return _switch(ctx, "Progress", "progress", args, on, off)


MAGICS = [show_types, truncation, show_output, progress]
