"""Proof 3b at the full sample length (docs/verification.md): the parser's induction at the
shipped configs' lengths, a planted bug that shows only past 255 payload bytes, and whole
requests of the real length run through the proof's own harness in simulation (every
check and assumption of the harness an assertion there): the properties the induction
proves are met by real frames, not made vacuous by the harness's assumptions."""

import random
from dataclasses import replace

import pytest
from amaranth.sim import Simulator
from mutants import mutant
from spikefab.protocol import FrameType, NetInfo, encode_frame, encode_sample
from spikefab_hdl.board.framing import Command, FrameParser
from spikefab_hdl.formal.framing import framing_proofs, proof_info
from spikefab_hdl.formal.network import prove
from spikefab_hdl.formal.parser import ParserHarness

# the shipped configs' requests: digits and MNIST, 4-bit pixels packed two a byte (32 and
# 392 bytes) or one a byte (64 and 784)
SHIPPED = {"digits": (64, True), "mnist": (784, True), "digits-bytes": (64, False),
           "mnist-bytes": (784, False)}


def _info(n_in, pack=True):
    return NetInfo("direct", 4, 2, n_in, 10, 4, 1, 12_000_000, value_bits=4 if pack else 8)


def _wrapping_parser(which="pos"):
    """The payload offset (``pos``) or the byte count after SYNC (``count``, an error's
    argument) 8 bits wide: it wraps after 256 bytes (their range is the sample's)."""
    old = {"pos": "pos = Signal(range(info.sample_len + 1))",
           "count": "count = Signal(range(info.sample_len + 10))"}[which]
    return mutant(FrameParser, old, f"{which} = Signal(8)")


def _run(tmp_path, proofs):
    return prove(proofs, work=tmp_path / "work", out=tmp_path / "out", jobs=2, timeout=300)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_parser_is_proven_at_the_full_sample_length(tmp_path, name):
    info = _info(*SHIPPED[name])
    proofs = [p for p in framing_proofs(info) if p.name == "board.parser"]
    assert proofs[0].mode == "prove" and f"{info.sample_len}-byte requests" in proofs[0].what
    results = _run(tmp_path, proofs)
    assert [r.line() for r in results if not r.passed] == []


@pytest.mark.parametrize("which", ["pos", "count"])
def test_a_counter_wrapping_at_256_fails_only_the_full_length_proof(tmp_path, which):
    info = _info(784)
    bad = _wrapping_parser(which)
    proof = [p for p in framing_proofs(info, parser=bad) if p.name == "board.parser"][0]
    r = _run(tmp_path, [proof])[0]
    assert not r.passed, r.line()
    text = {"pos": "its payload offset the payload bytes received",
            "count": "the parser's byte count is the bytes received after SYNC"}[which]
    assert any(text in t for t in r.failed), r.failed
    assert r.trace is not None and r.trace.is_file()
    # the bounded proof of a cut sample that the induction replaced does not see it, nor
    # does the induction at a sample of at most 255 bytes
    cover = [p for p in framing_proofs(proof_info(info), parser=bad)
             if p.name == "board.parser-cover"][0]
    old = replace(cover, name="old-bmc", mode="bmc")
    digits = [p for p in framing_proofs(_info(64), parser=bad) if p.name == "board.parser"][0]
    assert [r.line() for r in _run(tmp_path, [old, digits]) if not r.passed] == []


def _requests(info, harness, frames, *, seed):
    """Send ``frames`` (bytes) through ``harness`` at a random pace, the commands taken at a
    random delay; the commands' kinds and IDs."""
    rng = random.Random(seed)
    got = []

    async def bench(ctx):
        dut = harness.dut  # there once the simulator has elaborated the harness
        ctx.set(harness.watch, rng.randrange(harness.depth))
        for frame in frames:
            for byte in frame:
                for _ in range(rng.choice([0, 0, 0, 1, 3])):
                    await ctx.tick()
                ctx.set(harness.s_valid, 1)
                ctx.set(harness.s_byte, byte)
                while not ctx.get(dut.i_stream.ready):
                    await ctx.tick()
                await ctx.tick()
                ctx.set(harness.s_valid, 0)
            for _ in range(rng.choice([0, 2, 5])):
                await ctx.tick()
            ctx.set(harness.c_ready, 1)
            for _ in range(20):
                if ctx.get(dut.o_cmd.valid):
                    break
                await ctx.tick()
            else:
                return  # no command: the monitor has the checks that failed
            got.append((Command(ctx.get(dut.o_cmd.payload.kind)), ctx.get(dut.o_cmd.payload.id)))
            await ctx.tick()
            ctx.set(harness.c_ready, 0)
        for _ in range(8):  # the checks a few cycles on
            await ctx.tick()

    async def monitor(ctx):  # every property sampled at every clock edge
        names = list(harness.signals)
        cycle = 0
        async for _, _, *values in ctx.tick().sample(*harness.signals.values()):
            for name, value in zip(names, values, strict=True):
                if name.startswith(("ok_", "asm_")) and not value:
                    failed.setdefault(name, cycle)
                if name.startswith("cov_") and value:
                    covered.add(name)
            cycle += 1

    harness.simulated = True
    covered, failed = set(), {}
    sim = Simulator(harness)
    sim.add_clock(1e-6)
    sim.add_process(monitor)
    sim.add_testbench(bench)
    sim.run()
    if failed:
        raise AssertionError("; ".join(f"{name} low from cycle {cycle}: {harness.texts[name]}"
                                       for name, cycle in failed.items()))
    assert covered == set(harness.covers())
    return got


def _frames(info, seed, count=2):
    rng = random.Random(seed)
    out = []
    for k in range(count):
        x = [rng.randrange(1 << info.in_bits) for _ in range(info.n_in)]
        out.append(encode_frame(FrameType.INFER_REQ, encode_sample(info, x), 0x1234 + k))
    return out


@pytest.mark.parametrize("name", ["digits", "mnist", "mnist-bytes"])
def test_whole_requests_of_the_real_length_meet_the_harness(name):
    """The cover at the real length: two requests of the shipped length, back to back, run
    through the proof's harness in simulation; every check and assumption holds in every
    cycle, and each gives its INFER with its ID."""
    info = _info(*SHIPPED[name])
    harness = ParserHarness(info=info)
    got = _requests(info, harness, _frames(info, 5), seed=1)
    assert got == [(Command.INFER, 0x1234), (Command.INFER, 0x1235)]


def test_the_wrapping_parser_fails_a_real_request():
    """The planted bug is real: a 392-byte request through the harness breaks a check."""
    info = _info(784)
    harness = ParserHarness(info=info, parser=_wrapping_parser())
    with pytest.raises(AssertionError) as e:
        _requests(info, harness, _frames(info, 5, count=1), seed=1)
    # the invariant first, then the request's own properties: no command (deadlock) and
    # the sample buffer written after the frame's last byte
    assert "ok_inv_regs low" in str(e.value)
    assert "ok_progress low" in str(e.value), str(e.value)
