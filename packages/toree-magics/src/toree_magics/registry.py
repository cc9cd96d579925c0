"""The magics a kernel knows: the built-ins plus every installed plugin.

Plugins are found through the ``toree.magics`` entry point group; an entry point names a ``Magic``
(or a list of them). A plugin that fails to load is remembered and shown by ``%LsMagic`` — the
kernel still starts. Two magics claiming one name is an error naming both providers.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

import attrs

from .magic import Magic, MagicError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "toree.magics"


class MagicConflict(RuntimeError):
    """Two magics claim the same name."""


@attrs.frozen
class PluginFailure:
    entry_point: str
    distribution: str
    error: str


class MagicRegistry:
    def __init__(self, magics: Iterable[Magic] = ()) -> None:
        self._by_name: dict[str, Magic] = {}
        self.failures: list[PluginFailure] = []
        for one in magics:
            self.add(one)

    def add(self, magic: Magic) -> None:
        """Register a magic; MagicConflict (naming both providers) if one of its names is taken."""
        keys = [name.lower() for name in (magic.name, *magic.aliases)]
        for key in keys:
            other = self._by_name.get(key)
            if other is not None and other is not magic:
                raise MagicConflict(
                    f"the magic name {key!r} is claimed twice: {other.spelled} from {other.origin} "
                    f"and {magic.spelled} from {magic.origin}"
                )
        for key in keys:
            self._by_name[key] = magic

    def load_plugins(self, found: Iterable[EntryPoint] | None = None) -> None:
        """Add the magics of installed plugins. A plugin that fails to import, or claims a name that is
        taken, is recorded in ``failures`` and logged; the others load."""
        for point in entry_points(group=ENTRY_POINT_GROUP) if found is None else found:
            distribution = point.dist.name if point.dist is not None else "an unknown distribution"
            try:
                loaded = point.load()
                magics = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
                if not all(isinstance(one, Magic) for one in magics):
                    raise TypeError(f"{point.value} is not a toree_magics.Magic (use the @magic decorator)")
                for one in magics:
                    self.add(attrs.evolve(one, origin=distribution))
            except Exception as exc:
                failure = PluginFailure(point.name, distribution, f"{type(exc).__name__}: {exc}")
                log.error("magic plugin %s (%s) failed to load: %s", point.name, distribution, failure.error)
                self.failures.append(failure)

    def get(self, name: str) -> Magic | None:
        """The magic called ``name`` (any case), or None."""
        return self._by_name.get(name.lower())

    def find(self, name: str, *, cell: bool | None = None, others: Iterable[str] = ()) -> Magic:
        """The magic called ``%name`` / ``%%name`` (either, when ``cell`` is None); MagicError with
        close names when there is none (``others``: more spelled names to suggest, e.g. IPython's)."""
        found = self._by_name.get(name.lower())
        spelled = ("%%" if cell else "%") + name
        if found is None:
            suggest = self._suggest(name, list(others))
            raise MagicError(f"{spelled} is not a magic.{suggest} %LsMagic lists them all.")
        if cell is not None and (found.kind == "cell") != cell:
            right = "a cell magic: put %%" if found.kind == "cell" else "a line magic: write %"
            raise MagicError(f"{found.name} is {right}{found.name} on {'the first line' if found.kind == 'cell' else 'its own line'}")
        return found

    def _suggest(self, name: str, others: list[str]) -> str:
        spelled = {key: self._by_name[key].spelled for key in self._by_name}
        for other in others:
            spelled.setdefault(other.lstrip("%").lower(), other)
        close = difflib.get_close_matches(name.lower(), list(spelled), n=3, cutoff=0.6)
        names = sorted({spelled[key] for key in close})
        return f" Did you mean {' or '.join(names)}?" if names else ""

    def magics(self) -> list[Magic]:
        return sorted({id(m): m for m in self._by_name.values()}.values(), key=lambda m: m.name.lower())

    def names(self) -> list[str]:
        return [m.spelled for m in self.magics()]
