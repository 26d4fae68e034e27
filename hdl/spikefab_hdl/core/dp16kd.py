"""The ECP5 block RAM (DP16KD) as a read-only 1024 x 18 memory with its output register.

yosys 0.70 maps every ECP5 block RAM with ``REGMODE = "NOREG"`` (``brams_map_16kd.v``): the
data leaves the block ~5.6 ns after the clock (nextpnr-ecp5's timing model), and that
clock-to-out starts every path from a weight memory. With ``REGMODE = "OUTREG"`` the block
registers its own output (0.97 ns clock-to-out) at the cost of one cycle of latency, which
only an instance can ask for. :func:`rom_outreg` instantiates the blocks of a read-only
memory that way: port A, 18 bits wide, 1024 rows (``ADA[13:4]`` the row, as yosys maps a
1024 x 18 memory), ``CEA = OCEA = 1``, ``RSTA = 0``, the contents in ``INITVAL_00`` ..
``INITVAL_3F`` (16 rows of 18 bits in 20-bit slots each, as ``brams_map_16kd.v``
writes them; ``tests/test_hdl_dp16kd.py`` checks both layouts against yosys's own mapping
of a generic memory). Only the *live* bit columns (nonzero in some row) get blocks, packed
densely: the zero columns of padding lanes cost nothing, as they cost nothing when yosys
maps a generic memory (``build.fit.live_width``).

Verilator and Icarus do not know the primitive: :data:`MODEL` is a behavioural model of
the subset used here (port A read, ``DATA_WIDTH_A = 18``, ``REGMODE_A`` ``NOREG`` or
``OUTREG``, enables and reset tied as above), which the simulation Verilog carries
(:func:`with_model`); the board build gives the instance to nextpnr (yosys knows it as a
black box). Amaranth's simulator cannot run an instance: cores simulated there use the
generic memory (``NetworkCore(bram_outreg=False)``, the default).
"""

from __future__ import annotations

from dataclasses import replace

from amaranth import Cat, ClockSignal, Const, Module, Signal
from amaranth.hdl import Instance

from .lanes import LOGIC_ROWS
from .layout import DP16KD_SHAPES
from .primitive_model import append_model

__all__ = ["blocks", "ROWS", "WIDTH", "MODEL", "initval", "live_columns", "place_outreg",
           "rom_outreg", "with_model"]

#: Rows and bits of one block in the shape used here.
ROWS, WIDTH = 1024, 18
_SLOTS = 64  # INITVAL_00 .. INITVAL_3F, 16 rows each


def place_outreg(layers, mode) -> list:
    """``layers`` (LayerPlans) with ``bram_outreg`` set and 1024-row banks where ``mode`` asks:
    ``"always"`` every layer, True where 1024 x 18 blocks hold the weight memory in no more
    blocks than the best DP16KD shape (``layout.bank_rows_for``'s; e.g. not 8-bit rows,
    which 2048 x 9 holds in half the blocks), False none; an integer ``N`` (a board's blocks
    for the weight memories, :attr:`..board.definitions.Board.outreg`): as True, then the
    other block-RAM weight memories too, in layer order, while all of them together take at
    most ``N`` blocks (MNIST-5k's ``128x3`` layer 0 on the 85F: 171 blocks, not 86)."""
    budget = None
    if isinstance(mode, int) and not isinstance(mode, bool):
        if mode < 0:
            raise ValueError(f"bram_outreg must be False, True, 'always' or a block count "
                             f">= 0, not {mode!r}")
        budget, mode = mode, True
    elif mode not in (False, True, "always"):
        raise ValueError(f"bram_outreg must be False, True, 'always' or a block count >= 0, "
                         f"not {mode!r}")
    out, cost = [], []
    for lp in layers:
        width, depth = lp.lanes * lp.mask * lp.w_bits, lp.weight_depth
        best = min(-(-width // bits) * -(-depth // rows) for rows, bits in DP16KD_SHAPES)
        wide = -(-width // WIDTH) * -(-depth // ROWS)
        if mode == "always" or (mode and wide <= best):
            lp = replace(lp, bram_outreg=True, bank_rows=ROWS)
            best = wide
        out.append(lp)
        cost.append((best, wide) if depth >= LOGIC_ROWS else (0, 0))
    if budget is not None:
        total = sum(c for c, _ in cost)
        for i, (now, wide) in enumerate(cost):
            if not out[i].bram_outreg and now and total - now + wide <= budget:
                out[i] = replace(out[i], bram_outreg=True, bank_rows=ROWS)
                total += wide - now
    return out


def live_columns(raw_rows, width: int) -> list[int]:
    """Bit columns of a memory image (rows as unsigned ints) nonzero in some row."""
    used = 0
    for r in raw_rows:
        used |= int(r)
    return [b for b in range(width) if used >> b & 1]


def initval(words) -> dict[str, int]:
    """``INITVAL_xx`` parameters (320-bit ints) of a block holding ``words`` (18-bit ints,
    at most 1024; the rest zero)."""
    words = list(words) + [0] * (ROWS - len(words))
    out = {}
    for s in range(_SLOTS):
        v = 0
        for i in range(16):
            v |= (int(words[s * 16 + i]) & ((1 << WIDTH) - 1)) << (20 * i)
        out[f"INITVAL_{s:02X}"] = v
    return out


def blocks(raw_rows, width: int) -> int:
    """DP16KD blocks :func:`rom_outreg` places for a memory image: its live columns by 18."""
    return -(-len(live_columns(raw_rows, width)) // WIDTH)


def rom_outreg(m: Module, name: str, raw_rows, width: int, addr, *, domain: str = "sync"):
    """A read-only memory of ``raw_rows`` (``width``-bit unsigned ints, at most 1024 rows) in
    DP16KD blocks with the output register: returns a ``width``-bit signal holding the row
    ``addr`` had two cycles earlier (zero in the dead columns). ``addr``: the row address,
    or a list of copies of it (equal in every cycle): block ``b`` of the :func:`blocks`
    reads copy ``b * len(addr) // blocks``, so no one signal drives every block's pins."""
    if len(raw_rows) > ROWS:
        raise ValueError(f"a DP16KD bank holds at most {ROWS} rows, not {len(raw_rows)}")
    cols = live_columns(raw_rows, width)
    data = Signal(width, name=f"{name}_q")
    bits = [Const(0, 1)] * width
    copies = addr if isinstance(addr, list) else [addr]
    adas = []
    for k, a in enumerate(copies):
        row_addr = Signal(10, name=f"{name}_addr" if len(copies) == 1 else f"{name}_addr{k}")
        m.d.comb += row_addr.eq(a)
        adas.append(Cat(Const(0, 4), row_addr))
    n_blocks = max(1, blocks(raw_rows, width))
    for blk, first in enumerate(range(0, len(cols), WIDTH)):
        ada = adas[blk * len(adas) // n_blocks]
        chunk = cols[first:first + WIDTH]
        words = [sum((int(r) >> c & 1) << k for k, c in enumerate(chunk)) for r in raw_rows]
        do = Signal(WIDTH, name=f"{name}_b{blk}_do")
        ports = {f"i_ADA{i}": ada[i] for i in range(14)}
        ports.update({f"o_DOA{i}": do[i] for i in range(WIDTH)})
        m.submodules[f"{name}_b{blk}"] = Instance(
            "DP16KD",
            p_DATA_WIDTH_A=WIDTH, p_DATA_WIDTH_B=WIDTH, p_REGMODE_A="OUTREG",
            p_REGMODE_B="NOREG", p_RESETMODE="SYNC", p_CSDECODE_A="0b000",
            p_CSDECODE_B="0b000", p_WRITEMODE_A="NORMAL", p_GSR="DISABLED",
            **{f"p_{k}": Const(v, 320) for k, v in initval(words).items()},
            i_CLKA=ClockSignal(domain), i_CEA=Const(1, 1), i_OCEA=Const(1, 1),
            i_WEA=Const(0, 1), i_RSTA=Const(0, 1), i_CSA0=Const(0, 1), i_CSA1=Const(0, 1),
            i_CSA2=Const(0, 1), **ports,
        )
        for k, c in enumerate(chunk):
            bits[c] = do[k]
    m.d.comb += data.eq(Cat(*bits))
    return data


def _model() -> str:
    ada = ", ".join(f"ADA{i}" for i in range(14))
    doa = ", ".join(f"DOA{i}" for i in range(WIDTH))
    params = "\n".join(f"  parameter [319:0] INITVAL_{s:02X} = 320'h0;" for s in range(_SLOTS))
    init = "\n".join(f"    mem[{s * 16 + i}] = INITVAL_{s:02X}[{20 * i + WIDTH - 1}:{20 * i}];"
                     for s in range(_SLOTS) for i in range(16))
    return f"""
// Behavioural model of the ECP5 DP16KD as spikefab_hdl.core.dp16kd uses it (simulation only):
// port A read, DATA_WIDTH_A 18 (row = ADA[13:4]), REGMODE_A NOREG or OUTREG, CEA, OCEA.
module DP16KD(CLKA, CEA, OCEA, WEA, RSTA, CSA0, CSA1, CSA2, {ada}, {doa});
  input CLKA, CEA, OCEA, WEA, RSTA, CSA0, CSA1, CSA2;
  input {ada};
  output {doa};
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter GSR = "DISABLED";
{params}
  reg [17:0] mem [0:1023];
  reg [17:0] latch = 18'd0;
  reg [17:0] oreg = 18'd0;
  wire [9:0] row = {{{", ".join(f"ADA{i}" for i in range(13, 3, -1))}}};
  wire [17:0] q = (REGMODE_A == "OUTREG") ? oreg : latch;
  initial begin
{init}
  end
  always @(posedge CLKA) begin
    if (CEA) latch <= mem[row];
    if (OCEA) oreg <= latch;
  end
  assign {{{", ".join(f"DOA{i}" for i in range(WIDTH - 1, -1, -1))}}} = q;
endmodule
"""


#: The simulation model (Verilog-2005) of the DP16KD subset :func:`rom_outreg` uses.
MODEL = _model()


def with_model(verilog_text: str) -> str:
    """``verilog_text`` with :data:`MODEL` appended when it instantiates a DP16KD."""
    return append_model(verilog_text, "DP16KD", MODEL)
