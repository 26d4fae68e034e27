"""Registers the core copies on purpose, so that no one flip-flop fans out across the die.

On ECP5 builds (a layer's ``bram_outreg``) a wide layer's registers and memories sit far
apart on the 85F: a signal that drives all of them from one flip-flop (or one LUT) spends
most of a cycle in routing (docs/hardware.md, the ``128x3`` row's critical paths). The core
then drives them from copies: each copy a flip-flop set from the same next value, named
``*_dup_*`` so that the board build keeps them apart (:data:`.yosys_names.KEEP_COPIES`;
yosys's ``opt_merge`` would merge them back into one).

* :func:`pixel_copies`: a direct layer's pixels, one copy per :data:`COPY_FANOUT` products;
* the weight memory's row address, one copy per :data:`ADDR_FANOUT` blocks
  (``WeightMemory.addr_dup``);
* the valid and ready bits behind the clock enables of a layer's wide registers, one copy
  per :data:`ENABLE_SPAN` lanes (:func:`span_copies`): :class:`~.neuron_pass.NeuronPass`'s
  stage registers and a one-group layer's state rows, the integrator's one current row.
"""

from __future__ import annotations

from amaranth import Module, Signal

__all__ = ["COPY_FANOUT", "ADDR_FANOUT", "ENABLE_SPAN", "pixel_copies", "span_copies",
           "enable_spans"]

#: Products one copy of a chunk's pixel register drives on ECP5 builds (:func:`pixel_copies`).
COPY_FANOUT = 8
#: Weight blocks one copy of the walk's row address drives on ECP5 builds
#: (``WeightMemory.addr_dup``).
ADDR_FANOUT = 8


def pixel_copies(m: Module, src, products, lanes: int, vb: int, name: str) -> list:
    """For each product ``p`` of ``products``, a register of pixel ``p // lanes`` of ``src``
    (``vb`` bits a pixel) one cycle later, one register per :data:`COPY_FANOUT` products of a
    pixel: a direct layer built for ECP5 (:func:`.integrator.dsp_registers`) feeds its DSPs
    and logic products from copies, so no one register fans out across the die to every
    multiplier
    (the 85F's ``128x3`` critical path, docs/hardware.md). The copies are named
    ``*_dup_*``; the board build keeps yosys from merging them back
    (:data:`.yosys_names.KEEP_COPIES`)."""
    regs, out = {}, []
    for p in products:
        key = (p // lanes, p % lanes // COPY_FANOUT)
        if key not in regs:
            regs[key] = Signal(vb, name=f"{name}_dup_{key[0]}_{key[1]}")
            m.d.sync += regs[key].eq(src[key[0] * vb:(key[0] + 1) * vb])
        out.append(regs[key])
    return out


#: Lanes of a layer's wide registers one copy of their enable's inputs drives
#: (:func:`span_copies`).
ENABLE_SPAN = 8


def enable_spans(lanes: int) -> int:
    """Copies of an enable over ``lanes`` lanes: one per :data:`ENABLE_SPAN` lanes, 0 (none)
    when the span does not divide ``lanes`` or one span covers them."""
    return lanes // ENABLE_SPAN if lanes % ENABLE_SPAN == 0 and lanes > ENABLE_SPAN else 0


def span_copies(m: Module, next_value, n: int, name: str, init: int = 0) -> list:
    """``n`` one-bit registers ``{name}_dup_{j}``, each set to ``next_value`` every cycle
    (so each holds what a register set the same way holds)."""
    regs = [Signal(init=init, name=f"{name}_dup_{j}") for j in range(n)]
    m.d.sync += [r.eq(next_value) for r in regs]
    return regs
