"""The bit-width search: trials honour the tolerance, the table lists them, bad ranges fail."""

import re

import pytest
from spikefab.data import load_dataset
from spikefab.quant.qat import holdout
from spikefab.quant.search import format_table, search_bits, weight_bits
from spikefab.train import TrainConfig, fit


@pytest.fixture(scope="module")
def trained():
    cfg = TrainConfig(dataset="digits", hidden=(16,), epochs=4, threads=1)
    ds, val = holdout(load_dataset("digits"), 0.2, 0)
    return cfg, fit(cfg, dataset=ds), val


def test_search_keeps_only_candidates_within_tolerance(trained):
    cfg, fr, val = trained
    lines = []
    res = search_bits(fr.model, fr.dataset, cfg, val=val, w_range=(2, 6), v_range=(8, 16),
                      tolerance_pp=1.0, epochs=1, log=lines.append)
    assert res.trials[0].knob == "reference" and res.trials[0].w_bits == (6, 6)
    assert res.trials[0].v_bits == (16,)
    assert res.trials[-1].knob == "chosen"
    for t in res.trials[1:-1]:
        assert t.kept == (t.drop_pp <= 1.0)
    assert all(2 <= w <= 6 for w in res.w_bits) and 8 <= res.v_bits[0] <= 16
    assert res.weight_bits == weight_bits(fr.model, res.w_bits) <= res.ref_weight_bits
    assert 0.0 <= res.test_acc <= 1.0
    # each layer's w_bits is a binary search over [2, 6]: at most 3 trials
    for layer in ("0", "1"):
        assert sum(t.layer == layer and t.knob.startswith("w_bits") for t in res.trials) <= 3
    table = format_table(res)
    assert len(lines) == len(res.trials)
    assert table.splitlines()[0].split()[:4] == ["layer", "trial", "w_bits", "v_bits"]
    assert len(table.splitlines()) == len(res.trials) + 3
    assert table.splitlines()[-1].startswith(f"chosen w_bits={list(res.w_bits)}")
    assert res.to_dict()["trials"][0]["knob"] == "reference"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"w_range": (1, 8)},
     "search_bits w_range must be (low, high) integers with 2 <= low <= high <= 8, not (1, 8)"),
    ({"v_range": (8, 25)},
     "search_bits v_range must be (low, high) integers with 8 <= low <= high <= 24, "
     "not (8, 25)"),
    ({"v_range": (12, 10)},
     "search_bits v_range must be (low, high) integers with 8 <= low <= high <= 24, "
     "not (12, 10)"),
    ({"tolerance_pp": -1}, "search_bits tolerance_pp must be a number >= 0, not -1"),
])
def test_bad_search_arguments(trained, kwargs, message):
    cfg, fr, val = trained
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        search_bits(fr.model, fr.dataset, cfg, val=val, **kwargs)


def test_holdout_is_disjoint_and_keeps_the_test_set():
    ds = load_dataset("digits")
    rest, (x_val, y_val) = holdout(ds, 0.25, 3)
    assert len(rest.y_train) + len(y_val) == len(ds.y_train)
    assert rest.x_test is ds.x_test and rest.meta["n_val"] == len(y_val)
    seen = {r.tobytes() for r in rest.x_train}
    assert sum(r.tobytes() in seen for r in x_val) <= 5  # only duplicate images coincide
    with pytest.raises(ValueError, match=r"^holdout fraction must be a float in \(0, 1\), "
                                         r"not 1$"):
        holdout(ds, 1, 0)
