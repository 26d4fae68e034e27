"""The proofs of one network, at its own widths and lanes, and running them.

:func:`network_proofs` lists, for the :class:`~spikefab_hdl.core.plan.CorePlan` of a
network, every proof the core's blocks get (docs/verification.md):

* ``layer<l>.neuron``: the layer's neuron update (:class:`~.neuron.UpdateHarness`) and,
  for a ``decay``, ``delayed-reset`` or ``cuba`` neuron, its state-only products
  (``layer<l>.neuron-prep``, :class:`~.neuron.PrepHarness`) — combinational, proven for
  every input at depth 1; dense and conv layers and the spiking readout share the stage;
* ``layer<l>.integrator``: a layer's read-modify-write pipeline (dense, the readout,
  conv, masks) with its memories abstracted (:class:`~.rmw.RMWHarness`), by k-induction
  (none yet for a direct layer taking pixel chunks: docs/verification.md);
* ``layer<l>.queue``, ``-short``, ``-cover``: a hidden layer's spike queue
  (:func:`~.queue.queue_proofs`), by k-induction (deep queues: bounded at their depth, by
  induction with 8 entries), and its covers;
* ``board.parser``, ``board.builder`` (:func:`board_proofs`, the network's board top): the
  UART framing (:func:`~.framing.framing_proofs`), by k-induction at the network's own
  sample length (the builder: every LEN), and their covers.

Layers with the same neuron, lanes and widths share one proof (the names say which).
:func:`prove` runs a list of proofs, ``jobs`` at a time, the longest kinds first, and an
identical proof once.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from amaranth.back import rtlil

from ..core.plan import CorePlan, LayerPlan
from .neuron import PrepHarness, UpdateHarness, describe_neuron
from .proof import Proof
from .queue import queue_proofs
from .rmw import rmw_proofs
from .sby import DEFAULT_SOLVER, ProofResult, run_sby, stopping_solvers

__all__ = ["Proof", "board_proofs", "network_proofs", "neuron_proofs", "prove"]


def neuron_proofs(name: str, *, neuron, lanes: int, cur_bits: int,
                  gateware=None) -> list[Proof]:
    """The neuron proofs of one layer: update (and prep). ``gateware``: the LIFSpec the
    gateware is built from when it is not ``neuron`` (a planted bug, in tests)."""
    kw = {"neuron": neuron, "lanes": lanes, "cur_bits": cur_bits, "gateware": gateware}
    what = f"{describe_neuron(neuron)}, cur_bits {cur_bits}, {lanes} lanes"
    proofs = [Proof(f"{name}.neuron", f"next v, spike{', i' if neuron.synapse else ''} "
                    f"= docs/semantics.md ({what})",
                    lambda: UpdateHarness(**kw), "comb", 1)]
    if neuron.decay is not None or neuron.synapse is not None or \
            neuron.reset == "subtract-delayed":
        proofs.insert(0, Proof(f"{name}.neuron-prep", f"decay products and the stored "
                               f"spike = docs/semantics.md ({what})",
                               lambda: PrepHarness(**kw), "comb", 1))
    return proofs


def _shared(layers: list[LayerPlan], key) -> list[tuple[str, LayerPlan]]:
    """``[(name, first layer)]`` for the groups of layers with the same ``key(layer)``."""
    groups: dict = {}
    for lp in layers:
        groups.setdefault(key(lp), []).append(lp)
    return [("layer" + "+".join(str(lp.index) for lp in g), g[0]) for g in groups.values()]


def network_proofs(plan: CorePlan, *, integrator: bool = True,
                   queues: bool = True) -> list[Proof]:
    """Every proof of the core of ``plan`` (see the module docstring)."""
    proofs: list[Proof] = []
    spiking = [lp for lp in plan.layers if lp.neuron is not None]
    for name, lp in _shared(spiking, lambda lp: (lp.neuron, lp.lanes, lp.cur_bits)):
        proofs += neuron_proofs(name, neuron=lp.neuron, lanes=lp.lanes, cur_bits=lp.cur_bits)
    if integrator:
        for lp in plan.layers:
            proofs += rmw_proofs(lp)
    if queues:
        for lp in plan.layers:
            proofs += queue_proofs(lp)
    return proofs


def board_proofs(net) -> list[Proof]:
    """The framing proofs of ``net``'s board top (its encoding and value widths; the clock
    does not enter the framing)."""
    from spikefab.protocol import NetInfo

    from .framing import framing_proofs

    return framing_proofs(NetInfo.from_network(net, 12_000_000))


def prove(proofs: list[Proof], *, work, out, jobs: int = 2, solver: str | None = None,
          timeout: int | None = None,
          report: Callable[[ProofResult], None] | None = None) -> list[ProofResult]:
    """Run ``proofs`` (``jobs`` SymbiYosys runs at a time) in ``work/<name>``;
    counterexamples go to ``out/<name>.vcd``. ``solver`` overrides each proof's own.
    ``timeout``: seconds per proof (past them it
    fails as not proven). ``report`` is called with each result as it comes. Returns the
    results in the order of ``proofs``. The longest kinds run first; a proof identical to
    an earlier one (its harness's RTLIL, mode, depth and solver) runs once, and its result
    names the one that ran (``same_as``)."""
    work, out = Path(work), Path(out)
    harnesses = [p.harness() for p in proofs]
    # a proof whose harness, mode, depth and solver equal an earlier one's is that proof:
    # run once, its result given to both (two configs' identical framing, equal widths)
    first: dict = {}
    same, ils = [], []
    for p, h in zip(proofs, harnesses, strict=True):
        ils.append(rtlil.convert(h, name="top"))
        key = (p.mode, p.depth, solver or p.solver, p.memory_map, ils[-1])
        same.append(first.setdefault(key, len(same)))
    todo = sorted(set(same), key=lambda i: (_rank(proofs[i]), i))  # the long ones first

    def one(i: int) -> ProofResult:
        p = proofs[i]
        result = run_sby(harnesses[i], name=p.name, mode=p.mode, depth=p.depth, work=work,
                         out=out, solver=solver or p.solver or DEFAULT_SOLVER, timeout=timeout,
                         memory_map=p.memory_map, il=ils[i])
        if report is not None:
            report(result)
        return result

    with stopping_solvers():  # SIGTERM or Ctrl-C: every run of the pool is killed
        if jobs <= 1 or len(todo) <= 1:
            done = dict(zip(todo, map(one, todo), strict=True))
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                done = dict(zip(todo, pool.map(one, todo), strict=True))
    results = []
    for k, (p, i) in enumerate(zip(proofs, same, strict=True)):
        r = done[i]
        if k != i:
            r = replace(r, name=p.name, same_as=r.name)
            if report is not None:
                report(r)
        results.append(r)
    return results


def _rank(p: Proof) -> int:
    """Order of the runs: the proofs that take longest first (integrators, then queues),
    so that ``jobs`` solvers stay busy to the end."""
    if ".integrator" in p.name:
        return 0
    if ".queue" in p.name and p.mode != "cover":
        return 1
    return {"prove": 2, "bmc": 2, "cover": 3}.get(p.mode, 4)
