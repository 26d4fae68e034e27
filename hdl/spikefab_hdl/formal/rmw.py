"""Proof 2 at every size: the integrator's read-modify-write pipeline, memories abstracted.

:class:`RMWHarness` builds a layer's real :class:`~spikefab_hdl.core.integrator.Integrator`
(dense layers, the readout, layers taking spike masks or pixel chunks) or
:class:`~spikefab_hdl.core.conv_integrator.ConvIntegrator`: its walk, decode registers,
stages, product, adder tree, bypass, SPRAM bubbles and address arithmetic as the core has
them, at the layer's widths, lanes, groups, positions and weight-memory latency. Its
memories are replaced (the integrator's ``weight_memory`` / ``current_memory`` /
``current_spram`` hooks) by the models of :mod:`.rmw_models`, whose size does not depend on
the row counts: one weight row at a free address ``a`` holds a free row ``C`` (one position
``k_w`` of it with masks), every other row zero; the current memory is tracked at one free
row ``r`` (a shadow starting at a free ``B``), reads of other rows return free values.

The events are free (any valid coordinate, chunk and mask, ``valid`` free every cycle: back
to back, same row, neighbouring rows, gaps). The harness states what row ``r`` must hold in
the layer's own terms: ``B + C * x`` summed over the accepted events whose input and tap
connect weight row ``a`` to current row ``r`` (dense: input ``i`` and group ``g`` with
``a = i*G + g``, ``r = g``; masks: chunk ``c`` with bit ``k_w`` set; conv:
``a = ((c*k + ky)*k + kx)*G + g``, ``r = (oy*OW + ox)*G + g`` with ``y = s*oy + ky - p``,
``x = s*ox + kx - p``); whenever the integrator was idle, the row read back through the
owner's port equals it. That the plan puts ``W`` where these formulas say is checked on
the real arrays when the proof is built. The induction invariant: the model's row equals
the tracked row plus ``C`` once per term in flight (:meth:`RMWHarness._invariant`; the conv
walk's and the decode registers' in :mod:`.rmw_conv`, the adder tree's in :mod:`.rmw_mask`).

Why one nonzero weight row (entry) suffices: the pipeline never branches on a weight or a
current (only on the events), and the row it writes is the sum of the terms it read, so each
row's value is linear in every weight; a proof for every row ``a`` and every value ``C``
covers every weight memory, the real one included. Values of a direct layer's events are 0
or 1 (0 is dropped; the product ``w * x`` itself is one ``*``; pixel chunks: the tracked
value, the others free, :mod:`.rmw_chunk`).
"""

from __future__ import annotations

import numpy as np
from amaranth import Array, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In

from ..board.definitions import BOARDS
from ..build.fit import place_spram
from ..core.adder_tree import tree_stages
from ..core.conv_integrator import ConvIntegrator
from ..core.integrator import Integrator, product_latency
from ..core.plan import LayerPlan, plan_core
from .checks import Harness
from .integrator import model_rows
from .proof import Proof
from .rmw_chunk import chunk_assume, chunk_flags, chunk_value, takes_chunks
from .rmw_conv import conv_flags, conv_hit, spram_checks
from .rmw_mask import masked_row, tree_flags
from .rmw_models import OneRowWeights, ShadowMemory, SPRAMShadow

__all__ = ["FREE_LANES", "OneRowWeights", "RMWHarness", "ShadowMemory", "check_layout",
           "checked_lanes", "induction_depth", "rmw_depth", "rmw_proofs", "spram_rmw_proofs"]

#: Up to this many lanes the proof checks a free lane; beyond, one chosen lane (the other
#: lanes' logic is then removed: 8 free lanes got no answer in 4 minutes, one lane 33 s).
FREE_LANES = 2
#: boolector answered the dense induction fastest here (docs/verification.md).
SOLVER = "boolector"


def _abstracted(cls):
    """``cls`` with its memories replaced by the harness's models."""

    class Abstracted(cls):
        def __init__(self, *, layer, weights, currents):
            super().__init__(layer=layer)
            self._models = (weights, currents)

        def weight_memory(self):
            return self._models[0]

        def current_memory(self, shape, depth, init):
            return self._models[1]

        def current_spram(self, shape, depth, banks):
            return self._models[1]

    Abstracted.__name__ = f"Abstract{cls.__name__}"
    return Abstracted


def check_layout(layer: LayerPlan) -> None:
    """The plan's weight rows are where the harness's formulas put ``W`` (ValueError if not)."""
    rows = np.asarray(layer.weight_rows, np.int64)
    lanes = layer.lanes
    if layer.conv is None:  # row c*G + g, position k*lanes + j = W[g*lanes + j, c*K + k]
        w, k = model_rows(layer)[0], layer.mask
        full = np.zeros((layer.weight_inputs * k, *w.shape[1:]), np.int64)
        full[: w.shape[0]] = w
        want = full.reshape(-1, k, *w.shape[1:]).transpose(0, 2, 1, 3).reshape(-1, k * lanes)
    else:
        geo, conv = layer.geometry, layer.conv
        w = np.asarray(layer.weights, np.int64)
        g_n, k = geo.groups, conv.kernel
        full = np.zeros((g_n * lanes, conv.in_channels, k, k), np.int64)
        full[: w.shape[0]] = w
        # row ((c*k + ky)*k + kx)*G + g, lane j = W[g*lanes + j, c, ky, kx]
        want = full.reshape(g_n, lanes, conv.in_channels, k, k).transpose(2, 3, 4, 0, 1)
        want = want.reshape(-1, lanes)
    if rows.shape != want.shape or not np.array_equal(rows, want):
        raise ValueError(f"layer {layer.index}: the weight memory's layout is not the one "
                         f"the integrator proof states")


def rmw_depth(layer: LayerPlan) -> int:
    """BMC depth: two events that each walk their most rows, back to back, then the drain
    (the decode registers of a conv layer, the memory latency, the product, the adder tree's
    stages, the add)."""
    latency = layer.weight_latency + product_latency(layer) + tree_stages(layer)
    walk = layer.groups if layer.conv is None else layer.conv.kernel ** 2 * layer.geometry.groups
    return 2 * walk + latency + (2 if layer.conv else 0) + 4


def checked_lanes(layer: LayerPlan) -> list[int | None]:
    """The lanes the proofs check: free (None: the solver picks any) up to
    :data:`FREE_LANES` lanes; beyond, lane 0 and, when the last lanes' products are logic
    (``logic_lanes``), the last lane: one proof each (docs/verification.md)."""
    if layer.lanes <= FREE_LANES:
        return [None]
    return [0] + ([layer.lanes - 1] if layer.logic_lanes else [])


def rmw_proofs(layer: LayerPlan) -> list[Proof]:
    """The integrator proof of a layer (k-induction): dense, the readout, conv (the walk's
    invariant, formal/rmw_conv.py), currents in SPRAM, spike masks (formal/rmw_mask.py).
    and a direct layer taking pixel chunks (``value_bits`` and ``mask > 1``: events of
    ``K`` values, formal/rmw_chunk.py)."""
    check_layout(layer)
    chunk = takes_chunks(layer)
    extra = "".join([", direct" if layer.value_bits else "",
                     f", pixel chunks {layer.mask} wide" if chunk else
                     f", masks {layer.mask} wide" if layer.mask > 1 else "",
                     f", currents in {layer.spram_banks('currents')} SPRAM bank(s)"
                     if layer.spram_banks("currents") else ""])
    if layer.conv is None:
        kind = f"dense, {layer.groups} rows, {layer.lanes} lanes{extra}"
    else:
        geo = layer.geometry
        kind = (f"conv {layer.conv.kernel}x{layer.conv.kernel}, {geo.positions} positions x "
                f"{geo.groups} groups, {layer.lanes} lanes{extra}")
    proofs = []
    for n, lane in enumerate(checked_lanes(layer)):
        which = "any lane" if lane is None else f"lane {lane}"
        what = f"no update lost or doubled, any weights, any event sequence ({kind}; {which})"
        name = f"layer{layer.index}.integrator" + ("-logic" if n else "")
        proofs.append(Proof(name, what, lambda lane=lane: RMWHarness(layer=layer, lane=lane),
                            "prove", induction_depth(layer), solver=SOLVER))
    return proofs


def induction_depth(layer: LayerPlan) -> int:
    """k of the k-induction: 1 for every layer kind (the invariant states the row read for
    the add stage, so one step closes; without it k = 3, 3-10x the solver's time)."""
    return 1


class RMWHarness(Harness):
    """A layer's integrator with abstracted memories against the row it must hold.

    Parameters
    ----------
    layer : LayerPlan
    dut : class, optional
        The integrator class (default: the layer's; a planted bug in tests).
    lane : int, optional
        The lane checked (default: free, the solver picks any); with one chosen, the
        current memory's model keeps that lane only and yosys drops the others' logic.
    """

    def __init__(self, *, layer: LayerPlan, dut=None, lane: int | None = None):
        self.layer = layer
        self.fixed_lane = lane
        self.dut_class = dut or (ConvIntegrator if layer.conv is not None else Integrator)
        fields = {"index": layer.in_index_bits}
        self.chunk = takes_chunks(layer)  # events of K values
        if layer.value_bits:
            fields["value"] = layer.value_bits * layer.mask
        elif layer.mask > 1:
            fields["mask"] = layer.mask
        lanes, wb, cb = layer.lanes, layer.w_bits, layer.cur_bits
        ports = {
            "events": In(stream.Signature(data.StructLayout(fields))),
            "w_row": In(data.ArrayLayout(signed(wb), lanes)),   # C
            "b_row": In(data.ArrayLayout(signed(cb), lanes)),   # B
            "other": In(data.ArrayLayout(signed(cb), lanes)),   # reads of other rows
            "g_w": In(range(max(2, self._groups))),             # the weight row's group
            "g_r": In(range(max(2, self._groups))),             # the current row's group
        }
        if lane is None:
            ports["lane"] = In(range(max(2, lanes)))  # the lane checked
        if layer.conv is None:
            ports["i_w"] = In(range(max(2, layer.weight_inputs)))  # input (chunk if K > 1)
            if layer.mask > 1:
                ports["k_w"] = In(range(max(2, layer.mask)))  # position in the chunk
            if self.chunk:
                ports["x_w"] = In(1)  # X (0 or 1): value k_w of chunk i_w's events
        else:
            conv = layer.conv
            oh, ow = conv.out_hw
            ports.update(c_w=In(range(max(2, conv.in_channels))), ky=In(range(max(2, conv.kernel))),
                         kx=In(range(max(2, conv.kernel))), oy=In(range(max(2, oh))),
                         ox=In(range(max(2, ow))))
        super().__init__(ports)
        if lane is not None:
            self.lane = lane

    @property
    def _groups(self) -> int:
        lp = self.layer
        return lp.groups if lp.conv is None else lp.geometry.groups

    def build(self, m):
        lp = self.layer
        lanes, g_n = lp.lanes, self._groups
        free = ["w_row", "b_row", "g_w", "g_r"] + (["i_w"] if lp.conv is None else
                                                   ["c_w", "ky", "kx", "oy", "ox"])
        free += (["k_w"] if lp.mask > 1 else []) + (["x_w"] if self.chunk else [])
        free += ["lane"] if self.fixed_lane is None else []
        for name in free:
            self.constant(getattr(self, name))
        self.assume((self.g_w < g_n) & (self.g_r < g_n) & (self.lane < lanes))
        ev = self.events.payload
        if lp.conv is None:
            self.assume(self.i_w < lp.weight_inputs)
            a = self.i_w * g_n + self.g_w
            r = self.g_r
            hit = ev.index * g_n + self.g_r == a  # row i*G + g holds input i's weights
            self.assume(~self.events.valid | (ev.index < lp.weight_inputs))
            if lp.mask > 1:  # input i_w*K + k_w, inside the layer
                self.assume((self.k_w < lp.mask) & (self.i_w * lp.mask + self.k_w < lp.n_in))
                if not self.chunk:
                    hit = hit & (ev.mask >> self.k_w)[0]
        else:
            conv, geo = lp.conv, lp.geometry
            k = conv.kernel
            oh, ow = conv.out_hw
            self.assume((self.c_w < conv.in_channels) & (self.ky < k) & (self.kx < k) &
                        (self.oy < oh) & (self.ox < ow))
            a = ((self.c_w * k + self.ky) * k + self.kx) * g_n + self.g_w
            r = (self.oy * ow + self.ox) * g_n + self.g_r
            _, yb, xb = geo.in_bits
            c, y, x = ev.index[xb + yb:], ev.index[xb:xb + yb], ev.index[:xb]
            self.assume(~self.events.valid | ((c < conv.in_channels) & (y < conv.height) &
                                              (x < conv.width)))
            hit = conv_hit(self, c, y, x)
        if lp.value_bits and not self.chunk:
            self.assume(ev.value <= 1)
        # what each hit adds: C; pixel chunks C * X (formal/rmw_chunk.py)
        self.term = chunk_assume(self, m) if self.chunk else self.w_row[self.lane]
        depth = lp.weight_depth
        row_addr = Signal(range(max(2, lp.groups)), name="watched_row")
        w_addr = Signal(range(max(2, depth)), name="weight_row")
        m.d.comb += [row_addr.eq(r), w_addr.eq(a)]
        weights = OneRowWeights(
            shape=data.ArrayLayout(signed(lp.w_bits), lanes * lp.mask), depth=depth,
            latency=lp.weight_latency, at=w_addr,
            row=masked_row(self, m) if lp.mask > 1 else self.w_row)
        cur = data.ArrayLayout(signed(lp.cur_bits), lanes)
        banks = lp.spram_banks("currents")
        kw = dict(shape=cur, depth=lp.groups, row=row_addr, init=self.b_row, other=self.other,
                  lane=self.fixed_lane)
        currents = SPRAMShadow(banks=banks, **kw) if banks else ShadowMemory(**kw)
        dut = _abstracted(self.dut_class)(layer=lp, weights=weights, currents=currents)
        m.submodules.dut = dut.elaborate(None)  # elaborated here: the invariant reads it
        dut._MustUse__silence = True
        wiring.connect(m, wiring.flipped(self.events), dut.events)
        m.d.comb += [dut.rd_addr.eq(row_addr), dut.rd_en.eq(1), dut.wr_en.eq(0)]

        # One lane, free (the lanes are copies): B, then + C per accepted event that hits,
        # in the order the pipeline adds (the solver compares (B + C) + C with (B + C) + C)
        b_lane = self.b_row[self.lane]
        started = Signal(name="model_started")
        total = Signal(signed(lp.cur_bits), name="model_total")
        expected = Signal(signed(lp.cur_bits), name="expected")
        m.d.comb += expected.eq(Mux(started, total, b_lane))
        taken = self.events.valid & self.events.ready & hit
        if lp.value_bits and not self.chunk:
            taken = taken & ev.value[0]
        with m.If(taken):
            m.d.sync += [started.eq(1), total.eq(expected + self.term)]
        was_idle = Signal(name="was_idle")
        prev = Signal.like(expected, name="prev_expected")
        m.d.sync += [was_idle.eq(dut.idle), prev.eq(expected)]
        self.check("row", ~was_idle | (dut.rd_data[self.lane] == prev),
                   "the watched current row holds b + every accepted event's W * x, each once "
                   "(any lane)")
        self._invariant(m, dut, weights, currents, expected, w_addr, row_addr)

    def _invariant(self, m, dut, weights, currents, expected, a, r):
        """What makes the proof inductive: the model's row equals the tracked row plus ``C``
        once per term in flight to it (before the walk and in it: :meth:`_dense_walk`,
        :func:`~.rmw_conv.conv_flags`; each weight stage, the product stage), and the
        stages' rows are rows of the memory, and the row read for the add stage is the
        tracked row as it is now (the model's, bypass included)."""
        lp = self.layer
        flags = self._dense_walk(m, dut, a, r) if lp.conv is None else conv_flags(self, m, dut)
        chain = []  # (valid, row) of the stages after the walk, for spram_checks
        for k, ((valid, grp, val), hit) in enumerate(zip(dut.probes["stages"], weights.hit,
                                                         strict=True)):
            bit = (val >> self.k_w)[0] if lp.mask > 1 and not self.chunk else 1  # mask bit
            flags.append(valid & (grp == r) & hit & bit)
            chain.append((valid, grp))
            self.check(f"stage_row_{k}", ~valid | (grp < lp.groups),
                       "a weight stage's row is a row of the current memory")
            if lp.value_bits and not self.chunk:
                self.check(f"stage_value_{k}", ~valid | (val == 1),
                           "a weight stage carries a nonzero (1) value")
        if self.chunk:
            flags += chunk_flags(self, m, dut, weights, r)
        elif lp.value_bits:
            add_valid, add_group, add_terms = dut.probes["add"]
            add_hit = Signal(name="add_hit")  # the product stage's row was the weight row
            m.d.sync += add_hit.eq(weights.hit[-1])
            flags.append(add_valid & (add_group == r) & add_hit)
            chain.append((add_valid, add_group))
            self.check("product", ~add_valid |
                       (add_terms[self.lane] == Mux(add_hit, self.w_row[self.lane], 0)),
                       "the product stage holds C * 1 or 0")
        flags += tree_flags(self, m, dut, weights, r) if lp.mask > 1 and not self.chunk else []
        spram_checks(self, dut, chain)
        add_valid, add_group, _ = dut.probes["add"]
        # the row read for the add (one cycle before it, bypassed by a write then): with
        # this, k = 1 closes (k = 3 without it, 3-10x the solver's time)
        self.check("read", ~(add_valid & (add_group == r)) |
                   (currents.read_data[self.lane] == currents.value[self.lane]),
                   "the current row read for the add stage is the tracked row as it is now")
        n = Signal(range(len(flags) + 1), name="in_flight")
        m.d.comb += n.eq(sum(flags))
        chain = [currents.value[self.lane]]
        for _ in flags:
            nxt = Signal(signed(lp.cur_bits))
            m.d.comb += nxt.eq(chain[-1] + self.term)
            chain.append(nxt)
        self.check("inflight", expected == Array(chain)[n],
                   "the model's row = the tracked row + C per term in flight")

    def _dense_walk(self, m, dut, a, r) -> list:
        """A dense layer's walk reads row ``index * G + group`` of its event; the flag of
        the term ``(a, r)`` still to come in it."""
        lp = self.layer
        g_n = lp.groups
        busy, group, value = dut.probes["walk"]
        index = Signal.like(self.events.payload.index, name="walk_index")  # the event walked
        with m.If(self.events.valid & self.events.ready):
            m.d.sync += index.eq(self.events.payload.index)
        self.check("walk_base", ~busy | ((dut.walk_base == index * g_n + group) &
                                         (index < lp.weight_inputs)),
                   "the walk reads row index * G + group of its event")
        if lp.value_bits and not self.chunk:
            self.check("walk_value", ~busy | (value == 1), "the walk carries a nonzero value")
        if self.chunk:
            self.check("walk_x", ~busy | (index != self.i_w) | (chunk_value(self, value) ==
                                                               self.x_w),
                       "the walk of chunk c_w carries X at k_w")
        self.check("walk_row", ~busy | (group < g_n), "the walk's row is below G")
        bit = (value >> self.k_w)[0] if lp.mask > 1 and not self.chunk else 1  # mask bit k_w
        return [busy & (group <= r) & (index * g_n + r == a) & bit]


def spram_rmw_proofs(net, lanes, boards) -> list:
    """The integrator proofs of the conv layers whose currents a bitstream build for one of
    ``boards`` puts in SPRAM (:func:`~spikefab_hdl.build.fit.place_spram`, as the build
    chooses it), named ``layer<l>.integrator-spram``; the plan ``spikefab formal`` proves
    otherwise has every memory in block RAM."""
    seen, out = set(), []
    for name in boards:
        placement = place_spram(BOARDS[name], net, lanes=lanes)
        if not placement:
            continue
        for lp in plan_core(net, lanes=lanes, spram=placement).layers:
            key = (lp.index, lp.spram_banks("currents"))
            if key[1] and key not in seen:
                seen.add(key)
                out += [Proof(p.name.replace(".integrator", ".integrator-spram"), p.what,
                              p.harness, p.mode, p.depth, p.solver) for p in rmw_proofs(lp)]
    return out
