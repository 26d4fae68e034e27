"""The conv section of bench/kd.py after the float training: QAT to the UP5K's widths, golden.

A conv job carries ``"qat": {"w_bits", "v_bits", "epochs", "lr"}``. The trained float
``SpikingCNN`` is copied into the integer-exact QAT model (``quant.qat.qat_from_float``,
calibrated scales), fine-tuned with cross-entropy on the same training views for
``epochs`` (every method gets the same QAT, so a difference is the float method's), exported
(``export_qat``) and run by the golden model on the test set: ``acc`` is the golden accuracy,
what the board computes; the float accuracy stays in ``float_acc``.
"""

from __future__ import annotations

import numpy as np
import torch
from spikefab.golden import run_network
from spikefab.quant.qat import int_accuracy, qat_from_float
from spikefab.quant.qat_export import export_qat
from spikefab.train.loop import train_model

IN_BITS = 8


def weight_bits(net) -> int:
    """Bits of every weight of an IR at its layer's width (what block RAM must hold)."""
    return int(sum(w.size * layer.w_bits for w, layer in zip(net.weights, net.spec.layers,
                                                              strict=True)))


def qat_golden(student, job: dict, x_train, y, x_test: torch.Tensor, y_test) -> dict:
    """QAT of ``student`` as ``job["qat"]`` says, then golden on ``x_test`` (floats on the
    ``IN_BITS`` grid). ``x_train``: a tensor or ``epoch -> tensor`` (the training views)."""
    cfg = job["qat"]
    torch.manual_seed(job["seed"])
    q = qat_from_float(student, w_bits=cfg["w_bits"], v_bits=cfg["v_bits"], b_bits=16,
                       encoding="direct", in_bits=IN_BITS)
    calib = int_accuracy(q, x_test, y_test)
    offset = job["epochs"]  # the views after the float training's epochs

    def views(epoch):
        return x_train(offset + epoch) if callable(x_train) else x_train

    train_model(q, views, y, epochs=cfg["epochs"], lr=cfg["lr"], seed=job["seed"])
    net = export_qat(q)
    x_int = np.rint(x_test.double().numpy() * (2**IN_BITS - 1)).astype(np.int64)
    pred = run_network(net, x_int).prediction
    golden = float((pred == np.asarray(y_test)).mean())
    qat_acc = int_accuracy(q, x_test, y_test)
    if qat_acc != golden:  # the tests prove QAT == golden; a benchmark run checks it too
        raise RuntimeError(f"QAT accuracy {qat_acc} differs from golden {golden}")
    return {"acc": golden, "calib_acc": calib, "weight_bits": weight_bits(net),
            "semantics": net.spec.semantics}
