"""Proof 3b: the UART framing drops, duplicates and reorders no byte or value, and never
deadlocks, under any valid/ready pattern (docs/protocol.md's frames), at the network's own
sample length and for every frame length the builder is given, by k-induction.

The UART's bit level is abstracted away: the harnesses drive the byte streams of
:class:`~spikefab_hdl.board.framing.FrameBuilder` (:class:`~.builder.BuilderHarness`) and
:class:`~spikefab_hdl.board.framing.FrameParser` (:class:`~.parser.ParserHarness`)
directly. Every stream the harness drives obeys the stream protocol (assumed); every
``ready`` and ``valid`` is otherwise free in every cycle. Each harness states the block's
state as a function of the frame position (its invariant), so that the induction closes in
a few cycles whatever the frame's length. The parser's cover reaches a whole request of the
network's own length when that is short (:data:`COVER_MAX_DEPTH`), else of a sample cut to
a few bytes (:func:`proof_info`: the same generated parser at a smaller length; whole
requests of the real length are run through the same harness in simulation by
tests/test_formal_framing_length.py).
"""

from __future__ import annotations

from dataclasses import replace

from spikefab.protocol import NetInfo

from ..board.framing import FrameBuilder, FrameParser
from .builder import BuilderHarness
from .framing_common import PROGRESS
from .parser import ParserHarness
from .proof import Proof

__all__ = ["framing_proofs", "builder_proofs", "proof_info", "parser_depth", "INDUCTION_DEPTH",
           "COVER_MAX_DEPTH"]

#: k of the framing inductions: their invariants are inductive (k = 1; 2 and 3 take as long).
INDUCTION_DEPTH = 1
#: Depth of the builder's cover: a frame with two payload bytes.
BUILDER_COVER_DEPTH = 14
#: The parser's cover reaches a whole request of the network's own length when it takes at
#: most this many cycles (digits' 32 packed bytes: 77, 13 s here), else one of
#: :func:`proof_info` (MNIST's 392 bytes: 797 cycles; the cover's search passed step 320
#: after 5 minutes, ~1.5 s a step and growing).
COVER_MAX_DEPTH = 80


def builder_proofs(builder=FrameBuilder) -> list[Proof]:
    """The frame builder's induction and cover (the same for every network)."""
    def harness():
        return BuilderHarness(builder=builder)

    return [Proof("board.builder", "frame builder: every byte of a frame in order, none "
                  "dropped or doubled; no deadlock (every LEN)", harness, "prove",
                  INDUCTION_DEPTH, solver="yices"),
            Proof("board.builder-cover", "frame builder: a whole frame sent", harness,
                  "cover", BUILDER_COVER_DEPTH, solver="yices")]


def proof_info(info: NetInfo) -> NetInfo:
    """``info`` with the sample cut to a few bytes: the same encoding, value width and input
    width, and the same padding (``n_in`` odd for packed values; the spike rows' last
    byte's padding bits), so that one whole request fits the bound."""
    if info.encoding == "direct":
        n_in = (4 + info.n_in % 2) if info.value_bits == 4 else 2
        return replace(info, n_in=n_in)
    return replace(info, n_in=info.n_in % 8 or 8, timesteps=2)


def parser_depth(info: NetInfo) -> int:
    """Cycles of one request, bytes back to back (a packed byte's second value takes one
    more cycle), and its command."""
    hold = info.sample_len if info.encoding == "direct" and info.value_bits == 4 else 0
    return info.sample_len + hold + 8 + PROGRESS + 2


def framing_proofs(info: NetInfo, *, parser=FrameParser, builder=FrameBuilder,
                   depth: int = INDUCTION_DEPTH) -> list[Proof]:
    """The board's framing proofs for the network of ``info``: the parser's induction at
    the network's own sample length, its cover (a whole request of that length up to
    :data:`COVER_MAX_DEPTH` cycles, else of :func:`proof_info`), and
    the builder's (the same for every network). ``parser``, ``builder``: planted bugs
    (tests); ``depth``: k of the parser's induction."""
    small = info if parser_depth(info) <= COVER_MAX_DEPTH else proof_info(info)
    values = f"{info.value_bits}-bit values" if info.encoding == "direct" else "spike rows"
    kind = f"frame parser ({info.encoding}, {values}, in_bits {info.in_bits}; "
    what = (f"{kind}{info.sample_len}-byte requests): every value written once, in place; "
            f"one command a request; no deadlock")
    return [Proof("board.parser", what, lambda: ParserHarness(info=info, parser=parser),
                  "prove", depth, solver="yices"),
            Proof("board.parser-cover", f"{kind}{small.sample_len}-byte requests): a whole "
                  f"request parsed", lambda: ParserHarness(info=small, parser=parser),
                  "cover", parser_depth(small), solver="boolector"),
            *builder_proofs(builder)]
