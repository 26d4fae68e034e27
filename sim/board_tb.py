"""cocotb testbench of the whole board top, through its UART pins only: bytes in, bytes out.

* **Driver** (:class:`UartDriver`): the host. Sends each request frame bit by bit on
  ``rx`` (8N1, ``divisor`` clocks per bit) with seeded random pauses between bytes
  (shorter than ``T_idle``), and can send a character with a low stop bit.
* **Monitor** (:class:`UartMonitor`): decodes ``tx`` into bytes, checking every stop bit.
* **Model**: :class:`spikefab.driver.board_model.BoardModel` (golden arithmetic) says
  what the device must answer to every request, error cases included.
* **Checker**: decodes the answer frames (:class:`~spikefab.protocol.FrameDecoder`)
  and compares each with the model exactly: INFO and ERROR payloads byte for byte,
  RESULT prediction and every accumulator; the cycle count must be positive; every
  answer's ID must be its request's.

The host follows docs/protocol.md: first one request at a time, waiting ``T_idle`` after
every answer; then every sample again with INFO's ``window`` (2) of requests outstanding
(request ``k + 2`` goes out once the answer to ``k`` is in), the answers checked in order.
At the end, a drain check: ``3 * T_idle`` more cycles without a byte on ``tx`` and no
partial frame. Configuration: the JSON file named by ``SPIKEFAB_BOARD_CONFIG`` (``ir``,
``inputs``, ``clk_hz``, ``divisor``, ``timeout_cycles``, ``seed``, ``answers``,
``summary``).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from spikefab.atomic import atomic_write_bytes, atomic_write_text
from spikefab.driver.board_model import BoardModel
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import (
    FrameDecoder,
    FrameType,
    decode_result,
    encode_frame,
    encode_sample,
    next_rid,
)

CONFIG_ENV = "SPIKEFAB_BOARD_CONFIG"


class UartDriver:
    """The host's transmitter on ``rx``."""

    def __init__(self, dut, divisor: int, max_gap: int, rng: random.Random):
        self.dut, self.divisor, self.max_gap, self.rng = dut, divisor, max_gap, rng
        dut.rx.value = 1

    async def char(self, byte: int, stop: int = 1) -> None:
        for level in [0] + [(byte >> i) & 1 for i in range(8)] + [stop]:
            self.dut.rx.value = level
            await ClockCycles(self.dut.clk, self.divisor)
        self.dut.rx.value = 1

    async def send(self, data: bytes) -> None:
        for byte in data:
            await self.char(byte)
            if self.rng.random() < 0.2:
                await ClockCycles(self.dut.clk, self.rng.randint(1, self.max_gap))


class UartMonitor:
    """Decodes ``tx`` into ``received`` (taken by the checker) and ``log`` (all bytes)."""

    def __init__(self, dut, divisor: int):
        self.dut, self.divisor = dut, divisor
        self.received = bytearray()  # not yet decoded
        self.log = bytearray()  # everything, for the cross-simulator comparison
        cocotb.start_soon(self._run())

    async def _run(self):
        clk, tx = self.dut.clk, self.dut.tx
        while True:
            await FallingEdge(tx)
            await ClockCycles(clk, self.divisor // 2)
            assert int(tx.value) == 0, "start bit shorter than half a bit"
            byte = 0
            for i in range(8):
                await ClockCycles(clk, self.divisor)
                byte |= int(tx.value) << i
            await ClockCycles(clk, self.divisor)
            assert int(tx.value) == 1, f"stop bit low after byte 0x{byte:02X}"
            self.received.append(byte)
            self.log.append(byte)


class Checker:
    """Compares answer frames with the model's replies, in order, exactly."""

    def __init__(self, info):
        self.info = info
        self.decoder = FrameDecoder()
        self.checked = {"INFO": 0, "RESULT": 0, "ERROR": 0}
        self.cycles: list[int] = []

    def check(self, frame, reply) -> None:
        assert frame.type == reply.type, f"answer type 0x{frame.type:02X}, want 0x{reply.type:02X}"
        if reply.type == FrameType.INFO:
            assert frame.payload == reply.info.to_payload(), "INFO payload differs"
            self.checked["INFO"] += 1
        elif reply.type == FrameType.ERROR:
            assert frame.payload == reply.error.to_payload(), (
                f"ERROR {frame.payload.hex()} != model {reply.error.to_payload().hex()}")
            self.checked["ERROR"] += 1
        else:
            got = decode_result(self.info, frame.payload)
            assert got.prediction == reply.result.prediction, "prediction differs from golden"
            np.testing.assert_array_equal(got.acc, reply.result.acc)
            assert got.cycles > 0
            self.cycles.append(got.cycles)
            self.checked["RESULT"] += 1


def bad_value_payload(info, sample: bytes) -> bytes | None:
    """``sample`` with its last byte made out of range (the device answers VALUE), or None
    where every byte is a good one (4-bit values packed in whole bytes, 8-bit values)."""
    bad = bytearray(sample)
    if info.encoding == "spikes":
        if not info.n_in % 8:
            return None
        bad[-1] |= 0x80  # a padding bit
    elif info.value_bits == 4:
        if info.in_bits == 4 and not info.n_in % 2:
            return None
        bad[-1] |= 0xF0 if info.n_in % 2 else 0x0F  # the padding nibble, or a value of 15
    elif info.in_bits % 8:
        bad[-1] = 0xFF  # the (high) byte of the last value
    else:
        return None
    return bytes(bad)


def _requests(model: BoardModel, samples):
    """The host's script: (name, bytes to send, uart_error_after, request id) in order.

    Request ids count up from 0xFFF0 as a host's do (wrapping from 65535 to 1); the broken
    requests carry ids too, and the board must echo each one.
    """
    info = model.info
    sample = [encode_sample(info, x) for x in samples]
    bad_value = bad_value_payload(info, sample[0])

    def bad_crc(rid):
        frame = bytearray(encode_frame(FrameType.INFER_REQ, sample[0], rid))
        frame[-1] ^= 0x5A
        return bytes(frame)

    def infer(i, rid):
        return encode_frame(FrameType.INFER_REQ, sample[i], rid)

    errors = [
        ("unknown type", lambda r: encode_frame(0x42, b"\x01\x02", r), None),
        ("bad length", lambda r: encode_frame(FrameType.INFER_REQ, bytes(info.sample_len - 1),
                                              r), None),
        ("bad crc", bad_crc, None),
        ("bad value", lambda r: encode_frame(FrameType.INFER_REQ, bad_value, r), None),
        ("truncated", lambda r: infer(1, r)[: (info.sample_len + 8) // 2], None),
        ("uart error", lambda r: infer(2, r)[:5], 1),
        ("info with payload", lambda r: encode_frame(FrameType.INFO_REQ, b"\x00", r), None),
        ("oversized", lambda r: bytes([0xA5, FrameType.INFER_REQ, r & 0xFF, r >> 8, 0xFF, 0xFF])
         + bytes(range(64)), None),
        ("response type", lambda r: encode_frame(FrameType.RESULT, bytes(4), r), None),
    ]
    if bad_value is None:  # no payload of this network holds a bad value
        errors = [e for e in errors if e[0] != "bad value"]
    steps = [("info", lambda r: encode_frame(FrameType.INFO_REQ, b"", r), None)]
    every = max(1, len(samples) // len(errors))
    for i in range(len(samples)):
        steps.append((f"sample {i}", lambda r, i=i: infer(i, r), None))
        if i % every == every - 1 and errors:
            steps.append(errors.pop(0))
    script, rid = [], 0xFFF0
    for name, make, uart_error in steps + errors:
        script.append((name, make(rid), uart_error, rid))
        rid = next_rid(rid)
    return script


@cocotb.test()
async def board_uart_golden_test(dut):
    cfg = json.loads(open(os.environ[CONFIG_ENV]).read())
    net = QuantizedNetwork.load(cfg["ir"])
    with np.load(cfg["inputs"]) as z:
        samples = list(z["x"])
    divisor, t_idle = cfg["divisor"], cfg["timeout_cycles"]
    rng = random.Random(cfg["seed"])
    model = BoardModel(net, clk_hz=cfg["clk_hz"])
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.rx.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)
    host = UartDriver(dut, divisor, max(1, t_idle // 3), rng)
    mon = UartMonitor(dut, divisor)
    checker = Checker(model.info)
    script = _requests(model, samples)
    byte_time = 10 * divisor
    answered = echoed = 0
    for name, data, uart_error, rid in script:
        replies = model.feed(data)
        await host.send(data)
        if uart_error is not None:
            await host.char(0x55, stop=0)
            replies += model.uart_error()
            # the break: keep the line low a little, then idle
            dut.rx.value = 0
            await ClockCycles(dut.clk, 3 * divisor)
            dut.rx.value = 1
        if not replies:  # an incomplete frame: the device answers after T_idle
            replies = model.idle()
        assert len(replies) == 1, f"{name}: the model answers {len(replies)} frames"
        frames: list = []
        waited = 0
        limit = t_idle + 200 * byte_time + cfg.get("max_core_cycles", 200_000)
        while not frames:
            frames = checker.decoder.feed(bytes(mon.received))
            mon.received.clear()
            if frames:
                break
            await ClockCycles(dut.clk, byte_time)
            waited += byte_time
            assert waited < limit, f"{name}: no answer after {waited} cycles"
        assert len(frames) == 1, f"{name}: {len(frames)} answer frames"
        checker.check(frames[0], replies[0])
        assert frames[0].rid == replies[0].rid == rid, (
            f"{name}: answer id {frames[0].rid}, model {replies[0].rid}, request {rid}")
        echoed += 1
        answered += 1
        await ClockCycles(dut.clk, t_idle + 2 * byte_time)  # T_idle before the next request
        assert model.idle() == []
    rid, window = next_rid(script[-1][3]), model.info.window
    reqs, replies = [], []
    for x in samples:
        reqs.append(encode_frame(FrameType.INFER_REQ, encode_sample(model.info, x), rid))
        replies += model.feed(reqs[-1])
        rid = next_rid(rid)
    got: list = []

    async def answers(k: int) -> None:
        waited = 0
        while len(got) < k:
            got.extend(checker.decoder.feed(bytes(mon.received)))
            mon.received.clear()
            if len(got) >= k:
                break
            await ClockCycles(dut.clk, byte_time)
            waited += byte_time
            assert waited < 200 * byte_time + cfg.get("max_core_cycles", 200_000), (
                f"pipelined: no answer {k - 1} after {waited} cycles")

    for i, req in enumerate(reqs):
        await answers(i - window + 1)
        await host.send(req)
    await answers(len(reqs))
    assert len(got) == len(reqs), f"pipelined: {len(got)} answers to {len(reqs)} requests"
    for frame, reply in zip(got, replies, strict=True):
        checker.check(frame, reply)
        assert frame.rid == reply.rid, f"pipelined: answer id {frame.rid}, want {reply.rid}"
        echoed += 1
        answered += 1
    # drain: nothing more comes out
    await ClockCycles(dut.clk, 3 * t_idle)
    assert not mon.received and checker.decoder.pending == 0, "bytes after the last answer"
    await RisingEdge(dut.clk)
    summary = {"answered": answered, "checked": checker.checked, "echoed_ids": echoed,
               "cycles": checker.cycles}
    atomic_write_text(cfg["summary"], json.dumps(summary) + "\n")
    atomic_write_bytes(cfg["answers"], bytes(mon.log))
