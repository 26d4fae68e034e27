"""Memory images of a layer: weights and per-neuron vectors as rows of ``lanes`` values.

Weight memory layout: row ``i * G + g`` holds ``W[g*lanes + j, i]`` for ``j < lanes``
(zero beyond ``n_out``), so one read returns the ``lanes`` weights an input event ``i``
adds into neuron group ``g``. A layer taking spike masks ``K`` wide (:mod:`.lanes`) has
one row per *chunk* ``c`` of ``K`` inputs: row ``c * G + g`` holds ``W[g*lanes + j,
c*K + k]`` at position ``k * lanes + j`` (zero beyond ``n_in`` and ``n_out``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DP16KD_SHAPES", "bank_rows_for", "pack_rows", "pack_groups"]

#: The shapes of an ECP5 DP16KD block RAM, (rows, bits): one weight-memory bank is one of
#: these, repeated side by side to the row width (:mod:`.weight_memory`).
DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def bank_rows_for(width: int, depth: int) -> int:
    """Rows per bank of a ``depth`` x ``width`` bit weight memory: the DP16KD shape that
    stores it in the fewest blocks, the deepest of equals (fewest banks)."""
    best = min(
        DP16KD_SHAPES,
        key=lambda s: (-(-int(width) // s[1]) * -(-int(depth) // s[0]), -s[0]),
    )
    return best[0]


def pack_rows(weights: np.ndarray, lanes: int, mask: int = 1) -> np.ndarray:
    """Weights ``[n_out, n_in]`` as memory rows ``[ceil(n_in / mask) * G, mask * lanes]``
    (row ``c*G + g``, position ``k*lanes + j``; ``mask = 1``: row ``i*G + g``)."""
    w = np.asarray(weights, dtype=np.int64)
    n_out, n_in = w.shape
    groups = -(-n_out // lanes)
    chunks = -(-n_in // mask)
    padded = np.zeros((groups * lanes, chunks * mask), np.int64)
    padded[:n_out, :n_in] = w
    # [G*L, C*K] -> [G, L, C, K] -> [C, G, K, L] -> [C*G, K*L]
    return (padded.reshape(groups, lanes, chunks, mask).transpose(2, 0, 3, 1)
            .reshape(chunks * groups, mask * lanes))


def pack_groups(vector: np.ndarray, lanes: int) -> np.ndarray:
    """A per-neuron vector ``[n_out]`` as memory rows ``[G, lanes]`` (zero padded)."""
    v = np.asarray(vector, dtype=np.int64)
    groups = -(-v.shape[0] // lanes)
    padded = np.zeros(groups * lanes, np.int64)
    padded[: v.shape[0]] = v
    return padded.reshape(groups, lanes)
