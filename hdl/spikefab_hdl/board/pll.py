"""The iCE40 PLL: a faster ``sync`` clock than the board's oscillator (the iCEBreaker's 12 MHz).

:func:`ice40_pll` chooses the ``SB_PLL40`` dividers as ``icepll`` does: the output
``f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)`` closest to (and not above) the wanted
frequency, with the phase detector at ``f_in / (DIVR + 1)`` in [10, 133] MHz and the
oscillator at ``f_out * 2**DIVQ`` in [533, 1066] MHz (iCE40 sysCLOCK PLL guide, TN1251).
:class:`PLLDomain` builds the ``sync`` domain from the board clock's pin through an
``SB_PLL40_PAD``, held in reset until the PLL has locked and 15 µs after configuration
(the iCE40 block RAMs read zeros for about 3 µs, see Amaranth's iCE40 platform).
nextpnr derives the output clock's constraint from the board clock's and the dividers.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

__all__ = ["PLLConfig", "ice40_pll", "LockedPLL", "PLLDomain", "hold_reset_until_locked"]

_PFD_MHZ = (10.0, 133.0)
_VCO_MHZ = (533.0, 1066.0)
_OUT_MHZ = (16.0, 275.0)


@dataclass(frozen=True)
class PLLConfig:
    """``SB_PLL40`` parameters and the frequency they give."""

    divr: int
    divf: int
    divq: int
    filter_range: int
    f_in_hz: int
    f_out_hz: float

    def describe(self) -> dict:
        """The settings as report.json records them."""
        return {"divr": self.divr, "divf": self.divf, "divq": self.divq,
                "filter_range": self.filter_range, "mhz": round(self.f_out_hz / 1e6, 4)}


def _filter_range(pfd_mhz: float) -> int:
    # icepll's choice of the loop filter from the phase detector frequency
    for top, value in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if pfd_mhz < top:
            return value
    return 6


def ice40_pll(f_in_hz: int, f_out_hz: float) -> PLLConfig:
    """The dividers giving the highest frequency not above ``f_out_hz`` from ``f_in_hz``.

    Raises
    ------
    ValueError
        When no setting reaches [16, 275] MHz at or below ``f_out_hz`` (one line).
    """
    best = None
    f_in = f_in_hz / 1e6
    want = f_out_hz / 1e6
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not _PFD_MHZ[0] <= pfd <= _PFD_MHZ[1]:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not _VCO_MHZ[0] <= vco <= _VCO_MHZ[1]:
                continue
            for divq in range(1, 7):
                out = vco / 2 ** divq
                if _OUT_MHZ[0] <= out <= want + 1e-9 and (best is None or out > best[0]):
                    best = (out, divr, divf, divq, pfd)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting gives {want:g} MHz or less (at least "
                         f"{_OUT_MHZ[0]:g} MHz) from {f_in:g} MHz")
    out, divr, divf, divq, pfd = best
    return PLLConfig(divr, divf, divq, _filter_range(pfd), int(f_in_hz), out * 1e6)


class LockedPLL(Elaboratable):
    """Clock and reset of the ``sync`` domain from a PLL primitive (:meth:`primitive`, per
    FPGA family) on the board clock ``clk_in``: the parent module defines the ``sync`` domain
    and drives its clock from :attr:`clk`; this drives its reset
    (:func:`hold_reset_until_locked`).

    Attributes
    ----------
    clk : Signal(1), out
        The PLL's output.
    """

    def __init__(self, *, config, clk_in):
        self.config = config
        self.clk_in = clk_in
        self.clk = Signal(name="pll_clk")

    def primitive(self, lock) -> Instance:
        """The PLL instance: input ``clk_in``, output :attr:`clk`, lock flag ``lock``."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        lock = Signal()
        m.submodules.pll = self.primitive(lock)
        hold_reset_until_locked(m, self.clk, lock, self.config.f_out_hz)
        return m


class PLLDomain(LockedPLL):
    """:class:`LockedPLL` at ``config.f_out_hz`` from the board clock pin ``clk_pin`` (an io
    port requested with ``dir="-"``) through an ``SB_PLL40_PAD``."""

    def __init__(self, *, config: PLLConfig, clk_pin):
        super().__init__(config=config, clk_in=clk_pin)

    def primitive(self, lock) -> Instance:
        c = self.config
        return Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=c.divr, p_DIVF=c.divf, p_DIVQ=c.divq, p_FILTER_RANGE=c.filter_range,
            i_PACKAGEPIN=self.clk_in.io,
            i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=self.clk, o_LOCK=lock,
        )


def hold_reset_until_locked(m: Module, clk, lock, f_hz: float) -> None:
    """Drive the ``sync`` domain's reset: held until ``lock`` rises, then 15 us more (iCE40
    block RAMs read zeros for ~3 us after configuration), counted on the PLL's ``clk``."""
    delay = int(15e-6 * f_hz)
    m.domains.por = ClockDomain("por", reset_less=True, local=True)
    m.d.comb += ClockSignal("por").eq(clk)
    timer = Signal(range(delay + 1))
    ready = Signal()
    with m.If(~lock):
        m.d.por += [timer.eq(0), ready.eq(0)]
    with m.Elif(timer == delay):
        m.d.por += ready.eq(1)
    with m.Else():
        m.d.por += timer.eq(timer + 1)
    m.submodules.reset_sync = ResetSynchronizer(~ready, domain="sync")
