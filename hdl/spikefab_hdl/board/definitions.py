"""The supported boards (amaranth-boards 0.0.21) and the design that puts a BoardTop on one.

==================  =========================  ==================  ======  =====================
name                amaranth-boards platform   device              clock   UART / LEDs
==================  =========================  ==================  ======  =====================
``icebreaker``      ICEBreakerPlatform         iCE40UP5K-SG48      12 MHz  FTDI B / green, red
``ulx3s-25f``       ULX3S_25F_Platform         LFE5U-25F-6BG381    25 MHz  FTDI / led 0..7
``ulx3s-45f``       ULX3S_45F_Platform         LFE5U-45F-6BG381    25 MHz  FTDI / led 0..7
``ulx3s-85f``       ULX3S_85F_Platform         LFE5U-85F-6BG381    25 MHz  FTDI / led 0..7
``orangecrab-25f``  OrangeCrabR0_2_25FPlatform LFE5U-25F-8MG285    48 MHz  Feather 0/1 / RGB
==================  =========================  ==================  ======  =====================

The OrangeCrab has no UART wired to its USB port, so a 3.3 V USB-serial adapter goes on
the Feather header's serial pins (``io`` 0 = N17 = RX into the FPGA, ``io`` 1 = M18 = TX),
the pins LiteX's OrangeCrab target also uses. LED order follows ``top.BoardTop``: alive,
error, busy, then prediction bits.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import ClockDomain, ClockSignal, Elaboratable, Module
from amaranth.build import Attrs
from amaranth.lib import io
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_25FPlatform
from amaranth_boards.resources import UARTResource
from amaranth_boards.ulx3s import ULX3S_25F_Platform, ULX3S_45F_Platform, ULX3S_85F_Platform

from ..core.sb_mac16 import network_fits
from .ecp5_pll import ECP5PLLConfig, ECP5PLLDomain, ecp5_pll
from .pll import PLLDomain, ice40_pll
from .top import DEFAULT_BAUD, BoardTop

__all__ = ["Board", "BOARDS", "get_board", "BoardDesign"]


@dataclass(frozen=True)
class Board:
    """One supported board.

    Attributes
    ----------
    name : str
        The name used on the command line (``BOARD=``).
    platform : type
        The amaranth-boards platform class.
    family : str
        ``"ice40"`` or ``"ecp5"``.
    leds : tuple of (resource, number, subsignal or None)
        The LEDs in BoardTop's order.
    capacity : dict
        Device resources for the checks made before any tool runs: ``lut``, ``ff``,
        ``bram`` (blocks), ``bram_bits`` (bits per block), ``spram``, ``dsp``.
    target_mhz : float
        The Fmax the issue asks of this family (30 MHz on the UP5K, 100 MHz on ECP5).
    lanes : int
        Default ``lanes`` of a build for this board (``--lanes`` overrides it). 2 on the
        UP5K: lanes 4 take 79.7 % of its LUTs for the digits net, lanes 2 48.1 %, at the same
        Fmax (bench/results/hw.md); 4 on ECP5, where logic is plentiful.
    """

    name: str
    platform: type
    family: str
    leds: tuple
    capacity: dict
    target_mhz: float
    extra_uart: bool = False
    lanes: int = 4

    @property
    def device(self) -> str:
        p = self.platform
        if self.family == "ice40":
            return f"{p.device}-{p.package}"
        return f"{p.device}-{p.speed}{p.package}"

    @property
    def outreg(self):
        """The ``bram_outreg`` of this board's builds (:func:`.dp16kd.place_outreg`): none
        on iCE40; on ECP5 DP16KD output registers wherever the weight memories then take at
        most the device's blocks less :data:`OUTREG_SPARE`."""
        return self.family == "ecp5" and self.capacity["bram"] - OUTREG_SPARE

    @property
    def clk_hz(self) -> int:
        p = self.platform()
        return int(p.default_clk_frequency)

    def make_platform(self):
        p = self.platform()
        if self.extra_uart:
            p.add_resources([UARTResource(0, rx="0", tx="1", conn=("io", 0),
                                          attrs=Attrs(IO_TYPE="LVCMOS33", PULLMODE="UP"))])
        return p


#: Blocks an ECP5 build leaves to the board top's buffers and the core's other memories
#: when it gives weight memories the DP16KD output register (:attr:`Board.outreg`).
OUTREG_SPARE = 16
_UP5K = {"lut": 5280, "ff": 5280, "bram": 30, "bram_bits": 4096, "spram": 4, "dsp": 8}
_ECP5_25 = {"lut": 24288, "ff": 24288, "bram": 56, "bram_bits": 18432, "spram": 0, "dsp": 28}
_ECP5_45 = {"lut": 43848, "ff": 43848, "bram": 108, "bram_bits": 18432, "spram": 0, "dsp": 72}
_ECP5_85 = {"lut": 83640, "ff": 83640, "bram": 208, "bram_bits": 18432, "spram": 0, "dsp": 156}
_ULX3S_LEDS = tuple(("led", i, None) for i in range(8))

BOARDS = {
    b.name: b
    for b in (
        Board("icebreaker", ICEBreakerPlatform, "ice40",
              (("led_g", 0, None), ("led_r", 0, None)), _UP5K, 30.0, lanes=2),
        Board("ulx3s-25f", ULX3S_25F_Platform, "ecp5", _ULX3S_LEDS, _ECP5_25, 100.0),
        Board("ulx3s-45f", ULX3S_45F_Platform, "ecp5", _ULX3S_LEDS, _ECP5_45, 100.0),
        Board("ulx3s-85f", ULX3S_85F_Platform, "ecp5", _ULX3S_LEDS, _ECP5_85, 100.0),
        Board("orangecrab-25f", OrangeCrabR0_2_25FPlatform, "ecp5",
              (("rgb_led", 0, "g"), ("rgb_led", 0, "r"), ("rgb_led", 0, "b")), _ECP5_25,
              100.0, extra_uart=True),
    )
}


def get_board(name) -> Board:
    """The board called ``name``; a one-line ValueError names the choices otherwise."""
    if name not in BOARDS:
        raise ValueError(f"board must be one of {', '.join(sorted(BOARDS))}, not {name!r}")
    return BOARDS[name]


class BoardDesign(Elaboratable):
    """A :class:`~.top.BoardTop` wired to a board's UART and LEDs.

    Parameters
    ----------
    board : Board
    net : QuantizedNetwork
    lanes : int
    baud : int
    spram : dict, optional
        The core's placement of conv state memories in SPRAM (``NetworkCore``'s).
    in_pack : int
        Direct input values per core input beat (``BoardTop``'s).
    pll_hz : float, optional
        Run the design at this frequency (at most; :func:`.pll.ice40_pll` and
        :func:`.ecp5_pll.ecp5_pll` pick the nearest setting below) from the FPGA's PLL on
        the board clock; None: the board clock itself.

    Attributes
    ----------
    clk_hz : int
        The design's clock (the PLL's output, or the board clock).
    pll : PLLConfig, ECP5PLLConfig or None
    """

    def __init__(self, *, board: Board, net, lanes: int = 4, baud: int = DEFAULT_BAUD,
                 spram=None, pll_hz=None, in_pack: int = 1):
        self.board = board
        self.pll = None
        if pll_hz is not None:
            make = ice40_pll if board.family == "ice40" else ecp5_pll
            try:
                self.pll = make(board.clk_hz, pll_hz)
            except ValueError as e:
                self._MustUse__silence = True
                raise ValueError(f"clock: {e}") from None
        self.clk_hz = board.clk_hz if self.pll is None else int(self.pll.f_out_hz)
        try:
            self.top = BoardTop(net=net, clk_hz=self.clk_hz, lanes=lanes, baud=baud,
                                n_leds=len(board.leds), spram=spram, in_pack=in_pack,
                                dsp=board.capacity["dsp"],  # the rest of the products in logic
                                mac8x8=board.family == "ice40" and network_fits(net),  # 2 a DSP
                                bram_outreg=board.outreg)  # DP16KD output registers
        except ValueError:
            self._MustUse__silence = True  # a refused design is not an unused one
            raise

    def elaborate(self, platform):
        m = Module()
        if self.pll is not None:
            pin = platform.request(platform.default_clk, dir="-")
            if isinstance(self.pll, ECP5PLLConfig):  # EHXPLLL takes the buffered pin
                m.submodules.clk_buf = clk_buf = io.Buffer("i", pin)
                pll = ECP5PLLDomain(config=self.pll, clk_in=clk_buf.i)
            else:  # SB_PLL40_PAD takes the pin itself
                pll = PLLDomain(config=self.pll, clk_pin=pin)
            m.submodules.pll = pll
            m.domains.sync = ClockDomain("sync")
            m.d.comb += ClockSignal("sync").eq(pll.clk)
        m.submodules.top = top = self.top
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
        m.d.comb += [top.rx.eq(rx_buf.i), tx_buf.o.eq(top.tx)]
        requested = {}
        for i, (name, number, sub) in enumerate(self.board.leds):
            if (name, number) not in requested:
                requested[(name, number)] = platform.request(name, number, dir="-")
            res = requested[(name, number)]
            m.submodules[f"led_buf{i}"] = buf = io.Buffer("o", getattr(res, sub) if sub else res)
            m.d.comb += buf.o.eq(top.leds[i])
        return m
