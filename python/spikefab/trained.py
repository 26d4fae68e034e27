"""The trained reference networks: one recipe each, one cache for all their users.

The digits model is the demo's (float ``SpikingMLP`` 64-128-10, T=4, direct 4-bit input,
post-training quantised); ``digits-spikes`` the same network on Bernoulli rate-coded
input (T=8); ``mnist5k`` the digits recipe on 784-128-10 with shifted training images;
``mnist5k-w4`` that float network fine-tuned with QAT to 4-bit weights.
sim/ runs them through the RTL, bench/ measures them, tests check the recipe.

:func:`load` trains a network once and caches its IR and integer test set under
``build/trained/<name>-<seed>-<hash>/``, where the hash covers the recipe and every source
file that produces the network (training, models, data, export, IR, golden): the network
is retrained exactly when that code changes.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes
from .data import encode_direct, encode_rate
from .ir import QuantizedNetwork
from .quant.ptq import export_ptq
from .train import TrainConfig, fit

__all__ = ["CACHE", "DIGITS_CONFIG", "DIGITS_WIDTHS", "QAT_RECIPES", "RECIPES", "load",
           "train_digits"]

#: The demo's training run: digits, 64-128-10, T=4, leak_shift 3, direct 4-bit input.
DIGITS_CONFIG = TrainConfig(dataset="digits", hidden=(128,), timesteps=4, leak_shift=3,
                            theta=1.0, reset="subtract", encoding="direct", in_bits=4,
                            epochs=40, batch_size=64, lr=5e-3)
#: Widths of the exported networks (v_bits=None: the smallest that cannot saturate).
DIGITS_WIDTHS = {"w_bits": 8, "b_bits": 16, "v_bits": None}
#: Every recipe, as the TrainConfig fields that differ from DIGITS_CONFIG.
RECIPES = {
    "digits": {},
    # the same network on rate-coded input (spikes, T=8)
    "digits-spikes": {"encoding": "spikes", "in_bits": 1, "timesteps": 8, "epochs": 20},
    # 784-128-10 on images shifted by up to 2 pixels (fresh offsets every epoch) for 200
    # epochs: 4,000 training images are too few for 97 % without it (30 epochs, no shifts:
    # 91.8 % golden). Weight decay 3e-4 makes >= 97 % hold for every seed: golden over seeds
    # 0-4 97.3/97.4/97.8/97.4/97.8 % (without it 95.9/96.8/96.6/97.5/97.3 %; docs/hardware.md).
    "mnist5k": {"dataset": "mnist5k", "epochs": 200, "lr": 2e-3, "augment_shift": 2,
                "weight_decay": 3e-4},
}
#: Recipes whose float network is another recipe's, quantized with QAT instead of PTQ:
#: name -> (float recipe, ``finetune_qat`` arguments). ``mnist5k-w4``: 4-bit weights in both
#: layers, bench/quant.py's fine-tuning (10 epochs, lr 1e-3, the last epoch kept): golden
#: 97.0 % against mnist5k's 97.3 % (issue 22 allows 4-bit weights within 0.5 pp).
QAT_RECIPES = {
    "mnist5k-w4": ("mnist5k", {"w_bits": 4, "v_bits": 16, "b_bits": 16, "epochs": 10,
                               "lr": 1e-3}),
}
_ROOT = Path(__file__).resolve().parent
#: Where :func:`load` keeps the trained networks.
CACHE = _ROOT.parents[1] / "build" / "trained"


def _config(name: str, seed: int) -> TrainConfig:
    name = QAT_RECIPES[name][0] if name in QAT_RECIPES else name
    if name not in RECIPES:
        names = ", ".join([*RECIPES, *QAT_RECIPES])
        raise ValueError(f"trained network must be one of {names}, not {name!r}")
    return TrainConfig(**{**DIGITS_CONFIG.to_dict(), **RECIPES[name], "seed": seed})


def train_digits(seed: int = 0, *, log=None):
    """Train and export the demo's digits model. Deterministic for a given ``seed``.

    Returns
    -------
    model : SpikingMLP
        The trained float model (eval mode).
    net : QuantizedNetwork
        Its post-training-quantised IR; ``net.meta`` holds the scales and the float and
        golden test accuracies (``float_acc``, ``golden_acc``, ``agreement``).
    dataset : Dataset
        The digits split; ``encode_direct(dataset.x_test, net.spec.in_bits)`` is the
        integer test input of the IR.
    """
    model, net, ds, _x = _train("digits", seed, log=log)
    return model, net, ds


def _train(name: str, seed: int, *, log=None):
    """Train and export recipe ``name``: ``(model, net, dataset, x_test)``."""
    cfg = _config(name, seed)
    res = fit(cfg, log=log)
    res.model.eval()
    ds = res.dataset
    if cfg.encoding == "direct":
        calib = x_test = ds.x_test
        x_int = encode_direct(x_test, cfg.in_bits)
    else:
        calib = x_int = encode_rate(ds.x_test, cfg.timesteps, seed=seed + 1)
    if name in QAT_RECIPES:
        return (*_qat(name, res, cfg, x_int), ds, x_int)
    net = export_ptq(
        res.model, **DIGITS_WIDTHS, in_bits=cfg.in_bits, encoding=cfg.encoding,
        calib_x=calib, calib_y=ds.y_test,
        meta={"dataset": ds.meta, "train_config": cfg.to_dict(),
              "train_seconds": round(res.history.seconds, 3)},
    )
    return res.model, net, ds, x_int


def _qat(name: str, res, cfg: TrainConfig, x_int):
    """The QAT-fine-tuned copy of ``res.model`` (recipe ``name``) and its export."""
    from .golden import run_network
    from .quant.qat import finetune_qat
    from .quant.qat_export import export_qat

    q = finetune_qat(res.model, res.dataset, cfg, **QAT_RECIPES[name][1])
    net = export_qat(q.model, meta={"dataset": res.dataset.meta, "train_config": cfg.to_dict(),
                                    "qat": QAT_RECIPES[name][1], "float_acc": res.float_acc,
                                    "calib_acc": q.calib_acc, "qat_acc": q.qat_acc,
                                    "train_seconds": round(res.history.seconds + q.seconds, 3)})
    gold = float((run_network(net, x_int).prediction == res.dataset.y_test).mean())
    if gold != q.qat_acc:
        raise AssertionError(f"{name}: golden accuracy {gold} != QAT accuracy {q.qat_acc}")
    net.meta["golden_acc"] = gold
    return q.model, net


def _sources_hash(name: str, seed: int) -> str:
    h = hashlib.sha256(json.dumps([name, seed, _config(name, seed).to_dict(), DIGITS_WIDTHS,
                                   QAT_RECIPES.get(name)], sort_keys=True, default=list).encode())
    files = [_ROOT / f for f in ("trained.py", "ir.py", "fixed.py", "spec.py", "quant/ptq.py")]
    if name in QAT_RECIPES:
        files += [_ROOT / "quant" / f for f in ("qat.py", "qat_export.py", "calibrate.py",
                                                "float_net.py", "neurons.py")]
    for sub in ("train", "snn", "data", "golden"):
        files += sorted((_ROOT / sub).glob("*.py"))
    for f in files:
        h.update(str(f.relative_to(_ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def load(name: str = "digits", seed: int = 0, *, cache=None):
    """The trained network ``name`` and its integer test set, trained on first use.

    Parameters
    ----------
    name : str
        One of :data:`RECIPES`.
    seed : int
        The training seed.
    cache : path, optional
        The cache folder (default :data:`CACHE`).

    Returns
    -------
    net : QuantizedNetwork
    x_test : int64 test inputs: ``[N, n_in]`` direct values or ``[T, N, n_in]`` spikes
    y_test : int64 [N] labels
    """
    folder = Path(CACHE if cache is None else cache) / f"{name}-{seed}-{_sources_hash(name, seed)}"
    if not (folder / "net.json").is_file() or not (folder / "test.npz").is_file():
        t0 = time.perf_counter()
        _model, net, ds, x_test = _train(name, seed)
        net.meta["train_wall_s"] = round(time.perf_counter() - t0, 1)
        buf = io.BytesIO()
        np.savez(buf, x=np.asarray(x_test, np.int64), y=np.asarray(ds.y_test, np.int64))
        atomic_write_bytes(folder / "test.npz", buf.getvalue())
        net.save(folder / "net")
    with np.load(folder / "test.npz") as z:
        x_test, y_test = z["x"], z["y"]
    return QuantizedNetwork.load(folder / "net"), x_test, y_test
