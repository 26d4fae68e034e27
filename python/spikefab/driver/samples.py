"""Samples as text, one per line: what the C host example and the FIL harness read.

A line holds whitespace-separated decimal integers: the ``n_in`` values of a direct sample,
or the ``T * n_in`` bits of a spike sample, row-major (``[t][i]``). Every line is a sample
(a blank line is a sample with no values, and refused). The C side parses it with
``sfp_sample_from_text`` (firmware/sfp_text.c) and checks the count and the range;
:func:`read_samples_text` does the same checks here, and any problem is one line naming the
file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..atomic import TextFileError, atomic_write_text, read_text
from ..fixed import umax

__all__ = ["read_samples_text", "samples_text", "write_samples_text"]

#: Largest value a line may hold (the C parser's ``uint16_t``).
TEXT_MAX = 0xFFFF
_INT = re.compile(r"[+-]?[0-9]+")


def samples_text(x, encoding: str, in_bits: int | None = None) -> str:
    """Text of ``x``: ``[N, n_in]`` direct values or ``[N, T, n_in]`` spikes.

    Values must lie in ``[0, 2**in_bits - 1]`` (direct; ``[0, 65535]`` without ``in_bits``)
    or be 0 or 1 (spikes), as the readers require.
    """
    if encoding not in ("direct", "spikes"):
        raise ValueError(f"encoding must be 'direct' or 'spikes', not {encoding!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"samples must hold integers, not dtype {x.dtype}")
    want = 2 if encoding == "direct" else 3
    if x.ndim != want:
        raise ValueError(f"{encoding} samples must have {want} dimensions, not shape "
                         f"{list(x.shape)}")
    hi = 1 if encoding == "spikes" else TEXT_MAX if in_bits is None else umax(in_bits)
    rows = x.reshape(len(x), -1)
    if rows.size and (rows.min() < 0 or rows.max() > hi):
        bad = rows.min() if rows.min() < 0 else rows.max()
        n, i = (int(k[0]) for k in np.nonzero(rows == bad))
        raise ValueError(f"{encoding} sample values must lie in [0, {hi}], not {int(bad)} "
                         f"(sample {n}, value {i})")
    return "".join(" ".join(map(str, r)) + "\n" for r in rows.astype(np.int64))


def write_samples_text(path, x, encoding: str, in_bits: int | None = None) -> None:
    """Write :func:`samples_text` to ``path`` (atomically)."""
    atomic_write_text(path, samples_text(x, encoding, in_bits))


def read_samples_text(path, net) -> np.ndarray:
    """Read a samples file for ``net`` (a ``protocol.NetInfo`` or a ``spec.NetworkSpec``:
    anything with ``encoding``, ``n_in``, ``timesteps`` and ``in_bits``).

    Returns int64 ``[N, n_in]`` (direct) or ``[N, T, n_in]`` (spikes). A file that cannot be
    read, is not text, or has a line that is not ``n_in`` (``T * n_in``) integers in range
    raises a one-line ``ValueError`` naming the file and the line.
    """
    path = Path(path)
    direct = net.encoding == "direct"
    shape = (net.n_in,) if direct else (net.timesteps, net.n_in)
    want = int(np.prod(shape))
    hi = umax(net.in_bits) if direct else 1
    try:
        text = read_text(path)
    except TextFileError as e:
        if e.line is None:
            raise ValueError(f"samples file {path}: {e.problem}") from None
        raise ValueError(f"{path} line {e.line}: {e.problem}") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    out = []
    for k, line in enumerate(lines, start=1):
        tokens = line.split()
        for tok in tokens:
            if not _INT.fullmatch(tok):
                raise ValueError(f"{path} line {k}: {tok[:20]!r} is not an integer")
            v = int(tok)
            if not 0 <= v <= hi:
                what = "direct values" if direct else "spikes"
                shown = tok if len(tok) <= 20 else f"{tok[:20]}... ({len(tok)} digits)"
                raise ValueError(f"{path} line {k}: {what} must lie in [0, {hi}], not {shown}")
        if len(tokens) != want:
            raise ValueError(f"{path} line {k}: a sample needs {want} values, not {len(tokens)}")
        out.append(np.array([int(t) for t in tokens], np.int64).reshape(shape))
    return np.array(out, np.int64).reshape((len(out), *shape))
