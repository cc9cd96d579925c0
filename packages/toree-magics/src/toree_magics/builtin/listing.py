"""%LsMagic and %help: what magics there are and how to call them."""

from __future__ import annotations

import textwrap

from toree_interpreters import ExecuteOutcome

from ..magic import MagicContext, UsageError, magic


@magic("LsMagic", "line", "list the line and cell magics with one-line help")
def ls_magic(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    lines = []
    for kind, title in (("line", "Line magics"), ("cell", "Cell magics")):
        lines.append(f"{title}:")
        for one in ctx.registry.magics():
            if one.kind == kind:
                aliases = f" (also {', '.join(one.aliases)})" if one.aliases else ""
                lines.append(f"  {one.spelled:<14} {one.summary}{aliases}")
        lines.append("")
    own = ctx.language.language_magics() if ctx.interpreter is not None else {}
    if any(own.values()):
        lines.append(f"{ctx.language.name} cells also take the language's own magics (Toree's win on a clash):")
        for kind, title in (("line", "Line"), ("cell", "Cell")):
            prefix = "%%" if kind == "cell" else "%"
            taken = {m.name.lower() for m in ctx.registry.magics() if m.kind == kind}
            names = [prefix + name for name in own.get(kind, []) if name.lower() not in taken]
            lines += [f"  {title}:", *textwrap.wrap(" ".join(names), 100, initial_indent="    ", subsequent_indent="    ")]
        lines.append("")
    if ctx.registry.failures:
        lines.append("Magic plugins that failed to load:")
        lines += [f"  {f.entry_point} from {f.distribution}: {f.error}" for f in ctx.registry.failures]
        lines.append("")
    lines.append("Type %help NAME or %NAME? for a magic's usage.")
    return ExecuteOutcome(result={"text/plain": "\n".join(lines)})


@magic("help", "line", "NAME: show the usage of a magic (same as %NAME?)")
def help_magic(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    name = args.strip().lstrip("%").rstrip("?")
    if not name:
        raise UsageError("%help NAME: for example %help AddJar (%LsMagic lists the magics)")
    return ExecuteOutcome(result={"text/plain": ctx.registry.find(name).usage()})


MAGICS = [ls_magic, help_magic]
