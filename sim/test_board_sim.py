"""The board top in Verilator driven from C++ (``board_sim``): firmware in the loop and the
Python driver's simulation transport, with every fault of issue 6.

* FIL: the C library (firmware/sfp*.c) linked to the model classifies the whole digits
  test set with no Python in the loop; predictions and accumulators equal golden exactly.
* Driver: :class:`spikefab.driver.client.Board` over :class:`SimTransport` (the same
  code that drives a serial port) gets golden answers, and for corrupted, truncated,
  oversized and out-of-order frames, a UART framing error and a silent board it gets the
  gateware's ERROR frame (with the request's id) or a timeout, then recovers; nothing
  hangs (timeouts are in simulated time).
* Both hosts on a line that delivers an answer twice, or carries stale and foreign
  frames: every request still gets its own answer (issue 20, part 5).
"""

import functools

import numpy as np
import pytest
from spikefab import trained
from spikefab.driver.client import Board, BoardTimeout, DeviceError
from spikefab.driver.faults import FaultyTransport
from spikefab.golden import run_network
from spikefab.protocol import (
    ErrorCode,
    FrameDecoder,
    FrameType,
    crc16,
    decode_result,
    encode_frame,
    encode_sample,
)
from spikefab_hdl.sim.board_bridge import build_board_sim, open_bridge, run_fil
from spikefab_hdl.sim.testbench import SIM_BUILD

CLK_HZ = 12_000_000
BAUD = 3_000_000  # 4 clock cycles per bit
T_IDLE = 300  # cycles
TIMEOUT_S = 0.005  # 60,000 cycles of silence: far more than one inference
IDLE_S = 2 * T_IDLE / CLK_HZ


@functools.cache
def _digits():
    net, x, _y = trained.load("digits", 0)
    build = build_board_sim(net, SIM_BUILD / "board-sim-digits", clk_hz=CLK_HZ, baud=BAUD,
                            timeout_cycles=T_IDLE)
    assert build.divisor == 4
    return net, x, build, run_network(net, x)


@pytest.fixture
def board():
    _net, _x, build, _g = _digits()
    with Board(open_bridge(build), timeout=TIMEOUT_S, idle=IDLE_S) as b:
        yield b


def test_fil_digits_test_set_equals_golden():
    net, x, build, golden = _digits()
    res = run_fil(build, x, "direct", build.exe.parent)
    assert res["errors"] == 0 and len(res["prediction"]) == len(x) == 360
    assert not res["status"].any()
    np.testing.assert_array_equal(res["prediction"], golden.prediction)
    np.testing.assert_array_equal(res["acc"], golden.acc)
    assert res["cycles"].min() > 0 and res["discarded"] == 0
    print(f"FIL: {len(x)} digits in {res['seconds']:.2f} s, {res['samples_per_s']:.1f} "
          f"samples/s, {res['sim_cycles']} cycles simulated")


def test_fil_silent_board_times_out_and_recovers():
    """The C library against the model with the tx line cut for sample 2: SFP_E_TIMEOUT
    (-3) there, exact answers before and after."""
    _net, x, build, golden = _digits()
    res = run_fil(build, x[:5], "direct", build.exe.parent / "silent", timeout_ms=2,
                  silent_at=2)
    np.testing.assert_array_equal(res["status"], [0, 0, -3, 0, 0])
    keep = [0, 1, 3, 4]
    np.testing.assert_array_equal(res["acc"][keep], golden.acc[keep])
    np.testing.assert_array_equal(res["prediction"][keep], golden.prediction[keep])


def _check(board, i):
    _net, x, _build, golden = _digits()
    res = board.infer(x[i])
    assert res.prediction == golden.prediction[i]
    np.testing.assert_array_equal(res.acc, golden.acc[i])
    assert res.cycles > 0


def test_fil_duplicated_answer_is_discarded():
    """The line delivers the answer to sample 1 twice: the C library discards the copy
    while waiting for sample 2's answer, and every result is golden."""
    _net, x, build, golden = _digits()
    res = run_fil(build, x[:5], "direct", build.exe.parent / "dup", dup_at=1)
    assert not res["status"].any() and res["discarded"] == 1
    np.testing.assert_array_equal(res["acc"], golden.acc[:5])
    np.testing.assert_array_equal(res["prediction"], golden.prediction[:5])


def test_driver_on_the_model_equals_golden(board):
    info = board.info()
    assert (info.n_in, info.n_classes, info.clk_hz, info.baud) == (64, 10, CLK_HZ, BAUD)
    assert (info.value_bits, info.sample_len) == (4, 32)  # two pixels per byte
    for i in range(12):
        _check(board, i)
    assert board.discarded == 0  # every answer carried its request's id


RID = 0x4242  # the id of requests written by hand


def _request(board, i=0, rid=RID) -> bytes:
    _net, x, _build, _g = _digits()
    return encode_frame(FrameType.INFER_REQ, encode_sample(board.info(), x[i]), rid)


def _device_error(board, data, code, arg=None):
    board.transport.write(data)
    with pytest.raises(DeviceError) as e:
        board.read_answer(RID, want=FrameType.RESULT, name="INFER_REQ")
    assert e.value.error.code == code, e.value
    if arg is not None:
        assert e.value.error.arg == arg, e.value
    _check(board, 1)  # recovered: the next request is answered exactly


def test_corrupted_frame(board):
    bad = bytearray(_request(board))
    bad[20] ^= 0x04
    _device_error(board, bytes(bad), ErrorCode.CRC, crc16(bytes(bad[1:-2])))


def test_truncated_frame(board):
    _device_error(board, _request(board)[:30], ErrorCode.TIMEOUT, 29)


def test_oversized_frames(board):
    good = _request(board)
    longer = encode_frame(FrameType.INFER_REQ, good[6:-2] + b"\x00", RID)
    _device_error(board, longer, ErrorCode.LENGTH, 32)
    # LEN 65535 and then a stream of bytes: refused after the header, the rest drained
    huge = bytes([0xA5, FrameType.INFER_REQ, RID & 0xFF, RID >> 8, 0xFF, 0xFF]) + bytes(
        range(256)) * 2
    _device_error(board, huge, ErrorCode.LENGTH, 32)


def test_out_of_order_frames(board):
    # a response type sent to the device
    _device_error(board, encode_frame(FrameType.RESULT, bytes(26), RID), ErrorCode.TYPE, 0)
    # three requests back to back, one more than INFO's window (2): the first two are
    # answered exactly and in order, the device drops (or rejects) the third, and the
    # host recovers
    _net, x, _build, golden = _digits()
    info = board.info()
    board.transport.write(_request(board, 2) + _request(board, 3, RID + 1)
                          + _request(board, 4, RID + 2))
    for i, rid in ((2, RID), (3, RID + 1)):
        frame = board.read_answer(rid, want=FrameType.RESULT)
        res = decode_result(info, frame.payload)
        np.testing.assert_array_equal(res.acc, golden.acc[i])
    board.recover()
    _check(board, 4)


def test_uart_framing_error(board):
    board.transport.write(_request(board)[:10])
    board.transport.write_bad_stop(0x55)
    with pytest.raises(DeviceError) as e:
        board.read_answer(RID, want=FrameType.RESULT)
    assert (e.value.error.code, e.value.error.arg) == (ErrorCode.UART, 9)
    _check(board, 5)


def test_silent_board_times_out_then_recovers(board):
    board.info()
    board.transport.connect(False)
    start = board.transport.cycles
    with pytest.raises(BoardTimeout, match=r"^no answer from the board to INFER_REQ \(id \d+\): "
                                           r"silent for 0.005 s after 0 bytes$"):
        _check(board, 6)
    # the timeout is simulated time: one timeout of silence plus the recovery wait
    waited = board.transport.cycles - start
    assert TIMEOUT_S * CLK_HZ <= waited <= TIMEOUT_S * CLK_HZ + 4 * IDLE_S * CLK_HZ + 10_000
    board.transport.connect(True)
    _check(board, 7)


def test_random_noise_then_recovery(board):
    """Seeded bursts of random bytes (SYNC bytes and plausible headers included): whatever
    the gateware makes of them, after a recovery wait the next request is exact."""
    rng = np.random.default_rng(12)
    answers = FrameDecoder()
    codes = []
    for i in range(8):
        noise = rng.integers(0, 256, int(rng.integers(1, 48)), dtype=np.uint8)
        noise[rng.random(noise.size) < 0.15] = 0xA5
        if i % 2:  # a header (LEN 32, the sample's), a payload cut short
            noise = noise[:6 + 31]
            noise[:6] = [0xA5, FrameType.INFER_REQ, i, 0, 32, 0]
        board.transport.write(noise.tobytes())
        while data := board.transport.read(4096, IDLE_S):  # what recover() discards
            codes += [f.payload[0] for f in answers.feed(data) if f.type == FrameType.ERROR]
        _check(board, 8 + i)
    assert answers.pending == 0
    assert codes.count(ErrorCode.TIMEOUT) >= 4  # every cut-off header timed out


def test_driver_duplicated_and_stray_answers_on_the_model():
    """The Python driver on the model, through a line that delivers answers 2 and 4 twice
    and puts a stale answer, a foreign one and an id-0 ERROR before others: every result
    is golden, and exactly the five stray frames are discarded."""
    _net, x, build, golden = _digits()
    stale = encode_frame(FrameType.RESULT, bytes(10 * 2 + 6), 7)  # request 1's id again
    foreign = encode_frame(FrameType.RESULT, bytes(26), 0xBEEF)
    no_id = encode_frame(FrameType.ERROR, bytes([ErrorCode.TIMEOUT, 2, 1, 0]), 0)
    line = FaultyTransport(open_bridge(build), duplicate={2, 4}, before={3: stale,
                                                                         6: foreign + no_id})
    with Board(line, timeout=TIMEOUT_S, idle=IDLE_S, first_id=6) as b:
        for i in range(8):
            _check(b, i)
        assert b.discarded == 5


def test_fil_pipelined_silent_board_and_duplicated_answer():
    """The C library with two requests outstanding: the tx line cut while sample 2 is
    answered gives SFP_E_TIMEOUT (-3) for sample 2 alone (the request behind it is sent
    again); an answer delivered twice is discarded; every other answer is golden."""
    _net, x, build, golden = _digits()
    res = run_fil(build, x[:6], "direct", build.exe.parent / "pipe-silent", timeout_ms=2,
                  silent_at=2, window=2)
    np.testing.assert_array_equal(res["status"], [0, 0, -3, 0, 0, 0])
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_array_equal(res["acc"][keep], golden.acc[keep])
    res = run_fil(build, x[:6], "direct", build.exe.parent / "pipe-dup", dup_at=1, window=2)
    assert not res["status"].any() and res["discarded"] == 1
    np.testing.assert_array_equal(res["acc"], golden.acc[:6])


def test_driver_pipelined_corrupted_frame_is_recovered():
    """The Python driver with two requests outstanding; request 4 (write 0 is INFO_REQ)
    reaches the gateware with a bad CRC: sample 3 gets the board's ERROR CRC, the request
    sent behind it is drained with it (or answered during the quiet wait, and discarded)
    and sent again, every other result is golden. With requests outstanding the quiet
    wait must cover T_idle and one more inference and its answer (docs/protocol.md)."""
    _net, x, build, golden = _digits()
    line = FaultyTransport(open_bridge(build), corrupt={4})
    with Board(line, timeout=TIMEOUT_S, idle=0.001, first_id=9) as b:
        out = b.infer_many(x[:8], errors="return")
        assert isinstance(out[3], DeviceError) and out[3].error.code == ErrorCode.CRC
        for i in (0, 1, 2, 4, 5, 6, 7):
            assert out[i].prediction == golden.prediction[i]
            np.testing.assert_array_equal(out[i].acc, golden.acc[i])
        assert line._writes == 1 + 8 + 1  # INFO, every sample, sample 4 again
