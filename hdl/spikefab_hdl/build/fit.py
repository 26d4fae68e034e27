"""Will a network fit a board? Memory estimates, the UP5K's SPRAM placement, the refusal.

Before any tool runs, :func:`check_network` elaborates the board design and counts its
memories: every memory deep enough for block RAM (:data:`MIN_BRAM_DEPTH` rows) in the
fewest blocks of the family's shapes, every single-port state memory (``ram_style
"huge"``, :mod:`spikefab_hdl.core.spram`) in 16K x 16 SPRAMs. A read-only memory (no
write port: the weight memories) counts only its *live* bit columns, those nonzero in some
row: yosys removes a column that is zero in every row (``opt_mem``: "removing const-0
lane"), such as the weights of the zero-padding lanes of a layer narrower than its
``lanes`` (MNIST-5k at lanes 128: the 10-neuron readout's memory is 118 lanes of zeros).
A DP16KD instance (ECP5 builds: weight memories with the output register,
``core.dp16kd``) is one block; it holds live columns only. A lower bound, so a network it
refuses cannot fit; one it passes may still fail in nextpnr
(then ``report.json`` says so).

On a device with SPRAM (the iCE40 UP5K, 4 x 256 Kbit) :func:`place_spram` moves the
state memories of conv layers (currents, membranes, synapses: they need no initial value)
out of block RAM, largest first, until the rest fits, each in two banks (a row per cycle)
where the SPRAMs suffice and else in one (the layer's pass at half rate). An SPRAM is
16 bits wide: a memory of ``w`` bits needs ``ceil(w / 16)`` of them side by side per bank.
"""

from __future__ import annotations

from amaranth.hdl import Fragment, Instance, MemoryInstance, Shape
from amaranth.lib import memory
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import NetInfo

from ..board.definitions import Board
from ..board.top import BoardTop
from ..core import dp16kd
from ..core.placement import SPRAM_MEMORIES
from ..core.plan import plan_core
from ..core.spram import RAM_STYLE
from ..core.weight_memory import LOGIC_ROWS
from .tool_report import FitError

__all__ = ["MIN_BRAM_DEPTH", "SPRAM_SHAPE", "memory_blocks", "spram_blocks", "live_width",
           "logic_luts", "estimate", "place_spram", "check_network"]

#: Block RAM shapes (width, depth) per family.
_BRAM_SHAPES = {
    "ice40": ((16, 256), (8, 512), (4, 1024), (2, 2048)),
    "ecp5": ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384)),
}
#: Memories shallower than this are left out of the block RAM estimate (they may map to
#: flip-flops or LUT RAM; weight memories this shallow are marked for LUTs,
#: ``core.weight_memory.LOGIC_ROWS``).
MIN_BRAM_DEPTH = LOGIC_ROWS
#: One iCE40 SPRAM (``SB_SPRAM256KA``): (width, depth).
SPRAM_SHAPE = (16, 16384)


def memory_blocks(family: str, width: int, depth: int) -> int:
    """Fewest block RAMs holding a ``width`` × ``depth`` memory."""
    return min(-(-width // w) * -(-depth // d) for w, d in _BRAM_SHAPES[family])


def spram_blocks(width: int, depth: int, banks: int = 1) -> int:
    """SPRAMs holding a ``width`` × ``depth`` memory in ``banks`` banks."""
    w, d = SPRAM_SHAPE
    rows = -(-depth // banks)
    return banks * -(-width // w) * -(-rows // d)


def live_width(frag: MemoryInstance, width: int) -> int:
    """Bit columns of a memory that yosys keeps: all of them when the memory has a write
    port, else those nonzero in some row of its initial contents."""
    if frag._write_ports:
        return width
    return len(dp16kd.live_columns(frag._data.init._raw, width))


def _memories(top) -> list[tuple[str, int, int, bool]]:
    """``(path, width, depth, spram)`` of every memory in an elaborated design (``width``:
    the live bit columns, :func:`live_width`)."""
    found = []

    def walk(frag, path):
        if isinstance(frag, Instance) and frag.type == "DP16KD":
            found.append(("/".join(path), dp16kd.WIDTH, dp16kd.ROWS, False))
        if isinstance(frag, MemoryInstance):
            mem = next((o for o in frag.origins or () if isinstance(o, memory.Memory)), None)
            if mem is not None:
                huge = mem.attrs.get("ram_style") == RAM_STYLE
                width = live_width(frag, Shape.cast(mem.shape).width)
                found.append(("/".join(path), width, mem.depth, huge))
        for sub, name, *_ in frag.subfragments:
            walk(sub, (*path, str(name)))

    walk(Fragment.get(top, None), ())
    return found


def estimate(board: Board, net: QuantizedNetwork, *, lanes: int = 4, spram=None,
             in_pack: int = 1) -> dict:
    """Block RAMs (and SPRAMs) the design's memories need at least, before any tool runs."""
    top = BoardTop(net=net, clk_hz=board.clk_hz, lanes=lanes, n_leds=len(board.leds),
                   spram=spram, bram_outreg=board.outreg, in_pack=in_pack)
    mems = _memories(top)
    blocks = sum(memory_blocks(board.family, w, d) for _, w, d, huge in mems
                 if d >= MIN_BRAM_DEPTH and not huge)
    sprams = sum(spram_blocks(w, d) for _, w, d, huge in mems if huge)
    logic = [(p, w, d) for p, w, d, huge in mems if d < MIN_BRAM_DEPTH and not huge]
    return {
        "memories": [{"path": p, "width": w, "depth": d, **({"spram": True} if h else {})}
                     for p, w, d, h in mems],
        "memory_bits": sum(w * d for _, w, d, _ in mems),
        "bram_blocks": blocks,
        "bram_available": board.capacity["bram"],
        "spram_blocks": sprams,
        "spram_available": board.capacity["spram"],
        "spram": spram or {},
        "logic_memory_luts": sum(logic_luts(w, d) for _, w, d in logic),
        "largest_logic_memory": max(logic, key=lambda m: logic_luts(m[1], m[2]), default=None),
        "lut_available": board.capacity["lut"],
    }


def logic_luts(width: int, depth: int) -> int:
    """LUT4s a memory kept in logic needs at least: a LUT4 holds 16 bits of one column."""
    return width * -(-depth // 16)


def _candidates(net: QuantizedNetwork, lanes: int, family: str, in_pack: int = 1) -> list[tuple]:
    """``(blocks saved, layer, memory, width, depth)`` of every conv state memory."""
    out = []
    for lp in plan_core(net, lanes=lanes, in_pack=in_pack).layers:
        if lp.conv is None:
            continue
        widths = {"currents": lp.cur_bits, "membranes": lp.neuron.v_bits}
        if lp.neuron.synapse is not None:
            widths["synapses"] = lp.neuron.synapse.i_bits
        for name in SPRAM_MEMORIES:
            if name in widths:
                width, depth = widths[name] * lp.lanes, lp.groups
                saved = memory_blocks(family, width, depth) if depth >= MIN_BRAM_DEPTH else 0
                out.append((saved, lp.index, name, width, depth))
    return sorted(out, key=lambda c: (-c[0], c[1], c[2]))


def place_spram(board: Board, net: QuantizedNetwork, *, lanes: int = 4,
                in_pack: int = 1) -> dict | None:
    """The placement of conv state memories in SPRAM that lets the rest fit block RAM
    (see the module docstring); None when all fits block RAM, or nothing helps."""
    need = estimate(board, net, lanes=lanes, in_pack=in_pack)["bram_blocks"]
    have, sprams = board.capacity["bram"], board.capacity["spram"]
    if need <= have or not sprams:
        return None
    chosen, used = [], 0
    for saved, index, name, width, depth in _candidates(net, lanes, board.family, in_pack):
        if need <= have:
            break
        cost = spram_blocks(width, depth, 1)
        if saved and used + cost <= sprams:
            chosen.append([index, name, width, depth, 1])
            used, need = used + cost, need - saved
    if not chosen:
        return None
    for c in chosen:  # two banks (a row per cycle) where the SPRAMs allow
        extra = spram_blocks(c[2], c[3], 2) - spram_blocks(c[2], c[3], 1)
        if used + extra <= sprams:
            c[4], used = 2, used + extra
    placement: dict = {}
    for index, name, _, _, banks in chosen:
        placement.setdefault(index, {})[name] = banks
    return placement


def check_network(board: Board, net: QuantizedNetwork, *, lanes: int = 4, spram="auto",
                  in_pack: int = 1) -> dict:
    """All checks made before a tool runs; returns :func:`estimate`'s numbers (with the SPRAM
    placement used: ``spram="auto"`` chooses it with :func:`place_spram`)."""
    NetInfo.from_network(net, board.clk_hz)  # the protocol's size limits
    if spram == "auto":
        spram = place_spram(board, net, lanes=lanes, in_pack=in_pack)
    est = estimate(board, net, lanes=lanes, spram=spram, in_pack=in_pack)
    where = ""
    if est["spram"]:
        n = sum(len(v) for v in est["spram"].values())
        where = (f"; {n} conv state memor{'y' if n == 1 else 'ies'} in {est['spram_blocks']} "
                 f"of its {est['spram_available']} SPRAMs")
    if est["spram_blocks"] > est["spram_available"]:
        raise FitError(
            f"network too large for {board.name} ({board.device}): its state memories need "
            f"{est['spram_blocks']} SPRAMs, the device has {est['spram_available']}")
    if est["bram_blocks"] > est["bram_available"]:
        raise FitError(
            f"network too large for {board.name} ({board.device}): its memories need at least "
            f"{est['bram_blocks']} block RAMs, the device has {est['bram_available']} "
            f"({net.n_weights} weights{where})"
        )
    if est["logic_memory_luts"] > est["lut_available"]:
        path, width, depth = est["largest_logic_memory"]
        raise FitError(
            f"network too large for {board.name} ({board.device}): its memories of fewer than "
            f"{MIN_BRAM_DEPTH} rows, kept in LUTs, need at least {est['logic_memory_luts']} "
            f"LUTs, the device has {est['lut_available']} ({path}: {width} bits x {depth} rows)"
        )
    return est
