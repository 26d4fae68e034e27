"""The event-driven cycle bound the core is measured against (docs/core.md, bench/cycles.py).

For one sample, with ``G_l = ceil(n_out_l / L_l)`` (``L_l`` the layer's lanes)::

    bound = E_0 * G_0                                  # input events into layer 0
          + sum_t sum_{l>=1} S_{l-1}[t] * G_l          # spikes of layer l-1 into layer l
          + T * sum_l G_l                              # per step: one pass over each layer
          + latency                                    # pipeline fill (below)

A layer taking spike masks ``K_l`` wide (:mod:`spikefab_hdl.core.lanes`) counts, instead
of ``S_{l-1}[t]`` spikes, the nonzero ``K_l``-wide chunks of layer ``l-1``'s spike vector
(neurons ``c*K_l … c*K_l+K_l-1``): one chunk event costs ``G_l`` cycles, as one spike does.

A conv layer (``G_l = ceil(C_out / lanes)`` channel groups, ``P_l`` output positions)
counts each event into it as ``taps(i) * G_l`` (``taps(i)``: the output positions input
``i`` touches, ``ny * nx``, at most ``k * k``), the events being the previous layer's
pooled spikes, and its pass as ``P_l * G_l`` rows. A conv layer whose currents are in one
single-port bank (``spram``, :mod:`spikefab_hdl.core.spram`) takes two cycles per current
row, and one with any state memory in one bank two cycles per row of its pass; two banks
cost no more than their bubbles, which the bound does not count.

``E_0`` is the number of nonzero inputs (of nonzero ``K_0``-value chunks for a direct
first layer taking pixel chunks, ``LxK`` in :mod:`spikefab_hdl.core.lanes`): summed over
the ``T`` steps for
``encoding="spikes"``; counted once per sample for ``encoding="direct"``, because the
core computes a direct first layer's current once per sample (its input repeats every
step). A direct sample also costs a cycle per input beat that carries no nonzero value
(``in_pack`` values a beat, :mod:`spikefab_hdl.core.input_pack`): the direct input work
is ``sum over beats of max(1, work of the beat's nonzero values)``, at ``in_pack = 1``
``E_0 * G_0`` plus one cycle per zero input. ``direct_per_step`` gives the bound of a
design that recomputes it every step (``T * E_0 * G_0`` instead), for comparison. Spike
counts come from the golden model.

``latency`` is what the steps cost beyond their work in the layers' pipelines, which
shows once the work is small (wide lanes, spike masks): a layer's step costs
:func:`step_latency` cycles more than its work (the integrator's depth: the skid buffer
in front of a layer after the first on ECP5 builds (:mod:`spikefab_hdl.core.skid`), the
walk, the weight memory's latency, the products of a direct layer, the adder tree's
registers of a mask layer (:mod:`spikefab_hdl.core.adder_tree`), before the step's
``eos`` may be taken; then the ``eos`` beat, the pass's read stage and its update
stages after its last group).
The layers form a pipeline over the steps, so ``latency`` is one fill through every
layer plus, for each further step, the largest ``step_latency`` of the layers that run
every step (not a direct first layer: it integrates once and runs its passes back to
back).

Layers work concurrently in the core (layer ``l`` integrates step ``t``'s spikes while
layer ``l-1`` goes on), so a sample can finish in fewer cycles than ``bound``; it can
never finish in fewer than ``lower``, the work of its busiest layer::

    lower = max_l (events into layer l) * G_l + T * G_l

(for a direct layer 0 its events' work, or its number of beats if larger).
"""

from __future__ import annotations

import numpy as np
from spikefab.golden import check_input, run_network
from spikefab.golden.layers import pass_on
from spikefab.ir import QuantizedNetwork

from ..core.adder_tree import tree_stages
from ..core.conv_geometry import ConvGeometry
from ..core.input_pack import check_in_pack
from ..core.integrator import product_latency
from ..core.lif import lif_stages
from ..core.plan import check_spram, plan_core, resolve_lanes

__all__ = ["event_bound", "step_latency"]


def pass_latency(lp) -> int:
    """The part of :func:`step_latency` after the integration: the ``eos`` beat taken, the
    pass's read stage, then its update stages."""
    return 2 + (2 if lp.neuron is None else len(lif_stages(lp.neuron)))


def step_latency(lp) -> int:
    """Cycles one step costs in layer ``lp``'s pipelines beyond its work (module docstring);
    a layer with a skid buffer in front (``LayerPlan.skid``, ``core.skid``), one cycle."""
    integ = 1 + lp.skid + lp.weight_latency + product_latency(lp) + tree_stages(lp)
    return integ + pass_latency(lp)


def event_bound(net: QuantizedNetwork, x, *, lanes, spram=None, in_pack: int = 1,
                budget=None, bram_outreg: bool | str = False) -> dict:
    """Per-sample event-driven bound and its parts (``lanes``: any form the core takes,
    ``plan.resolve_lanes``; ``spram``: the core's placement of
    state memories in single-port RAM, ``plan.check_spram``; ``in_pack``: direct input
    values per beat; ``bram_outreg``: the core's, ``plan.plan_core``: an ECP5 core's deeper
    pipelines).

    Returns
    -------
    dict
        ``bound`` and ``lower`` int64 [B]; ``input_work`` (``E_0 * G_0``, for direct
        input with the empty beats), ``spike_work``
        (the sum over layers >= 1), ``overhead`` (``T * sum G_l``) and ``latency``, each
        int64 [B];
        ``direct_per_step`` int64 [B] (equal to ``bound`` for spike input); ``groups``
        (``G_l`` per layer: channel groups of a conv layer); ``rows`` (rows of each
        layer's pass: ``G_l``, ``P_l * G_l`` for a conv layer).
    """
    spec = net.spec
    in_pack = check_in_pack(net.spec, in_pack)
    items = resolve_lanes(net, lanes, budget=budget, in_pack=in_pack)
    xs = check_input(net, x)
    steps, batch = xs.shape[0], xs.shape[1]
    geos = [None if layer.conv is None else ConvGeometry(layer.conv, lanes)
            for layer, (lanes, _) in zip(spec.layers, items, strict=True)]
    groups = [-(-layer.n_out // lanes) if geo is None else geo.groups
              for layer, geo, (lanes, _) in zip(spec.layers, geos, items, strict=True)]
    placed = {i: dict(p) for i, p in check_spram(net, spram).items()}
    one_bank = [[b for b in placed.get(i, {}).values() if b == 1] for i in range(len(geos))]
    slow = [2 if placed.get(i, {}).get("currents") == 1 else 1 for i in range(len(geos))]
    rows = [(g if geo is None else geo.rows) * (2 if one else 1)
            for g, geo, one in zip(groups, geos, one_bank, strict=True)]
    # cycles each input of a layer costs: G, or taps(i) * G for a conv layer
    cost = [g if geo is None else geo.taps_per_input() * g * k
            for g, geo, k in zip(groups, geos, slow, strict=True)]
    gold = run_network(net, x)
    nonzero = ((xs != 0) * cost[0]).sum(axis=2)  # [T, B]
    if spec.encoding == "direct":
        k0 = items[0][1]  # pixel chunks: a chunk with a nonzero value costs G_0
        live = np.pad(xs[0] != 0, ((0, 0), (0, -xs.shape[2] % in_pack)))
        work = live.reshape(batch, -1, k0).any(axis=2) * cost[0]  # [B, chunks]
        nonzero = nonzero if k0 == 1 else np.broadcast_to(work.sum(axis=1), nonzero.shape)
        per_beat = work.reshape(batch, -1, in_pack // k0).sum(axis=2)  # [B, beats]
        input_work = np.maximum(per_beat, 1).sum(axis=1)
        first = np.maximum(nonzero[0], per_beat.shape[1])
        per_step = steps * nonzero[0] + input_work - nonzero[0]
    else:
        input_work = first = nonzero.sum(axis=0)
        per_step = input_work
    spike_work = np.zeros(batch, np.int64)
    layer_work = [first + steps * rows[0]]
    step_work = [np.zeros((steps, batch), np.int64)]  # [layer][T, B]
    step_work[0][0 if spec.encoding == "direct" else slice(None)] = \
        input_work if spec.encoding == "direct" else nonzero
    for i, s in enumerate(gold.spikes[: len(spec.layers) - 1]):  # into layers 1 ..
        seen = pass_on(spec.layers[i], s.reshape(steps * batch, -1).astype(np.int64))
        k = items[i + 1][1]
        if k > 1:  # nonzero chunks of K spikes
            seen = np.pad(seen, ((0, 0), (0, -seen.shape[1] % k)))
            seen = seen.reshape(seen.shape[0], -1, k).any(axis=2).astype(np.int64)
        per = (seen * cost[i + 1]).reshape(steps, batch, -1).sum(axis=2).astype(np.int64)
        step_work.append(per)
        work = per.sum(axis=0)
        spike_work += work
        layer_work.append(work + steps * rows[i + 1])
    overhead = np.full(batch, steps * sum(rows), np.int64)
    lps = plan_core(net, lanes=items, spram=spram, in_pack=in_pack,
                    bram_outreg=bram_outreg).layers
    lat = [step_latency(lp) for lp in lps]
    every_step = lat[1:] if spec.encoding == "direct" else lat
    latency = np.full(batch, sum(lat) + (steps - 1) * max(every_step, default=0), np.int64)
    serial = input_work + spike_work + overhead + latency
    # the pipeline over the steps: layer l's step t starts once layer l-1's pass of step t
    # and its own step t-1 have ended
    done = None
    for i, lp in enumerate(lps):
        ends = np.zeros((steps, batch), np.int64)
        for t in range(steps):
            start = ends[t - 1] if t else np.zeros(batch, np.int64)
            if done is not None:
                start = np.maximum(start, done[t])
            again = t and lp.repeat  # a direct layer's later steps: passes only
            ends[t] = start + step_work[i][t] + rows[i] + (pass_latency(lp) if again else lat[i])
        done = ends
    bound = np.minimum(done[-1], serial)
    return {
        "bound": bound.astype(np.int64),
        "serial": serial.astype(np.int64),
        "lower": np.max(layer_work, axis=0).astype(np.int64),
        "input_work": input_work.astype(np.int64),
        "spike_work": spike_work,
        "overhead": overhead,
        "latency": latency,
        "direct_per_step": (per_step + spike_work + overhead + latency).astype(np.int64),
        "groups": groups,
        "rows": rows,
    }
