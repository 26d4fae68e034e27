"""The memory models of the integrator proof (formal/rmw.py): sizes independent of the rows.

* :class:`OneRowWeights`: one weight row at a free address holds a free row, every other
  row is zero; ``data`` follows ``addr`` after the real memory's latency;
* :class:`ShadowMemory`: the current memory tracked at one free row (a shadow register
  starting at a free value); a read of that row returns the shadow, bypassed by a write of
  it in the same cycle exactly when the integrator asks for a read port transparent to its
  write port; a read of any other row returns a free value;
* :class:`SPRAMShadow`: the same for currents in single-port RAM (no bypass; a read that
  meets a write of its bank in the same cycle returns a free value).
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth import Const, Elaboratable, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["OneRowWeights", "SPRAMShadow", "ShadowMemory"]


class OneRowWeights(wiring.Component):
    """A weight memory whose row ``at`` holds ``row`` and every other row zero; ``data`` is
    the row addressed ``latency`` cycles earlier, as :class:`~..core.weight_memory.WeightMemory`
    (read at ``addr``: no address copies)."""

    addr_copies = 0

    def __init__(self, *, shape, depth: int, latency: int, at, row):
        self.latency, self._at, self._row = latency, at, row
        super().__init__({"addr": In(range(max(2, depth))), "data": Out(shape)})
        #: ``hit[k]``: the row addressed ``k + 1`` cycles ago was ``at``
        self.hit = [Signal(name=f"w_hit{k}") for k in range(latency)]

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.hit[0].eq(self.addr == self._at)
        for prev, nxt in zip(self.hit[:-1], self.hit[1:], strict=True):
            m.d.sync += nxt.eq(prev)
        m.d.comb += self.data.as_value().eq(Mux(self.hit[-1], self._row.as_value(), 0))
        return m


class ShadowMemory(Elaboratable):
    """The current memory seen at one row: the API of ``amaranth.lib.memory.Memory`` that
    the integrator uses (one ``write_port()``, one synchronous ``read_port()``).

    Parameters
    ----------
    shape, depth :
        As the real memory's.
    row : Value
        The tracked row (a free constant of the harness).
    init : Value
        Its value before the first write (a free constant).
    other : Value
        What a read of any other row returns (free in every cycle).
    lane : int, optional
        Track only this lane: the other lanes of every read are ``other`` and their writes
        are dropped, so yosys removes the integrator's logic of the other lanes.
    """

    def __init__(self, *, shape, depth: int, row, init, other, lane: int | None = None):
        self.shape, self.depth, self.lane = shape, depth, lane
        self.row, self.init, self.other = row, init, other
        self.value = Signal(shape, name="shadow")  # the tracked row now
        self.transparent = None
        self.lost = Const(0)  # a read that returns a free value (SPRAMShadow: a collision)
        self._w = self._r = None

    @property
    def read_data(self):
        """The read port's data register (what the integrator adds to)."""
        return self._r.data

    def write_port(self):
        self._w = SimpleNamespace(addr=Signal(range(max(2, self.depth)), name="sh_waddr"),
                                  data=Signal(self.shape, name="sh_wdata"),
                                  en=Signal(name="sh_wen"))
        return self._w

    def read_port(self, *, domain="sync", transparent_for=()):
        assert domain == "sync" and self._r is None
        self.transparent = any(p is self._w for p in transparent_for)
        self._r = SimpleNamespace(addr=Signal(range(max(2, self.depth)), name="sh_raddr"),
                                  data=Signal(self.shape, name="sh_rdata"),
                                  en=Signal(init=1, name="sh_ren"))
        return self._r

    def elaborate(self, platform):
        m = Module()
        w, r = self._w, self._r
        wdata = w.data
        if self.lane is not None:  # the other lanes' writes dropped
            wdata = Signal(self.shape, name="sh_wdata_lane")
            m.d.comb += [wdata[j].eq(w.data[j] if j == self.lane else self.other[j])
                         for j in range(self.shape.length)]
        written = Signal(name="sh_written")
        stored = Signal(self.shape, name="sh_stored")
        m.d.comb += self.value.eq(Mux(written, stored, self.init))
        hit_w = w.en & (w.addr == self.row)
        with m.If(hit_w):
            m.d.sync += [stored.eq(wdata), written.eq(1)]
        with m.If(r.en):
            with m.If(self.lost):
                m.d.sync += r.data.eq(self.other)
            with m.Elif(r.addr == self.row):
                bypass = hit_w if self.transparent else 0
                m.d.sync += r.data.eq(Mux(bypass, wdata, self.value))
            with m.Else():
                m.d.sync += r.data.eq(self.other)
        return m


class SPRAMShadow(ShadowMemory):
    """:class:`~spikefab_hdl.core.spram.SPRAMMemory` (``read``, ``write``; ``banks`` 1 or 2)
    seen at one row: as :class:`ShadowMemory` without a bypass, and a read that meets a
    write of its bank in the same cycle returns a free value (on the device it is lost)."""

    def __init__(self, *, banks: int, **kw):
        super().__init__(**kw)
        self.banks = banks
        self.write = self.write_port()
        self.read = self.read_port()

    def elaborate(self, platform):
        w, r = self._w, self._r
        same = 1 if self.banks == 1 else (w.addr[0] == r.addr[0])
        self.lost = w.en & r.en & same
        return super().elaborate(platform)
