"""Proof 2 for conv layers: the induction invariant of the conv integrator's walk, and the
current memory in single-port RAM (SPRAM) seen at one row.

The harness (:class:`~.rmw.RMWHarness`) tracks one weight row ``a`` (kernel input
``(c_w, ky, kx)``, channel group ``g_w``) and one current row ``r`` (output position
``(oy, ox)``, channel group ``g_r``); an event ``(c, y, x)`` adds row ``a`` into row ``r``
exactly when ``c = c_w``, ``g_r = g_w``, ``y + p = s*oy + ky`` and ``x + p = s*ox + kx``
(:func:`conv_hit`). What makes the proof inductive (:func:`conv_flags`), stated in every
cycle:

* each register stage before the walk holds an event inside the input (stage A, the event
  as it arrived) or its decoded form (stage B: ``ny``, ``nx``, the first current and weight
  rows, "nothing to do") computed from the event's coordinates, which the harness keeps
  beside it (the hardware keeps only the decoded form);
* the walk, at counters ``(iy, ix, g)`` of event ``(c, y, x)``, is at tap
  ``ky' = ky0(y) + s*iy``, ``kx' = kx0(x) + s*ix`` and output position ``oy' = oy0(y) - iy``,
  ``ox' = ox0(x) - ix`` with ``y + p = s*oy' + ky'`` and ``x + p = s*ox' + kx'`` inside the
  kernel and the output; its registers hold ``cur = (oy'*OW + ox')*G + g``,
  ``w = ((c*k + ky')*k + kx')*G + g`` and the row starts ``cur_row``, ``w_row``; ``iy < ny``,
  ``ix < nx``, ``g < G``;
* a term ``(a, r)`` is in flight in stage A or B when the stage's event hits, in the walk
  when its event hits and the tap comes at or after the walk's (position ``(oy, ox)`` before
  ``(oy', ox')`` in the walk's decreasing order, or the same position and ``g_r >= g``),
  then in the weight stages and the product stage as for a dense layer.

With the currents in SPRAM the walk leaves a cycle's bubble where a row's read would meet
the previous row's write in one bank; the model (:class:`~.rmw_models.SPRAMShadow`) returns
a free value for a read that meets a write of its bank, so a read the walk lets collide is
caught; the invariant adds that no two neighbouring stages both carry a row (one bank) or
two rows of one parity (two banks), and the walk's ``issued`` registers equal stage 1's.
"""

from __future__ import annotations

from amaranth import Array, Const, Signal

__all__ = ["conv_flags", "conv_hit", "spram_checks"]


def _table(values) -> Array:
    width = max(1, max(int(v) for v in values).bit_length())
    return Array(Const(int(v), width) for v in values)


def conv_hit(h, c, y, x):
    """Event ``(c, y, x)`` adds the tracked weight row into the tracked current row."""
    conv = h.layer.conv
    s, p = conv.stride, conv.padding
    return ((c == h.c_w) & (h.g_r == h.g_w) & (y + p == s * h.oy + h.ky) &
            (x + p == s * h.ox + h.kx))


def conv_flags(h, m, dut) -> list:
    """The checks on the decode registers and the walk (module docstring); returns the
    flags of the terms ``(a, r)`` in flight before the weight memory: stage A, B, walk."""
    lp = h.layer
    conv, geo = lp.conv, lp.geometry
    k, s, p = conv.kernel, conv.stride, conv.padding
    oh, ow = conv.out_hw
    g_n = geo.groups
    rows_t, cols_t = geo.rows_table(), geo.cols_table()
    ky0_t, oy0_t, ny_t = (_table([t[i] for t in rows_t]) for i in range(3))
    kx0_t, ox0_t, nx_t = (_table([t[i] for t in cols_t]) for i in range(3))
    w = dut.walk_probes
    direct = bool(lp.value_bits)

    def value_ok(v):  # a direct event's value is 0 or 1 (the harness's), a spike's 1
        return (v <= 1) if direct else (v == 1)

    def inside(c, y, x):
        return (c < conv.in_channels) & (y < conv.height) & (x < conv.width)

    def coords(name):
        return (Signal.like(w.a_c, name=f"{name}_c"), Signal.like(w.a_y, name=f"{name}_y"),
                Signal.like(w.a_x, name=f"{name}_x"))

    for name in ("b_valid", "b_take", "load"):  # named in the counterexample
        probe = Signal(name=f"walk_{name}")
        m.d.comb += probe.eq(getattr(w, name))
    hb, hw = coords("hb"), coords("hw")  # the coordinates of stage B's and the walk's event
    with m.If(w.load & w.a_valid):
        m.d.sync += [d.eq(v) for d, v in zip(hb, (w.a_c, w.a_y, w.a_x), strict=True)]
    with m.If(w.b_take & ~w.b_zero):
        m.d.sync += [d.eq(v) for d, v in zip(hw, hb, strict=True)]

    a = (w.a_c, w.a_y, w.a_x)
    h.check("stage_a", ~w.a_valid | (inside(*a) & value_ok(w.a_value)),
            "the event as it arrived is inside the input")
    c, y, x = hb
    h.check("stage_b", ~w.b_valid | (
        inside(c, y, x) & (w.b_ny == ny_t[y]) & (w.b_nx == nx_t[x]) &
        (w.b_cur == (oy0_t[y] * ow + ox0_t[x]) * g_n) &
        (w.b_w == ((c * k + ky0_t[y]) * k + kx0_t[x]) * g_n) &
        (w.b_zero == ((w.b_ny == 0) | (w.b_nx == 0) | (w.b_value == 0))) &
        value_ok(w.b_value)),
        "the decoded event: ny, nx, its first current and weight rows, 'nothing to do'")
    c, y, x = hw
    ky_, kx_ = ky0_t[y] + s * w.iy, kx0_t[x] + s * w.ix
    oy_, ox_ = oy0_t[y] - w.iy, ox0_t[x] - w.ix
    h.check("walk", ~w.busy | (
        inside(c, y, x) & (w.ny == ny_t[y]) & (w.nx == nx_t[x]) & (w.iy < w.ny) &
        (w.ix < w.nx) & (w.g < g_n) & (w.value == 1) &
        (ky_ + s * oy_ == y + p) & (kx_ + s * ox_ == x + p) & (ky_ < k) & (kx_ < k) &
        (oy_ >= 0) & (oy_ < oh) & (ox_ >= 0) & (ox_ < ow) &
        (w.cur == (oy_ * ow + ox_) * g_n + w.g) &
        (w.w == ((c * k + ky_) * k + kx_) * g_n + w.g) &
        (w.cur_row == (oy_ * ow + ox0_t[x]) * g_n) &
        (w.w_row == ((c * k + ky_) * k + kx0_t[x]) * g_n)),
        "the walk is at tap (ky0 + s*iy, kx0 + s*ix) of its event, output position "
        "(oy0 - iy, ox0 - ix), group g, and its rows are that tap's")
    later = ((h.oy < oy_) | ((h.oy == oy_) & ((h.ox < ox_) | ((h.ox == ox_) &
                                                             (h.g_r >= w.g)))))
    flags = [Signal(name=f"in_flight_{n}") for n in ("a", "b", "walk")]
    m.d.comb += [
        flags[0].eq(w.a_valid & conv_hit(h, *a) & ((w.a_value != 0) if direct else 1)),
        flags[1].eq(w.b_valid & ~w.b_zero & conv_hit(h, *hb)),
        flags[2].eq(w.busy & conv_hit(h, *hw) & later),
    ]
    return flags


def spram_checks(h, dut, chain) -> None:
    """With the currents in SPRAM: the walk's ``issued`` registers are stage 1's, and no two
    neighbouring stages of ``chain`` (``(valid, row)``) collide in one bank."""
    if not h.layer.spram_banks("currents"):
        return
    spram = dut.walk_probes.spram
    issued, issued_odd = spram
    banks = h.layer.spram_banks("currents")
    (v1, g1), *_ = chain
    h.check("spram_issued", (issued == v1) & (issued_odd == g1[0]),
            "the walk's issued / issued_odd registers are stage 1's valid and row parity")
    ok = 1
    for (va, ga), (vb, gb) in zip(chain, chain[1:], strict=False):
        clash = va & vb if banks == 1 else va & vb & (ga[0] == gb[0])
        ok = ok & ~clash
    h.check("spram_bubbles", ok, "no two neighbouring stages carry rows of one SPRAM bank")


