"""Event-driven integration of a conv layer: each input event adds its kernel slice into the
output positions it touches, ``lanes`` output channels per cycle.

An event is the packed coordinate ``(c, y, x)`` of one input (:mod:`.conv_geometry`), with
its value for a direct first layer. It touches the output positions ``(oy, ox)`` with
``oy = (y + p - ky) / s`` and ``ox = (x + p - kx) / s`` integral and inside the output:
``ny[y] * nx[x]`` of them, found by two small tables (one entry per input row and per input
column: the first kernel tap, its output position and the count). The walk issues, per
cycle, one weight row ``((c * k + ky) * k + kx) * G + g`` and the current row
``(oy * OW + ox) * G + g`` it adds into, channel group ``g`` innermost, then ``ox -= 1``
with ``kx += s``, then ``oy -= 1`` with ``ky += s``: the addresses move by constants.
The rest (weight memory, products, read-modify-write of the current rows) is the dense
:class:`~.integrator.Integrator`'s: ``ny * nx * G`` cycles per nonzero event. With the
currents in single-port RAM (:mod:`.spram`) a row whose read would fall in the cycle of
the previous row's write to the same bank waits one cycle: with one bank every other
cycle; with two (even and odd rows) only where the walk repeats a parity (between output
rows of an event, between events).

Before the walk two registers hold the next events: the event as it arrived, and its
decoded form (the first current and weight rows, ``ny``, ``nx``), so the tables and the
address sums start at flip-flops and the walk goes from one event to the next without a
gap. An event that touches nothing (``ny * nx = 0``) or has the value 0 is dropped there.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth import Array, Const, Module, Signal
from amaranth.utils import ceil_log2

from .arith import times
from .integrator import Integrator
from .weight_memory import WeightMemory

__all__ = ["ConvIntegrator"]


def _table(values) -> Array:
    """A small constant table, indexed by a signal (a multiplexer of constants)."""
    width = max(1, max(int(v) for v in values).bit_length())
    return Array(Const(int(v), width) for v in values)


class ConvIntegrator(Integrator):
    """The :class:`~.integrator.Integrator` of a conv layer (ports and behaviour as its:
    ``events`` carry packed coordinates; ``rd_*``/``wr_*`` address the ``P * G`` current
    rows; ``idle`` also waits for the events held before the walk)."""

    def walk(self, m: Module, wmem: WeightMemory):
        lp = self.layer
        geo = lp.geometry
        conv = geo.conv
        k, s = conv.kernel, conv.stride
        ow = conv.out_hw[1]
        g_n = geo.groups
        cb, yb, xb = geo.in_bits
        rows_t, cols_t = geo.rows_table(), geo.cols_table()
        ev = self.events.payload

        # stage A: the event as it arrived
        a_valid = Signal()
        a_c, a_y, a_x = Signal(cb), Signal(yb), Signal(xb)
        a_value = Signal(max(1, lp.value_bits))
        # stage B: decoded
        b_valid, b_zero = Signal(), Signal()
        b_cur = Signal(range(max(2, lp.groups)))
        b_w = Signal(range(max(2, lp.weight_depth)))
        b_ny = Signal(range(k + 1))
        b_nx = Signal(range(k + 1))
        b_value = Signal.like(a_value)
        # the walk
        busy = Signal()
        cur = Signal.like(b_cur)
        cur_row = Signal.like(b_cur)
        w = Signal.like(b_w)
        w_row = Signal.like(b_w)
        g = Signal(range(max(2, g_n)))
        ix = Signal(range(k))
        iy = Signal(range(k))
        ny, nx = Signal.like(b_ny), Signal.like(b_nx)
        value = Signal.like(a_value)

        # a row is issued unless its read would meet the previous row's write in one
        # single-port bank (currents in SPRAM, :mod:`.spram`): then a cycle's bubble
        banks = lp.spram_banks("currents")
        ok = Const(1)
        if banks:
            issued, issued_odd = Signal(), Signal()
            ok = ~issued if banks == 1 else ~(issued & (issued_odd == cur[0]))
            m.d.sync += [issued.eq(busy & ok), issued_odd.eq(cur[0])]
        issue = busy & ok
        last = (g == g_n - 1) & (ix == nx - 1) & (iy == ny - 1)
        free = ~busy | (last & ok)
        b_take = b_valid & (b_zero | free)
        a_take = a_valid & (~b_valid | b_take)
        take = ~a_valid | a_take
        m.d.comb += self.events.ready.eq(take)
        with m.If(self.events.valid & take):
            m.d.sync += [a_c.eq(ev.index[xb + yb:]), a_y.eq(ev.index[xb:xb + yb]),
                         a_x.eq(ev.index[:xb]),
                         a_value.eq(ev.value if lp.value_bits else 1)]
        with m.If(take):
            m.d.sync += a_valid.eq(self.events.valid)

        ny_t = _table([n for _, _, n in rows_t])
        nx_t = _table([n for _, _, n in cols_t])
        ycur_t = _table([o * ow * g_n for _, o, _ in rows_t])
        yw_t = _table([ky * k * g_n for ky, _, _ in rows_t])
        xcur_t = _table([o * g_n for _, o, _ in cols_t])
        xw_t = _table([kx * g_n for kx, _, _ in cols_t])
        with m.If(~b_valid | b_take):
            m.d.sync += b_valid.eq(a_valid)
            with m.If(a_valid):
                dy, dx = ny_t[a_y], nx_t[a_x]
                m.d.sync += [
                    b_ny.eq(dy),
                    b_nx.eq(dx),
                    b_zero.eq((dy == 0) | (dx == 0) | (a_value == 0)),
                    b_cur.eq(ycur_t[a_y] + xcur_t[a_x]),
                    b_w.eq(times(a_c, k * k * g_n) + yw_t[a_y] + xw_t[a_x]),
                    b_value.eq(a_value),
                ]

        with m.If(issue):
            m.d.comb += wmem.addr.eq(w)
            with m.If(g != g_n - 1):
                m.d.sync += [g.eq(g + 1), cur.eq(cur + 1), w.eq(w + 1)]
            with m.Elif(ix != nx - 1):
                m.d.sync += [g.eq(0), ix.eq(ix + 1), cur.eq(cur - (2 * g_n - 1)),
                             w.eq(w + (s * g_n - (g_n - 1)))]
            with m.Else():
                step_cur, step_w = cur_row - ow * g_n, w_row + s * k * g_n
                m.d.sync += [g.eq(0), ix.eq(0), iy.eq(iy + 1), cur.eq(step_cur),
                             cur_row.eq(step_cur), w.eq(step_w), w_row.eq(step_w)]
            with m.If(last):
                m.d.sync += busy.eq(0)
        with m.If(b_take & ~b_zero):
            m.d.sync += [busy.eq(1), cur.eq(b_cur), cur_row.eq(b_cur), w.eq(b_w),
                         w_row.eq(b_w), g.eq(0), ix.eq(0), iy.eq(0), ny.eq(b_ny),
                         nx.eq(b_nx), value.eq(b_value)]
        assert ceil_log2(max(2, lp.groups)) == len(cur)
        # what the integrator proof's induction invariant reads (formal/rmw_conv.py)
        self.walk_probes = SimpleNamespace(
            a_valid=a_valid, a_c=a_c, a_y=a_y, a_x=a_x, a_value=a_value, b_valid=b_valid,
            b_zero=b_zero, b_cur=b_cur, b_w=b_w, b_ny=b_ny, b_nx=b_nx, b_value=b_value,
            b_take=b_take, load=~b_valid | b_take, busy=busy, cur=cur, cur_row=cur_row, w=w,
            w_row=w_row, g=g, ix=ix, iy=iy, ny=ny, nx=nx, value=value,
            spram=(issued, issued_odd) if banks else None)
        return issue, cur, value, a_valid | b_valid | busy
