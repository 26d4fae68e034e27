"""The top of every proof: free inputs as ports, and named checks, assumptions and covers.

A :class:`Harness` is a ``wiring.Component`` whose ``In`` ports are the proof's free
inputs (SymbiYosys chooses them anew every cycle; :meth:`Harness.constant` holds one
still). The ``sync`` domain's reset is held low: the design starts from its initial
state and runs freely. Every property is a signal of its own, ``ok_<name>`` (a check) or
``cov_<name>`` (a cover), so the counterexample names what failed
(:meth:`Harness.failed_checks`).
"""

from __future__ import annotations

from amaranth import Module, Mux, ResetSignal, Signal
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import wiring

__all__ = ["Harness"]


class Harness(wiring.Component):
    """Base class of the proofs' tops; a subclass implements :meth:`build`.

    Attributes
    ----------
    texts : dict
        ``{signal name: what the property says}``, filled while the design is elaborated.
    """

    #: True: every property is only its named signal (``ok_``, ``cov_``, and ``asm_<k>`` for
    #: the assumptions), no ``Assert``/``Assume``/``Cover``: a simulation samples them at each
    #: clock edge (:attr:`signals`). Amaranth's simulator checks an ``Assert`` of the comb
    #: domain before its inputs settle (a false failure at time 0).
    simulated = False

    def __init__(self, ports: dict):
        super().__init__(ports)
        self.texts: dict[str, str] = {}
        self.signals: dict[str, Signal] = {}

    def elaborate(self, platform):
        m = Module()
        self._m = m
        self.build(m)
        self.assume(~ResetSignal("sync"))  # the design runs from its initial state
        return m

    def build(self, m: Module) -> None:
        raise NotImplementedError

    def _named(self, prefix: str, name: str, cond, text: str) -> Signal:
        sig_name = f"{prefix}_{name}"
        if sig_name in self.texts:
            raise ValueError(f"property {sig_name} is defined twice")
        self.texts[sig_name] = text
        sig = Signal(name=sig_name)
        self._m.d.comb += sig.eq(cond)
        self.signals[sig_name] = sig
        return sig

    def check(self, name: str, cond, text: str) -> None:
        """Assert ``cond`` in every cycle; ``text`` says what it means."""
        sig = self._named("ok", name, cond, text)
        if not self.simulated:
            self._m.d.comb += Assert(sig)

    def cover(self, name: str, cond, text: str) -> None:
        """Ask for a trace in which ``cond`` holds."""
        sig = self._named("cov", name, cond, text)
        if not self.simulated:
            self._m.d.comb += Cover(sig)

    def assume(self, cond) -> None:
        """Consider only traces in which ``cond`` holds in every cycle."""
        if self.simulated:
            k = sum(name.startswith("asm_") for name in self.texts)
            self._named("asm", str(k), cond, "an assumption of the harness")
        else:
            self._m.d.comb += Assume(cond)

    def constant(self, value) -> None:
        """Consider only traces in which the free input ``value`` never changes."""
        m = self._m
        first = Signal(init=1, name=f"first_{len(self.texts)}")
        prev = Signal.like(value, name=f"prev_{len(self.texts)}")
        m.d.sync += [first.eq(0), prev.eq(value)]
        self.assume(first | (value == prev))

    def run_length(self, cond, limit: int) -> Signal:
        """Cycles before this one in which ``cond`` held in a row (at most ``limit + 1``):
        for bounded response, ``check(..., run_length(waiting, n) < n, ...)``."""
        m = self._m
        run = Signal(range(limit + 2), name=f"run_{len(self.texts)}")
        with m.If(cond):
            m.d.sync += run.eq(Mux(run == limit + 1, run, run + 1))
        with m.Else():
            m.d.sync += run.eq(0)
        return run

    def failed_checks(self, values: dict) -> list[str]:
        """What the checks low at the end of a counterexample say."""
        bad = []
        for sig_name, text in self.texts.items():
            if not sig_name.startswith("ok_"):
                continue
            hits = [v for k, v in values.items() if k.rsplit(".", 1)[-1] == sig_name]
            if hits and hits[-1] == 0:
                bad.append(text)
        return bad or ["an assertion failed (see the counterexample)"]

    def covers(self) -> dict[str, str]:
        return {k: v for k, v in self.texts.items() if k.startswith("cov_")}
