"""Frame parser and builder in amaranth.sim, against the protocol codec and the board model."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from spikefab.driver.board_model import BoardModel
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import (
    ErrorCode,
    ErrorReply,
    Frame,
    FrameType,
    crc16,
    decode_frame,
    encode_frame,
    encode_sample,
)
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec
from spikefab_hdl.board.framing import Command, FrameBuilder, FrameParser

TIMEOUT = 40


def _net(encoding="direct", n_in=10, in_bits=4, timesteps=3):
    spec = NetworkSpec(
        layers=(
            LayerSpec(n_in, 4, w_bits=4, b_bits=6, neuron=LIFSpec(v_bits=10, theta=9)),
            LayerSpec(4, 3, w_bits=4, b_bits=6),
        ),
        timesteps=timesteps,
        encoding=encoding,
        in_bits=in_bits if encoding == "direct" else 1,
    )
    rng = np.random.default_rng(3)
    ws = [rng.integers(-7, 8, (lay.n_out, lay.n_in)) for lay in spec.layers]
    bs = [rng.integers(-9, 9, lay.n_out) for lay in spec.layers]
    return QuantizedNetwork(spec, ws, bs)


def run_parser(net, script, *, gap=2, pack=True):
    """Drive the parser with ``script``: bytes, ("idle",) pauses and ("uart_err",) pulses.

    Returns the commands as (id, ErrorReply / "INFO" / ("INFER", buffer contents)).
    """
    model = BoardModel(net, clk_hz=1, pack=pack)
    dut = FrameParser(info=model.info, timeout_cycles=TIMEOUT)
    buffer = {}
    out = []

    async def collect(ctx):
        ctx.set(dut.o_cmd.ready, 1)
        async for _, _, w_en, w_addr, w_data, valid, cmd in ctx.tick().sample(
                dut.w_en, dut.w_addr, dut.w_data, dut.o_cmd.valid, dut.o_cmd.payload):
            if w_en:
                buffer[w_addr] = w_data
            if valid:
                kind = Command(cmd.kind)
                if kind == Command.ERROR:
                    out.append((cmd.id, ErrorReply(cmd.code, cmd.type, cmd.arg)))
                elif kind == Command.INFO:
                    out.append((cmd.id, "INFO"))
                else:
                    out.append((cmd.id, ("INFER", dict(buffer))))

    async def drive(ctx):
        for item in script:
            if item == "idle":
                await ctx.tick().repeat(TIMEOUT + 5)
            elif item == "uart_err":
                ctx.set(dut.uart_err, 1)
                await ctx.tick()
                ctx.set(dut.uart_err, 0)
            else:
                for byte in item:
                    while not ctx.get(dut.i_stream.ready):  # a packed byte's second value
                        await ctx.tick()
                    ctx.set(dut.i_stream.payload, byte)
                    ctx.set(dut.i_stream.valid, 1)
                    await ctx.tick()
                    if gap:
                        ctx.set(dut.i_stream.valid, 0)
                        await ctx.tick().repeat(gap)
                ctx.set(dut.i_stream.valid, 0)
                await ctx.tick().repeat(4)  # the host waits for the answer between frames
        await ctx.tick().repeat(TIMEOUT + 5)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(collect)
    sim.add_testbench(drive)
    sim.run()
    return model, out


def _model_replies(model, script):
    replies = []
    for item in script:
        if item == "idle":
            replies += model.idle()
        elif item == "uart_err":
            replies += model.uart_error()
        else:
            replies += model.feed(item)
    replies += model.idle()
    return replies


@pytest.mark.parametrize("gap", [0, 3])
@pytest.mark.parametrize("encoding, in_bits, n_in, pack", [
    ("direct", 4, 10, True), ("direct", 4, 9, True), ("direct", 2, 7, True),
    ("direct", 4, 10, False), ("direct", 8, 5, True), ("direct", 12, 6, True),
    ("spikes", 1, 10, True), ("spikes", 1, 16, True),
])
def test_parser_requests_and_sample_buffer(encoding, in_bits, n_in, pack, gap):
    net = _net(encoding, n_in=n_in, in_bits=in_bits)
    info = BoardModel(net, clk_hz=1, pack=pack).info
    assert info.value_bits == {1: 1, 2: 4, 4: 4 if pack else 8, 8: 8, 12: 16}[in_bits]
    rng = np.random.default_rng(n_in + in_bits)
    if encoding == "direct":
        x = rng.integers(0, 1 << in_bits, n_in)
    else:
        x = rng.integers(0, 2, (3, n_in))
    sample = encode_sample(info, x)
    script = [b"\x00\x13", encode_frame(FrameType.INFO_REQ, b"", 0xA5A5),
              encode_frame(FrameType.INFER_REQ, sample, 0x1234)]
    model, out = run_parser(net, script, gap=gap, pack=pack)
    assert out[0] == (0xA5A5, "INFO")
    rid, (kind, buffer) = out[1]
    assert (rid, kind, len(out)) == (0x1234, "INFER", 2)
    if encoding == "direct":
        want = {i: int(v) for i, v in enumerate(x)}
    else:
        want = dict(enumerate(sample))
    assert buffer == want


def _expect(replies):
    return [(r.rid, r.error if r.type == FrameType.ERROR else
             ("INFO" if r.type == FrameType.INFO else "INFER")) for r in replies]


@pytest.mark.parametrize("encoding, in_bits, n_in, bad_value, bad_at", [
    ("direct", 6, 10, bytes([0] * 6 + [64] + [0] * 2 + [255]), 6),
    # packed: 3-bit values 5 (high nibble 8) at offset 2; the padding nibble at offset 4
    ("direct", 3, 9, bytes([0, 0, 0x80, 0, 0x10]), 2),
    ("direct", 4, 9, bytes([0, 0xFF, 0, 0, 0x1F]), 4),
    ("spikes", 1, 10, bytes([0, 0, 0, 0x80, 0, 0x04]), 3),  # padding bits in rows 1 and 2
])
def test_parser_errors_match_board_model(encoding, in_bits, n_in, bad_value, bad_at):
    net = _net(encoding, n_in=n_in, in_bits=in_bits)
    info = BoardModel(net, clk_hz=1).info
    assert len(bad_value) == info.sample_len
    good = encode_frame(FrameType.INFER_REQ, bytes(info.sample_len), 0x0B0A)
    corrupt = bytearray(good)
    corrupt[7] ^= 0x40
    script = [
        encode_frame(0x07, b"", 1), good, "idle",  # unknown type, then drained
        encode_frame(FrameType.INFER_REQ, bytes(info.sample_len + 1), 2), "idle",
        encode_frame(FrameType.INFO_REQ, b"x", 3), "idle",
        bytes(corrupt), "idle",
        encode_frame(FrameType.INFER_REQ, bad_value, 0xFFFF), "idle",
        good[:7], "idle",  # truncated: TIMEOUT
        good[:3], "idle",  # truncated in ID: TIMEOUT with the low ID byte only
        good[:5], "uart_err", good[5:], "idle",  # UART error mid-frame, rest drained
        good,
    ]
    model, out = run_parser(net, script)
    want = _expect(_model_replies(BoardModel(net, clk_hz=1), script))
    got = [(rid, o if not isinstance(o, tuple) else "INFER") for rid, o in out]
    assert got == want
    assert want[:8] == [
        (1, ErrorReply(ErrorCode.TYPE, 7, 0)),
        (2, ErrorReply(ErrorCode.LENGTH, 2, info.sample_len)),
        (3, ErrorReply(ErrorCode.LENGTH, 1, 0)),
        (0x0B0A, ErrorReply(ErrorCode.CRC, 2, crc16(bytes(corrupt[1:-2])))),
        (0xFFFF, ErrorReply(ErrorCode.VALUE, 2, bad_at)),
        (0x0B0A, ErrorReply(ErrorCode.TIMEOUT, 2, 6)),
        (0x000A, ErrorReply(ErrorCode.TIMEOUT, 2, 2)),
        (0x0B0A, ErrorReply(ErrorCode.UART, 2, 4)),
    ]
    assert want[8] == (0x0B0A, "INFER")


def test_parser_ignores_bytes_while_busy():
    net = _net()
    model = BoardModel(net, clk_hz=1)
    dut = FrameParser(info=model.info, timeout_cycles=TIMEOUT)
    frame = encode_frame(FrameType.INFO_REQ, b"", 1)
    cmds = []

    async def bench(ctx):
        ctx.set(dut.o_cmd.ready, 1)
        for busy in (1, 0):
            ctx.set(dut.busy, busy)
            for byte in frame:
                ctx.set(dut.i_stream.payload, byte)
                ctx.set(dut.i_stream.valid, 1)
                await ctx.tick()
                cmds.append(ctx.get(dut.o_cmd.valid))
            ctx.set(dut.i_stream.valid, 0)
            for _ in range(3):
                await ctx.tick()
                cmds.append(ctx.get(dut.o_cmd.valid))
        assert sum(cmds) == 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_parser_bad_timeout():
    with pytest.raises(ValueError, match=r"^timeout_cycles must be an integer >= 2, not 1$"):
        FrameParser(info=BoardModel(_net(), clk_hz=1).info, timeout_cycles=1)


@pytest.mark.parametrize("payload", [b"", bytes([0xA5]), bytes(range(40))])
def test_builder_frames_decode(payload):
    dut = FrameBuilder()
    sent = []

    async def source(ctx):
        for ftype, rid in ((FrameType.RESULT, 0x1234), (FrameType.ERROR, 0xFFFF)):
            ctx.set(dut.i_head.payload, {"type": ftype, "id": rid, "length": len(payload)})
            ctx.set(dut.i_head.valid, 1)
            await ctx.tick().until(dut.i_head.ready)
            ctx.set(dut.i_head.valid, 0)
            for i, byte in enumerate(payload):
                ctx.set(dut.i_payload.payload, byte)
                ctx.set(dut.i_payload.valid, 1)
                await ctx.tick().until(dut.i_payload.ready)
                ctx.set(dut.i_payload.valid, 0)
                if i % 3 == 0:
                    await ctx.tick()  # source stalls

    async def sink(ctx):
        n = 0
        while len(sent) < 2 * (len(payload) + 8):
            ready = n % 4 != 1  # and the sink applies backpressure
            ctx.set(dut.o_stream.ready, ready)
            _, _, valid, byte = await ctx.tick().sample(dut.o_stream.valid, dut.o_stream.payload)
            if valid and ready:
                sent.append(byte)
            n += 1
        await ctx.tick().repeat(4)
        assert ctx.get(dut.idle)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    data = bytes(sent)
    assert data == encode_frame(FrameType.RESULT, payload, 0x1234) + encode_frame(
        FrameType.ERROR, payload, 0xFFFF)
    frame, rest = decode_frame(data)
    assert frame == Frame(FrameType.RESULT, payload, 0x1234)
