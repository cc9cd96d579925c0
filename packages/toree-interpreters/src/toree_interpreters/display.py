"""Turn Python values into MIME bundles, the way Jupyter front ends expect them.

Objects describe themselves with ``_repr_mimebundle_`` or ``_repr_html_``-style methods (the
IPython convention pandas, Altair, etc. follow). A repr method that fails is skipped, never
allowed to fail the cell.
"""

from __future__ import annotations

import base64
import logging
import pprint
from typing import Any

from .contract import MimeBundle

log = logging.getLogger(__name__)

_REPR_METHODS = {
    "text/html": "_repr_html_",
    "text/markdown": "_repr_markdown_",
    "text/latex": "_repr_latex_",
    "image/svg+xml": "_repr_svg_",
    "image/png": "_repr_png_",
    "image/jpeg": "_repr_jpeg_",
    "application/json": "_repr_json_",
    "application/javascript": "_repr_javascript_",
}


def plain_text(value: Any) -> str:
    try:
        return (
            pprint.pformat(value, width=100) if isinstance(value, (dict, list, tuple, set)) else repr(value)
        )
    except Exception as exc:
        return f"<{type(value).__name__} object: repr failed: {exc}>"


def mime_bundle(value: Any) -> tuple[MimeBundle, dict[str, Any]]:
    """(data, metadata) for a value; always has text/plain."""
    data: MimeBundle = {}
    metadata: dict[str, Any] = {}
    bundle_method = getattr(value, "_repr_mimebundle_", None)
    if callable(bundle_method) and not isinstance(value, type):
        try:
            result = bundle_method()
            if isinstance(result, tuple):
                result, metadata = result[0], dict(result[1] or {})
            data.update(result or {})
        except Exception:
            log.debug("_repr_mimebundle_ failed for %s", type(value).__name__, exc_info=True)
    for mime, name in _REPR_METHODS.items():
        method = getattr(value, name, None)
        if mime in data or not callable(method) or isinstance(value, type):
            continue
        try:
            result = method()
        except Exception:
            log.debug("%s failed for %s", name, type(value).__name__, exc_info=True)
            continue
        if isinstance(result, tuple):  # (data, metadata) form
            result, metadata[mime] = result[0], result[1]
        if result is None:
            continue
        if isinstance(result, bytes):
            result = base64.b64encode(result).decode("ascii")
        data[mime] = result
    data.setdefault("text/plain", plain_text(value))
    return data, metadata
