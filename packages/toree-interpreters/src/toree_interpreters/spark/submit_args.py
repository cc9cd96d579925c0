"""Reading spark-submit arguments (``--flag value`` or ``--flag=value``) without re-implementing spark-submit."""

from __future__ import annotations

import shlex
from collections.abc import Sequence


def option_values(args: Sequence[str], flag: str) -> list[str]:
    """Every value given to ``flag``, in order: ``--flag X`` and ``--flag=X`` both count."""
    values = []
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            values.append(args[i + 1])
        elif arg.startswith(flag + "="):
            values.append(arg[len(flag) + 1 :])
    return values


def conf_pairs(args: Sequence[str]) -> list[tuple[str, str]]:
    """The ``--conf k=v`` pairs, in order (keys stripped; a value without ``=`` is not a pair)."""
    return [
        (key.strip(), value)
        for key, sep, value in (item.partition("=") for item in option_values(args, "--conf"))
        if sep
    ]


def prepend_opts(options: Sequence[str], existing: str | None) -> str:
    """JVM options put before an existing ``SPARK_SUBMIT_OPTS`` value, so that the user's own options win."""
    return " ".join([shlex.join(options), existing or ""]).strip()
