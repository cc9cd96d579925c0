"""An example Toree magic plugin: ``%Hello [NAME] [--shout]`` and ``%%Reverse``."""

from toree_interpreters import ExecuteOutcome
from toree_magics import ArgumentParser, MagicContext, magic

_args = ArgumentParser("%Hello", "Greet someone; the name is remembered in kernel.data['greeted'].")
_args.add_argument("name", nargs="?", default="Spark")
_args.add_argument("--shout", action="store_true", help="in capitals")


@magic("Hello", "line", "[NAME] [--shout]: greet, and remember the name in kernel.data", parser=_args)
def hello(ctx: MagicContext, args, body: str) -> ExecuteOutcome:
    greeting = f"Hello, {args.name}!"
    ctx.shared_data["greeted"] = args.name
    return ExecuteOutcome(result={"text/plain": greeting.upper() if args.shout else greeting})


@magic("Reverse", "cell", "print the cell's lines in reverse order")
def reverse(ctx: MagicContext, args: str, body: str) -> ExecuteOutcome:
    ctx.print("\n".join(reversed(body.splitlines())))
    return ExecuteOutcome()


MAGICS = [hello, reverse]
