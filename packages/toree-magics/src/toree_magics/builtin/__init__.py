"""Toree's built-in magics, spelled as Toree spells them."""

from __future__ import annotations

from ..magic import Magic
from . import jars, languages, listing, output, switches

BUILTIN_MAGICS: list[Magic] = [
    *listing.MAGICS,
    *jars.MAGICS,
    *switches.MAGICS,
    *languages.MAGICS,
    *output.MAGICS,
]
