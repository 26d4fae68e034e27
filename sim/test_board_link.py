"""The link at 3 Mbaud from the ULX3S's 25 MHz clock (8 1/3 cycles per bit), in Verilator.

The board top built for 3 Mbaud at 25 MHz (a fractional divider) behind ``board_sim``'s
C++ pins, which run at the exact rate: the digits test images through both hosts, 4-bit
pixels packed two per byte, every answer exactly golden; the INFO frame reports the rate
and the packing, and a sample takes half the bytes of an unpacked one. With two requests
outstanding (INFO window 2) both hosts stay golden and an image takes less time.
"""

import functools
from fractions import Fraction

import numpy as np
from spikefab import trained
from spikefab.driver.client import Board
from spikefab.golden import run_network
from spikefab_hdl.sim.board_bridge import build_board_sim, open_bridge, run_fil
from spikefab_hdl.sim.testbench import SIM_BUILD

CLK_HZ, BAUD = 25_000_000, 3_000_000
N = 120


@functools.cache
def _digits():
    net, x, _y = trained.load("digits", 0)
    build = build_board_sim(net, SIM_BUILD / "board-link-3M", clk_hz=CLK_HZ, baud=BAUD)
    return net, x[:N], build, run_network(net, x[:N])


def test_fil_at_3_mbaud_packed_equals_golden():
    net, x, build, golden = _digits()
    assert build.divisor == Fraction(25, 3)
    res = run_fil(build, x, "direct", build.exe.parent)
    assert res["errors"] == 0 and not res["status"].any() and res["discarded"] == 0
    np.testing.assert_array_equal(res["prediction"], golden.prediction)
    np.testing.assert_array_equal(res["acc"], golden.acc)
    # each image: a 32 + 8-byte request and a 26 + 8-byte answer, 10 bits a byte at
    # 25/3 cycles a bit, plus the core; never less than the line's own time
    line = (32 + 8 + 26 + 8) * 10 * Fraction(25, 3)
    per_image = res["infer_cycles"] / N
    assert line < per_image < line + res["cycles"].max() + 400


def test_python_driver_at_3_mbaud_packs_and_equals_golden():
    _net, x, build, golden = _digits()
    with Board(open_bridge(build), timeout=0.01, idle=0.001) as board:
        info = board.info()
        assert (info.baud, info.clk_hz, info.value_bits, info.sample_len) == (
            BAUD, CLK_HZ, 4, 32)
        for i in range(0, N, 10):
            res = board.infer(x[i])
            assert res.prediction == golden.prediction[i]
            np.testing.assert_array_equal(res.acc, golden.acc[i])
        assert board.discarded == 0


def test_fil_two_requests_outstanding_equals_golden_and_is_faster():
    """``sfp_client_infer_many`` with INFO's window (2): the next sample is on the wire while
    the board computes and answers, every answer is still golden's and in order, and an
    image takes less simulated time than one request at a time (same build, same run). For
    these 64-pixel images the board's side (core + answer) is longer than a request, so
    that sets the pace: no less than the answer's line time, no more than core + answer."""
    _net, x, build, golden = _digits()
    one = run_fil(build, x, "direct", build.exe.parent / "w1")
    two = run_fil(build, x, "direct", build.exe.parent / "w2", window=2)
    assert two["errors"] == 0 and not two["status"].any() and two["discarded"] == 0
    np.testing.assert_array_equal(two["prediction"], golden.prediction)
    np.testing.assert_array_equal(two["acc"], golden.acc)
    np.testing.assert_array_equal(two["cycles"], one["cycles"])  # the core's own count
    bit = Fraction(25, 3)
    per_image = two["infer_cycles"] / N
    assert (26 + 8) * 10 * bit < per_image < (26 + 8) * 10 * bit + two["cycles"].max() + 400
    assert per_image < 0.7 * one["infer_cycles"] / N


def test_python_driver_two_requests_outstanding_equals_golden():
    _net, x, build, golden = _digits()
    with Board(open_bridge(build), timeout=0.01, idle=0.001) as board:
        assert board.info().window == 2
        start = board.transport.cycles
        out = board.infer_many(x[:40])
        cycles = board.transport.cycles - start
        for i, res in enumerate(out):
            assert res.prediction == golden.prediction[i]
            np.testing.assert_array_equal(res.acc, golden.acc[i])
        assert board.discarded == 0
        start = board.transport.cycles
        board.infer_many(x[:40], window=1)
        assert cycles < 0.7 * (board.transport.cycles - start)
