"""What the framing harnesses share (formal/parser.py, formal/builder.py): the response
bound, the parser's timeout in the proofs, the stream protocol of a driven stream."""

from __future__ import annotations

from amaranth import Signal

__all__ = ["PROGRESS", "TIMEOUT_CYCLES", "held"]

#: Cycles a ready sink waits at most for a frame's next byte (builder), or the parser's
#: command after a frame's last byte.
PROGRESS = 3
#: The parser's frame timeout in the proofs (a real board's is 0.5 s of clock cycles): the
#: host sends each byte of a frame within it (assumed), so no frame times out.
TIMEOUT_CYCLES = 1 << 16


def held(h, m, valid, ready, payload, name):
    """Assume the stream protocol for a stream the harness ``h`` drives: a ``valid`` beat
    stays, unchanged, until ``ready``."""
    stalled = Signal(name=f"{name}_stalled")
    prev = Signal.like(payload, name=f"{name}_prev")
    m.d.sync += [stalled.eq(valid & ~ready), prev.eq(payload)]
    h.assume(~stalled | (valid & (payload == prev)))
