"""(b) Random networks over several specs in Verilator: every spike, membrane, synaptic
current and logit exact, for v1 and every neuron mode and readout the core implements.

One Verilator build per distinct network (``build/sim/random-<id>/``); the specs are in
``core_cases.py``. The cocotb side is ``core_tb.core_golden_test``.
"""

import numpy as np
import pytest
from core_cases import BANKED, BATCH, CASES, DSP, MAC8X8, OUTREG, PACK, SPRAM, random_case
from spikefab.golden import run_network
from spikefab.golden.layers import layer_current, pass_on
from spikefab_hdl.core.adder_tree import tree_schedule
from spikefab_hdl.core.integrator import product_latency
from spikefab_hdl.core.plan import EXTENSIONS, plan_core
from spikefab_hdl.sim.testbench import SIM_BUILD, run_core_bench

#: ``(outreg, weight_latency, product_latency, adder-tree levels a stage)`` per layer of the
#: OUTREG cases.
OUTREG_LAYERS = {"spikes-banked-l1": [(True, 4, 0, []), (True, 4, 0, [])],
                 "direct-chunks-l3": [(False, 2, 2, [2]), (False, 2, 0, [])],
                 "direct-mask-spike-readout": [(False, 2, 2, []), (False, 2, 0, [2, 2])],
                 "spikes-mask-mixed": [(False, 2, 0, []), (False, 2, 0, [1, 2]),
                                       (False, 2, 0, [1])]}


def _raw_membranes(net, x, gold):
    """Per v1 hidden layer, ``v - (v >> k) + I`` before saturation, from golden's own
    trajectory (None for a layer with a neuron mode)."""
    spec = net.spec
    h = np.broadcast_to(x, (spec.timesteps, *x.shape)) if spec.encoding == "direct" else x
    raws = []
    for i, layer in enumerate(spec.hidden):
        cur = np.stack([layer_current(net, i, h[t]) for t in range(len(h))])  # [T, B, n]
        prev = np.concatenate([np.zeros_like(gold.membranes[i][:1]), gold.membranes[i][:-1]])
        k = layer.neuron.leak_shift
        v1 = not layer.neuron.extensions()
        raws.append(prev - (0 if k is None else prev >> k) + cur if v1 else None)
        h = np.stack([pass_on(layer, s.astype(np.int64)) for s in gold.spikes[i]])
    return raws


def test_cases_exercise_what_they_claim():
    """Saturation at both ends, spiking and silence really happen in these networks; the
    mode cases use every extension the core implements and saturate their synapses."""
    hit_low = hit_high = False
    used = set()
    for name in CASES:
        net, x, _lanes, _seed = random_case(name)
        gold = run_network(net, x)
        raws = _raw_membranes(net, x, gold)
        for layer, raw in zip(net.spec.hidden, raws, strict=True):
            if raw is not None:
                bits = layer.neuron.v_bits
                hit_low |= bool((raw < -(1 << (bits - 1))).any())
                hit_high |= bool((raw > (1 << (bits - 1)) - 1).any())
        for layer, s, syn in zip(net.spec.spiking, gold.spikes, gold.synapses, strict=True):
            assert 0 < s.mean() < 1, f"{name}: a layer never or always spikes"
            if syn is not None:
                top = (1 << (layer.neuron.synapse.i_bits - 1)) - 1
                assert (syn == top).any() and (syn == -top - 1).any(), f"{name}: synapses"
        used |= set(net.spec.semantics.split("+")[1:])
        pack = PACK.get(name, 1)
        banks = plan_core(net, lanes=_lanes, in_pack=pack).layers[0].weight_banks
        assert (banks > 1) == (name in BANKED), (name, banks)
        lp = plan_core(net, lanes=_lanes, dsp=DSP.get(name), mac8x8=name in MAC8X8,
                       in_pack=pack).layers[0]
        assert (lp.logic_lanes > 0) == (name in DSP), (name, lp.logic_lanes)
        assert lp.mac8x8 == (name in MAC8X8), name
        if name in MAC8X8 and name in DSP:  # products on both halves of a block and in logic
            assert lp.lanes * lp.mask - lp.logic_lanes == 2 * DSP[name], name
        if name in OUTREG:  # several banks and one bank of DP16KD with the output register,
            # or a direct layer's products registered twice (rows in LUTs)
            reg = plan_core(net, lanes=_lanes, bram_outreg=OUTREG[name], in_pack=pack).layers
            got = [(lp.outreg, lp.weight_latency, product_latency(lp),
                    tree_schedule(lp.mask, lp.tree_levels) if lp.mask > 1 else []) for lp in reg]
            assert got == OUTREG_LAYERS[name], (name, got)
    assert hit_low and hit_high
    assert used == set(EXTENSIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_core_random_runner(name):
    net, x, lanes, seed = random_case(name)
    summary = run_core_bench(net, x, build_dir=SIM_BUILD / f"random-{name}", lanes=lanes,
                             idle=0.25, stall=0.3, seed=seed,
                             spram=SPRAM.get(name), in_pack=PACK.get(name, 1),
                             dsp=DSP.get(name), mac8x8=name in MAC8X8,
                             bram_outreg=OUTREG.get(name, False))
    assert summary["samples"] == BATCH
    assert len(summary["cycles"]) == BATCH and min(summary["cycles"]) > 0
    assert np.isfinite(summary["sim_cycles"])
