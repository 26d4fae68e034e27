"""A conv layer's geometry in the core: coordinates, memory rows and the taps of an event.

Pure Python (no Amaranth), shared by the plan, the gateware, the cycle bound and the
beat packing. With ``lanes`` lanes across output channels a conv layer has
``G = ceil(C_out / lanes)`` *channel groups* and ``P = OH * OW`` output positions:

* its state memories (currents, membranes, synapses) have ``P * G`` rows, row
  ``pos * G + g`` (``pos = oy * OW + ox``) holding channels ``g * lanes + j``;
* its weight memory has ``C_in * k * k * G`` rows, row ``((ci * k + ky) * k + kx) * G + g``
  holding ``W[g * lanes + j, ci, ky, kx]``; its bias memory ``G`` rows;
* an event into it is the packed coordinate ``(c << (yb + xb)) | (y << xb) | x`` of one
  input, ``yb``/``xb`` the widths of ``H - 1``/``W - 1`` (:meth:`ConvGeometry.pack`).

An input at row ``y`` touches the output rows ``oy = (y + p - ky) / s`` for the ``ky`` in
``[0, k)`` with ``(y + p - ky) % s == 0`` and ``0 <= oy < OH``: an arithmetic sequence
(``ky += s`` while ``oy -= 1``) of ``ny`` terms starting at ``(ky0, oy0)``; the same for
columns. :meth:`ConvGeometry.rows` and :meth:`ConvGeometry.cols` tabulate them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spikefab.fixed import unsigned_width
from spikefab.spec import ConvSpec

__all__ = ["ConvGeometry", "check_conv_order", "coord_bits", "taps"]


def check_conv_order(spec) -> None:
    """Refuse (one line) a conv layer after a dense one: the core feeds a conv layer only
    from the input or from another conv layer."""
    for i, (prev, layer) in enumerate(zip(spec.layers, spec.layers[1:], strict=False)):
        if layer.conv is not None and prev.conv is None:
            raise ValueError(f"layer {i + 1} is a conv layer after the dense layer {i}: the "
                             "network core feeds a conv layer only from the input or from "
                             "another conv layer")


def coord_bits(conv: ConvSpec) -> tuple[int, int, int]:
    """Widths ``(cb, yb, xb)`` of an input coordinate ``(c, y, x)`` of ``conv``."""
    return (unsigned_width(conv.in_channels - 1), unsigned_width(conv.height - 1),
            unsigned_width(conv.width - 1))


def taps(size: int, out: int, k: int, s: int, p: int) -> list[tuple[int, int, int]]:
    """Per input row (or column) ``y < size``: ``(k0, o0, n)``, the first kernel row it
    meets, the output row that is, and how many output rows it touches."""
    table = []
    for y in range(size):
        pairs = [(ky, (y + p - ky) // s) for ky in range(k)
                 if (y + p - ky) % s == 0 and 0 <= (y + p - ky) // s < out]
        table.append((pairs[0][0], pairs[0][1], len(pairs)) if pairs else (0, 0, 0))
    return table


@dataclass(frozen=True)
class ConvGeometry:
    """The numbers the gateware needs of one conv layer at ``lanes`` lanes."""

    conv: ConvSpec
    lanes: int

    @property
    def groups(self) -> int:
        """Channel groups ``G = ceil(C_out / lanes)``."""
        return -(-self.conv.out_channels // self.lanes)

    @property
    def positions(self) -> int:
        oh, ow = self.conv.out_hw
        return oh * ow

    @property
    def rows(self) -> int:
        """Rows of a state memory: ``P * G``."""
        return self.positions * self.groups

    @property
    def kernel_inputs(self) -> int:
        """Inputs of one kernel, ``C_in * k * k`` (weight rows per channel group)."""
        return self.conv.in_channels * self.conv.kernel ** 2

    @property
    def in_bits(self) -> tuple[int, int, int]:
        return coord_bits(self.conv)

    def pack(self, c, y, x):
        """Packed input coordinate(s) (ints or int arrays)."""
        _, yb, xb = self.in_bits
        return (c << (yb + xb)) | (y << xb) | x

    def unpack_flat(self, index):
        """``(c, y, x)`` of flat input index(es) ``(c * H + y) * W + x``."""
        h, w = self.conv.height, self.conv.width
        return index // (h * w), (index // w) % h, index % w

    def rows_table(self) -> list[tuple[int, int, int]]:
        """:func:`taps` of every input row ``y``."""
        c = self.conv
        return taps(c.height, c.out_hw[0], c.kernel, c.stride, c.padding)

    def cols_table(self) -> list[tuple[int, int, int]]:
        """:func:`taps` of every input column ``x``."""
        c = self.conv
        return taps(c.width, c.out_hw[1], c.kernel, c.stride, c.padding)

    def taps_per_input(self) -> np.ndarray:
        """``[n_in]``: output positions each input (flat index) touches (``ny * nx``)."""
        c = self.conv
        ny = np.array([n for _, _, n in self.rows_table()], np.int64)
        nx = np.array([n for _, _, n in self.cols_table()], np.int64)
        per = (ny[:, None] * nx[None, :]).reshape(-1)
        return np.tile(per, c.in_channels)

    def to_dict(self) -> dict:
        c = self.conv
        return {**c.to_dict(), "out_hw": list(c.out_hw), "pooled_hw": list(c.pooled_hw),
                "channel_groups": self.groups, "positions": self.positions,
                "coord_bits": list(self.in_bits)}
