"""spikefab.trained: the trained digits model (train_digits); golden.compare_rtl."""

import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.data import encode_direct
from spikefab.golden import compare_rtl, run_network
from spikefab.trained import train_digits


@pytest.fixture(scope="module")
def digits():
    return train_digits(seed=0)


def test_train_digits_accuracy_and_meta(digits):
    model, net, ds = digits
    assert net.spec.n_in == 64 and net.spec.n_classes == 10 and net.spec.timesteps == 4
    assert (net.spec.encoding, net.spec.in_bits) == ("direct", 4)
    assert net.meta["float_acc"] >= 0.95
    gold = run_network(net, encode_direct(ds.x_test, 4))
    assert net.meta["golden_acc"] == float((gold.prediction == ds.y_test).mean())
    assert net.meta["golden_acc"] >= 0.95
    assert net.meta["dataset"]["name"] == "digits" and net.meta["train_config"]["seed"] == 0
    assert not model.training


def _as_rtl(gold):
    return {"prediction": gold.prediction.copy(), "acc": gold.acc.copy(),
            "logits": gold.logits.copy(), "spikes": [s.copy() for s in gold.spikes],
            "membranes": [m.copy() for m in gold.membranes]}


def test_compare_rtl_counts_every_difference(digits):
    _, net, ds = digits
    gold = run_network(net, encode_direct(ds.x_test[:20], 4))
    same = compare_rtl(gold, _as_rtl(gold))
    assert (same["matching"], same["total"], same["trace_mismatches"]) == (20, 20, 0)
    assert same["trace_compared"] == ["logits", "spikes", "membranes"]
    rtl = _as_rtl(gold)
    rtl["acc"][3, 7] += 1  # accumulator off by one: sample 3 fails even if the argmax holds
    rtl["prediction"][5] = (rtl["prediction"][5] + 1) % 10
    rtl["spikes"][0][2, 11, 0] ^= 1  # one spike of sample 11 at step 2
    rtl["membranes"][0][3, 12, 5] -= 1
    out = compare_rtl(gold, rtl)
    assert (out["matching"], out["trace_mismatches"]) == (18, 2)
    assert_array_equal(np.flatnonzero(~out["match"]), [3, 5])
    bare = {"prediction": gold.prediction, "acc": gold.acc}
    assert compare_rtl(gold, bare)["trace_compared"] == []
    msg = "RTL result shapes prediction [19] / acc [20, 10] do not match golden [20] / [20, 10]"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        compare_rtl(gold, {"prediction": gold.prediction[:19], "acc": gold.acc})
