"""What spikefab writes into a NIR graph beyond NIR itself: names, version, defaults.

``graph.metadata[META_KEY]`` holds a JSON object with ``format == FORMAT``, the
``version``, the ``kind`` of graph (``"quantized"`` or ``"student"``), the spec or model
settings, the import modes and the IR's ``meta``; :func:`spikefab_info` reads it back.
Every other nirgraph module imports these from here, and this module imports none of them.
"""

from __future__ import annotations

import json

__all__ = ["DEFAULT_DT", "FORMAT", "META_KEY", "RESET_TO_MODE", "VERSION", "spikefab_info"]

#: Key of the graph metadata entry spikefab writes (a JSON string) and its format name.
META_KEY = "spikefab"
FORMAT = "spikefab-nir"
VERSION = 1
#: dt spikefab writes with: snnTorch's, so snnTorch's importer reads the same beta.
DEFAULT_DT = 1e-4
#: spikefab reset name -> NIR import reset mode.
RESET_TO_MODE = {"subtract": "subtract", "zero": "value", "subtract-delayed": "subtract_next"}


class _NonFinite(Exception):
    pass


def _refuse_constant(name: str):
    raise _NonFinite(name)


def spikefab_info(graph) -> dict | None:
    """The metadata spikefab wrote into ``graph`` (a dict), or None for other graphs."""
    meta = getattr(graph, "metadata", None) or {}
    text = meta.get(META_KEY) if isinstance(meta, dict) else None
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    try:
        info = json.loads(text, parse_constant=_refuse_constant)
    except (TypeError, json.JSONDecodeError):
        raise ValueError(f"graph metadata {META_KEY!r} is not valid JSON") from None
    except _NonFinite as e:
        raise ValueError(f"graph metadata {META_KEY!r} holds {e}; numbers must be finite") \
            from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"graph metadata {META_KEY!r} is not spikefab-nir metadata")
    return info
