"""spikefab_hdl.sim.rtlsim.simulate (the API the demo calls) returns exactly what golden computes.

It reuses the Verilator builds of the other sim/ tests where the Verilog is the same
(the digits model, the two-hidden-layer spiking network, the spiking readout), so it
mostly costs simulation.
"""

import numpy as np
import pytest
from core_cases import random_case
from spikefab import trained
from spikefab.golden import compare_rtl, run_network
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.native import run_native
from spikefab_hdl.sim.rtlsim import simulate
from spikefab_hdl.sim.testbench import SIM_BUILD


def _assert_equal_to_golden(res, gold, trace=True):
    np.testing.assert_array_equal(res["prediction"], gold.prediction)
    np.testing.assert_array_equal(res["acc"], gold.acc)
    assert res["prediction"].dtype == np.int64 and res["acc"].dtype == np.int64
    if trace:
        np.testing.assert_array_equal(res["logits"], gold.logits)
        for got, want in zip(res["spikes"], gold.spikes, strict=True):
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, want)
        for got, want in zip(res["membranes"], gold.membranes, strict=True):
            np.testing.assert_array_equal(got, want)
    else:
        assert not {"logits", "spikes", "membranes"} & set(res)


def test_simulate_digits_model():
    net, x_test, _ = trained.load("digits", 0)
    x = x_test[:40]
    res = simulate(net, x, lanes=4, build_dir=SIM_BUILD / "digits-l4", trace=True)
    _assert_equal_to_golden(res, run_network(net, x))
    np.testing.assert_array_equal(res["cycles"], res["wall_cycles"])
    bound = event_bound(net, x, lanes=4)
    assert (res["cycles"] >= bound["lower"]).all()
    assert (res["cycles"] <= 1.2 * bound["bound"]).all()
    assert res["sim_cycles"] >= res["cycles"].sum()
    assert res["sim_seconds"] > 0 and res["build_seconds"] >= 0


def test_simulate_spikes_network_with_backpressure():
    net, x, lanes, _ = random_case("spikes-2hidden-l1")
    res = simulate(net, x, lanes=lanes, build_dir=SIM_BUILD / "random-spikes-2hidden-l1",
                   idle=0.3, stall=0.3, seed=3)
    _assert_equal_to_golden(res, run_network(net, x))
    np.testing.assert_array_equal(res["cycles"], res["wall_cycles"])


def test_simulate_spiking_readout_with_synapses():
    """A spiking readout behind a ``cuba`` layer: every spiking layer's spikes, membranes
    and synaptic currents come back, and the pipeline's comparison accepts them."""
    net, x, lanes, _ = random_case("spikes-readout-spikes-l3")
    x = x[:, :6]
    res = simulate(net, x, lanes=lanes, build_dir=SIM_BUILD / "random-spikes-readout-spikes-l3")
    gold = run_network(net, x)
    _assert_equal_to_golden(res, gold)
    assert len(res["spikes"]) == 2 and res["synapses"][0] is None
    np.testing.assert_array_equal(res["synapses"][1], gold.synapses[1])
    cmp = compare_rtl(gold, res)
    assert (cmp["matching"], cmp["trace_mismatches"]) == (cmp["total"], 0)
    assert cmp["trace_compared"] == ["logits", "spikes", "membranes", "synapses"]


def test_simulate_without_trace_ports(tmp_path):
    net, x, lanes, _ = random_case("spikes-readout-only-l4")
    res = simulate(net, x, lanes=lanes, build_dir=tmp_path / "notrace", trace=False)
    _assert_equal_to_golden(res, run_network(net, x), trace=False)
    assert res["build_seconds"] > 0
    again = simulate(net, x[:, :3], lanes=lanes, build_dir=tmp_path / "notrace", trace=False)
    assert again["build_seconds"] == 0.0  # same Verilog: the build is reused
    np.testing.assert_array_equal(again["acc"], res["acc"][:3])
    # the C++ harness of the throughput bench drives the same core to the same results
    nat = run_native(net, x, lanes=lanes, build_dir=tmp_path / "native")
    _assert_equal_to_golden(nat, run_network(net, x), trace=False)
    np.testing.assert_array_equal(nat["cycles"], res["cycles"])
    assert nat["sim_cycles"] >= nat["cycles"].sum() and nat["cycles_per_second"] > 0


def test_bad_input_is_refused_before_building(tmp_path):
    net, x, lanes, _ = random_case("spikes-readout-only-l4")
    with pytest.raises(ValueError, match=r"^spike input must have shape \[3, 'B', 8\], not \[8\]$"):
        simulate(net, x[0, 0], lanes=lanes, build_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()



def test_simulate_with_packed_input(tmp_path):
    """``simulate(in_pack=P)`` (the run pipeline's ``[hardware] in_pack``): the digits
    model with 4 values a beat equals golden, traces included, in fewer cycles."""
    net, x_test, _ = trained.load("digits", 0)
    x = x_test[:20]
    res = simulate(net, x, lanes=4, build_dir=tmp_path / "p4", trace=True, in_pack=4)
    _assert_equal_to_golden(res, run_network(net, x))
    one = event_bound(net, x, lanes=4)
    four = event_bound(net, x, lanes=4, in_pack=4)
    assert (res["cycles"] >= four["lower"]).all() and four["bound"].sum() < one["bound"].sum()
    with pytest.raises(ValueError, match=r"^in_pack must be an integer in \[1, 64\], not 0$"):
        simulate(net, x, lanes=4, build_dir=tmp_path / "p0", in_pack=0)
