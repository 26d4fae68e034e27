"""The iCEBreaker's PLL: divider choice (as icepll), limits, and the board design around it."""

import re

import pytest
from spikefab_hdl.board.definitions import BoardDesign, get_board
from spikefab_hdl.board.ecp5_pll import ecp5_pll
from spikefab_hdl.board.pll import ice40_pll
from spikefab_hdl.sim.randnet import make_spec, random_network


@pytest.mark.parametrize(("mhz", "want"), [
    (30, (0, 79, 5, 30.0)),    # icepll -i 12 -o 30
    (36, (0, 47, 4, 36.0)),    # icepll -i 12 -o 36
    (48, (0, 63, 4, 48.0)),
    (25, (0, 65, 5, 24.75)),   # never above the wanted frequency
])
def test_dividers_give_the_fastest_clock_not_above_the_wanted_one(mhz, want):
    c = ice40_pll(12_000_000, mhz * 1e6)
    assert (c.divr, c.divf, c.divq, c.f_out_hz / 1e6) == want
    pfd = 12 / (c.divr + 1)
    assert 10 <= pfd <= 133 and 533 <= pfd * (c.divf + 1) <= 1066 and c.filter_range == 1


def test_an_unreachable_frequency_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^no iCE40 PLL setting gives 10 MHz or less \(at "
                                         r"least 16 MHz\) from 12 MHz$"):
        ice40_pll(12_000_000, 10e6)


def test_the_board_design_runs_from_the_pll():
    net = random_network(make_spec((6, 5, 3)), 0)
    board = get_board("icebreaker")
    design = BoardDesign(board=board, net=net, lanes=2, pll_hz=36e6)
    assert design.clk_hz == 36_000_000 and design.top.clk_hz == 36_000_000
    plan = board.make_platform().prepare(design, name="top")
    il = plan.files["top.il"]
    cell = re.search(r"cell \\SB_PLL40_PAD .*?\n  end", il, re.S).group(0)
    for name, value in (("DIVR", 0), ("DIVF", 47), ("DIVQ", 4), ("FILTER_RANGE", 1)):
        assert re.search(rf"parameter \\{name} {value}\b", cell), name


@pytest.mark.parametrize(("mhz", "want"), [
    # (CLKI_DIV, CLKFB_DIV, CLKOP_DIV, MHz): yowasp-ecppll -i 25 -o <mhz> gives the same
    (100, (1, 4, 6, 100.0)),
    (110, (5, 22, 5, 110.0)),
    (66, (8, 21, 9, 65.625)),
    (30, (5, 6, 20, 30.0)),
    (99, (8, 31, 6, 96.875)),  # ecppll rounds up to 100; this never goes above 99
])
def test_ecp5_dividers_give_the_fastest_clock_not_above_the_wanted_one(mhz, want):
    c = ecp5_pll(25_000_000, mhz * 1e6)
    assert (c.clki_div, c.clkfb_div, c.clkop_div, c.f_out_hz / 1e6) == pytest.approx(want)
    pfd = 25 / c.clki_div
    assert 3.125 <= pfd <= 400 and 400 <= c.f_out_hz / 1e6 * c.clkop_div <= 800


def test_an_unreachable_ecp5_frequency_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^no ECP5 PLL setting gives 2 MHz or less \(at "
                                         r"least 3.125 MHz\) from 25 MHz$"):
        ecp5_pll(25_000_000, 2e6)
    board = get_board("ulx3s-85f")
    net = random_network(make_spec((6, 5, 3)), 0)
    with pytest.raises(ValueError, match=r"^clock: no ECP5 PLL setting gives 2 MHz"):
        BoardDesign(board=board, net=net, lanes=2, pll_hz=2e6)


def test_the_ecp5_board_design_runs_from_the_pll():
    net = random_network(make_spec((6, 5, 3)), 0)
    board = get_board("ulx3s-85f")
    design = BoardDesign(board=board, net=net, lanes=2, pll_hz=100e6)
    assert design.clk_hz == 100_000_000 and design.top.clk_hz == 100_000_000
    assert design.pll.describe() == {"clki_div": 1, "clkfb_div": 4, "clkop_div": 6,
                                     "mhz": 100.0}
    il = board.make_platform().prepare(design, name="top").files["top.il"]
    cell = re.search(r"cell \\EHXPLLL .*?\n  end", il, re.S).group(0)
    for name, value in (("CLKI_DIV", 1), ("CLKFB_DIV", 4), ("CLKOP_DIV", 6),
                        ("CLKOP_CPHASE", 5)):
        assert re.search(rf"parameter \\{name} {value}\b", cell), name
    assert re.search(r'parameter \\FEEDBK_PATH "CLKOP"', cell)
