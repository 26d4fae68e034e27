"""Steps ``train-teacher`` and ``distill``: the ANN teacher and the float spiking student.

Both reuse the library: ``snn.teachers`` (``MLPTeacher``, ``CNNTeacher``, ``train_teacher``),
``train.fit`` (labels only), ``distill`` (``make_recipe`` + ``train_student``, or
``STARS`` for data-free distillation). The teacher sees what the student sees: the
``in_bits`` direct-encoded pixels ``x_int / (2**in_bits - 1)`` (raw pixels for a spiking
input).
"""

from __future__ import annotations

import io
import json
import time

import numpy as np
import torch

from ..atomic import atomic_write_bytes, atomic_write_files
from ..data import load_dataset, quantize_input
from ..train import build_model, encode_inputs, evaluate, fit, predict, save_checkpoint
from ..train.fit import image_chw
from ..train.threads import torch_threads
from .config import student_train_config
from .progress import epoch_bar, spinner
from .rundir import write_json

__all__ = ["build_teacher", "data_free_qat", "load_teacher", "run_distill",
           "run_train_teacher"]


def dataset(cfg: dict):
    """The run's dataset split (seeded with ``run.seed``)."""
    return load_dataset(cfg["data"]["dataset"], seed=cfg["run"]["seed"])


def teacher_input(cfg: dict, x01: np.ndarray) -> torch.Tensor:
    st = cfg["student"]
    if st["encoding"] == "direct":
        return torch.from_numpy(quantize_input(x01, st["in_bits"]))
    return torch.from_numpy(np.asarray(x01, np.float32))


def chw(image_shape) -> tuple | None:
    """``(C, H, W)`` of a dataset's ``image_shape`` (``(H, W)`` means one channel)."""
    return image_chw(image_shape)


def build_teacher(cfg: dict, n_in: int, n_classes: int, image_shape):
    """The untrained teacher ``teacher.kind`` describes."""
    from ..snn.teachers import CNNTeacher, ConvBNTeacher, MLPTeacher

    t = cfg["teacher"]
    if t["kind"] in ("cnn", "cnnbn"):
        if image_shape is None:
            raise ValueError(f"config key 'teacher.kind' must not be {t['kind']!r} for a "
                             f"dataset without an image shape")
        if t["kind"] == "cnnbn":
            return ConvBNTeacher(chw(image_shape), tuple(t["channels"]), tuple(t["hidden"]),
                                 n_classes)
        return CNNTeacher(chw(image_shape), tuple(t["channels"]), n_classes)
    return MLPTeacher((n_in, *t["hidden"], n_classes), batch_norm=t["batch_norm"])


def student_sizes(model) -> list:
    """What a report prints as the student's shape: an MLP's widths (``[64, 128, 10]``), a
    conv student's input, stages and classes (``["1x8x8", "c16", "c32", 10]``)."""
    if hasattr(model, "channels"):
        return ["x".join(map(str, model.image_shape)), *(f"c{c}" for c in model.channels),
                model.n_classes]
    return list(model.sizes)


def run_train_teacher(ctx) -> dict:
    """Train the ANN teacher (skipped when ``teacher.kind = "none"``)."""
    from ..snn.teachers import train_teacher

    cfg = ctx.cfg
    t = cfg["teacher"]
    if t["kind"] == "none":
        ctx.say("teacher.kind is 'none': nothing to train")
        return {"kind": "none"}
    ds = dataset(cfg)
    seed = cfg["run"]["seed"]
    with torch_threads(), spinner(f"train {t['kind']} teacher ({t['epochs']} epochs)"):
        torch.manual_seed(seed)
        teacher = build_teacher(cfg, ds.n_features, ds.n_classes, ds.meta["image_shape"])
        t0 = time.perf_counter()
        train_teacher(teacher, teacher_input(cfg, ds.x_train), torch.from_numpy(ds.y_train),
                      epochs=t["epochs"], batch_size=t["batch_size"], lr=t["lr"], seed=seed,
                      augment_shift=t["augment_shift"], image_shape=chw(ds.meta["image_shape"])
                      if t["augment_shift"] else None)
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            pred = teacher(teacher_input(cfg, ds.x_test)).argmax(1).numpy()
    acc = float((pred == ds.y_test).mean())
    buf = io.BytesIO()
    torch.save(teacher.state_dict(), buf)
    summary = {"kind": t["kind"], "test_acc": acc, "n_test": int(len(ds.y_test)),
               "train_seconds": round(seconds, 3),
               "parameters": int(sum(p.numel() for p in teacher.parameters()))}
    atomic_write_files({ctx.run.path("teacher", "teacher.pt"): buf.getvalue(),
                        ctx.run.path("teacher", "teacher.json"):
                        (json.dumps(summary, indent=2) + "\n").encode()})
    ctx.say(f"teacher accuracy: {100 * acc:.2f}% ({int((pred == ds.y_test).sum())}/"
            f"{len(ds.y_test)})")
    return summary


def load_teacher(ctx, ds):
    """The trained, frozen teacher of this run."""
    from ..snn.teachers import freeze

    teacher = build_teacher(ctx.cfg, ds.n_features, ds.n_classes, ds.meta["image_shape"])
    state = torch.load(ctx.run.path("teacher", "teacher.pt"), map_location="cpu",
                       weights_only=True)
    teacher.load_state_dict(state)
    return freeze(teacher)


def _recipe(cfg: dict, method: str, student, n_classes: int):
    from ..distill import make_recipe

    kwargs = dict(cfg["distill"]["options"])
    if method == "tssd":
        layer = kwargs.get("layer", 0)  # the auxiliary head reads hidden[layer]
        st = cfg["student"]
        width = st["channels"] if "channels" in st else st["hidden"]
        kwargs.update(student=student, n_features=width[layer], n_classes=n_classes)
    if method in ("nld", "ckdsnn") and "generator" not in kwargs:
        kwargs["generator"] = torch.Generator().manual_seed(cfg["run"]["seed"])
    try:
        return make_recipe(method, **kwargs)
    except TypeError as e:
        raise ValueError(f"config key 'distill.options' holds an option method {method!r} "
                         f"does not take ({e})") from None


def run_distill(ctx) -> dict:
    """Train the float student: labels only (``none``), a recipe, or data-free STARS."""
    cfg = ctx.cfg
    tc = student_train_config(cfg)
    method = cfg["distill"]["method"]
    ds = dataset(cfg)
    spikes = tc.encoding == "spikes"
    t0 = time.perf_counter()
    with torch_threads(tc.threads):
        if method == "none":
            with epoch_bar(tc.epochs, "train student (labels)") as log:
                model = fit(tc, dataset=ds, log=log).model
        else:
            torch.manual_seed(tc.seed)
            model = build_model(tc, ds.n_features, ds.n_classes, ds.meta.get("image_shape"))
            teacher = load_teacher(ctx, ds) if cfg["teacher"]["kind"] != "none" else None
            if method == "stars":
                synthetic = _stars(ctx, model, teacher, ds)
            else:
                _distill(cfg, tc, method, model, teacher, ds)
        model.eval()
        x_test = encode_inputs(tc, ds.x_test, seed=tc.seed)
        float_pred = predict(model, x_test, spikes=spikes)
        acc = evaluate(model, x_test, ds.y_test, spikes=spikes)
    seconds = time.perf_counter() - t0
    save_checkpoint(ctx.run.path("student", "student.pt"), model, config=tc,
                    extra={"method": method})
    buf = io.BytesIO()
    np.save(buf, float_pred.astype(np.int64))
    atomic_write_bytes(ctx.run.path("student", "float_pred.npy"), buf.getvalue())
    summary = {"method": method, "float_acc": acc, "n_test": int(len(ds.y_test)),
               "sizes": student_sizes(model), "timesteps": tc.timesteps,
               "train_seconds": round(seconds, 3)}
    if method == "stars":
        summary["synthetic"] = synthetic
    write_json(ctx.run.path("student", "student.json"), summary)
    right = int((float_pred == ds.y_test).sum())
    ctx.say(f"float student ({method}): {100 * acc:.2f}% ({right}/{len(ds.y_test)})")
    return summary


def _distill(cfg, tc, method, model, teacher, ds) -> None:
    from ..distill import teacher_outputs, train_student

    recipe = _recipe(cfg, method, model, ds.n_classes)
    if tc.augment_shift:
        x, tout = _augmented(cfg, tc, ds, teacher if recipe.needs_teacher else None,
                             recipe.needs_cam)
    else:
        x = encode_inputs(tc, ds.x_train, seed=0)
        tout = None
        if recipe.needs_teacher:
            tout = teacher_outputs(teacher, teacher_input(cfg, ds.x_train),
                                   cam=recipe.needs_cam)
    with epoch_bar(tc.epochs, f"distil student ({method})") as log:
        train_student(model, recipe, x, torch.from_numpy(ds.y_train), teacher=tout,
                      epochs=tc.epochs, batch_size=tc.batch_size, lr=tc.lr,
                      weight_decay=tc.weight_decay, warmup=cfg["distill"]["warmup"],
                      seed=tc.seed, log=log)


def _augmented(cfg, tc, ds, teacher, cam: bool):
    """Per-epoch ``(x, teacher outputs)`` functions for ``student.augment_shift``: every epoch
    shifts each training image afresh (``data.random_shift``) and the teacher sees the same
    shifted images as the student (consistent distillation)."""
    from ..data import epoch_shifts
    from ..distill import teacher_outputs

    shifted = epoch_shifts(ds.x_train, ds.meta["image_shape"], tc.augment_shift, tc.seed)

    def x(epoch):
        return encode_inputs(tc, shifted(epoch), seed=0)

    def tout(epoch):
        return teacher_outputs(teacher, teacher_input(cfg, shifted(epoch)), cam=cam)

    return x, (tout if teacher is not None else None)


def _stars(ctx, model, teacher, ds) -> dict:
    """Data-free: the student sees only images synthesised from the teacher; no labels. The
    pool goes to ``student/synthetic.npz`` (QAT fine-tunes on it, see :func:`data_free_qat`)."""
    from ..distill import STARS

    cfg = ctx.cfg
    s = cfg["distill.stars"]
    shape = chw(ds.meta["image_shape"])
    if shape is None:
        raise ValueError("config key 'distill.method' must not be 'stars' for a dataset "
                         "without an image shape")
    jitter = s["jitter"]
    if jitter == "auto":  # an MLP teacher is not shift-tolerant; a conv teacher is
        jitter = 0 if cfg["teacher"]["kind"] == "mlp" else 2
    st = cfg["student"]
    stars = STARS(teacher, model, shape, iterations=s["iterations"], jitter=jitter,
                  lr=s["synth_lr"], r_feature=s["r_feature"],
                  first_bn_multiplier=s["first_bn_multiplier"], bn_relative=s["bn_relative"],
                  scales=tuple(s["scales"]),
                  adi=s["adi"],
                  rca_weight=s["rca_weight"], tar_weight=s["tar_weight"],
                  augment_shift=s["augment_shift"], augment_mix=s["augment_mix"],
                  mix_mode=s["mix_mode"], mix_alpha=s["mix_alpha"],
                  in_bits=st["in_bits"] if st["encoding"] == "direct" else None,
                  student_input=_student_input(model))
    with epoch_bar(s["rounds"], "STARS rounds (synthesise + distil)") as log:
        out = stars.train(n_classes=ds.n_classes, rounds=s["rounds"],
                          batch_size=s["batch_size"], steps_per_round=s["steps_per_round"],
                          distill_batch=s["distill_batch"], lr=s["lr"],
                          final_epochs=s["final_epochs"], final_average=s["final_average"],
                          seed=cfg["run"]["seed"], log=log)
    buf = io.BytesIO()
    np.savez(buf, x=out["pool"].flatten(1).numpy().astype(np.float32),
             teacher_logits=out["teacher_logits"].numpy())
    atomic_write_bytes(ctx.run.path("student", "synthetic.npz"), buf.getvalue())
    return {"pool": int(len(out["labels"])), "teacher_agreement": out["agreement"]}


def data_free_qat(ctx, ds):
    """``(dataset, loss_fn)`` for QAT after STARS: the training half is the synthetic pool
    (labelled with the teacher's argmax, which the loss does not read) and the loss is pure
    KD (tau 3) from the teacher on each batch; the real test half is kept for the accuracy."""
    import dataclasses

    from ..distill.common import kd_rows

    with np.load(ctx.run.path("student", "synthetic.npz")) as z:
        x, logits = z["x"], z["teacher_logits"]
    teacher = load_teacher(ctx, ds)
    pool = dataclasses.replace(ds, x_train=x, y_train=logits.argmax(1).astype(np.int64))

    def loss_fn(z, y, xb):
        with torch.no_grad():
            t = teacher(xb.to(torch.float32))
        return kd_rows(z.mean(0), t, 3.0).mean()

    return pool, loss_fn


def _student_input(model):
    """Synthetic images ``[B, C, H, W]`` as the student takes them (flat for an MLP)."""
    if hasattr(model, "channels"):
        return lambda x: x
    return lambda x: x.flatten(1)
