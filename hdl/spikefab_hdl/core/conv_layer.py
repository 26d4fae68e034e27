"""A conv LIF layer: integrate input events over their taps, the neuron pass, pooled spikes out.

One step, as :class:`~.layer.HiddenLayer`'s, with the conv layer's own parts:

1. *Accumulate* (:class:`~.conv_integrator.ConvIntegrator`): each input event adds its
   kernel slice into the ``ny * nx`` output positions it touches, ``lanes`` channels a cycle.
2. *Neuron pass* (:class:`~.neuron_pass.NeuronPass`, any neuron mode) over the ``P * G``
   rows in address order (``pos * G + g``, ``pos = oy * OW + ox``): the trace carries one
   beat per row.
3. *Pooling* (``pool = q > 1``): as rows leave the pass, counters follow ``(g, ox, oy)`` and
   the window ``(px, py)`` of each; a row's spike mask is ORed into a buffer of one window
   row (``PW * G`` entries of ``lanes`` bits: flip-flops, or block RAM from
   :data:`POOL_BRAM_ROWS` entries), and when the window's last
   position leaves, a nonzero OR goes into the spike queue as ``{mask, g, py, px}``. Rows
   and columns past the last whole window evolve as any other but send nothing.
   Without pooling every nonzero mask goes into the queue at once.
4. The :class:`ConvSpikeQueue` turns each entry into spike events for the next layer: the
   packed coordinates ``(c, py, px)``, ``c = g * lanes + j``, into a conv layer; the flat
   index ``c * PH * PW + py * PW + px`` into a dense one.
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, wiring

from .arith import times
from .conv_geometry import coord_bits
from .layer import HiddenLayer
from .neuron_pass import NeuronPass
from .spike_queue import SpikeQueue
from .stepper import LayerStepper

__all__ = ["ConvLayer", "ConvSpikeQueue", "CONV_QUEUE_DEPTH", "POOL_BRAM_ROWS"]

#: Entries of a conv layer's spike queue at most: one iCE40 block RAM of 16-bit entries.
#: A whole step's entries (``PH * PW * G + 5``: 3,140 for 16 channels pooled to 14 x 14)
#: would take 13 of the UP5K's 30 block RAMs; the next conv layer spends ``taps * G``
#: cycles on each event, so the pass that waits for room rarely delays it (bench/hw_conv).
CONV_QUEUE_DEPTH = 256
#: A pool buffer of this many rows (``PW * G``) or more is read synchronously, so that yosys
#: can put it in a block RAM: in flip-flops, 224 rows (16 channels at lanes 1, PW 14) cost
#: about 450 LUTs (a write decoder and a 224-to-1 read multiplexer), 9 % of the UP5K.
POOL_BRAM_ROWS = 128


class ConvSpikeQueue(SpikeQueue):
    """A conv layer's :class:`~.spike_queue.SpikeQueue`: entries ``{mask, group, py, px}``.

    Parameters
    ----------
    lanes, index_bits : int
        As :class:`~.spike_queue.SpikeQueue`'s.
    channel_groups : int
        ``G``; ``w_group`` is the channel group of ``w_mask``.
    pooled_hw : (int, int)
        ``(PH, PW)``: ``w_py``, ``w_px`` are the (pooled) position of the entry.
    next_conv : ConvSpec or None
        The next layer's convolution: events are packed coordinates ``(c, py, px)``;
        None: flat indices ``c * PH * PW + py * PW + px``.

    Attributes
    ----------
    w_py, w_px : in
        The entry's position (besides :class:`~.spike_queue.SpikeQueue`'s ports).
    """

    def __init__(self, *, lanes: int, channel_groups: int, pooled_hw, next_conv,
                 index_bits: int):
        self.channel_groups = channel_groups
        self.pooled_hw = tuple(pooled_hw)
        self.next_conv = next_conv
        ph, pw = self.pooled_hw
        super().__init__(lanes=lanes, groups=ph * pw * channel_groups, index_bits=index_bits,
                         max_depth=CONV_QUEUE_DEPTH)

    def _fields(self) -> dict:
        ph, pw = self.pooled_hw
        return {"mask": self.lanes, "group": range(max(2, self.channel_groups)),
                "py": range(max(2, ph)), "px": range(max(2, pw)), "eos": 1}

    def _expander(self, m: Module, entry, load):
        lanes = self.lanes
        ph, pw = self.pooled_hw
        channels = self.channel_groups * lanes
        if self.next_conv is not None:
            cb, yb, xb = coord_bits(self.next_conv)
            chan = Signal(range(max(2, channels)), name="chan")
            py, px = Signal(range(max(2, ph)), name="py"), Signal(range(max(2, pw)), name="px")
            with m.If(load):
                m.d.sync += [chan.eq(times(entry.group, lanes)), py.eq(entry.py),
                             px.eq(entry.px)]
            return lambda low: Cat(px[:xb], py[:yb], (chan + low)[:cb])
        area = ph * pw
        base = Signal(range(max(2, channels * area)))
        with m.If(load):
            m.d.sync += base.eq(times(entry.group, lanes * area) + times(entry.py, pw) + entry.px)
        steps = Array(Const(j * area, range(max(2, lanes * area))) for j in range(lanes))
        return lambda low: base + steps[low]


class ConvLayer(HiddenLayer):
    """One conv LIF layer of the core (any neuron mode); ports as :class:`~.layer.HiddenLayer`'s.

    ``i_events`` carry packed coordinates (:mod:`.conv_geometry`); ``o_events`` the pooled
    spikes as the next layer's addresses; ``trace`` one beat per row ``pos * G + g`` per
    step (its ``group`` field is the row).
    """

    def elaborate(self, platform):
        m = Module()
        lp = self.layer
        conv, geo = lp.conv, lp.geometry
        n_g, q = geo.groups, conv.pool
        oh, ow = conv.out_hw
        ph, pw = conv.pooled_hw
        st = LayerStepper(m, layer=lp, timesteps=self.timesteps, source=self.i_events)
        spike_q = ConvSpikeQueue(lanes=lp.lanes, channel_groups=n_g, pooled_hw=(ph, pw),
                                 next_conv=lp.next_conv, index_bits=lp.out_index_bits)
        m.submodules.spike_queue = spike_q
        wiring.connect(m, spike_q.o_events, wiring.flipped(self.o_events))

        # where the row leaving the pass is: channel group, position, window
        g = Signal(range(max(2, n_g)))
        ox, oy = Signal(range(max(2, ow))), Signal(range(max(2, oh)))
        neurons = NeuronPass(m, stepper=st, layer=lp, ready=spike_q.w_ready,
                             last_group=g == n_g - 1)
        neurons.drive_trace(m, self.trace)
        consume = neurons.consume
        spikes = neurons.spikes
        with m.If(consume):
            m.d.sync += g.eq(Mux(g == n_g - 1, 0, g + 1))
            with m.If(g == n_g - 1):
                m.d.sync += ox.eq(Mux(ox == ow - 1, 0, ox + 1))
                with m.If(ox == ow - 1):
                    m.d.sync += oy.eq(Mux(oy == oh - 1, 0, oy + 1))

        if q == 1:
            emit, mask, py, px = spikes != 0, spikes, oy, ox
        else:
            emit, mask, py, px = self._pool(m, consume, spikes, g, ox, oy)
        with m.If(consume):
            m.d.comb += [
                spike_q.w_valid.eq(~st.clearing & emit),
                spike_q.w_group.eq(g),
                spike_q.w_py.eq(py),
                spike_q.w_px.eq(px),
                spike_q.w_mask.eq(mask),
            ]

        st.end_pass(m, done=neurons.done, spike_q=spike_q)
        return m

    def _pool(self, m: Module, consume, spikes, g, ox, oy):
        """The OR of each ``q x q`` window (see the module docstring); returns ``(emit, mask,
        py, px)`` of the row leaving the pass."""
        lp = self.layer
        n_g, q = lp.geometry.groups, lp.conv.pool
        ph, pw = lp.conv.pooled_hw
        dx, dy = Signal(range(q)), Signal(range(q))
        px, py = Signal(range(pw + 1)), Signal(range(ph + 1))  # pw, ph: past the windows
        addr = Signal(range((pw + 1) * n_g))  # px * G + g
        m.submodules.pool = buf = memory.Memory(shape=lp.lanes, depth=pw * n_g, init=[])
        if pw * n_g < POOL_BRAM_ROWS:
            buf.attrs["ram_style"] = "logic"
            rd = buf.read_port(domain="comb")
            wr = buf.write_port()
            rd_addr = addr
        else:
            wr = buf.write_port()
            # a synchronous read of the row ``addr`` will hold next cycle (the same walk as
            # below, combinational), transparent for the write: block RAM, not flip-flops
            rd = buf.read_port(transparent_for=(wr,))
            rd_addr = Signal.like(addr)
            m.d.comb += rd_addr.eq(addr)
            with m.If(consume):
                with m.If(g != n_g - 1):
                    m.d.comb += rd_addr.eq(addr + 1)
                with m.Elif(ox == lp.conv.out_hw[1] - 1):
                    m.d.comb += rd_addr.eq(0)
                with m.Elif(dx == q - 1):
                    m.d.comb += rd_addr.eq(addr + 1)
                with m.Else():
                    m.d.comb += rd_addr.eq(addr - (n_g - 1))
        with m.If(consume):
            with m.If(g != n_g - 1):
                m.d.sync += addr.eq(addr + 1)
            with m.Elif(ox == lp.conv.out_hw[1] - 1):
                m.d.sync += [dx.eq(0), px.eq(0), addr.eq(0)]
                with m.If(oy == lp.conv.out_hw[0] - 1):
                    m.d.sync += [dy.eq(0), py.eq(0)]
                with m.Elif(dy == q - 1):
                    m.d.sync += [dy.eq(0), py.eq(py + 1)]
                with m.Else():
                    m.d.sync += dy.eq(dy + 1)
            with m.Elif(dx == q - 1):
                m.d.sync += [dx.eq(0), px.eq(px + 1), addr.eq(addr + 1)]
            with m.Else():
                m.d.sync += [dx.eq(dx + 1), addr.eq(addr - (n_g - 1))]
        inside = (px != pw) & (py != ph)
        first = (dx == 0) & (dy == 0)
        merged = Signal(lp.lanes)
        m.d.comb += [
            rd.addr.eq(rd_addr),
            merged.eq(Mux(first, 0, rd.data) | spikes),
            wr.addr.eq(addr),
            wr.data.eq(merged),
            wr.en.eq(consume & inside),
        ]
        full = (dx == q - 1) & (dy == q - 1)
        return inside & full & (merged != 0), merged, py, px
