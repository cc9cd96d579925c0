"""toree_magics: Toree's magics — parsing, a registry open to plugins, and the built-in magics.

Magics reach the interpreters only through ``toree_interpreters``' contract; nothing here speaks
the Jupyter protocol.
"""

__version__ = "0.1.0"

from .builtin import BUILTIN_MAGICS
from .magic import ArgumentParser, Magic, MagicContext, MagicError, UsageError, magic
from .parsing import Code, MagicCall, parse_cell
from .registry import ENTRY_POINT_GROUP, MagicConflict, MagicRegistry, PluginFailure
from .runner import CellRunner


def default_registry(*, plugins: bool = True) -> MagicRegistry:
    """The built-ins plus, unless told otherwise, every installed plugin."""
    registry = MagicRegistry(BUILTIN_MAGICS)
    if plugins:
        registry.load_plugins()
    return registry


__all__ = [
    "BUILTIN_MAGICS",
    "ENTRY_POINT_GROUP",
    "ArgumentParser",
    "CellRunner",
    "Code",
    "Magic",
    "MagicCall",
    "MagicConflict",
    "MagicContext",
    "MagicError",
    "MagicRegistry",
    "PluginFailure",
    "UsageError",
    "default_registry",
    "magic",
    "parse_cell",
]
