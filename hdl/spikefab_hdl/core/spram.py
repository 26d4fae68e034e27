"""A state memory in single-port RAM (the iCE40 UP5K's SPRAM): one or two banks.

An SPRAM (``SB_SPRAM256KA``, 16K x 16) has one port: in each cycle it reads *or* writes
one word, and it has no initial contents. yosys maps a memory to it (``synth_ice40
-spram``) when the memory's read and write ports share one address, it has no ``init``,
and it is marked ``ram_style = "huge"``. :class:`SPRAMMemory` is such a memory with the
ports of an ordinary one (a read port with enable, data one cycle later, held while the
enable is low; a write port), split into ``banks``:

* ``banks = 1``: one memory; a read and a write may not fall in the same cycle;
* ``banks = 2``: even rows in one memory, odd rows in the other; a read and a write in
  the same cycle must address rows of different parity.

The user of the memory schedules its accesses so that this never happens (docs/core.md:
bubbles in the integrator's walk, the neuron pass at half rate or with an odd read-to-write
distance). Should it happen anyway, the write wins and the read is lost (its data holds
the previous value), as on the device, so the exact tests would see it.

Simulation models start with nonzero garbage (a fixed pattern), never with zeros: the
design must write every row before it reads it (the clear pass after reset does), as the
device's SPRAM powers up with unknown contents. The board build removes this ``init``
(:func:`spikefab_hdl.build.bitstream` strips the ``$meminit`` of ``huge`` memories).
"""

from __future__ import annotations

from amaranth import Module, Mux, Shape, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import Out
from amaranth.utils import ceil_log2

from .signatures import refuse

__all__ = ["SPRAMMemory", "RAM_STYLE", "garbage"]

#: The yosys ``ram_style`` that selects the iCE40 SPRAM.
RAM_STYLE = "huge"


def garbage(width: int, depth: int, salt: int = 0) -> list[int]:
    """A fixed nonzero pattern for ``depth`` rows of ``width`` bits (a power-up stand-in)."""
    mask = (1 << width) - 1
    rows, x = [], 0x9E3779B97F4A7C15 ^ salt
    for _ in range(depth):
        x = (x * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
        word = 0
        for k in range(0, width, 64):
            word |= (x ^ (k * 0x2545F4914F6CDD1D)) << k
        rows.append(word & mask)
    return rows


class SPRAMMemory(wiring.Component):
    """``depth`` rows of ``shape`` in ``banks`` single-port memories (see the module docstring).

    Attributes
    ----------
    read : ReadPort.Signature, out
        ``addr``, ``en`` (default 1), ``data`` (one cycle after an enabled read; held while
        ``en`` is low).
    write : WritePort.Signature, out
        ``addr``, ``en``, ``data``.
    """

    def __init__(self, *, shape, depth: int, banks: int):
        if banks not in (1, 2):
            raise refuse(self, ValueError(f"banks must be 1 or 2, not {banks!r}"))
        self.shape, self.depth, self.banks = shape, int(depth), banks
        width = ceil_log2(max(2, self.depth))
        super().__init__({
            "read": Out(memory.ReadPort.Signature(addr_width=width, shape=shape)),
            "write": Out(memory.WritePort.Signature(addr_width=width, shape=shape)),
        })

    def elaborate(self, platform):
        m = Module()
        width = Shape.cast(self.shape).width
        rd, wr = self.read, self.write
        outs = []
        for b in range(self.banks):
            rows = -(-(self.depth - b) // self.banks)
            mem = memory.Memory(shape=width, depth=rows, init=garbage(width, rows, b))
            mem.attrs["ram_style"] = RAM_STYLE
            m.submodules[f"bank{b}"] = mem
            w = mem.write_port()
            r = mem.read_port()
            if self.banks == 1:
                mine_w, mine_r, wa, ra = wr.en, rd.en, wr.addr, rd.addr
            else:
                mine_w = wr.en & (wr.addr[0] == b)
                mine_r = rd.en & (rd.addr[0] == b)
                wa, ra = wr.addr[1:], rd.addr[1:]
            addr = Signal(range(max(2, rows)), name=f"bank{b}_addr")
            m.d.comb += [
                addr.eq(Mux(mine_w, wa, ra)),  # one address: the single port
                w.addr.eq(addr), w.en.eq(mine_w), w.data.eq(wr.data),
                r.addr.eq(addr), r.en.eq(mine_r & ~mine_w),
            ]
            outs.append(r.data)
        if self.banks == 1:
            m.d.comb += rd.data.eq(outs[0])
        else:
            odd = Signal()
            with m.If(rd.en):
                m.d.sync += odd.eq(rd.addr[0])
            m.d.comb += rd.data.eq(Mux(odd, outs[1], outs[0]))
        return m
