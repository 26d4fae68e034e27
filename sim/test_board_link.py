"""The link at 3 Mbaud from the ULX3S's 25 MHz clock (8 1/3 cycles per bit), in Verilator.

The board top built for 3 Mbaud at 25 MHz (a fractional divider) behind ``board_sim``'s
C++ pins, which run at the exact rate: the digits test images through both hosts, 4-bit
pixels packed two per byte, every answer exactly golden; the INFO frame reports the rate
and the packing, and a sample takes half the bytes of an unpacked one.
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
