"""A layer's weight memory: one ``lanes``-wide row per cycle, banked by block RAM, registered.

A large weight memory spans many block RAMs. Left to yosys, it becomes one memory whose
block RAMs feed a wide multiplexer straight from their (slow, unregistered) outputs:
on ECP5 a DP16KD's clock-to-output is ~5.6 ns, and the routing from blocks spread over
the die to a 49-to-1 multiplexer adds as much again, so a 784-input layer's weight read
capped the core at ~72 MHz. :class:`WeightMemory` splits the rows into *banks* of
``bank_rows`` rows (one DP16KD shape, as many blocks side by side as the row needs,
:func:`.plan.bank_rows_for`). A bank's read is a block RAM's synchronous read whose
output is reset to zero unless the bank is the one addressed (DP16KD ``RESETMODE=SYNC``:
yosys merges the zeroing register into the block RAM), so the banks' outputs can be ORed,
not multiplexed: one LUT level ORs :data:`OR_GROUP` banks into a register, and the
registers are ORed into the output register. Paths: block RAM → one LUT → flip-flop, and
a few flip-flops → one LUT → flip-flop; one cycle more latency than a plain memory, and
no select signal fanning out to every bit. (Registering every bank's output in the
fabric instead congested the routing next to the block RAMs of a nearly full ECP5-25F.)
A memory of one bank is a plain memory with a registered output.

A memory of fewer than :data:`LOGIC_ROWS` rows (a conv layer's kernels: ``C_in·k·k·G``)
is marked for LUTs (yosys ``ram_style = "logic"``): yosys would otherwise spend a block
RAM on 9 rows, and the fit estimate (``build.fit``, which leaves such memories out)
would be short of what nextpnr places (the UP5K's 30 block RAMs run out first).

Latency: ``data`` holds the row addressed ``latency`` cycles earlier (2 with one bank,
3 with more).

With ``outreg`` (ECP5 board builds, ``NetworkCore(bram_outreg=True)``) each bank is DP16KD
instances with the block's own output register (:mod:`.dp16kd`, 1024 rows of 18 bits):
the row leaves the block register 0.97 ns after the clock instead of the read's 5.6 ns.
One bank: the block register is followed by ``data``, a fabric register (latency 3: the
blocks of a wide row sit in block-RAM rows across the die, far from the multipliers; the
hop to ``data`` then starts at 0.97 ns and the multiply at a flip-flop). Several: each
bank's output is gated by its (delayed) select and ORed by :data:`OR_GROUP` into a
register, then into ``data`` (latency 4). ``data_next`` is what ``data`` takes at the next
edge: a direct layer built for ECP5 registers it in its MULT18X18D blocks instead
(:mod:`.mult18x18d`), and yosys removes the unused bits of ``data``.
"""

from __future__ import annotations

import numpy as np
from amaranth import Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from . import dp16kd

__all__ = ["WeightMemory", "OR_GROUP", "LOGIC_ROWS", "read_latency"]

#: Banks whose (zeroed) outputs one LUT level ORs before a register.
OR_GROUP = 4
#: A weight memory shallower than this is kept in LUTs (``build.fit.MIN_BRAM_DEPTH``).
LOGIC_ROWS = 128


def read_latency(banks: int, outreg: bool) -> int:
    """Cycles from an address to its row: 2 for one bank, 3 for several, one more with
    ``outreg`` (the module docstring)."""
    return (2 if banks == 1 else 3) + (1 if outreg else 0)


class WeightMemory(wiring.Component):
    """Read-only weight rows, banked, with a registered output.

    Parameters
    ----------
    shape : ShapeCastable
        One row (``ArrayLayout(signed(w_bits), lanes)``).
    rows : array-like [depth, lanes]
        The memory image.
    bank_rows : int
        Rows per bank (a power of two).
    outreg : bool
        Banks of DP16KD instances with their output register (:mod:`.dp16kd`; at most
        1024 rows per bank; only for memories of :data:`LOGIC_ROWS` rows or more).
    addr_fanout : int
        With ``outreg`` and one bank: blocks per copy of the address (``addr_dup``); 0
        (the default): every block reads ``addr``.

    Attributes
    ----------
    addr : unsigned(ceil(log2 depth)), in
        Row to read.
    data : shape, out
        The row addressed ``latency`` cycles earlier.
    data_next : shape, out
        What ``data`` takes at the next clock edge (the row addressed ``latency - 1`` cycles
        earlier): for a register outside the memory in its place, such as a MULT18X18D's
        input register (:mod:`.mult18x18d`).
    addr_dup : ArrayLayout(unsigned(len(addr)), addr_copies), in
        Only with ``addr_copies > 0``: copies of ``addr`` (registers, each equal to the
        address in every cycle), each read by an equal share of the blocks (at most
        ``addr_fanout``; :func:`.dp16kd.rom_outreg`): a wide row's
        blocks sit across the die, and one register driving every block's address pins
        was the 85F ``128x3`` build's critical path (docs/hardware.md). ``addr`` is then
        unused.
    addr_copies : int
        The number of copies (0 without them).
    latency : int
        2 for one bank, 3 for several (3 and 4 with ``outreg``).
    banks : int
        Number of banks.
    """

    def __init__(self, *, shape, rows, bank_rows: int, outreg: bool = False,
                 addr_fanout: int = 0):
        if bank_rows < 1 or bank_rows & (bank_rows - 1):
            raise ValueError(f"bank_rows must be a power of two >= 1, not {bank_rows!r}")
        if outreg and bank_rows > dp16kd.ROWS:
            raise ValueError(f"bank_rows must be at most {dp16kd.ROWS} with outreg, "
                             f"not {bank_rows!r}")
        self._rows = [list(map(int, r)) for r in np.asarray(rows, np.int64)]
        self._shape = shape
        self.depth = len(self._rows)
        self.bank_rows = int(bank_rows)
        self.banks = max(1, -(-self.depth // self.bank_rows))
        self.outreg = bool(outreg) and self.depth >= LOGIC_ROWS
        self.latency = read_latency(self.banks, self.outreg)
        if addr_fanout < 0:
            raise ValueError(f"addr_fanout must be >= 0, not {addr_fanout!r}")
        self.addr_copies = 0
        if addr_fanout and self.outreg and self.banks == 1:
            width = Shape.cast(shape).width
            self.addr_copies = -(-dp16kd.blocks(self._raw(self._rows), width) // addr_fanout)
        ports = {"addr": In(range(max(2, self.depth))), "data": Out(shape),
                 "data_next": Out(shape)}
        if self.addr_copies:
            abits = Shape.cast(range(max(2, self.depth))).width
            ports["addr_dup"] = In(data.ArrayLayout(unsigned(abits), self.addr_copies))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        if self.outreg:
            return self._elaborate_outreg(m)
        if self.banks == 1:
            m.submodules.bank0 = mem = memory.Memory(
                shape=self._shape, depth=self.depth, init=self._rows
            )
            if self.depth < LOGIC_ROWS:
                mem.attrs["ram_style"] = "logic"
            rd = mem.read_port()
            m.d.comb += [rd.addr.eq(self.addr), self.data_next.eq(rd.data)]
            m.d.sync += self.data.eq(self.data_next)
            return m
        low = self.bank_rows.bit_length() - 1
        sel = self.addr[low:]
        width = Shape.cast(self._shape).width

        def bank(k, image):
            mem = memory.Memory(shape=self._shape, depth=len(image), init=image)
            m.submodules[f"bank{k}"] = mem
            # An asynchronous read port, then a register that is zero unless this bank
            # is addressed: yosys merges the two into the block RAM's synchronous read
            # with its synchronous output reset (DP16KD RESETMODE=SYNC).
            rd = mem.read_port(domain="comb")
            q = Signal(width, name=f"bank{k}_q")
            m.d.comb += rd.addr.eq(self.addr[:low])
            with m.If(sel == k):
                m.d.sync += q.eq(rd.data)
            with m.Else():
                m.d.sync += q.eq(0)
            return q

        return self._or_banks(m, bank)

    def _or_banks(self, m: Module, bank) -> Module:
        """``data`` = the OR of every bank's (zero unless addressed) output ``bank(k, rows)``:
        :data:`OR_GROUP` of them by one LUT level into a register, those into ``data``."""
        width = Shape.cast(self._shape).width
        partial = []
        for first in range(0, self.banks, OR_GROUP):
            word = 0
            for k in range(first, min(first + OR_GROUP, self.banks)):
                word = word | bank(k, self._rows[k * self.bank_rows:(k + 1) * self.bank_rows])
            p = Signal(width, name=f"or{first // OR_GROUP}_q")
            m.d.sync += p.eq(word)
            partial.append(p)
        merged = 0
        for p in partial:
            merged = merged | p
        m.d.comb += self.data_next.eq(merged)
        m.d.sync += self.data.eq(self.data_next)
        return m

    def _raw(self, rows) -> list[int]:
        """Rows as unsigned ints of the row width (lane ``j`` in bits ``j*w ...``)."""
        layout = Shape.cast(self._shape).width // max(1, len(self._rows[0]))
        mask = (1 << layout) - 1
        return [sum((int(v) & mask) << (j * layout) for j, v in enumerate(r)) for r in rows]

    def _elaborate_outreg(self, m: Module) -> Module:
        width = Shape.cast(self._shape).width
        if self.banks == 1:
            addr = ([self.addr_dup[k] for k in range(self.addr_copies)] if self.addr_copies
                    else self.addr)
            q = dp16kd.rom_outreg(m, "bank0", self._raw(self._rows), width, addr)
            m.d.comb += self.data_next.eq(q)
            m.d.sync += self.data.eq(self.data_next)
            return m
        low = self.bank_rows.bit_length() - 1
        sel = [self.addr[low:]]
        for k in range(2):  # the select of the row now in each block's output register
            d = Signal.like(sel[0], name=f"sel_d{k + 1}")
            m.d.sync += d.eq(sel[-1])
            sel.append(d)
        return self._or_banks(m, lambda k, image: Mux(
            sel[2] == k, dp16kd.rom_outreg(m, f"bank{k}", self._raw(image), width,
                                          self.addr[:low]), 0))
