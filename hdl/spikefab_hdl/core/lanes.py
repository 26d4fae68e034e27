"""Per-layer lanes and mask widths: parse them, check them, or choose them (``auto``).

Every layer ``l`` has ``lanes`` ``L_l`` (neurons updated, weights read per event per
cycle) and a *mask width* ``K_l``: the spike events of the previous layer it takes per
cycle. ``K_l = 1`` is the plain event path (one spike a cycle). ``K_l > 1`` (a dense layer
fed by a dense hidden layer) takes a ``K_l``-wide slice of the previous layer's spike
mask per cycle and adds up to ``K_l`` weight rows per lane with an adder tree
(:mod:`.integrator`): one chunk event costs ``G_l`` cycles, as one spike did. ``K_l``
must divide ``L_{l-1}`` (a chunk never straddles two of the previous layer's groups).

The forms accepted wherever the core takes ``lanes`` (``NetworkCore``, ``plan_core``,
``event_bound``, ``write_verilog``, ``simulate``, ``--lanes``, ``[hardware] lanes``):

* ``N``: every layer ``N`` lanes, mask width 1 (the core before per-layer lanes);
* a list of one entry per layer, each ``L`` or ``"LxK"`` (or ``(L, K)``); on the command
  line comma separated: ``--lanes 64,16x64``;
* ``"auto"``: :func:`auto_lanes` picks them for a resource budget (a board's capacity).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from . import sb_mac16

__all__ = [
    "place_products",
    "products_per_dsp",
    "MAX_LANES",
    "MAX_MASK",
    "DEFAULT_BUDGET",
    "check_lanes",
    "resolve_lanes",
    "auto_lanes",
    "lanes_label",
    "lanes_value",
    "parse_lanes",
    "estimate_cost",
    "estimate_cycles",
]

#: Largest ``lanes`` the core accepts (weights read per cycle).
MAX_LANES = 128
#: Largest mask width ``K`` (spike events taken per cycle).
MAX_MASK = 128
#: The budget ``auto`` plans for when none is given: the ULX3S-25F's LFE5U-25F
#: (``board.definitions``; a board build passes its own board's capacity).
DEFAULT_BUDGET = {"family": "ecp5", "lut": 24288, "bram": 56, "dsp": 28}
#: Share of the budget's LUTs ``auto`` may plan for (the whole design: the issue's 85 %);
#: the weights may take every block RAM but one per layer.
SHARE = 0.85
#: The LUT model (:func:`estimate_cost`): the board top and the core's fixed control, and
#: LUTs per lane and bit of a layer's current and state, per family. ECP5 from
#: bench/results/lanes_synth.md (the digits core at lanes 16: 3,464 LUT4, its small
#: memories in distributed RAM). iCE40: ``BASE_LUT``, ``LUT_PER_BIT`` and ``LOGIC_FACTOR``
#: fitted (least squares) to the seven digits builds for the iCEBreaker in
#: bench/results/up5k.md (lanes 2 to ``4x4,10``, products two a DSP): within -4 % .. +5 % of
#: nextpnr's logic cells (no LUT RAM: the small state memories are logic).
BASE_LUT = {"ice40": 1470, "ecp5": 1000}
LUT_PER_BIT = {"ice40": 4.1, "ecp5": 1.5}
#: Logic-cell cost of an adder tree and of a product in logic, per family, as a multiple of
#: its adders' bits: on iCE40 their pipeline registers take logic cells of their own.
LOGIC_FACTOR = {"ice40": 3.5, "ecp5": 1.0}
#: On iCE40 (no LUT RAM) a state memory (currents, membranes) this deep or deeper is block
#: RAM, 16 bits wide a block (the UP5K's 256 x 16), however few rows it uses.
STATE_BRAM_ROWS = 16
#: Weight memories shallower than this are LUT ROMs (``weight_memory.LOGIC_ROWS``).
LOGIC_ROWS = 128
#: Block-RAM shapes (rows, bits) per family.
_BRAM_SHAPES = {
    "ecp5": ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)),
    "ice40": ((2048, 2), (1024, 4), (512, 8), (256, 16)),
}


def check_lanes(lanes) -> int:
    """Return ``lanes`` if it is an integer in ``[1, MAX_LANES]``; raise otherwise."""
    if isinstance(lanes, bool) or not isinstance(lanes, int | np.integer) or not (
        1 <= int(lanes) <= MAX_LANES
    ):
        raise ValueError(f"lanes must be an integer in [1, {MAX_LANES}], not {lanes!r}")
    return int(lanes)


def _item(i: int, item) -> tuple[int, int]:
    """One layer's entry: ``L``, ``"L"``, ``"LxK"`` or ``(L, K)`` -> ``(L, K)``."""
    allowed = (f"lanes entry of layer {i} must be L or 'LxK' with L in [1, {MAX_LANES}] and "
               f"K in [1, {MAX_MASK}], not {item!r}")
    if isinstance(item, tuple | list) and len(item) == 2:
        lanes, mask = item
    elif isinstance(item, str):
        parts = item.strip().lower().split("x")
        if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(allowed)
        lanes, mask = int(parts[0]), int(parts[1]) if len(parts) == 2 else 1
    else:
        lanes, mask = item, 1
    for v, hi in ((lanes, MAX_LANES), (mask, MAX_MASK)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 1 <= int(v) <= hi:
            raise ValueError(allowed)
    return int(lanes), int(mask)


def _mask_ok(spec, i: int) -> bool:
    """Layer ``i`` may take ``K > 1``: dense, fed by a dense hidden layer, or a dense
    direct first layer (pixel chunks)."""
    if i == 0:
        return spec.encoding == "direct" and spec.layers[0].conv is None
    return spec.layers[i].conv is None and spec.layers[i - 1].conv is None


def check_first_mask(items, in_pack: int) -> None:
    """Refuse a first layer's ``K_0`` that does not divide ``in_pack`` (one line)."""
    lanes, mask = items[0]
    if mask > 1 and in_pack % mask:
        divisors = ", ".join(str(d) for d in range(1, in_pack + 1) if in_pack % d == 0)
        raise ValueError(f"lanes entry of layer 0 ({lanes}x{mask}): the pixel-chunk width must "
                         f"divide in_pack {in_pack} (allowed: {divisors})")


def resolve_lanes(net, lanes, *, budget=None, in_pack: int = 1) -> tuple[tuple[int, int], ...]:
    """``(L_l, K_l)`` per layer of ``net`` from any accepted form of ``lanes`` (module
    docstring); ``budget`` (a board's ``capacity``) for ``"auto"``; ``in_pack``: direct
    input values per beat (a first layer's ``K_0`` divides it).

    Raises
    ------
    ValueError
        One line naming the entry, its value and what is allowed.
    """
    spec = net.spec
    n = len(spec.layers)
    if isinstance(lanes, str) and lanes.strip().lower() == "auto":
        return auto_lanes(net, budget, in_pack=in_pack)
    if isinstance(lanes, str) and ("," in lanes or "x" in lanes.lower()):
        lanes = [p for p in lanes.split(",")]
    elif isinstance(lanes, str) and lanes.strip().isdigit():
        lanes = int(lanes)
    if isinstance(lanes, tuple | list):
        if len(lanes) == 1:
            lanes = list(lanes) * n
        if len(lanes) != n:
            raise ValueError(f"lanes lists one entry per layer ({n}) or one for all, not "
                             f"{len(lanes)}: {list(lanes)!r}")
        items = tuple(_item(i, v) for i, v in enumerate(lanes))
    elif isinstance(lanes, str):
        raise ValueError(f"lanes must be an integer in [1, {MAX_LANES}], a list of one 'L' or "
                         f"'LxK' per layer, or 'auto', not {lanes!r}")
    else:
        items = ((check_lanes(lanes), 1),) * n
    for i, (_, mask) in enumerate(items):
        if mask == 1:
            continue
        if not _mask_ok(spec, i):
            where = ("a first layer with spike input or a conv first layer" if i == 0
                     else "a conv layer or one fed by a conv layer")
            raise ValueError(f"lanes entry of layer {i} ({items[i][0]}x{mask}): {where} takes "
                             "one event a cycle (mask width 1)")
        if i == 0:
            check_first_mask(items, in_pack)
            continue
        prev = items[i - 1][0]
        if prev % mask:
            divisors = ", ".join(str(d) for d in range(1, prev + 1) if prev % d == 0)
            raise ValueError(f"lanes entry of layer {i} ({items[i][0]}x{mask}): the mask width "
                             f"must divide layer {i - 1}'s lanes {prev} (allowed: {divisors})")
    return items


def lanes_label(items) -> str:
    """``"4"`` for uniform lanes without masks, else ``"64,16x64"`` (paths, tables)."""
    items = tuple(items)
    if all(k == 1 for _, k in items) and len({lanes for lanes, _ in items}) == 1:
        return str(items[0][0])
    return ",".join(str(lanes) if k == 1 else f"{lanes}x{k}" for lanes, k in items)


def lanes_value(items):
    """The JSON value of resolved lanes: an int when uniform without masks, else the
    label (``"64,16x64"``)."""
    label = lanes_label(items)
    return int(label) if label.isdigit() else label


def parse_lanes(text: str):
    """A ``--lanes`` argument: an int, ``"auto"`` or a comma list (``resolve_lanes``
    checks it against the network)."""
    text = str(text).strip()
    return int(text) if text.isdigit() else text


def _blocks(family: str, width: int, depth: int) -> int:
    shapes = _BRAM_SHAPES.get(family, _BRAM_SHAPES["ecp5"])
    return min(-(-width // bits) * -(-depth // rows) for rows, bits in shapes)


def estimate_cost(net, items, family: str = "ecp5", *, only=None, dsp=None) -> dict:
    """A shape-only estimate of what ``items`` cost: ``dsp`` (the blocks of a direct layer's
    ``L x K`` products, :func:`products_per_dsp` a block, at most ``dsp``), ``lut``
    (:data:`BASE_LUT`, then per lane the adder tree's ``K - 1`` adders and the mask gating,
    and :data:`LUT_PER_BIT` (per family) per bit of the current and the state, a neuron's
    ``v_bits`` six times over: its update; weight memories under :data:`LOGIC_ROWS` rows as
    LUT ROMs; a product beyond the DSPs ``in_bits`` adders of its width; tree and products
    :data:`LOGIC_FACTOR` times over) and ``bram`` (the other weight memories' blocks, both
    without the zero columns of padding lanes; on iCE40 the state memories of
    :data:`STATE_BRAM_ROWS` rows or more too). ``only``: the cost of that layer alone (no
    :data:`BASE_LUT`).
    """
    spec = net.spec
    base = BASE_LUT.get(family, BASE_LUT["ecp5"])
    lut, bram, used = (base if only is None else 0), 0, 0
    free = None if dsp is None else int(dsp) * products_per_dsp(net, family)
    for i, (layer, (lanes, k)) in enumerate(zip(spec.layers, items, strict=True)):
        if only is not None and i != only:
            continue
        direct = i == 0 and spec.encoding == "direct"
        w = layer.w_bits + (spec.in_bits + 1 if direct else 0)  # a direct layer adds products
        tree = (k - 1) * (w + k.bit_length()) + (k * w if k > 1 and not direct else 0)
        state = net.acc_bits() if layer.neuron is None else 6 * layer.neuron.v_bits
        per_bit = LUT_PER_BIT.get(family, LUT_PER_BIT["ecp5"])
        factor = LOGIC_FACTOR.get(family, 1.0)
        lut += lanes * (factor * tree + per_bit * (net.current_bits(i) + state))
        n_in = layer.n_in if layer.conv is None else (
            layer.conv.in_channels * layer.conv.kernel ** 2)
        n_out = layer.n_out if layer.conv is None else layer.conv.out_channels
        depth = -(-n_in // k) * -(-n_out // lanes)
        # one group narrower than lanes: the padding lanes' zero columns are removed by
        # yosys (``build.fit.live_width``)
        live = min(lanes, n_out)
        if depth < LOGIC_ROWS:  # a LUT ROM: a LUT4 holds 16 bits
            lut += live * k * layer.w_bits * depth // 16
        else:
            bram += _blocks(family, live * k * layer.w_bits, depth)
        if direct:
            products = lanes * k
            on_dsp = products if free is None else min(products, free)
            used += -(-on_dsp // products_per_dsp(net, family))
            free = None if free is None else free - on_dsp
            lut += factor * (products - on_dsp) * spec.in_bits * w
        groups = -(-n_out // lanes)
        if family == "ice40" and groups >= STATE_BRAM_ROWS and layer.conv is None:
            state_bits = net.acc_bits() if layer.neuron is None else layer.neuron.v_bits
            bram += sum(-(-lanes * b // 16) for b in (net.current_bits(i), state_bits))
    return {"lut": int(lut), "bram": bram, "dsp": used}


def products_per_dsp(net, family: str) -> int:
    """Products a DSP block makes: two on iCE40 where ``net``'s widths fit SB_MAC16's dual
    8x8 mode (:mod:`.sb_mac16`; the board build uses it then), else one."""
    return 2 if family == "ice40" and sb_mac16.network_fits(net) else 1


def _pow2_at_most(x: int) -> int:
    return 1 << (max(1, int(x)).bit_length() - 1)


#: Activity the planner assumes (no data): the share of inputs nonzero and of neurons
#: spiking per step.
ACTIVITY = 0.25
#: At most this many plans are compared (beyond it: the widest layers are halved greedily).
MAX_PLANS = 40_000


def estimate_cycles(net, items) -> float:
    """Shape-only cycles per sample of ``items`` at :data:`ACTIVITY`: each layer's events
    (nonzero ``K``-chunks for a mask layer) times ``G``, plus ``T`` passes of ``G``
    rows (``P * G`` for a conv layer)."""
    spec, a, t = net.spec, ACTIVITY, net.spec.timesteps
    total = 0.0
    for i, (layer, (lanes, k)) in enumerate(zip(spec.layers, items, strict=True)):
        if layer.conv is None:
            groups, rows, taps = -(-layer.n_out // lanes), -(-layer.n_out // lanes), 1
        else:
            groups = -(-layer.conv.out_channels // lanes)
            rows, taps = groups * layer.n_out // layer.conv.out_channels, layer.conv.kernel ** 2
        events = layer.n_in / k * (1 - (1 - a) ** k)
        steps = 1 if i == 0 and spec.encoding == "direct" else t
        total += steps * events * taps * groups + t * rows
    return total


def _choices(net, budget, in_pack: int = 1) -> list[list[tuple[int, int]]]:
    """Per layer the ``(L, K)`` the planner may pick (powers of two, and a dense layer's
    ``n_out`` itself: one group)."""
    spec = net.spec
    out = []
    for i, layer in enumerate(spec.layers):
        width = layer.n_out if layer.conv is None else layer.conv.out_channels
        top = min(MAX_LANES, 1 << max(0, (width - 1).bit_length()))
        direct = i == 0 and spec.encoding == "direct"
        products = (budget.get("dsp", 0) or 1) * products_per_dsp(net, budget.get("family"))
        if direct:
            top = min(top, _pow2_at_most(products))
        lanes = [1 << e for e in range(top.bit_length())]
        if layer.conv is None and not direct and width <= MAX_LANES and width not in lanes:
            lanes.append(width)
        masks = [1 << e for e in range(MAX_MASK.bit_length())] if _mask_ok(spec, i) else [1]
        if i == 0:
            masks = [k for k in masks if in_pack % k == 0]
        cap = products if direct else MAX_LANES * MAX_MASK
        out.append([(lane, k) for lane in lanes for k in masks if lane * k <= cap])
    return out


def auto_lanes(net, budget=None, *, in_pack: int = 1) -> tuple[tuple[int, int], ...]:
    """Choose ``(L_l, K_l)`` per layer from the network's shape and ``budget``
    (``{"family", "lut", "bram", "dsp"}``; default :data:`DEFAULT_BUDGET`).

    Among the plans of powers of two (``L_l`` up to the layer's outputs and
    :data:`MAX_LANES`, and a dense layer's ``n_out``; ``K_l`` dividing ``L_{l-1}`` where a
    mask is allowed, a direct first layer's ``K_0`` dividing ``in_pack``, its ``L_0 x K_0``
    products within the DSPs: ``auto`` plans no product in logic, an explicit plan may)
    that fit the budget by :func:`estimate_cost` (:data:`SHARE` of the LUTs, every block RAM
    but one per layer), the one with the fewest :func:`estimate_cycles`, then the fewest
    LUTs. Beyond
    :data:`MAX_PLANS` plans: start from the widest and halve the costliest layer's ``K``,
    then ``L``, until it fits. The numbers are estimates from the shape, not from a
    synthesis run: the board build's fit check has the last word.
    """
    budget = dict(DEFAULT_BUDGET if budget is None else budget)
    family = budget.get("family", "ecp5")
    n = len(net.spec.layers)
    choices = _choices(net, budget, in_pack)

    def fits(items):
        cost = estimate_cost(net, items, family, dsp=budget.get("dsp"))
        ok = cost["lut"] <= SHARE * budget.get("lut", 0) and \
            cost["bram"] <= budget.get("bram", 0) - n
        return ok, cost["lut"]

    if np.prod([len(c) for c in choices], dtype=float) <= MAX_PLANS:
        best, best_key = None, None
        for items in itertools.product(*choices):
            if any(k > 1 and i and items[i - 1][0] % k for i, (_, k) in enumerate(items)):
                continue
            ok, lut = fits(items)
            key = (estimate_cycles(net, items), lut)
            if ok and (best_key is None or key < best_key):
                best, best_key = items, key
        if best is not None:
            return tuple(best)
    return _shrink(net, [max(c) for c in choices], fits)


def _shrink(net, items, fits) -> tuple[tuple[int, int], ...]:
    """The greedy fallback of :func:`auto_lanes` (and the answer when nothing fits:
    everything at 1)."""
    spec = net.spec
    lanes = [lane for lane, _ in items]
    masks = [(items[0][1] if i == 0 else lanes[i - 1]) if _mask_ok(spec, i) else 1
             for i in range(len(lanes))]
    family = "ecp5"
    while max(lanes) > 1 or max(masks) > 1:
        items = tuple(zip(lanes, masks, strict=True))
        if fits(items)[0]:
            break
        i = max((j for j in range(len(lanes)) if lanes[j] > 1 or masks[j] > 1),
                key=lambda j: estimate_cost(net, items, family, only=j)["lut"])
        if masks[i] > 1:
            masks[i] //= 2
        else:
            lanes[i] //= 2
            if i + 1 < len(lanes):
                masks[i + 1] = min(masks[i + 1], lanes[i])
    return tuple(zip(lanes, masks, strict=True))


def place_products(layers, dsp: int | None, mac8x8: bool = False) -> list:
    """``layers`` with at most ``dsp`` DSP blocks' products (one per lane and pixel of a chunk
    of a layer with a multi-bit input; two per block with ``mac8x8``: SB_MAC16's dual 8x8
    mode, :mod:`.sb_mac16`, refused in one line where the widths do not fit) in layer order,
    and the rest in logic. ``dsp`` None: every product on a DSP."""
    if dsp is not None and (not isinstance(dsp, int) or isinstance(dsp, bool) or dsp < 0):
        raise ValueError(f"dsp must be a non-negative integer or None, not {dsp!r}")
    if not isinstance(mac8x8, bool):
        raise ValueError(f"mac8x8 must be a bool, not {mac8x8!r}")
    out = []
    for lp in layers:
        if lp.value_bits:
            if mac8x8:
                sb_mac16.check_widths(lp.index, lp.w_bits, lp.value_bits)
            products = lp.lanes * lp.mask
            per = 2 if mac8x8 else 1
            in_dsp = products if dsp is None else min(products, per * dsp)
            if dsp is not None:
                dsp -= -(-in_dsp // per)
            lp = replace(lp, logic_lanes=products - in_dsp, mac8x8=mac8x8)
        out.append(lp)
    return out
