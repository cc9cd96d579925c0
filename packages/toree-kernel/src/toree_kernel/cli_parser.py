"""The ``toree`` / ``jupyter toree`` command line: its flags (Apache Toree's spellings and ours), help and
examples. ``build_parser().parse_args()`` gives ``command`` (install, uninstall, list or None) and its options;
``toree_kernel.cli`` carries them out.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from typing import NoReturn

from . import __version__
from . import kernelspecs as ks

EXAMPLES = """\
examples:
  {prog} install --user
  {prog} install --sys-prefix --spark_opts='--master=local[4] --conf spark.ui.enabled=false'
  {prog} install --prefix=/opt/jupyter --kernel_name='My Spark' --spark_home=/opt/spark
  {prog} install --toree_opts='--spark-context-initialization-mode lazy' --replace
  {prog} install --user --warm-pool=1
  {prog} list
  {prog} uninstall --user
"""


class _Parser(argparse.ArgumentParser):
    """Adds the hint argparse cannot give: option values that start with '-' need the '=' form."""

    def error(self, message: str) -> NoReturn:
        if "expected one argument" in message:
            message += " (a value that starts with '-' must be attached with '=', e.g. --spark_opts='--master=local[2]')"
        super().error(message)


class _Formatter(argparse.HelpFormatter):
    """Never wrap inside an option like ``--master=local[4]``; keep multi-line text (examples) as written."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return textwrap.fill(
            " ".join(text.split()),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )


def _pool_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--warm-pool takes a number of kernels, not {text!r}") from None
    if not 0 <= size <= 16:
        raise argparse.ArgumentTypeError(f"--warm-pool takes 0 to 16 kernels, not {size}")
    return size


def prog_name() -> str:
    name = os.path.basename(sys.argv[0] or "")
    return "jupyter toree" if name.startswith("jupyter-toree") else "toree"


def _add_location(
    parser: argparse.ArgumentParser, verb: str, default: str = "the system-wide Jupyter directory"
) -> None:
    where = parser.add_argument_group(f"where (default: {default})")
    group = where.add_mutually_exclusive_group()
    group.add_argument(
        "--user", action="store_true", help=f"{verb} the current user's Jupyter data directory"
    )
    group.add_argument("--prefix", metavar="PATH", help=f"{verb} PATH/share/jupyter/kernels")
    group.add_argument(
        "--sys-prefix",
        "--sys_prefix",
        dest="sys_prefix",
        action="store_true",
        help=f"{verb} this Python environment ({sys.prefix})",
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    prog = prog or prog_name()
    parser = _Parser(
        prog=prog,
        description="Install and manage the Jupyter kernelspecs of the Toree kernel for Spark "
        "(flags as Apache Toree's `jupyter toree install`).",
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"toree-kernel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{install,uninstall,list}", parser_class=_Parser)

    install = commands.add_parser(
        "install",
        formatter_class=_Formatter,
        help="install kernelspecs",
        description="Install one kernelspec per interpreter, e.g. apache_toree_pyspark "
        "('Apache Toree - PySpark'). An existing spec of the same name is replaced.",
    )
    install.add_argument(
        "--interpreters",
        default=ks.DEFAULT_INTERPRETER,
        metavar="NAMES",
        help=f"comma-separated, case-insensitive (available: {', '.join(ks.available())}; "
        f"default: {ks.DEFAULT_INTERPRETER})",
    )
    install.add_argument(
        "--kernel_name",
        "--kernel-name",
        dest="kernel_name",
        default=ks.DEFAULT_KERNEL_NAME,
        metavar="NAME",
        help="base of the spec and display names (default: %(default)r)",
    )
    install.add_argument(
        "--spark_home",
        "--spark-home",
        dest="spark_home",
        metavar="PATH",
        help="set SPARK_HOME for the kernel",
    )
    install.add_argument(
        "--spark_opts",
        "--spark-opts",
        dest="spark_opts",
        default="",
        metavar="OPTS",
        help="spark-submit options, e.g. --spark_opts='--master=local[4]' (stored as __TOREE_SPARK_OPTS__)",
    )
    install.add_argument(
        "--remote",
        metavar="URL",
        help="use a Spark Connect server, e.g. --remote=sc://host:15002 (added to the Spark options; "
        "the SPARK_REMOTE environment variable works too)",
    )
    install.add_argument(
        "--toree_opts",
        "--toree-opts",
        dest="toree_opts",
        default="",
        metavar="OPTS",
        help="kernel options, e.g. --toree_opts='--spark-context-initialization-mode lazy' "
        "(stored as __TOREE_OPTS__)",
    )
    install.add_argument(
        "--warm-pool",
        "--warm_pool",
        dest="warm_pool",
        type=_pool_size,
        default=0,
        metavar="N",
        help="keep N kernels started and warmed (Spark session up, Scala REPL built) in the process that "
        "starts kernels (Jupyter Server, Kernel Gateway, jupyter_client), so a new notebook adopts one; "
        "each takes a Spark driver's memory while it waits (default: 0, no pool)",
    )
    install.add_argument(
        "--python_exec",
        "--python-exec",
        "--python",
        dest="python_exec",
        metavar="PYTHON",
        help=f"the Python that runs the kernel (default: this one, {sys.executable})",
    )
    _add_location(install, "install into")
    install.add_argument(
        "--replace",
        action="store_true",
        help="accepted for Apache Toree compatibility: specs are always replaced",
    )
    install.add_argument(
        "--force", action="store_true", help="install even if no suitable Java is found (warns instead)"
    )
    install.add_argument(
        "--no-class-sharing",
        "--no_class_sharing",
        dest="class_sharing",
        action="store_false",
        help="do not prepare the class-data-sharing archive that makes Spark start seconds faster "
        "(built once per Java and Spark install, about a minute; TOREE_CLASS_SHARING=off also skips it)",
    )

    uninstall = commands.add_parser(
        "uninstall",
        formatter_class=_Formatter,
        help="remove kernelspecs installed by this package",
        description="Remove this package's kernelspecs named after --kernel_name from one location. "
        "Apache Toree's own (JVM) specs are left alone.",
    )
    uninstall.add_argument(
        "--kernel_name",
        "--kernel-name",
        dest="kernel_name",
        default=ks.DEFAULT_KERNEL_NAME,
        metavar="NAME",
        help="the name given at install (default: %(default)r)",
    )
    uninstall.add_argument("--interpreters", metavar="NAMES", help="only these (default: all of them)")
    _add_location(uninstall, "remove from")

    listing = commands.add_parser(
        "list",
        formatter_class=_Formatter,
        help="show installed Toree kernelspecs",
        description="Show Toree kernelspecs (this package's and Apache Toree's) on Jupyter's search path, "
        "or in one location if a location flag is given.",
    )
    _add_location(listing, "look in", "all of Jupyter's kernel search path")
    return parser
