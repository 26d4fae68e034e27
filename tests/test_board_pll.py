"""The iCEBreaker's PLL: divider choice (as icepll), limits, and the board design around it."""

import re

import pytest
from spikefab_hdl.board.definitions import BoardDesign, get_board
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
    with pytest.raises(ValueError, match="^pll_hz: a PLL is built for iCE40 boards only, "
                                         "not ulx3s-25f$"):
        BoardDesign(board=get_board("ulx3s-25f"), net=net, pll_hz=50e6)
