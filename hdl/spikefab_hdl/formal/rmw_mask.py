"""Proof 2 for a layer taking spike masks ``K`` wide (``layer.mask``, core/lanes.py): the one
weight entry the harness tracks, and the induction invariant of the adder tree.

A weight row of such a layer holds the ``K x lanes`` weights of chunk ``c``'s inputs
``c*K + k`` (position ``k*lanes + j``), and an event ``(c, mask)`` adds, in each lane, the
weights whose mask bit is set (an adder tree, registered as core/adder_tree.py says). The
harness tracks one weight row ``a = c_w*G + g_w`` whose position ``k_w`` holds a free
``C`` (``lanes`` values) and every other position zero: an event adds ``C`` into row ``g_r``
exactly when ``c = c_w``, ``g_r = g_w`` and mask bit ``k_w`` is set. The current is linear
in every single weight (the tree is exact: every level one bit wider), so one free entry
at a free position covers every weight memory as one free row does for ``K = 1``.

The invariant of the tree (:func:`tree_flags`): with ``on`` (the harness's bit beside each
tree stage: its row was ``a`` and its mask bit ``k_w`` was set), the checked lane's partial
sum that covers input ``k_w`` holds ``C`` if ``on``, else 0, and every other partial sum 0;
a term is in flight in a tree stage when the stage is valid, its row ``r`` and ``on``.
"""

from __future__ import annotations

from itertools import accumulate

from amaranth import Array, Mux, Signal, signed
from amaranth.lib import data

from ..core.adder_tree import tree_schedule

__all__ = ["masked_row", "tree_flags", "tree_levels"]


def masked_row(h, m):
    """The tracked weight row: ``C`` at position ``k_w``, zero elsewhere."""
    lp = h.layer
    lanes = lp.lanes
    row = Signal(data.ArrayLayout(signed(lp.w_bits), lanes * lp.mask), name="tracked_row")
    m.d.comb += [row[k * lanes + j].eq(Mux(h.k_w == k, h.w_row[j], 0))
                 for k in range(lp.mask) for j in range(lanes)]
    return row


def tree_levels(k: int, per: int) -> list[int]:
    """The adder-tree levels done by each registered stage, ``per`` levels a stage at most
    (as ``Integrator.mask_tree``)."""
    return list(accumulate(tree_schedule(k, per)))


def tree_flags(h, m, dut, weights, r, on_in=None, term=None) -> list:
    """The checks on the tree's registers (module docstring); the flags of the term
    ``(a, r)`` in each tree stage. ``weights.hit[-1]`` and the last weight stage's mask say
    what enters the first (``on_in``: pixel chunks, formal/rmw_chunk.py, whose term is
    ``term``, not ``C``)."""
    lp = h.layer
    lanes = lp.lanes
    if on_in is None:
        (_, _, last_mask) = dut.probes["stages"][-1]
        on_in = weights.hit[-1] & (last_mask >> h.k_w)[0]
    term = h.w_row[h.lane] if term is None else term
    flags = []
    done = tree_levels(lp.mask, lp.tree_levels)
    for n, ((valid, grp, _), regs, levels) in enumerate(zip(
            dut.probes["tree"], dut.tree_regs, done, strict=True)):
        on = Signal(name=f"tree_on{n}")
        m.d.sync += on.eq(on_in)
        on_in = on
        where = h.k_w >> levels  # the partial sum that covers input k_w
        ok = 1
        for i in range(len(regs[0])):
            lane = Array(regs[j][i] for j in range(lanes))[h.lane]
            ok = ok & (lane == Mux(on & (where == i), term, 0))
        h.check(f"tree_{n}", ~valid | ok,
                "a tree stage's partial sums: C in the one covering k_w if its row was the "
                "weight row and bit k_w set, else 0")
        flag = Signal(name=f"in_flight_tree{n}")
        m.d.comb += flag.eq(valid & (grp == r) & on)
        flags.append(flag)
    return flags

