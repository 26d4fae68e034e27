"""Steps ``quantize`` and ``export``: float student -> QuantizedNetwork -> IR + golden results.

``quantize`` uses ``export.export_ptq`` (post-training; ``v_bits = "auto"`` picks the
narrowest membrane that cannot saturate) or ``quant.qat.finetune_qat`` + ``export_qat``
(quantization-aware fine-tuning). ``export`` writes the IR the hardware is built from,
the integer test inputs, and the golden model's results on them (``golden.run_network``):
predictions, accumulators and, for the report, per-layer spike counts and the trace of one
sample.
"""

from __future__ import annotations

import io
import time

import numpy as np

from ..atomic import atomic_write_bytes
from ..data import encode_direct, encode_rate
from ..golden import run_network
from ..golden.layers import pass_on
from ..ir import QuantizedNetwork
from ..train.threads import torch_threads
from .config import student_train_config
from .progress import epoch_bar
from .rundir import write_json
from .steps_train import data_free_qat, dataset

__all__ = ["run_export", "run_quantize", "test_inputs"]


def test_inputs(cfg: dict, spec, x01: np.ndarray) -> np.ndarray:
    """The integer inputs of the test set: ``[B, n_in]`` (direct) or ``[T, B, n_in]`` spikes
    (drawn with ``run.seed``; ``timesteps`` from ``spec``)."""
    if spec.encoding == "direct":
        return encode_direct(x01, spec.in_bits)
    return encode_rate(x01, spec.timesteps, seed=cfg["run"]["seed"]).astype(np.uint8)


def _save_npz(path, **arrays) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def run_quantize(ctx) -> dict:
    """PTQ or QAT of the float student; the QuantizedNetwork goes to ``quant/net``."""
    from ..train import encode_inputs, load_checkpoint

    cfg = ctx.cfg
    q = cfg["quantize"]
    tc = student_train_config(cfg)
    model, _, _ = load_checkpoint(ctx.run.path("student", "student.pt"))
    ds = dataset(cfg)
    meta = {"dataset": ds.meta, "run": cfg["run"]["name"], "train_config": tc.to_dict(),
            "distill": cfg["distill"]["method"]}
    t0 = time.perf_counter()
    summary = {"method": q["method"]}
    with torch_threads(tc.threads):
        if q["method"] == "ptq":
            from ..quant.ptq import export_ptq

            calib_x = ds.x_test if tc.encoding == "direct" else \
                encode_inputs(tc, ds.x_test, seed=tc.seed).numpy().astype(np.uint8)
            net = export_ptq(model, w_bits=q["w_bits"], b_bits=q["b_bits"],
                             v_bits=None if q["v_bits"] == "auto" else q["v_bits"],
                             in_bits=tc.in_bits, encoding=tc.encoding, calib_x=calib_x,
                             calib_y=ds.y_test, meta=meta, decay_bits=q["decay_bits"],
                             i_bits=None if q["i_bits"] == "auto" else q["i_bits"])
            summary["golden_acc"] = net.meta.get("golden_acc")
        else:
            from ..quant.qat import finetune_qat
            from ..quant.qat_export import export_qat

            loss_fn = None
            if cfg["distill"]["method"] == "stars":  # no real image or label: the pool + KD
                ds, loss_fn = data_free_qat(ctx, ds)
            with epoch_bar(q["epochs"], "QAT fine-tuning") as log:
                res = finetune_qat(model, ds, tc, loss_fn=loss_fn, w_bits=q["w_bits"],
                                   v_bits=q["v_bits"], b_bits=q["b_bits"], epochs=q["epochs"],
                                   lr=q["lr"], log=log,
                                   decay_bits=q["decay_bits"],
                                   i_bits=None if q["i_bits"] == "auto" else q["i_bits"])
            summary.update(calib_acc=res.calib_acc, qat_acc=res.qat_acc)
            net = export_qat(res.model, meta=meta | {"calib_acc": res.calib_acc,
                                                     "qat_acc": res.qat_acc})
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    summary["widths"] = [{"w_bits": la.w_bits, "b_bits": la.b_bits,
                          "v_bits": la.neuron.v_bits if la.neuron else None}
                         for la in net.spec.layers]
    if net.spec.semantics != "v1":
        summary["semantics"] = net.spec.semantics
    summary["acc_bits"] = net.acc_bits()
    net.save(ctx.run.path("quant", "net"))
    write_json(ctx.run.path("quant", "quant.json"), summary)
    widths = ", ".join(f"L{i}: w{w['w_bits']} b{w['b_bits']}" +
                       (f" v{w['v_bits']}" if w["v_bits"] else " readout")
                       for i, w in enumerate(summary["widths"]))
    if q["method"] == "qat":
        ctx.say(f"QAT accuracy: {100 * res.qat_acc:.2f}% (calibrated before training "
                f"{100 * res.calib_acc:.2f}%); {widths}")
    else:
        ctx.say(f"PTQ: {widths}; acc {net.acc_bits()} bits")
    return summary


def run_export(ctx) -> dict:
    """The IR, the integer test inputs and the golden results under ``ir/``."""
    cfg = ctx.cfg
    net = QuantizedNetwork.load(ctx.run.path("quant", "net"))
    ds = dataset(cfg)
    x = test_inputs(cfg, net.spec, ds.x_test)
    t0 = time.perf_counter()
    res = run_network(net, x)
    seconds = time.perf_counter() - t0
    acc = float((res.prediction == ds.y_test).mean())
    net = QuantizedNetwork(net.spec, net.weights, net.biases,
                           dict(net.meta) | {"golden_acc": acc})
    ir = net.save(ctx.run.path("ir", "net"))
    buf = io.BytesIO()
    np.save(buf, np.asarray(x))
    atomic_write_bytes(ctx.run.path("ir", "test_inputs.npy"), buf.getvalue())
    k = min(cfg["report"]["raster_sample"], len(ds.y_test) - 1)
    arrays = {"prediction": res.prediction, "acc": res.acc, "y": ds.y_test,
              "logits_sample": res.logits[:, k], "sample": np.int64(k)}
    for i, s in enumerate(res.spikes):
        arrays[f"spike_count{i}"] = s.sum(axis=0, dtype=np.int64)   # [B, n] spikes over T
        layer = net.spec.layers[i]
        if layer.conv is not None and layer.conv.pool > 1:  # what the next layer reads
            arrays[f"passed_count{i}"] = sum(pass_on(layer, st) for st in s.astype(np.int64))
        arrays[f"spikes_sample{i}"] = s[:, k]                      # [T, n]
        arrays[f"membranes_sample{i}"] = res.membranes[i][:, k]
    _save_npz(ctx.run.path("ir", "golden.npz"), **arrays)
    right = int((res.prediction == ds.y_test).sum())
    summary = {"golden_acc": acc, "right": right, "n_test": int(len(ds.y_test)),
               "ir": str(ir), "n_weights": net.n_weights, "golden_seconds": round(seconds, 3)}
    write_json(ctx.run.path("ir", "golden.json"), summary)
    ctx.say(f"golden accuracy: {100 * acc:.2f}% ({right}/{len(ds.y_test)}); IR -> {ir}")
    return summary
