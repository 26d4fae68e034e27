"""train/: config validation, the loop (loss falls), determinism, checkpoints."""

import re
from dataclasses import fields

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from spikefab.data import load_dataset
from spikefab.snn import SpikingMLP
from spikefab.train import (
    TrainConfig,
    encode_inputs,
    evaluate,
    fit,
    load_checkpoint,
    predict,
    save_checkpoint,
    train_model,
)


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


SMALL = TrainConfig(hidden=(32,), epochs=4)


@pytest.fixture(scope="module")
def small_fit():
    return fit(SMALL)


def test_loss_falls_and_the_model_learns(small_fit):
    loss = small_fit.history.loss
    assert len(loss) == 4
    assert loss[-1] < 0.5 * loss[0]
    assert small_fit.float_acc > 0.8  # 10 classes: chance is 0.1


def test_fit_is_deterministic_and_seeded(small_fit):
    again = fit(SMALL)
    for k, v in small_fit.model.state_dict().items():
        assert_array_equal(v.numpy(), again.model.state_dict()[k].numpy())
    assert again.history.loss == small_fit.history.loss
    other = fit(TrainConfig(hidden=(32,), epochs=4, seed=1))
    assert not torch.equal(other.model.fcs[0].weight, small_fit.model.fcs[0].weight)


def test_fit_with_rate_coded_spikes_learns():
    res = fit(TrainConfig(hidden=(32,), epochs=3, encoding="spikes", in_bits=1, timesteps=4))
    assert res.history.loss[-1] < res.history.loss[0]
    assert res.float_acc > 0.5


def test_train_model_custom_loss_and_validation():
    ds = load_dataset("digits")
    x, y = torch.from_numpy(ds.x_train[:200]), torch.from_numpy(ds.y_train[:200])
    torch.manual_seed(0)
    model = SpikingMLP((64, 16, 10))
    calls = []

    def loss_fn(logits, yb, xb):
        calls.append((tuple(logits.shape), tuple(xb.shape)))
        return torch.nn.functional.cross_entropy(logits.sum(0), yb)

    lines = []
    hist = train_model(model, x, y, epochs=2, batch_size=50, loss_fn=loss_fn,
                       val=(x, ds.y_train[:200]), log=lines.append)
    assert calls[0] == ((4, 50, 10), (50, 64)) and len(calls) == 8
    assert len(hist.val_acc) == 2 and len(lines) == 2 and lines[1].startswith("epoch   2/2")
    assert hist.val_acc[-1] == evaluate(model, x, ds.y_train[:200])


def test_config_validation_messages():
    with pytest.raises(
        ValueError, match=exact("TrainConfig.dataset must be one of 'digits', 'mnist5k', not 'x'")
    ):
        TrainConfig(dataset="x")
    with pytest.raises(
        ValueError,
        match=exact("TrainConfig.hidden must be a sequence of positive integers, not (0,)"),
    ):
        TrainConfig(hidden=(0,))
    with pytest.raises(
        ValueError, match=exact("TrainConfig.in_bits must be 1 when encoding is 'spikes', not 4")
    ):
        TrainConfig(encoding="spikes")
    with pytest.raises(ValueError, match=exact("TrainConfig.lr must be a positive number, not 0")):
        TrainConfig(lr=0)
    with pytest.raises(
        ValueError, match=exact("TrainConfig.epochs must be an integer in [1, 100000], not 0")
    ):
        TrainConfig(epochs=0)
    names = ", ".join(f.name for f in fields(TrainConfig))
    with pytest.raises(
        ValueError, match=exact(f"TrainConfig has no field 'lrate'; allowed: {names}")
    ):
        TrainConfig.from_dict({"lrate": 1})
    cfg = TrainConfig(hidden=[16, 8], leak_shift=None, seed=3)
    assert cfg.hidden == (16, 8)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_checkpoint_round_trip(small_fit, tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", small_fit.model, config=SMALL, extra={"a": 1})
    model, cfg, extra = load_checkpoint(path)
    assert cfg == SMALL and extra == {"a": 1}
    x = encode_inputs(SMALL, small_fit.dataset.x_test, seed=0)
    assert_array_equal(predict(model, x), predict(small_fit.model, x))
    assert np.mean(predict(model, x) == small_fit.dataset.y_test) == small_fit.float_acc
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    msg = f"checkpoint {tmp_path / 'bad.pt'}: unreadable (UnpicklingError)"
    with pytest.raises(ValueError, match=exact(msg)):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(
        ValueError, match=exact(f"checkpoint {tmp_path / 'none.pt'}: file not found")
    ):
        load_checkpoint(tmp_path / "none.pt")
