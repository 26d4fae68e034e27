"""Argument checks of the spiking MLPs (float and QAT): layer sizes and per-layer widths.

Each raises a one-line ``ValueError`` naming the owner, the layer and the allowed range.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..fixed import is_int


def _per_layer(owner, name, value, n, check):
    """Broadcast a scalar (or check a sequence) to one value per layer."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n:
            raise ValueError(f"{owner} {name} must have one entry per layer ({n}), not {value!r}")
        values = list(value)
    else:
        values = [value] * n
    for i, v in enumerate(values):
        check(i, v)
    return [int(v) if is_int(v) else v for v in values]


def _check_sizes(owner, sizes) -> tuple[int, ...]:
    ok = isinstance(sizes, Sequence) and not isinstance(sizes, str) and len(sizes) >= 2
    ok = ok and all(is_int(n) and n >= 1 for n in sizes)
    if not ok:
        raise ValueError(
            f"{owner} sizes must be a sequence of >= 2 positive integers, not {sizes!r}"
        )
    return tuple(int(n) for n in sizes)


def _int_check(owner, name, lo, hi):
    def check(i, v):
        if not is_int(v) or not lo <= v <= hi:
            raise ValueError(
                f"{owner} layer {i}: {name} must be an integer in [{lo}, {hi}], not {v!r}"
            )

    return check
