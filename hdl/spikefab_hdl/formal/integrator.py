"""Proof 2: the integrator's read-modify-write pipeline loses and doubles no update.

:class:`IntegratorHarness` feeds a layer's :class:`~spikefab_hdl.core.integrator.Integrator`
(its real weights, biases, widths, lanes, groups and weight banks) a free event stream:
any index below ``n_in``, any value (direct layers), ``valid`` free in every cycle, so
events arrive back to back, into the same row, into neighbouring rows, or with gaps. It
watches one row ``g`` (a free constant, so every row is watched in some trace) through
the owner's read port and keeps its own model of the row::

    expected[j] = b[g*lanes + j] + sum over accepted events (i, x) of W[g*lanes + j, i] * x

(modulo ``2^cur_bits``, the register's width; the plan sizes ``cur_bits`` so the real
sums never wrap). The model is built from the IR's ``W`` and ``b`` directly, not from the
plan's memory images. Check: in every cycle after one in which the integrator was idle,
the row read back equals ``expected`` — so every event's update was added exactly once.
"""

from __future__ import annotations

import numpy as np
from amaranth import Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In

from ..core.integrator import Integrator, product_latency
from ..core.plan import LayerPlan
from ..core.signatures import refuse
from .checks import Harness
from .proof import Proof

__all__ = ["MAX_GROUPS", "IntegratorHarness", "integrator_proofs", "model_rows",
           "pipeline_depth"]

#: Largest ``G`` whose integrator is proven (the bound grows with ``G``: two whole walks).
MAX_GROUPS = 4
#: Largest weight memory (``n_in * G`` rows) whose integrator is proven: the solver reads
#: the gateware's memory and the model's at a free address in every cycle: 9 to 24 rows
#: take 17-26 s here, 40-48 rows 100-270 s, 60 rows (8-bit weights) more than 5 minutes.
MAX_ROWS = 24
#: The solver of the integrator proofs: yices answers a bounded proof over memories and
#: adders here in a fifth of boolector's time (docs/verification.md).
SOLVER = "yices"


def model_rows(layer: LayerPlan) -> tuple[np.ndarray, np.ndarray]:
    """``(weights [n_in, G, lanes], biases [G, lanes])`` from the IR's arrays, zero past
    ``n_out``: what row ``g`` of the current memory gains per event and starts from."""
    lanes, groups = layer.lanes, layer.groups
    w = np.zeros((layer.n_in, groups * lanes), np.int64)
    w[:, : layer.n_out] = np.asarray(layer.weights, np.int64).T
    b = np.zeros(groups * lanes, np.int64)
    b[: layer.n_out] = np.asarray(layer.biases, np.int64)
    return w.reshape(layer.n_in, groups, lanes), b.reshape(groups, lanes)


def pipeline_depth(layer: LayerPlan) -> int:
    """Cycles from taking an event to its last row written: ``G`` rows, then the weight
    memory's latency and the add (one stage more for a direct layer's products)."""
    banks = -(-layer.n_in * layer.groups // layer.bank_rows)
    latency = 2 if banks == 1 else 3
    return layer.groups + latency + product_latency(layer)


def integrator_proofs(layer: LayerPlan, *, unit_values: bool = True) -> list:
    """The bounded proof of a dense layer's integrator, when ``G <= MAX_GROUPS`` and its
    weight memory has at most ``MAX_ROWS`` rows: two
    events back to back and the drain after them (``2 * pipeline_depth + 3`` cycles), the
    watched row and the events free. Conv layers, layers taking spike masks (``mask > 1``,
    ``core.lanes``) and larger ``G``: none (docs/verification.md).
    """
    if layer.conv is not None or layer.mask > 1 or layer.groups > MAX_GROUPS or \
            layer.n_in * layer.groups > MAX_ROWS:
        return []
    depth = 2 * pipeline_depth(layer) + 3
    what = (f"no update lost or doubled: two events back to back, any rows, drained "
            f"({layer.groups} groups, {layer.lanes} lanes"
            f"{', direct' if layer.value_bits else ''})")
    return [Proof(f"layer{layer.index}.integrator", what,
                  lambda: IntegratorHarness(layer=layer, unit_values=unit_values), "bmc", depth,
                  solver=SOLVER)]


class IntegratorHarness(Harness):
    """A layer's integrator against its row model (see the module docstring).

    Parameters
    ----------
    layer : LayerPlan
        The layer (its integrator is built from it as the core builds it).
    """

    def __init__(self, *, layer: LayerPlan, unit_values: bool = True):
        if layer.n_in < 1:
            raise refuse(self, ValueError("the layer has no inputs"))
        self.layer, self.unit_values = layer, unit_values
        fields = {"index": layer.in_index_bits}
        if layer.value_bits:
            fields["value"] = layer.value_bits
        super().__init__({
            "events": In(stream.Signature(data.StructLayout(fields))),
            "row": In(range(max(2, layer.groups))),  # no 0-bit port (smtbmc)
        })

    def build(self, m):
        lp = self.layer
        lanes, groups, cb = lp.lanes, lp.groups, lp.cur_bits
        m.submodules.dut = dut = Integrator(layer=lp)
        wiring.connect(m, wiring.flipped(self.events), dut.events)
        ev = self.events.payload
        self.constant(self.row)
        self.assume(self.row < groups)
        self.assume(~self.events.valid | (ev.index < lp.n_in))
        if lp.value_bits and self.unit_values:
            self.assume(ev.value <= 1)
        m.d.comb += [dut.rd_addr.eq(self.row), dut.rd_en.eq(1), dut.wr_en.eq(0)]

        w_rows, b_rows = model_rows(lp)
        row_shape = data.ArrayLayout(signed(lp.w_bits), lanes)
        m.submodules.model_weights = wmem = memory.Memory(
            shape=row_shape, depth=lp.n_in * groups,
            init=[list(map(int, r)) for r in w_rows.reshape(-1, lanes)])
        m.submodules.model_biases = bmem = memory.Memory(
            shape=data.ArrayLayout(signed(cb), lanes), depth=groups,
            init=[list(map(int, r)) for r in b_rows])
        w_rd = wmem.read_port(domain="comb")
        b_rd = bmem.read_port(domain="comb")
        m.d.comb += [w_rd.addr.eq(ev.index * groups + self.row), b_rd.addr.eq(self.row)]

        value = ev.value if lp.value_bits and not self.unit_values else 1
        added = Signal(data.ArrayLayout(signed(cb), lanes))  # the events' sum (mod 2^cb)
        expected = Signal(data.ArrayLayout(signed(cb), lanes))
        taken = self.events.valid & self.events.ready
        if lp.value_bits and self.unit_values:
            taken = taken & ev.value[0]
        with m.If(taken):
            for j in range(lanes):
                m.d.sync += added[j].eq(added[j] + w_rd.data[j] * value)
        for j in range(lanes):
            m.d.comb += expected[j].eq(b_rd.data[j] + added[j])

        was_idle = Signal()
        prev = Signal.like(expected)
        m.d.sync += [was_idle.eq(dut.idle), prev.eq(expected)]
        for j in range(lanes):
            self.check(f"row_{j}", ~was_idle | (dut.rd_data[j] == prev[j]),
                       f"lane {j}: the watched row holds b + every accepted event's "
                       f"W * x, each once")
        self.cover("two_events", self._count_events(m) >= 2,
                   "two events taken")

    def _count_events(self, m):
        count = Signal(2)
        with m.If(self.events.valid & self.events.ready & (count != 3)):
            m.d.sync += count.eq(count + 1)
        return count
