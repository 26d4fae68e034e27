"""Board top in amaranth.sim: bytes in on rx, bytes out on tx, answers checked against golden.

Also the two adapters on their own: the sample feeder's beats and pace, and the result
serializer's bytes.
"""

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import memory
from amaranth.sim import Simulator
from spikefab.driver.board_model import BoardModel
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import (
    ErrorCode,
    ErrorReply,
    FrameDecoder,
    FrameType,
    NetInfo,
    Result,
    decode_result,
    encode_frame,
    encode_result,
    encode_sample,
)
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec
from spikefab_hdl.board.adapters import ResultSerializer, SampleFeeder
from spikefab_hdl.board.top import BoardTop
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.pysim import simulate_amaranth

DIV = 4
TIMEOUT = 200


def _net(encoding, n_in=10, timesteps=3, seed=5):
    spec = NetworkSpec(
        layers=(
            LayerSpec(n_in, 6, w_bits=5, b_bits=6, neuron=LIFSpec(v_bits=10, theta=12,
                                                                  leak_shift=2)),
            LayerSpec(6, 3, w_bits=5, b_bits=6),
        ),
        timesteps=timesteps,
        encoding=encoding,
        in_bits=4 if encoding == "direct" else 1,
    )
    rng = np.random.default_rng(seed)
    ws = [rng.integers(-15, 16, (lay.n_out, lay.n_in)) for lay in spec.layers]
    bs = [rng.integers(-20, 20, lay.n_out) for lay in spec.layers]
    return QuantizedNetwork(spec, ws, bs)


def _sample(net, rng):
    spec = net.spec
    if spec.encoding == "direct":
        return rng.integers(0, 16, spec.n_in)
    return rng.integers(0, 2, (spec.timesteps, spec.n_in))


async def uart_send(ctx, line, data):
    for byte in data:
        for level in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
            ctx.set(line, level)
            await ctx.tick().repeat(DIV)


def uart_monitor(line, sink):
    """A background testbench that decodes 8N1 characters on ``line`` into ``sink``."""

    async def process(ctx):
        while True:
            while ctx.get(line):
                await ctx.tick()
            await ctx.tick().repeat(DIV // 2)
            byte = 0
            for i in range(8):
                await ctx.tick().repeat(DIV)
                byte |= ctx.get(line) << i
            await ctx.tick().repeat(DIV)
            assert ctx.get(line) == 1, "stop bit"
            sink.append(byte)

    return process


def run_top(net, requests, *, settle=3000):
    """Send each request (bytes) and wait for its answer; return the decoded frames."""
    dut = BoardTop(net=net, clk_hz=1_000_000, lanes=2, divisor=DIV, timeout_cycles=TIMEOUT)
    got = []
    frames = []

    async def host(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(10)
        dec = FrameDecoder()
        for req in requests:
            await uart_send(ctx, dut.rx, req)
            for _ in range(settle):
                await ctx.tick().repeat(10)
                new = dec.feed(bytes(got))
                got.clear()
                if new:
                    frames.extend(new)
                    break
            await ctx.tick().repeat(TIMEOUT + 10)  # T_idle before the next request
        assert dec.pending == 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(uart_monitor(dut.tx, got), background=True)
    sim.add_testbench(host)
    sim.run()
    return dut, frames


@pytest.mark.parametrize("encoding", ["direct", "spikes"])
def test_top_answers_like_golden(encoding):
    net = _net(encoding)
    model = BoardModel(net, clk_hz=1_000_000)
    rng = np.random.default_rng(11)
    samples = [_sample(net, rng) for _ in range(3)]
    if encoding == "spikes":
        samples[0][:] = 0  # a sample with no input spike at all
    reqs = [encode_frame(FrameType.INFO_REQ, b"", 0xFFFF)]
    reqs += [encode_frame(FrameType.INFER_REQ, encode_sample(model.info, x), 0x1000 + i)
             for i, x in enumerate(samples)]
    reqs.append(encode_frame(FrameType.INFER_REQ, b"\x01", 0x00FF))  # wrong length
    reqs.append(reqs[1])  # works again after the error
    dut, frames = run_top(net, reqs)
    assert [f.type for f in frames] == [FrameType.INFO] + [FrameType.RESULT] * 3 + [
        FrameType.ERROR, FrameType.RESULT]
    # every answer echoes its request's id
    assert [f.rid for f in frames] == [0xFFFF, 0x1000, 0x1001, 0x1002, 0x00FF, 0x1000]
    assert NetInfo.from_payload(frames[0].payload) == model.info
    for x, frame in zip(samples + [samples[0]], frames[1:4] + frames[5:], strict=True):
        batch = x[None] if encoding == "direct" else x[:, None]
        run = run_network(net, batch)
        res = decode_result(model.info, frame.payload)
        assert res.prediction == run.prediction[0]
        np.testing.assert_array_equal(res.acc, run.acc[0])
        # the core alone, fed at full rate, counts the same cycles (direct); the spike
        # feeder may add at most one cycle per bitmap byte and step
        alone = int(simulate_amaranth(net, batch, lanes=2, trace=False)["cycles"][0])
        if encoding == "direct":
            assert res.cycles == alone
        else:
            assert alone <= res.cycles <= alone + model.info.sample_len
    assert ErrorReply.from_payload(frames[4].payload) == ErrorReply(
        ErrorCode.LENGTH, FrameType.INFER_REQ, model.info.sample_len)


def test_feeder_spike_beats_and_pace():
    net = _net("spikes", n_in=20, timesteps=2)
    info = NetInfo.from_network(net, 1)
    plan = plan_core(net, lanes=1)
    x = np.zeros((2, 20), np.int64)
    x[0, [0, 3, 7, 19]] = 1  # step 1 has no spike: 3 zero bytes then eos
    m = Module()
    m.submodules.feeder = feeder = SampleFeeder(plan=plan, info=info)
    m.submodules.mem = mem = memory.Memory(shape=8, depth=info.sample_len,
                                           init=list(encode_sample(info, x)))
    rp = mem.read_port()
    m.d.comb += [rp.addr.eq(feeder.r_addr), rp.en.eq(feeder.r_en), feeder.r_data.eq(rp.data)]
    beats, cycles = [], []

    async def bench(ctx):
        ctx.set(feeder.o_stream.ready, 1)
        ctx.set(feeder.start, 1)
        await ctx.tick()
        ctx.set(feeder.start, 0)
        for cycle in range(40):
            _, _, valid, p = await ctx.tick().sample(feeder.o_stream.valid,
                                                      feeder.o_stream.payload)
            if valid:
                beats.append((p.eos, p.data if not p.eos else None))
                cycles.append(cycle)
        assert not ctx.get(feeder.busy)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert beats == [(0, 0), (0, 3), (0, 7), (0, 19), (1, None), (1, None)]
    # one byte read per cycle: 4 address beats, then the eos, then 3 zero bytes and the eos
    assert cycles[-1] - cycles[0] <= 4 + 3 + 1


def test_serializer_bytes():
    net = _net("direct")
    info = NetInfo.from_network(net, 1)
    plan = plan_core(net, lanes=1)
    dut = ResultSerializer(plan=plan, info=info)
    acc = [-3, 2 ** (plan.acc_bits - 1) - 1, -(2 ** (plan.acc_bits - 1))]
    mask = (1 << plan.out_data_bits) - 1
    beats = [a & mask for a in acc] + [1, 0xDEADBEEF]
    out = []

    async def source(ctx):
        for i, raw in enumerate(beats):
            ctx.set(dut.i_stream.payload, {"data": raw, "last": i == len(beats) - 1})
            ctx.set(dut.i_stream.valid, 1)
            await ctx.tick().until(dut.i_stream.ready)
        ctx.set(dut.i_stream.valid, 0)

    async def sink(ctx):
        k = 0
        while len(out) < info.result_len:
            ready = k % 3 != 0
            ctx.set(dut.o_stream.ready, ready)
            _, _, valid, byte = await ctx.tick().sample(dut.o_stream.valid, dut.o_stream.payload)
            if valid and ready:
                out.append(byte)
            k += 1
        assert ctx.get(dut.prediction) == 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    assert bytes(out) == encode_result(info, Result(1, 0xDEADBEEF, np.array(acc)))


def test_status_leds():
    """alive blinks with period 2 * 2^(w-1) cycles, error lights after an ERROR frame and
    goes out, busy is high during an inference, then the prediction's bits show."""
    net = _net("direct", seed=1)
    clk_hz = 400  # a short LED timer: alive toggles every 128 cycles
    dut = BoardTop(net=net, clk_hz=clk_hz, lanes=2, divisor=DIV, timeout_cycles=TIMEOUT,
                   n_leds=5)
    info = NetInfo.from_network(net, clk_hz)
    x = _sample(net, np.random.default_rng(0))
    pred = int(run_network(net, x[None]).prediction[0])
    assert pred == 2  # the LEDs must show a nonzero prediction
    got, trace = [], []

    async def watch(ctx):
        while True:
            trace.append(ctx.get(dut.leds))
            await ctx.tick()

    async def host(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(600)
        marks = {"bad": len(trace)}
        await uart_send(ctx, dut.rx, encode_frame(0x42, b"", 1))  # unknown TYPE: ERROR
        await ctx.tick().repeat(TIMEOUT + 900)
        marks["infer"] = len(trace)
        await uart_send(ctx, dut.rx, encode_frame(FrameType.INFER_REQ, encode_sample(info, x),
                                                  2))
        await ctx.tick().repeat(3000)
        marks["end"] = len(trace)
        trace.append(marks)

    sim = Simulator(dut)
    sim.add_clock(1 / clk_hz)
    sim.add_testbench(uart_monitor(dut.tx, got), background=True)
    sim.add_testbench(watch, background=True)
    sim.add_testbench(host)
    sim.run()
    marks = trace.pop()
    leds = np.asarray(trace)
    alive, error, busy = leds & 1, (leds >> 1) & 1, (leds >> 2) & 1
    edges = np.flatnonzero(np.diff(alive[:600]))
    assert len(edges) >= 3 and set(np.diff(edges)) == {128}
    assert not error[: marks["bad"]].any() and not busy[: marks["infer"]].any()
    lit = np.flatnonzero(error[marks["bad"]: marks["infer"]])
    assert len(lit) and 128 <= len(lit) <= 3 * 128 + 1 and np.all(np.diff(lit) == 1)
    assert busy[marks["infer"]: marks["end"]].any()
    assert not busy[-10:].any() and not error[marks["infer"]:].any()
    frames = FrameDecoder().feed(bytes(got))
    assert [(f.type, f.rid) for f in frames] == [(FrameType.ERROR, 1), (FrameType.RESULT, 2)]
    assert decode_result(info, frames[1].payload).prediction == pred
    assert int(leds[-1]) >> 3 == pred


@pytest.mark.parametrize("encoding", ["direct", "spikes"])
def test_top_answers_a_conv_network_like_golden(encoding):
    """A conv first layer: direct pixels (the core's counters make the coordinates) or
    spike bitmaps (the board's CoordMap packs each flat address as ``(c, y, x)``)."""
    from spikefab_hdl.sim.randnet import make_conv_spec, random_network

    spec = make_conv_spec((2, 5, 4), [(3, 3, 1, 1, 2)], [3], encoding=encoding, in_bits=4,
                          timesteps=3, w_bits=5, neurons=[LIFSpec(9, 10, 2)])
    net = random_network(spec, 2)
    model = BoardModel(net, clk_hz=1_000_000)
    rng = np.random.default_rng(3)
    samples = [_sample(net, rng) for _ in range(3)]
    reqs = [encode_frame(FrameType.INFER_REQ, encode_sample(model.info, x), i)
            for i, x in enumerate(samples)]
    _, frames = run_top(net, reqs)
    assert [f.type for f in frames] == [FrameType.RESULT] * 3
    for x, frame in zip(samples, frames, strict=True):
        run = run_network(net, x[None] if encoding == "direct" else x[:, None])
        res = decode_result(model.info, frame.payload)
        assert res.prediction == run.prediction[0]
        np.testing.assert_array_equal(res.acc, run.acc[0])
    assert any(run_network(net, x[None] if encoding == "direct" else x[:, None]).acc.any()
               for x in samples)


def run_top_pipelined(net, requests, *, window=2, in_pack=1, settle=3000):
    """Send ``requests`` with up to ``window`` outstanding: request ``i`` goes out, back to
    back with the one before, once the answers to all but ``window - 1`` earlier requests
    have arrived. Returns the decoded answer frames and the cycle each request started."""
    dut = BoardTop(net=net, clk_hz=1_000_000, lanes=2, divisor=DIV, timeout_cycles=TIMEOUT,
                   in_pack=in_pack)
    got, frames, starts = [], [], []
    dec = FrameDecoder()

    async def host(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(10)
        for i, req in enumerate(requests):
            waited = 0
            while len(frames) < i - window + 1:
                await ctx.tick().repeat(10)
                frames.extend(dec.feed(bytes(got)))
                got.clear()
                waited += 1
                assert waited < settle, f"no answer to request {i - window}"
            starts.append(ctx.get(cycle))
            await uart_send(ctx, dut.rx, req)
        for _ in range(settle):
            await ctx.tick().repeat(10)
            frames.extend(dec.feed(bytes(got)))
            got.clear()
        assert dec.pending == 0

    m = Module()
    m.submodules.dut = dut
    from amaranth import Signal

    cycle = Signal(32)
    m.d.sync += cycle.eq(cycle + 1)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(uart_monitor(dut.tx, got), background=True)
    sim.add_testbench(host)
    sim.run()
    return frames, starts


@pytest.mark.parametrize("in_pack", [1, 3])
def test_top_takes_the_next_request_while_it_computes(in_pack):
    """Two requests outstanding (INFO window 2): the host sends each sample right after the
    one before; the board receives sample k+1 into its second buffer bank while the core
    runs sample k, so no request is lost, the receive line never idles (a request takes
    longer than the inference and its answer) and every answer is golden's, in order. With
    ``in_pack`` 3 the feeder plays 3 values a beat (40 inputs: 14 beats, the last one with
    a single value) into the core's packed input."""
    net = _net("direct", n_in=40)
    model = BoardModel(net, clk_hz=1_000_000)
    rng = np.random.default_rng(4)
    samples = [_sample(net, rng) for _ in range(6)]
    samples[2][:] = 0
    samples[3][::2] = 0
    reqs = [encode_frame(FrameType.INFER_REQ, encode_sample(model.info, x), 0x40 + i)
            for i, x in enumerate(samples)]
    frames, starts = run_top_pipelined(net, reqs, in_pack=in_pack)
    assert [(f.type, f.rid) for f in frames] == [(FrameType.RESULT, 0x40 + i)
                                                 for i in range(len(samples))]
    gold = run_network(net, np.asarray(samples))
    for i, frame in enumerate(frames):
        res = decode_result(model.info, frame.payload)
        assert res.prediction == gold.prediction[i]
        np.testing.assert_array_equal(res.acc, gold.acc[i])
    # each request went out right behind the one before (within the host's polling step)
    gaps = np.diff(starts) - 10 * DIV * len(reqs[0])
    assert 0 <= gaps.min() and gaps.max() <= 10, gaps


def test_top_error_in_the_middle_of_a_pipeline():
    """A broken request between two good ones: its ERROR follows the answer before it, and
    the request sent right behind it is drained with it (no answer), as docs/protocol.md
    says."""
    net = _net("direct", n_in=40)
    model = BoardModel(net, clk_hz=1_000_000)
    rng = np.random.default_rng(5)
    samples = [_sample(net, rng) for _ in range(3)]
    reqs = [encode_frame(FrameType.INFER_REQ, encode_sample(model.info, x), 7 + i)
            for i, x in enumerate(samples)]
    bad = bytearray(reqs[1])
    bad[-1] ^= 0x5A
    frames, _ = run_top_pipelined(net, [reqs[0], bytes(bad), reqs[2]])
    assert [(f.type, f.rid) for f in frames] == [(FrameType.RESULT, 7), (FrameType.ERROR, 8)]
    assert ErrorReply.from_payload(frames[1].payload).code == ErrorCode.CRC
