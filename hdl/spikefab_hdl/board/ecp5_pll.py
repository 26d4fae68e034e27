"""The ECP5 PLL: a faster ``sync`` clock than the board's oscillator (the ULX3S's 25 MHz).

:func:`ecp5_pll` chooses the ``EHXPLLL`` dividers for the highest output frequency not above
the wanted one, with feedback from the output itself (``FEEDBK_PATH = "CLKOP"``, as Project
Trellis' ``ecppll`` writes it): ``f_out = f_in / CLKI_DIV * CLKFB_DIV``, the phase detector
at ``f_in / CLKI_DIV`` in [3.125, 400] MHz and the oscillator at ``f_out * CLKOP_DIV`` in
[400, 800] MHz. ``CLKOP_CPHASE = CLKOP_DIV - 1`` with ``FPHASE = 0`` (the output's phase
against the input does not matter here: nothing crosses between the board clock and
``sync``). :class:`ECP5PLLDomain` drives ``sync`` from the PLL, held in reset until it has
locked (:func:`.pll.hold_reset_until_locked`). nextpnr derives the output clock's
constraint from the input pin's and the dividers, so the timing check is against the PLL's
frequency.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import Instance

from .pll import LockedPLL

__all__ = ["ECP5PLLConfig", "ecp5_pll", "ECP5PLLDomain"]

_PFD_MHZ = (3.125, 400.0)
_VCO_MHZ = (400.0, 800.0)
_OUT_MHZ = (3.125, 400.0)
_DIV_MAX = 128


@dataclass(frozen=True)
class ECP5PLLConfig:
    """``EHXPLLL`` dividers and the frequency they give."""

    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_in_hz: int
    f_out_hz: float

    def describe(self) -> dict:
        """The settings as report.json records them."""
        return {"clki_div": self.clki_div, "clkfb_div": self.clkfb_div,
                "clkop_div": self.clkop_div, "mhz": round(self.f_out_hz / 1e6, 4)}


def ecp5_pll(f_in_hz: int, f_out_hz: float) -> ECP5PLLConfig:
    """The dividers giving the highest frequency not above ``f_out_hz`` from ``f_in_hz``
    (ties: the smallest input divider; the oscillator nearest 600 MHz, as ``ecppll``).

    Raises
    ------
    ValueError
        When no setting reaches [3.125, 400] MHz at or below ``f_out_hz`` (one line).
    """
    f_in, want = f_in_hz / 1e6, f_out_hz / 1e6
    best = None
    for clki in range(1, _DIV_MAX + 1):
        pfd = f_in / clki
        if not _PFD_MHZ[0] <= pfd <= _PFD_MHZ[1]:
            continue
        for clkfb in range(1, _DIV_MAX + 1):
            out = pfd * clkfb
            if not _OUT_MHZ[0] <= out <= want + 1e-9:
                continue
            ops = [d for d in range(1, _DIV_MAX + 1) if _VCO_MHZ[0] <= out * d <= _VCO_MHZ[1]]
            if ops and (best is None or out > best[0] + 1e-9):
                best = (out, clki, clkfb, min(ops, key=lambda d: (abs(out * d - 600), d)))
    if best is None:
        raise ValueError(f"no ECP5 PLL setting gives {want:g} MHz or less (at least "
                         f"{_OUT_MHZ[0]:g} MHz) from {f_in:g} MHz")
    out, clki, clkfb, op = best
    return ECP5PLLConfig(clki, clkfb, op, int(f_in_hz), out * 1e6)


class ECP5PLLDomain(LockedPLL):
    """:class:`.pll.LockedPLL` at ``config.f_out_hz`` from the board clock ``clk_in`` (the
    input buffer's output) through an ``EHXPLLL``."""

    def primitive(self, lock) -> Instance:
        c = self.config
        return Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{c.f_in_hz / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{c.f_out_hz / 1e6:g}",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
            p_CLKI_DIV=c.clki_div, p_CLKFB_DIV=c.clkfb_div,
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=c.clkop_div,
            p_CLKOP_CPHASE=c.clkop_div - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            i_RST=0, i_STDBY=0, i_CLKI=self.clk_in, i_CLKFB=self.clk,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_CLKOP=self.clk, o_LOCK=lock,
        )
