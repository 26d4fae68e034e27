"""Proof 2 for a direct layer taking pixel chunks ``K`` wide (``value_bits`` and ``mask > 1``,
core/integrator.py): the term each event adds, and the invariant of the products.

An event ``(c, values)`` carries the ``K`` values ``x_{c*K+k}`` (value ``k`` in bits
``[k*vb, (k+1)*vb)``, ``vb = value_bits``). Its weight rows are laid out as a mask layer's
(formal/rmw_mask.py): the harness's row ``a = c_w*G + g_w`` holds a free ``C`` at position
``k_w``, zero elsewhere, so an event adds ``T = C * x_{c_w*K+k_w}`` into row ``g_r`` exactly
when ``c = c_w`` and ``g_r = g_w``. The value at ``k_w`` of every event of chunk ``c_w`` is
one free constant ``X``, 0 or 1 (:func:`chunk_assume`); every other value of every event is
free, every bit, in every cycle. So every term of the tracked entry is the same ``T = X * C``
and the invariant counts them as a mask layer's; a product of another position's value, a
value dropped or moved is caught. Not covered (docs/verification.md): ``X`` wider than 0/1
(``T = C * X``: the solver must prove two multipliers equal; the random case's induction
got no answer in 300 s), and one event's value added for another's of the same chunk (a
stale value register); simulation covers both.

The invariant (:func:`chunk_flags`): the walk and each weight stage of chunk ``c_w`` carry
``X`` at ``k_w``; beside each product register the harness keeps ``on`` (its row was ``a``);
the checked lane's product of position ``k`` is ``T`` if ``on`` and ``k = k_w``, else 0; the
adder tree's partial sums as a mask layer's with ``T`` for ``C``.
"""

from __future__ import annotations

from amaranth import Array, Mux, Signal, signed

from .rmw_mask import tree_flags

__all__ = ["chunk_assume", "chunk_flags", "chunk_value", "takes_chunks"]


def takes_chunks(layer) -> bool:
    """A direct layer taking pixel chunks: its events carry ``mask`` values, not a mask."""
    return bool(layer.value_bits) and layer.mask > 1


def chunk_value(h, word):
    """Value ``k_w`` of a chunk's word."""
    vb = h.layer.value_bits
    return Array(word[i * vb:(i + 1) * vb] for i in range(h.layer.mask))[h.k_w]


def chunk_assume(h, m):
    """Every event of chunk ``c_w`` carries ``X`` (0 or 1) at ``k_w``; returns ``T = X * C``
    of the checked lane (the term every hit adds)."""
    ev = h.events.payload
    h.assume(~h.events.valid | (ev.index != h.i_w) | (chunk_value(h, ev.value) == h.x_w))
    lp = h.layer
    term = Signal(signed(lp.w_bits), name="chunk_term")
    m.d.comb += term.eq(Mux(h.x_w, h.w_row[h.lane], 0))
    return term


def _lane(h, regs):
    """The checked lane's entry of ``regs[lane]``."""
    return Array(regs)[h.lane] if h.fixed_lane is None else regs[h.fixed_lane]


def chunk_flags(h, m, dut, weights, r) -> list:
    """The checks on the product registers and the tree (module docstring); the flags of the
    term ``(a, r)`` in each."""
    lp = h.layer
    lanes, k_n = lp.lanes, lp.mask
    for k, ((valid, _, val), hit) in enumerate(zip(dut.probes["stages"], weights.hit,
                                                   strict=True)):
        h.check(f"stage_x_{k}", ~(valid & hit) | (chunk_value(h, val) == h.x_w),
                "a weight stage of the weight row carries X at k_w")
    on_in, flags = weights.hit[-1], []
    for n, (valid, grp, terms) in enumerate(dut.probes["products"]):
        on = Signal(name=f"product{n}_on")
        m.d.sync += on.eq(on_in)
        on_in = on
        ok = 1
        for k in range(k_n):
            got = _lane(h, [terms[k * lanes + j] for j in range(lanes)])
            ok = ok & (got == Mux(on & (h.k_w == k), h.term, 0))
        h.check(f"product_{n}", ~valid | ok,
                "a product register holds C * X at position k_w if its row was the weight "
                "row, every other product 0 (the checked lane)")
        flag = Signal(name=f"in_flight_product{n}")
        m.d.comb += flag.eq(valid & (grp == r) & on)
        flags.append(flag)
    return flags + tree_flags(h, m, dut, weights, r, on_in=on_in, term=h.term)
