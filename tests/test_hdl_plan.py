"""The core's plan: memory layouts and widths come from the IR alone."""

import numpy as np
import pytest
from spikefab.spec import EXTENSIONS as SPEC_EXTENSIONS
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.core.plan import (
    EXTENSIONS,
    bank_rows_for,
    check_lanes,
    pack_groups,
    pack_rows,
    plan_core,
)
from spikefab_hdl.sim.randnet import make_spec, random_network


def test_weight_rows_hold_lanes_weights_of_one_input_and_group():
    w = np.arange(5 * 3).reshape(5, 3)  # n_out 5, n_in 3
    rows = pack_rows(w, 2)  # G = 3
    assert rows.shape == (3 * 3, 2)
    for i in range(3):
        for g in range(3):
            for j in range(2):
                n = g * 2 + j
                assert rows[i * 3 + g, j] == (w[n, i] if n < 5 else 0)


def test_vectors_are_padded_into_groups():
    np.testing.assert_array_equal(pack_groups(np.array([1, -2, 3]), 2), [[1, -2], [3, 0]])


def test_plan_widths_come_from_the_ir():
    spec = make_spec((7, 11, 4), encoding="direct", in_bits=3, neurons=[LIFSpec(9, 20, 2)])
    net = random_network(spec, seed=2)
    plan = plan_core(net, lanes=4)
    l0, l1 = plan.layers
    assert (l0.groups, l1.groups) == (3, 1)
    assert (l0.cur_bits, l1.cur_bits) == (net.current_bits(0), net.current_bits(1))
    assert (l0.state_bits, l1.state_bits) == (9, net.acc_bits())
    assert (l0.value_bits, l1.value_bits) == (3, 0)
    assert (l0.repeat, l1.repeat) == (True, False)
    assert plan.in_data_bits == 3 and plan.out_data_bits == max(32, net.acc_bits())
    spikes = plan_core(random_network(make_spec((7, 11, 4)), seed=2), lanes=4)
    assert spikes.in_data_bits == 3 and spikes.layers[0].value_bits == 0  # address of 7 inputs


@pytest.mark.parametrize("bad", [0, 129, -1, 2.5, "4", True, None])
def test_lanes_must_be_an_integer_in_range(bad):
    with pytest.raises(ValueError, match=rf"^lanes must be an integer in \[1, 128\], not {bad!r}$"):
        check_lanes(bad)


def test_weight_banks_take_the_dp16kd_shape_with_fewest_blocks():
    # (width, depth) -> rows per bank: 49 x (512 x 36) beats 25 x 2 x (1024 x 18)
    assert bank_rows_for(32, 25088) == 512
    assert bank_rows_for(24, 25088) == 2048  # 13 x 3 x (2048 x 9) = 39 blocks, not 49
    assert bank_rows_for(32, 2048) == 2048  # 4 blocks every way: one bank of 4 x (2048 x 9)
    assert bank_rows_for(16, 4096) == 4096  # the UP5K digits net: one bank
    assert bank_rows_for(8, 21) == 2048  # a small memory is one bank
    spec = make_spec((784, 128, 10), encoding="direct", in_bits=4, w_bits=8)
    l0, l1 = plan_core(random_network(spec, seed=0), lanes=4).layers
    assert (l0.bank_rows, l0.weight_banks) == (512, 49)  # 784 * 32 rows
    assert l1.weight_banks == 1  # 128 * 3 rows
    assert l0.to_dict()["weight_memory"] == {
        "depth": 25088, "width": 32, "banks": 49, "bank_rows": 512,
    }


def test_plan_of_a_spiking_readout_with_neuron_modes():
    neurons = [LIFSpec(9, 20, 2, synapse=SynapseSpec(7, 5, 3)),
               LIFSpec(8, 10, None, decay=3, decay_bits=2, threshold="gt")]
    spec = make_spec((5, 6, 3), timesteps=5, readout="spikes", neurons=neurons)
    net = random_network(spec, seed=1)
    l0, l1 = plan_core(net, lanes=2).layers
    assert (l0.last, l1.last) == (False, True)
    assert l1.spike_readout and not l1.is_readout and not l0.spike_readout
    assert (l0.acc_bits, l1.acc_bits) == (0, net.acc_bits()) and net.acc_bits() == 4  # [0, 5]
    assert (l0.state_bits, l1.state_bits) == (9, 8)  # membranes, not accumulators
    assert l0.to_dict()["synapse_bits"] == 7 and l1.to_dict()["synapse_bits"] == 0
    assert l1.to_dict()["spike_readout"] and not l1.to_dict()["readout"]


def test_the_core_implements_every_extension():
    assert set(EXTENSIONS) == set(SPEC_EXTENSIONS)
