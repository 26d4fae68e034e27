"""Synaptic operation counts by hand and the energy arithmetic of each cost model."""

import numpy as np
import pytest
from spikefab.report import PJ, energy_estimate, synaptic_ops
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec


def _spec(encoding, w_bits=8):
    lif = LIFSpec(v_bits=16, theta=4, leak_shift=None, reset="subtract")
    return NetworkSpec(layers=(LayerSpec(4, 3, w_bits, 8, lif), LayerSpec(3, 2, w_bits, 8, None)),
                       timesteps=2, encoding=encoding, in_bits=4 if encoding == "direct" else 1)


def test_direct_first_layer_counts_macs_per_nonzero_input_and_step():
    x = np.array([[1, 0, 2, 0], [0, 0, 0, 3]])          # nnz 2 and 1: mean 1.5
    counts = [np.array([[1, 0, 2], [0, 0, 1]])]          # hidden spikes over T: 3 and 1
    ops = synaptic_ops(_spec("direct"), x, counts)
    l0, l1 = ops["layers"]
    assert (l0["kind"], l0["events"], l0["ops"]) == ("mac", 3.0, 9.0)   # T * 1.5 * 3
    assert (l1["kind"], l1["events"], l1["ops"]) == ("ac", 2.0, 4.0)    # 2 spikes * 2
    assert (l0["bias_adds"], l1["bias_adds"]) == (6, 4)
    assert (ops["total_mac"], ops["total_ac"], ops["total_bias_adds"]) == (9.0, 4.0, 10)
    assert ops["dense_macs"] == 4 * 3 + 3 * 2


def test_spiking_input_counts_accumulates():
    x = np.zeros((2, 2, 4), np.uint8)
    x[0, 0, [0, 1]] = 1
    x[1, 0, 3] = 1
    x[1, 1, 2] = 1                                        # 3 and 1 input spikes: mean 2
    counts = [np.array([[0, 0, 0], [2, 2, 0]])]
    ops = synaptic_ops(_spec("spikes"), x, counts)
    assert [(la["kind"], la["ops"]) for la in ops["layers"]] == [("ac", 6.0), ("ac", 4.0)]
    assert ops["total_mac"] == 0 and ops["total_ac"] == 10.0


def test_energy_models():
    ops = {"total_ac": 4.0, "total_mac": 9.0, "total_bias_adds": 10, "dense_macs": 18}
    e = energy_estimate(ops, _spec("direct"))
    assert e["fp32"]["snn_pj"] == pytest.approx(4 * 0.9 + 9 * 4.6 + 10 * 0.9)
    assert e["fp32"]["ann_pj"] == pytest.approx(18 * 4.6)
    assert e["int"]["snn_pj"] == pytest.approx(4 * 0.1 + 9 * 0.3 + 10 * 0.1)
    read = 10.0 * 8 / 64
    assert e["int+sram"]["snn_pj"] == pytest.approx(4 * (0.1 + read) + 9 * (0.3 + read) + 1.0)
    assert e["int+sram"]["ann_pj"] == pytest.approx(18 * (0.3 + read))
    assert e["fp32"]["ratio"] == pytest.approx(e["fp32"]["ann_pj"] / e["fp32"]["snn_pj"])
    wide = energy_estimate(ops, _spec("direct", w_bits=12))
    assert wide["int"]["costs_pj"]["mac"] == pytest.approx(PJ["int32_mult"] + PJ["int32_add"])


def test_constants_are_horowitz_2014():
    assert PJ["fp32_add"] == 0.9 and PJ["fp32_mult"] == 3.7
    assert PJ["int32_add"] == 0.1 and PJ["int8_mult"] == 0.2 and PJ["int32_mult"] == 3.1


@pytest.mark.parametrize("k, s, p", [(3, 1, 1), (3, 2, 0), (2, 2, 1), (1, 1, 0), (3, 3, 2)])
def test_conv_fan_out_is_the_outputs_an_event_reaches(k, s, p):
    """An input element's fan-out = the output neurons whose current it changes: the nonzero
    entries of golden's conv current for that one-hot input with all-one weights."""
    from spikefab.golden import conv_current
    from spikefab.report.energy import fan_out
    from spikefab.spec import ConvSpec

    conv = ConvSpec(2, 5, 4, 3, k, s, p)
    layer = LayerSpec(conv.n_in, conv.n_out, neuron=LIFSpec(), conv=conv)
    ones = np.ones((3, 2, k, k), np.int64)
    want = [int(np.count_nonzero(conv_current(conv, ones, np.zeros(3, np.int64),
                                              np.eye(conv.n_in, dtype=np.int64)[[i]])))
            for i in range(conv.n_in)]
    assert fan_out(layer).tolist() == want


def test_conv_layers_count_fan_out_and_pooled_events():
    from spikefab.spec import ConvSpec

    conv = ConvSpec(1, 4, 4, 2, 3, padding=1, pool=2)        # 16 -> 32 neurons -> 8 pooled
    lif = LIFSpec(v_bits=16, theta=4, leak_shift=None, reset="subtract")
    spec = NetworkSpec((LayerSpec(16, 32, 8, 8, lif, conv), LayerSpec(8, 2, 8, 8, None)),
                       timesteps=2, encoding="direct", in_bits=4)
    x = np.zeros((1, 16), np.int64)
    x[0, 0] = 5                                               # a corner pixel: 2x2 outputs
    x[0, 5] = 1                                               # an inner pixel: 3x3 outputs
    pooled = np.zeros((1, 8), np.int64)
    pooled[0, [0, 7]] = [3, 1]
    ops = synaptic_ops(spec, x, [pooled])
    l0, l1 = ops["layers"]
    assert (l0["events"], l0["ops"]) == (4.0, 2 * (4 + 9) * 2)   # T * (2x2 + 3x3) * C_out
    assert (l1["events"], l1["ops"]) == (4.0, 8.0)               # 4 pooled spikes * 2
    assert ops["dense_macs"] == 32 * 1 * 9 + 8 * 2
