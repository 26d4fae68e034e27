"""golden.check_input names the value that is out of range: the minimum when it is
negative, the maximum when too big, exactly (no wrap-around of unsigned input)."""

import re

import numpy as np
import pytest
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec

NET = QuantizedNetwork(
    NetworkSpec((LayerSpec(2, 2, neuron=LIFSpec(v_bits=8, theta=3)), LayerSpec(2, 2)),
                timesteps=2, encoding="direct", in_bits=3),
    [np.eye(2, dtype=int)] * 2, [np.zeros(2, int)] * 2)


@pytest.mark.parametrize("x, bad", [
    (np.array([[5, 7], [-3, 2]]), -3),            # max 7 is fine: the negative is the problem
    (np.array([[-1, 9]]), -1),
    (np.array([[0, 9], [2, 8]]), 9),
    (np.array([[0, 2**63]], np.uint64), 2**63),   # not wrapped to a negative int64
])
def test_direct_input_error_names_the_offending_value(x, bad):
    with pytest.raises(ValueError, match="^" + re.escape(
            f"direct input values must lie in [0, 7], not {bad}") + "$"):
        run_network(NET, x)
