"""NIR files: ``write_nir`` (atomic) and ``read_nir`` (one-line errors naming the file).

Norse 1.1.0's graphs need two allowances that plain ``nir.write`` / ``nir.read`` do not
make: their node parameters are 0-d tensors, which HDF5 cannot compress (``write_nir`` then
writes that graph uncompressed), and their ``Input`` type keeps the batch dimension
(``[1, 64]``), which nir's type check refuses (``read_nir`` then reads without it: the
import checks every layer size itself).
"""

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
    try:
        nir.write(buf, graph)
    except TypeError:  # h5py: "Scalar datasets don't support chunk/filter options"
        buf = io.BytesIO()
        nir.write(buf, graph, compression=None)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_nir(path) -> nir.NIRGraph:
    """Read a ``.nir`` (HDF5) file; a missing or unreadable file is a one-line ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"NIR file {path} not found")
    try:
        try:
            return nir.read(path)
        except ValueError as e:
            if not str(e).startswith("Type inference error"):
                raise
            return nir.read(path, type_check=False)
    except (OSError, KeyError, ValueError, AssertionError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"NIR file {path} is not a readable NIR graph ({msg})") from None
