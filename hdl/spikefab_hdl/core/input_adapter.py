"""The core's input adapter: ``i_stream`` beats become layer 0's input events.

* ``encoding="spikes"``: an address beat is an event (out-of-range addresses are
  dropped); the ``timesteps``-th ``eos`` beat ends the sample.
* ``encoding="direct"``, ``in_pack = 1``: ``n_in`` value beats become events ``(i, x_i)``
  in index order, zeros included (the integrator drops a zero in one cycle); then one
  ``eos`` per sample.
* ``encoding="direct"``, ``in_pack = P > 1`` (*packed input*): a beat carries ``P``
  values, value ``b * P + j`` of beat ``b`` in bits ``[j * in_bits, (j + 1) * in_bits)``;
  a sample is ``ceil(n_in / P)`` beats, the last one padded with zeros. The adapter holds
  one beat and sends only its nonzero values, lowest lane first, one a cycle; it takes
  the next beat in the cycle its last nonzero value leaves (a beat of zeros costs one
  cycle). So zeros never reach the integrator and the input link carries ``P`` values a
  cycle: the time of a direct first layer becomes its nonzero events' work, not ``n_in``.
  A first layer taking *pixel chunks* ``K`` wide (``lanes`` entry ``LxK``, :mod:`.lanes`)
  gets the beat's nonzero ``K``-value chunks instead: event ``(c, values)`` carries values
  ``c*K … c*K+K-1`` (``K`` divides ``P``). On ECP5 builds (layer 0's ``bram_outreg``, not
  conv) the event's index and values are registers set from the next cycle's held beat.

A conv first layer's events are packed coordinates ``(c, y, x)`` (:mod:`.conv_geometry`)
that the adapter keeps by counters, no division; with packing ``P`` must divide the
input width (:func:`.input_pack.check_in_pack`), so a beat never straddles two rows:
lane ``j`` is ``(c, y, x0 + j)``.
"""

from __future__ import annotations

from amaranth import Cat, Mux, Signal

from .conv_geometry import coord_bits

__all__ = ["direct_adapter", "spike_adapter"]

def _conv_counters(m, conv, step, advance):
    """``(c, y, x)`` counters over a conv input in flat order, ``x`` moving by ``step``
    whenever ``advance`` is high; returns the packed coordinate of the current position
    and ``x``."""
    cb, yb, xb = coord_bits(conv)
    c, y, x = Signal(cb), Signal(yb), Signal(xb)
    with m.If(advance):
        end = x == conv.width - step
        m.d.sync += x.eq(Mux(end, 0, x + step))
        with m.If(end):
            m.d.sync += y.eq(Mux(y == conv.height - 1, 0, y + 1))
            with m.If(y == conv.height - 1):
                m.d.sync += c.eq(Mux(c == conv.in_channels - 1, 0, c + 1))
    return Cat(x, y, c), x, (c, y)


def direct_adapter(m, plan, src, ev, in_done):
    """Direct input (see the module docstring); ``in_done`` rises after the ``eos``."""
    if plan.in_pack > 1:
        _packed_adapter(m, plan, src, ev, in_done)
        return
    n_in = plan.n_in
    count = Signal(range(n_in + 1))
    conv = plan.layers[0].conv
    if conv is None:
        index = count
    else:
        index, _, _ = _conv_counters(m, conv, 1, src.valid & ev.ready & (count != n_in))
    with m.If(count == n_in):
        m.d.comb += [ev.valid.eq(1), ev.payload.eos.eq(1)]
        with m.If(ev.ready):
            m.d.sync += [count.eq(0), in_done.eq(1)]
    with m.Else():
        m.d.comb += [
            ev.valid.eq(src.valid),
            ev.payload.index.eq(index),
            ev.payload.value.eq(src.payload.data),
            src.ready.eq(ev.ready),
        ]
        with m.If(src.valid & ev.ready):
            m.d.sync += count.eq(count + 1)


def _packed_adapter(m, plan, src, ev, in_done):
    pack, bits, n_in = plan.in_pack, plan.in_bits, plan.n_in
    chunk = plan.layers[0].mask  # values an event carries (pixel chunks; 1 for conv)
    slots = pack // chunk  # chunks a beat
    n_beats = -(-n_in // pack)
    beats = Signal(range(n_beats + 1))  # beats taken this sample
    held = Signal(slots)  # the held beat's nonzero chunks not yet sent
    values = Signal(pack * bits)
    if plan.layers[0].conv is None and plan.layers[0].bram_outreg:
        index, value = _registered_event(m, plan, src, ev, beats, held, values)
    else:
        index, value = _held_event(m, plan, src, ev, beats, held, values)
    with m.If((beats == n_beats) & (held == 0)):
        m.d.comb += [ev.valid.eq(1), ev.payload.eos.eq(1)]
        with m.If(ev.ready):
            m.d.sync += [beats.eq(0), in_done.eq(1)]
    with m.Else():
        m.d.comb += [
            ev.valid.eq(held != 0),
            ev.payload.index.eq(index),
            ev.payload.value.eq(value),
        ]


def _held_event(m, plan, src, ev, beats, held, values):
    """The held beat's lowest pending chunk as an event ``(index, value)``, from the held
    beat's registers through a priority encoder; and the beat's updates."""
    pack, bits, n_in = plan.in_pack, plan.in_bits, plan.n_in
    chunk = plan.layers[0].mask
    slots = pack // chunk
    n_beats = -(-n_in // pack)
    # the lowest pending chunk, and the mask without it
    lane = Signal(range(slots))
    for j in reversed(range(slots)):
        with m.If(held[j]):
            m.d.comb += lane.eq(j)
    rest = held & (held - 1)
    send = (held != 0) & ev.ready
    take = src.valid & src.ready
    conv = plan.layers[0].conv
    if conv is None:
        base = Signal(range(n_beats * slots))  # chunk index of slot 0 of the held beat
        index = base + lane
        with m.If(take):
            m.d.sync += base.eq(Mux(beats == 0, 0, base + slots))
    else:
        # the counters move when a beat is taken; the held beat's x0 trails by one beat
        _, yb, xb = coord_bits(conv)
        _, x_next, (c_next, y_next) = _conv_counters(m, conv, pack, take)
        x0, y0, c0 = Signal(xb), Signal(yb), Signal(len(c_next))
        with m.If(take):
            m.d.sync += [x0.eq(x_next), y0.eq(y_next), c0.eq(c_next)]
        index = Cat((x0 + lane)[:xb], y0, c0)
    m.d.comb += src.ready.eq((beats != n_beats) & ((held == 0) | (send & (rest == 0))))
    with m.If(send):
        m.d.sync += held.eq(rest)
    width = chunk * bits
    chunks_in = [src.payload.data[j * width:(j + 1) * width] for j in range(slots)]
    with m.If(take):
        last = beats == n_beats - 1
        live = n_in - (n_beats - 1) * pack  # values of the last beat inside n_in
        # (a chunk straddling n_in: its values beyond n_in meet zero weights, layout.pack_rows)
        m.d.sync += [
            values.eq(src.payload.data),
            held.eq(Cat(*[(v != 0) & (~last | (j * chunk < live))
                          for j, v in enumerate(chunks_in)])),
            beats.eq(beats + 1),
        ]
    return index, values.word_select(lane, width)


def _registered_event(m, plan, src, ev, beats, held, values):
    """As :func:`_held_event`, the event's index and values as registers set from the next
    cycle's held beat (ECP5 builds): the integrator's walk, and the copies of its weight
    address, then start at flip-flops, not behind a priority encoder, an adder and a word
    select of the held beat (the 85F ``128x3`` build's critical path at 92.22 MHz)."""
    pack, bits, n_in = plan.in_pack, plan.in_bits, plan.n_in
    chunk = plan.layers[0].mask
    slots = pack // chunk
    n_beats = -(-n_in // pack)
    width = chunk * bits
    rest = held & (held - 1)
    send = (held != 0) & ev.ready
    take = src.valid & src.ready
    m.d.comb += src.ready.eq((beats != n_beats) & ((held == 0) | (send & (rest == 0))))
    base = Signal(range(n_beats * slots))  # chunk index of slot 0 of the held beat
    held_next, values_next, base_next = Signal.like(held), Signal.like(values), Signal.like(base)
    m.d.comb += [held_next.eq(held), values_next.eq(values), base_next.eq(base)]
    with m.If(send):
        m.d.comb += held_next.eq(rest)
    with m.If(take):
        last = beats == n_beats - 1
        live = n_in - (n_beats - 1) * pack  # values of the last beat inside n_in
        chunks_in = [src.payload.data[j * width:(j + 1) * width] for j in range(slots)]
        m.d.comb += [
            held_next.eq(Cat(*[(v != 0) & (~last | (j * chunk < live))
                               for j, v in enumerate(chunks_in)])),
            values_next.eq(src.payload.data),
            base_next.eq(Mux(beats == 0, 0, base + slots)),
        ]
        m.d.sync += beats.eq(beats + 1)
    m.d.sync += [held.eq(held_next), values.eq(values_next), base.eq(base_next)]
    lane = Signal(range(slots))  # the lowest pending chunk of the next cycle
    for j in reversed(range(slots)):
        with m.If(held_next[j]):
            m.d.comb += lane.eq(j)
    index, value = Signal.like(base, name="ev_index"), Signal(width, name="ev_value")
    m.d.sync += [index.eq(base_next + lane), value.eq(values_next.word_select(lane, width))]
    return index, value


def spike_adapter(m, plan, src, ev, in_done):
    """Address beats pass through as events; the ``timesteps``-th ``eos`` ends the sample."""
    steps = plan.timesteps
    beat = src.payload
    conv = plan.layers[0].conv
    if conv is None:
        in_range = beat.eos | (beat.data < plan.n_in)
    else:  # a packed coordinate: each field in range
        _, yb, xb = coord_bits(conv)
        d = beat.data
        in_range = beat.eos | ((d[:xb] < conv.width) & (d[xb:xb + yb] < conv.height)
                               & (d[xb + yb:] < conv.in_channels))
    m.d.comb += [
        ev.valid.eq(src.valid & in_range),
        ev.payload.index.eq(beat.data),
        ev.payload.eos.eq(beat.eos),
        src.ready.eq(~in_range | ev.ready),
    ]
    eos_count = Signal(range(steps))
    with m.If(src.valid & src.ready & beat.eos):
        with m.If(eos_count == steps - 1):
            m.d.sync += [eos_count.eq(0), in_done.eq(1)]
        with m.Else():
            m.d.sync += eos_count.eq(eos_count + 1)
