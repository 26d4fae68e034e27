"""NIR files: ``write_nir`` (atomic) and ``read_nir`` (one-line errors naming the file)."""

from __future__ import annotations

import io
from pathlib import Path

import nir

from ..atomic import atomic_write_bytes

__all__ = ["read_nir", "write_nir"]


def write_nir(graph, path) -> Path:
    """Serialise ``graph`` with ``nir.write`` into memory, then write ``path`` atomically."""
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"write_nir graph must be a nir.NIRGraph, not {type(graph).__name__}")
    buf = io.BytesIO()
    nir.write(buf, graph)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_nir(path) -> nir.NIRGraph:
    """Read a ``.nir`` (HDF5) file; a missing or unreadable file is a one-line ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"NIR file {path} not found")
    try:
        return nir.read(path)
    except (OSError, KeyError, ValueError, AssertionError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"NIR file {path} is not a readable NIR graph ({msg})") from None
