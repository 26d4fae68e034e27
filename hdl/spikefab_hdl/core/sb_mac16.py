"""Two 8 x 8 products per iCE40 SB_MAC16 DSP block (its dual 8 x 8 mode).

The UP5K has 8 SB_MAC16 blocks. yosys (``synth_ice40 -dsp``) maps one multiply to one
block in its 16 x 16 mode however narrow the operands, so a direct layer's products beyond
8 used to be shifts and adds in logic (``arith.times_unsigned``, ~100 logic cells each on
digits). With ``MODE_8x8 = 1`` a block makes two independent products, ``A[15:8] x
B[15:8]`` (the top half, ``O[31:16]``) and ``A[7:0] x B[7:0]`` (the bottom, ``O[15:0]``),
which only an instance can ask for: :func:`products` instantiates the blocks with

* ``A`` the weights (``A_SIGNED = 1``: each byte signed), ``B`` the input values
  (``B_SIGNED = 0``: each byte unsigned), so a weight must fit 8 bits signed and a value 8
  bits unsigned (:func:`widths_fit`; the product, at most 127 x 255 = 32,385 and at least
  -128 x 255 = -32,640, fits each half's 16 bits);
* ``A_REG = B_REG = 0``, ``TOP_8x8_MULT_REG = BOT_8x8_MULT_REG = 1`` and
  ``TOPOUTPUT_SELECT = BOTOUTPUT_SELECT = 2``: the output is the product registered in the
  block, one cycle after its operands, as the integrator's product register was;
* ``CE = 1``, every hold, reset, load and carry input 0.

An odd product leaves its block's top half unused (operands 0). Verilator and Icarus do not
know the primitive: :data:`MODEL` is a behavioural model of this subset, appended to the
simulation Verilog (:func:`with_model`); ``tests/test_hdl_sb_mac16.py`` checks it against
yosys's own model (``share/ice40/cells_sim.v``) on every pair of 8-bit operands and that
``synth_ice40`` keeps the instances. The board build gives the instances to nextpnr.
Amaranth's simulator cannot run an instance: cores simulated there use plain multiplies
(``NetworkCore(mac8x8=False)``, the default).
"""

from __future__ import annotations

from amaranth import ClockSignal, Const, Module, Signal
from amaranth.hdl import Instance

from .primitive_model import append_model

__all__ = ["BITS", "PARAMETERS", "MODEL", "products", "widths_fit", "network_fits", "check_widths",
           "with_model"]

#: Operand bits of one half: a weight signed, a value unsigned.
BITS = 8
#: The SB_MAC16 parameters of the dual 8 x 8 mode used here (name: (value, width)).
PARAMETERS = {
    "NEG_TRIGGER": (0, 1), "C_REG": (0, 1), "A_REG": (0, 1), "B_REG": (0, 1), "D_REG": (0, 1),
    "TOP_8x8_MULT_REG": (1, 1), "BOT_8x8_MULT_REG": (1, 1),
    "PIPELINE_16x16_MULT_REG1": (0, 1), "PIPELINE_16x16_MULT_REG2": (0, 1),
    "TOPOUTPUT_SELECT": (2, 2), "TOPADDSUB_LOWERINPUT": (0, 2), "TOPADDSUB_UPPERINPUT": (0, 1),
    "TOPADDSUB_CARRYSELECT": (0, 2), "BOTOUTPUT_SELECT": (2, 2),
    "BOTADDSUB_LOWERINPUT": (0, 2), "BOTADDSUB_UPPERINPUT": (0, 1),
    "BOTADDSUB_CARRYSELECT": (0, 2), "MODE_8x8": (1, 1), "A_SIGNED": (1, 1), "B_SIGNED": (0, 1),
}
#: The one-bit control inputs, all tied to 0 (``CE`` is tied to 1).
_ZERO_INPUTS = ("AHOLD", "BHOLD", "CHOLD", "DHOLD", "IRSTTOP", "IRSTBOT", "ORSTTOP",
                "ORSTBOT", "OLOADTOP", "OLOADBOT", "ADDSUBTOP", "ADDSUBBOT", "OHOLDTOP",
                "OHOLDBOT", "CI", "ACCUMCI", "SIGNEXTIN")


def widths_fit(w_bits: int, value_bits: int) -> bool:
    """Weights of ``w_bits`` (signed) and values of ``value_bits`` (unsigned) fit a half."""
    return w_bits <= BITS and value_bits <= BITS


def network_fits(net) -> bool:
    """Every product of ``net`` (its direct first layer's; spike input has none) fits a half:
    iCE40 board builds use the dual mode then (``board.definitions``), and ``auto`` plans
    two products a block for them (``lanes.estimate_cost``)."""
    spec = net.spec
    return spec.encoding != "direct" or widths_fit(spec.layers[0].w_bits, spec.in_bits)


def check_widths(index: int, w_bits: int, value_bits: int) -> None:
    """Refuse (one line) a layer whose products do not fit the dual 8 x 8 mode."""
    if not widths_fit(w_bits, value_bits):
        raise ValueError(f"mac8x8: layer {index}'s products need weights of at most {BITS} "
                         f"bits (signed) and input values of at most {BITS} bits (unsigned) "
                         f"for SB_MAC16's dual 8x8 mode, not w_bits {w_bits}, in_bits "
                         f"{value_bits}")


def products(m: Module, name: str, operands, *, domain: str = "sync") -> list:
    """``w * x`` for every ``(w, x)`` of ``operands`` (``w`` signed, ``x`` unsigned, each at
    most :data:`BITS` bits), two per SB_MAC16 block: signed 16-bit values registered in the
    blocks (one cycle after the operands)."""
    out = []
    for blk, first in enumerate(range(0, len(operands), 2)):
        a = Signal(16, name=f"{name}{blk}_a")
        b = Signal(16, name=f"{name}{blk}_b")
        o = Signal(32, name=f"{name}{blk}_o")
        for half, (w, x) in enumerate(operands[first:first + 2]):  # 0: bottom, 1: top
            if w.shape().width > BITS or x.shape().width > BITS or x.shape().signed:
                raise ValueError(f"an SB_MAC16 8x8 product takes a weight of at most {BITS} "
                                 f"bits and an unsigned value of at most {BITS}, not "
                                 f"{w.shape()} x {x.shape()}")
            m.d.comb += [a[8 * half:8 * half + 8].eq(w), b[8 * half:8 * half + 8].eq(x)]
            out.append(o[16 * half:16 * half + 16].as_signed())
        m.submodules[f"{name}{blk}"] = Instance(
            "SB_MAC16",
            **{f"p_{k}": Const(v, width) for k, (v, width) in PARAMETERS.items()},
            i_CLK=ClockSignal(domain), i_CE=Const(1, 1), i_A=a, i_B=b, i_C=Const(0, 16),
            i_D=Const(0, 16), **{f"i_{p}": Const(0, 1) for p in _ZERO_INPUTS}, o_O=o,
        )
    return out


def _model() -> str:
    params = "\n".join(f"  parameter [{w - 1}:0] {k} = {w}'d0;" for k, (_, w) in PARAMETERS.items())
    return f"""
// Behavioural model of the iCE40 SB_MAC16 as spikefab_hdl.core.sb_mac16 uses it (simulation
// only): MODE_8x8, A_REG = B_REG = 0, TOP/BOT_8x8_MULT_REG, TOP/BOTOUTPUT_SELECT = 2 (the
// 8 x 8 products), A_SIGNED / B_SIGNED per byte, CE; holds, resets and adders unused.
module SB_MAC16(CLK, CE, C, A, B, D, AHOLD, BHOLD, CHOLD, DHOLD, IRSTTOP, IRSTBOT, ORSTTOP,
                ORSTBOT, OLOADTOP, OLOADBOT, ADDSUBTOP, ADDSUBBOT, OHOLDTOP, OHOLDBOT, CI,
                ACCUMCI, SIGNEXTIN, O, CO, ACCUMCO, SIGNEXTOUT);
  input CLK, CE;
  input [15:0] C, A, B, D;
  input AHOLD, BHOLD, CHOLD, DHOLD, IRSTTOP, IRSTBOT, ORSTTOP, ORSTBOT, OLOADTOP, OLOADBOT;
  input ADDSUBTOP, ADDSUBBOT, OHOLDTOP, OHOLDBOT, CI, ACCUMCI, SIGNEXTIN;
  output [31:0] O;
  output CO, ACCUMCO, SIGNEXTOUT;
{params}
  wire [15:0] ah = {{{{8{{A_SIGNED & A[15]}}}}, A[15:8]}};
  wire [15:0] al = {{{{8{{A_SIGNED & A[7]}}}}, A[7:0]}};
  wire [15:0] bh = {{{{8{{B_SIGNED & B[15]}}}}, B[15:8]}};
  wire [15:0] bl = {{{{8{{B_SIGNED & B[7]}}}}, B[7:0]}};
  wire [15:0] top = ah * bh;
  wire [15:0] bot = al * bl;
  reg [15:0] rtop = 16'd0;
  reg [15:0] rbot = 16'd0;
  always @(posedge CLK) begin
    if (CE) begin
      rtop <= top;
      rbot <= bot;
    end
  end
  assign O = {{TOP_8x8_MULT_REG ? rtop : top, BOT_8x8_MULT_REG ? rbot : bot}};
  assign CO = 1'b0;
  assign ACCUMCO = 1'b0;
  assign SIGNEXTOUT = 1'b0;
endmodule
"""


#: The simulation model (Verilog-2005) of the SB_MAC16 subset :func:`products` uses.
MODEL = _model()


def with_model(verilog_text: str) -> str:
    """``verilog_text`` with :data:`MODEL` appended when it instantiates an SB_MAC16."""
    return append_model(verilog_text, "SB_MAC16", MODEL)
