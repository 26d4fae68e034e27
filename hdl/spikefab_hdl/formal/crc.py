"""The framing proofs' reference CRC: docs/protocol.md's CRC-16/CCITT-FALSE (poly 0x1021,
init 0xFFFF, MSB first, no reflection, no final XOR), one byte at a time, written again in
the proof's own terms: the bit-serial shift register of the definition (the gateware's
``amaranth.lib.crc`` processor computes a byte at once from its GF(2) matrices).

The harnesses keep a running reference CRC beside the gateware's, start it where a frame
starts, step it with every byte the CRC covers (TYPE .. the payload's last byte) and check
the two equal after every byte: a one-byte step of two XOR networks is all the solver
compares, never a whole frame, and the equality is the whole invariant.
"""

from __future__ import annotations

from amaranth import Const, Mux, Signal
from spikefab.protocol.frames import CRC_INIT, CRC_POLY

__all__ = ["CRC_INIT", "RunningCRC", "crc16_step"]


def crc16_step(crc, byte, *, poly: int = CRC_POLY):
    """The CRC after one more ``byte``: ``crc ^= byte << 8``, then 8 times: shift left,
    XOR ``poly`` when the bit shifted out was 1 (an Amaranth expression, 16 bits)."""
    c = (crc ^ (byte << 8))[:16]
    for _ in range(8):
        c = ((c << 1)[:16] ^ Mux(c[15], Const(poly, 16), 0))[:16]
    return c


class RunningCRC:
    """A reference CRC register in the harness ``m``: ``start`` (this cycle) sets it to
    ``CRC_INIT``, ``step`` (this cycle) feeds it ``byte``; ``value`` is the CRC of the bytes
    fed since the last start."""

    def __init__(self, m, *, start, step, byte, name: str = "ref_crc"):
        self.value = Signal(16, name=name, init=CRC_INIT)
        with m.If(step):
            m.d.sync += self.value.eq(crc16_step(self.value, byte))
        with m.Elif(start):
            m.d.sync += self.value.eq(CRC_INIT)
