"""Proof 3b (docs/verification.md): the UART framing drops, duplicates and reorders no byte
or value and never deadlocks; the proofs bite on a dropped byte."""

from dataclasses import replace

import pytest
from mutants import mutant
from spikefab.protocol import NetInfo
from spikefab_hdl.board import framing
from spikefab_hdl.board.framing import FrameBuilder, FrameParser
from spikefab_hdl.formal.framing import (
    COVER_MAX_DEPTH,
    framing_proofs,
    parser_depth,
    proof_info,
)
from spikefab_hdl.formal.network import prove

# (encoding, in_bits, n_in): packed 4-bit values (odd n_in: a padding nibble; 101 bytes, a
# request longer than the parser's cover reaches: its cover is of the cut sample), 8-bit,
# 16-bit little-endian values, spike rows with padding bits
INFOS = {"packed": ("direct", 4, 201), "byte": ("direct", 7, 10), "wide": ("direct", 12, 5),
         "spikes": ("spikes", 1, 13)}


def _info(name):
    encoding, in_bits, n_in = INFOS[name]
    return NetInfo(encoding, in_bits, 2, n_in, 3, 4, 1, 12_000_000)


def _run(tmp_path, proofs):
    return prove(proofs, work=tmp_path / "work", out=tmp_path / "out", jobs=2, timeout=300)


@pytest.mark.parametrize("name", sorted(INFOS))
def test_the_parser_is_proven_for_every_encoding(tmp_path, name):
    info = _info(name)
    small = proof_info(info)
    assert (small.encoding, small.in_bits, small.value_bits) == \
        (info.encoding, info.in_bits, info.value_bits)
    pad = {"packed": 2, "spikes": 8}.get(name)  # the padding the small sample keeps
    assert pad is None or small.n_in % pad == info.n_in % pad
    assert small.sample_len <= 4
    proofs = [p for p in framing_proofs(info) if p.name.startswith("board.parser")]
    assert f"{info.sample_len}-byte requests" in proofs[0].what  # the induction: full length
    cut = parser_depth(info) > COVER_MAX_DEPTH  # the cover: full length when it is short
    assert cut == (name == "packed")
    assert f"{(small if cut else info).sample_len}-byte requests" in proofs[1].what
    results = _run(tmp_path, proofs)
    assert [r.line() for r in results if not r.passed] == []
    assert [r.mode for r in results] == ["prove", "cover"]


def test_the_builder_is_proven(tmp_path):
    proofs = [p for p in framing_proofs(_info("packed")) if p.name.startswith("board.builder")]
    results = _run(tmp_path, proofs)
    assert [r.line() for r in results if not r.passed] == []
    assert [r.name for r in results] == ["board.builder", "board.builder-cover"]


def _fails(tmp_path, info, name, text, **bad):
    """The induction ``name`` (what ``spikefab formal`` runs) of the gateware ``bad``
    (``parser=`` or ``builder=``) fails, naming ``text``; so does a BMC of the cover's
    harness of :func:`proof_info` from the initial state (a real trace, not one from a state
    no run reaches): a whole request of the cut sample, or a builder's 14 cycles."""
    proof = [p for p in framing_proofs(info, **bad) if p.name == name][0]
    cover = [p for p in framing_proofs(proof_info(info), **bad) if p.name == f"{name}-cover"]
    bmc = replace(cover[0], name=f"{name}-bmc", mode="bmc")
    r, b = _run(tmp_path, [proof, bmc])
    assert not r.passed and any(text in t for t in r.failed), (r.line(), r.failed)
    assert b.status == "FAIL" and any(text in t for t in b.failed), (b.line(), b.failed)
    assert b.trace is not None and b.trace.is_file()


def test_a_parser_that_drops_a_byte_fails_the_proof(tmp_path):
    # the byte that arrives while a packed byte's high nibble is written is taken, unused
    bad = mutant(FrameParser, "self.i_stream.ready.eq(~hold)", "self.i_stream.ready.eq(1)")
    _fails(tmp_path, _info("packed"), "board.parser",
           "the parser holds a packed byte's high nibble", parser=bad)


def test_a_builder_that_drops_a_byte_fails_the_proof(tmp_path):
    # a payload byte taken while the UART is not ready is lost
    bad = mutant(FrameBuilder, "self.i_payload.ready.eq(out.ready)",
                 "self.i_payload.ready.eq(1)")
    _fails(tmp_path, _info("packed"), "board.builder", "the builder keeps no payload byte",
           builder=bad)


def _wrong_polynomial(monkeypatch):
    """The gateware's CRC with one polynomial bit wrong (0x1023 for 0x1021)."""
    from amaranth.lib.crc import Algorithm
    algo = Algorithm(crc_width=16, polynomial=0x1023, initial_crc=0xFFFF,
                     reflect_input=False, reflect_output=False, xor_output=0)
    monkeypatch.setattr(framing, "_crc_processor", lambda: algo(data_width=8).create())


CRC = "running CRC is the CRC-16"


def test_a_builder_with_a_wrong_crc_polynomial_fails_the_proof(tmp_path, monkeypatch):
    _wrong_polynomial(monkeypatch)
    _fails(tmp_path, _info("packed"), "board.builder", CRC)


def test_a_parser_with_a_wrong_crc_polynomial_fails_the_proof(tmp_path, monkeypatch):
    _wrong_polynomial(monkeypatch)
    _fails(tmp_path, _info("byte"), "board.parser", CRC)


def test_a_builder_whose_crc_skips_a_payload_byte_fails_the_proof(tmp_path):
    # the last payload byte is sent but not added into the CRC
    bad = mutant(FrameBuilder, "crc.valid.eq(sent),\n", "crc.valid.eq(sent & (left != 1)),\n")
    _fails(tmp_path, _info("packed"), "board.builder", CRC, builder=bad)


def test_a_parser_whose_crc_skips_a_byte_fails_the_proof(tmp_path):
    # the ID's high byte is received but not added into the CRC
    bad = mutant(FrameParser, 'if state not in ("Crc0", "Crc1"):',
                 'if state not in ("Crc0", "Crc1", "Id1"):')
    _fails(tmp_path, _info("spikes"), "board.parser", CRC, parser=bad)


def test_the_reference_crc_step_is_the_protocols_crc():
    """formal/crc.py's byte step against spikefab.protocol's CRC (its check value included)."""
    import random

    from amaranth import Module, Signal
    from amaranth.sim import Simulator
    from spikefab.protocol.frames import crc16
    from spikefab_hdl.formal.crc import CRC_INIT, crc16_step

    m = Module()
    crc, byte, out = Signal(16), Signal(8), Signal(16)
    m.d.comb += out.eq(crc16_step(crc, byte))
    rng = random.Random(1)
    got = []

    async def bench(ctx):
        value = CRC_INIT
        for b in b"123456789":
            ctx.set(crc, value)
            ctx.set(byte, b)
            value = ctx.get(out)
        got.append(value)
        for _ in range(300):
            c, b = rng.randrange(1 << 16), rng.randrange(256)
            ctx.set(crc, c)
            ctx.set(byte, b)
            got.append((ctx.get(out), crc16(bytes([b]), c)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got[0] == 0x29B1
    assert all(a == b for a, b in got[1:])
