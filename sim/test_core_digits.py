"""(a) The trained digits model in Verilator on 120 test images: everything exact.

The model is the demo's (``spikefab.trained.load("digits", 0)``: float SpikingMLP 64-128-10,
T=4, direct 4-bit input, post-training quantised), cached under ``build/sim/`` by the
hash of the training sources. core_tb checks every spike, post-reset membrane, logit,
accumulator, prediction and cycle count against golden, with random idle and
backpressure cycles on the streams.
"""

from spikefab import trained
from spikefab_hdl.sim.testbench import SIM_BUILD, run_core_bench

N_IMAGES = 120


def test_trained_model_is_what_the_demo_trains():
    net, x_test, y_test = trained.load("digits", 0)
    assert [(la.n_in, la.n_out) for la in net.spec.layers] == [(64, 128), (128, 10)]
    assert net.spec.encoding == "direct" and net.spec.timesteps == 4
    assert x_test.shape[0] >= N_IMAGES and x_test.shape[0] == y_test.shape[0]
    assert net.meta["golden_acc"] > 0.9  # a trained model, not a random one


def test_core_digits_runner():
    net, x_test, _ = trained.load("digits", 0)
    summary = run_core_bench(net, x_test[:N_IMAGES], build_dir=SIM_BUILD / "digits-l4", lanes=4,
                                    idle=0.1, stall=0.2, seed=7)
    assert summary["samples"] == N_IMAGES
