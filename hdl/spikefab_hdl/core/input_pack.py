"""Packed direct input: ``in_pack`` values per input beat (pure Python).

A core built with ``in_pack = P`` takes a direct sample as ``ceil(n_in / P)`` beats, value
``b * P + j`` of beat ``b`` in bits ``[j * in_bits, (j + 1) * in_bits)`` of its ``data``,
the last beat padded with zeros (the gateware: :mod:`.input_adapter`). :func:`pack_values`
makes the beats' data words; :func:`check_in_pack` says which ``P`` a network can take.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_IN_PACK", "check_in_pack", "pack_values"]

#: Largest number of direct input values per beat.
MAX_IN_PACK = 64


def check_in_pack(spec, in_pack) -> int:
    """Return ``in_pack`` if the network ``spec`` can take that many values per input
    beat; raise a one-line ``ValueError`` otherwise."""
    if isinstance(in_pack, bool) or not isinstance(in_pack, int | np.integer) or not (
        1 <= int(in_pack) <= MAX_IN_PACK
    ):
        raise ValueError(f"in_pack must be an integer in [1, {MAX_IN_PACK}], not {in_pack!r}")
    in_pack = int(in_pack)
    if in_pack > 1 and spec.encoding != "direct":
        raise ValueError(f"in_pack {in_pack} packs direct input values; a network with "
                         f"encoding {spec.encoding!r} takes one address per beat (in_pack 1)")
    conv = spec.layers[0].conv
    if in_pack > 1 and conv is not None and conv.width % in_pack:
        raise ValueError(f"in_pack {in_pack} must divide the conv input width {conv.width} "
                         f"(a beat holds values of one image row)")
    return in_pack


def pack_values(values, in_bits: int, in_pack: int) -> list[int]:
    """The ``data`` words of the beats carrying the unsigned ``values`` (one sample)."""
    v = [int(a) for a in np.asarray(values, dtype=np.int64).reshape(-1)]
    v += [0] * (-len(v) % in_pack)
    return [sum(a << (j * in_bits) for j, a in enumerate(v[b:b + in_pack]))
            for b in range(0, len(v), in_pack)]
