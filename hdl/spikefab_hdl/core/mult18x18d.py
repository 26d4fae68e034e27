"""ECP5 MULT18X18D products registered inside the DSP block (its input and output registers).

yosys 0.70 maps a multiply to a MULT18X18D with every register ``NONE``
(``share/lattice/dsp_map_18x18.v``) and leaves the registers around it in the fabric. On a
large ECP5 the DSP column is far from the block RAMs and from the current memory, so a
direct layer's product path was a fabric register (by the block RAMs) -> ~5 ns routing ->
the multiplier (3.93 ns) -> ~5 ns routing -> a fabric register (docs/hardware.md).
:func:`products` instantiates the blocks with their own registers instead:

* ``REG_INPUTA_CLK = REG_INPUTB_CLK = "CLK0"``: the operands are registered in the block
  (they take the place of the weight memory's fabric output register, so the caller passes
  the operands one cycle *before* that register, :attr:`.weight_memory.WeightMemory.data_next`);
* ``REG_OUTPUT_CLK = "CLK0"`` (pipeline register ``NONE``): the product is registered in the
  block, taking the place of the integrator's first product register;
* ``CE0 = 1``, ``RST0 = 0`` (the registers' ``*_CE = "CE0"``, ``*_RST = "RST0"``),
  ``GSR = "DISABLED"``; ``SIGNEDA = SIGNEDB = 1`` as yosys's own mapping of a signed
  multiply: ``A`` the weight sign-extended to 18 bits, ``B`` the unsigned value
  zero-extended (so at most 17 bits; :func:`widths_fit`).

The product appears two cycles after the operands, as it did through the two fabric
registers: the latency is unchanged. Verilator and Icarus do not know the primitive (yosys
ships only a black box, ``share/ecp5/cells_bb.v``): :data:`MODEL` is a behavioural model of
the subset used here (each register ``NONE`` or ``CLK0``), appended to the simulation
Verilog (:func:`with_model`); ``tests/test_hdl_mult18x18d.py`` checks it against yosys's own
mapping of a multiply (``synth_ecp5``'s netlist simulated with this model and yosys's
``cells_sim.v``) and that ``synth_ecp5`` keeps the instances' parameters. Amaranth's
simulator cannot run an instance: cores simulated there use plain multiplies
(``NetworkCore(bram_outreg=False)``, the default).
"""

from __future__ import annotations

from amaranth import Cat, ClockSignal, Const, Module, Signal
from amaranth.hdl import Instance

from .primitive_model import append_model

__all__ = ["A_BITS", "B_BITS", "PARAMETERS", "MODEL", "products", "widths_fit", "with_model"]

#: Operand bits: a signed weight in ``A``, an unsigned value (zero-extended, signed) in ``B``.
A_BITS, B_BITS = 18, 17
#: The MULT18X18D parameters used here (strings, as the primitive takes them).
PARAMETERS = {
    "REG_INPUTA_CLK": "CLK0", "REG_INPUTA_CE": "CE0", "REG_INPUTA_RST": "RST0",
    "REG_INPUTB_CLK": "CLK0", "REG_INPUTB_CE": "CE0", "REG_INPUTB_RST": "RST0",
    "REG_INPUTC_CLK": "NONE", "REG_PIPELINE_CLK": "NONE",
    "REG_OUTPUT_CLK": "CLK0", "REG_OUTPUT_CE": "CE0", "REG_OUTPUT_RST": "RST0",
    "GSR": "DISABLED", "RESETMODE": "SYNC", "SOURCEB_MODE": "B_SHIFT", "MULT_BYPASS": "DISABLED",
}


def widths_fit(w_bits: int, value_bits: int) -> bool:
    """Weights of ``w_bits`` (signed) and values of ``value_bits`` (unsigned) fit one block."""
    return w_bits <= A_BITS and value_bits <= B_BITS


def products(m: Module, name: str, operands, *, domain: str = "sync") -> list:
    """``w * x`` for every ``(w, x)`` of ``operands`` (``w`` signed, ``x`` unsigned), one
    MULT18X18D each with its input and output registers: signed 36-bit values, the product
    of the operands two cycles earlier."""
    out = []
    for i, (w, x) in enumerate(operands):
        if w.shape().width > A_BITS or x.shape().width > B_BITS or x.shape().signed \
                or not w.shape().signed:
            raise ValueError(f"a MULT18X18D product takes a signed weight of at most {A_BITS} "
                             f"bits and an unsigned value of at most {B_BITS}, not "
                             f"{w.shape()} x {x.shape()}")
        a, b, p = Signal(18, name=f"{name}{i}_a"), Signal(18, name=f"{name}{i}_b"), \
            Signal(36, name=f"{name}{i}_p")
        m.d.comb += [a.eq(w.as_signed()), b.eq(x)]  # sign- and zero-extended to 18 bits
        ports = {f"i_A{k}": a[k] for k in range(18)}
        ports.update({f"i_B{k}": b[k] for k in range(18)})
        ports.update({f"i_C{k}": Const(0, 1) for k in range(18)})
        ports.update({f"o_P{k}": p[k] for k in range(36)})
        ports.update({f"i_CLK{k}": Const(0, 1) for k in range(1, 4)})
        ports.update({f"i_CE{k}": Const(0, 1) for k in range(1, 4)})
        ports.update({f"i_RST{k}": Const(0, 1) for k in range(4)})
        m.submodules[f"{name}{i}"] = Instance(
            "MULT18X18D", **{f"p_{k}": v for k, v in PARAMETERS.items()},
            i_CLK0=ClockSignal(domain), i_CE0=Const(1, 1), i_SIGNEDA=Const(1, 1),
            i_SIGNEDB=Const(1, 1), i_SOURCEA=Const(0, 1), i_SOURCEB=Const(0, 1), **ports,
        )
        out.append(Cat(p).as_signed())
    return out


def _model() -> str:
    a = ", ".join(f"A{k}" for k in range(18))
    b = ", ".join(f"B{k}" for k in range(18))
    c = ", ".join(f"C{k}" for k in range(18))
    p = ", ".join(f"P{k}" for k in range(36))
    return f"""
// Behavioural model of the ECP5 MULT18X18D as spikefab_hdl.core.mult18x18d uses it
// (simulation only): SIGNEDA/SIGNEDB, input registers A and B and the output register each
// NONE or CLK0 (clock CLK0, enable CE0, synchronous reset RST0); C, the pipeline register,
// the shift chains and the other clocks unused.
module MULT18X18D({a}, {b}, {c}, SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
                  CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3, RST0, RST1, RST2, RST3, {p});
  input {a};
  input {b};
  input {c};
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3;
  input RST0, RST1, RST2, RST3;
  output {p};
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTA_CE = "CE0";
  parameter REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTB_CE = "CE0";
  parameter REG_INPUTB_RST = "RST0";
  parameter REG_INPUTC_CLK = "NONE";
  parameter REG_INPUTC_CE = "CE0";
  parameter REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_PIPELINE_CE = "CE0";
  parameter REG_PIPELINE_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter REG_OUTPUT_CE = "CE0";
  parameter REG_OUTPUT_RST = "RST0";
  parameter CLK0_DIV = "ENABLED";
  parameter CLK1_DIV = "ENABLED";
  parameter CLK2_DIV = "ENABLED";
  parameter CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE";
  parameter GSR = "ENABLED";
  parameter CAS_MATCH_REG = "FALSE";
  parameter SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED";
  parameter RESETMODE = "SYNC";
  wire [17:0] a = {{{", ".join(f"A{k}" for k in range(17, -1, -1))}}};
  wire [17:0] b = {{{", ".join(f"B{k}" for k in range(17, -1, -1))}}};
  reg [17:0] ra = 18'd0, rb = 18'd0;
  reg sa = 1'b0, sb = 1'b0;
  reg [35:0] rp = 36'd0;
  wire [17:0] ia = (REG_INPUTA_CLK == "CLK0") ? ra : a;
  wire [17:0] ib = (REG_INPUTB_CLK == "CLK0") ? rb : b;
  wire ias = (REG_INPUTA_CLK == "CLK0") ? sa : SIGNEDA;
  wire ibs = (REG_INPUTB_CLK == "CLK0") ? sb : SIGNEDB;
  wire signed [36:0] prod = $signed({{ias & ia[17], ia}}) * $signed({{ibs & ib[17], ib}});
  wire [35:0] q = (REG_OUTPUT_CLK == "CLK0") ? rp : prod[35:0];
  always @(posedge CLK0) begin
    if (RST0) begin
      ra <= 18'd0; rb <= 18'd0; sa <= 1'b0; sb <= 1'b0; rp <= 36'd0;
    end else if (CE0) begin
      ra <= a; rb <= b; sa <= SIGNEDA; sb <= SIGNEDB; rp <= prod[35:0];
    end
  end
  assign {{{", ".join(f"P{k}" for k in range(35, -1, -1))}}} = q;
endmodule
"""


#: The simulation model (Verilog-2005) of the MULT18X18D subset :func:`products` uses.
MODEL = _model()


def with_model(verilog_text: str) -> str:
    """``verilog_text`` with :data:`MODEL` appended when it instantiates a MULT18X18D."""
    return append_model(verilog_text, "MULT18X18D", MODEL)
