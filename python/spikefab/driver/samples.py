"""Samples as text, one per line: what the C host example and the FIL harness read.

A line holds whitespace-separated integers: the ``n_in`` values of a direct sample, or
the ``T * n_in`` bits of a spike sample, row-major (``[t][i]``). The C side parses it
with ``sfp_sample_from_text`` (firmware/sfp_text.c) and checks the count and the range.
"""

from __future__ import annotations

import numpy as np

from ..atomic import atomic_write_text

__all__ = ["samples_text", "write_samples_text"]


def samples_text(x, encoding: str) -> str:
    """Text of ``x``: ``[N, n_in]`` direct values or ``[N, T, n_in]`` spikes."""
    if encoding not in ("direct", "spikes"):
        raise ValueError(f"encoding must be 'direct' or 'spikes', not {encoding!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"samples must hold integers, not dtype {x.dtype}")
    want = 2 if encoding == "direct" else 3
    if x.ndim != want:
        raise ValueError(f"{encoding} samples must have {want} dimensions, not shape "
                         f"{list(x.shape)}")
    rows = x.reshape(len(x), -1).astype(np.int64)
    return "".join(" ".join(map(str, r)) + "\n" for r in rows)


def write_samples_text(path, x, encoding: str) -> None:
    """Write :func:`samples_text` to ``path`` (atomically)."""
    atomic_write_text(path, samples_text(x, encoding))
