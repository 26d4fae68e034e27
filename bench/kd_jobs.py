"""Job runners of bench/kd.py: data, cached teachers, one student training run per job.

Every job is a plain dict (picklable, JSON-able) and every runner returns a dict, so the
benchmark can run them in up to two worker processes with one torch thread each.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from spikefab.data import epoch_shifts, load_dataset, quantize_input
from spikefab.distill import STARS, TeacherOutputs, make_recipe, teacher_outputs, train_student
from spikefab.snn.cnn import SpikingCNN
from spikefab.snn.mlp import SpikingMLP
from spikefab.snn.teachers import CNNTeacher, ConvBNTeacher, MLPTeacher, train_teacher
from spikefab.train.loop import evaluate

IN_BITS = 8
IMAGE = {"digits": (1, 8, 8), "mnist5k": (1, 28, 28)}
CACHE = Path("build/kd/teachers")

#: Teacher architectures and training recipes per (dataset, kind).
TEACHERS = {
    ("digits", "cnn"): dict(arch=("cnn", (32, 64)), epochs=30, lr=3e-3, shift=1),
    ("digits", "mlpbn"): dict(arch=("mlp", (256, 256), True), epochs=30, lr=2e-3, shift=0),
    ("digits", "weak"): dict(arch=("mlp", (32,), False), epochs=30, lr=2e-3, shift=0),
    ("mnist5k", "cnn"): dict(arch=("cnn", (16, 32)), epochs=15, lr=3e-3, shift=2),
    ("mnist5k", "mlpbn"): dict(arch=("mlp", (256, 256), True), epochs=20, lr=2e-3, shift=0),
    ("mnist5k", "weak"): dict(arch=("mlp", (64,), False), epochs=20, lr=2e-3, shift=0),
    # the conv section's teachers: stronger than its 16-32 student
    ("digits", "cnn64"): dict(arch=("cnn", (32, 64)), epochs=30, lr=3e-3, shift=1),
    ("mnist5k", "cnn64"): dict(arch=("cnn", (32, 64)), epochs=30, lr=3e-3, shift=2),
    # the stars section's data-free teachers: BN after every conv and hidden layer, trained
    # without shifts (``recal``: BN statistics recomputed on the unshifted images after
    # training, for a shifted recipe; bench/stars_probe.py --teacher-recipe)
    ("digits", "cnnbn"): dict(arch=("cnnbn", (16, 32), (128,)), epochs=30, lr=3e-3, shift=0),
    ("mnist5k", "cnnbn"): dict(arch=("cnnbn", (8, 16), (128,)), epochs=15, lr=3e-3, shift=0),
}


def data(dataset: str, seed: int) -> dict:
    """Inputs as the hardware sees them: 8-bit direct encoding, as float tensors."""
    ds = load_dataset(dataset, seed=seed)
    return {
        "x": torch.from_numpy(quantize_input(ds.x_train, IN_BITS)),
        "y": torch.from_numpy(ds.y_train),
        "xt": torch.from_numpy(quantize_input(ds.x_test, IN_BITS)),
        "yt": ds.y_test,
    }


def pool2(x: torch.Tensor, image) -> torch.Tensor:
    """2x2 average pooling on the host, re-quantised to 8 bits (the pooled student's input)."""
    c, h, w = image
    p = F.avg_pool2d(x.view(-1, c, h, w), 2).flatten(1)
    return torch.from_numpy(quantize_input(p.clamp(0, 1).numpy(), IN_BITS))


def label_subset(y: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` indices, ``n / classes`` per class, drawn with ``seed``."""
    rng = np.random.default_rng(10_000 + seed)
    yn = y.numpy()
    classes = np.unique(yn)
    per = n // len(classes)
    idx = np.concatenate([rng.permutation(np.flatnonzero(yn == c))[:per] for c in classes])
    return torch.from_numpy(np.sort(idx))


def _build_teacher(dataset: str, kind: str):
    cfg = TEACHERS[(dataset, kind)]
    image = IMAGE[dataset]
    n_in = int(np.prod(image))
    if cfg["arch"][0] == "cnn":
        return CNNTeacher(image, cfg["arch"][1], 10)
    if cfg["arch"][0] == "cnnbn":
        return ConvBNTeacher(image, cfg["arch"][1], cfg["arch"][2], 10)
    return MLPTeacher((n_in, *cfg["arch"][1], 10), batch_norm=cfg["arch"][2])


def _teacher_path(dataset: str, kind: str, seed: int, quick: bool) -> Path:
    # "seeded init": teachers cached before the initial weights were seeded are not reused
    key = json.dumps([TEACHERS[(dataset, kind)], quick, "seeded init"], sort_keys=True,
                     default=list)
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return CACHE / f"{dataset}_{kind}_s{seed}_{digest}.pt"


def run_teacher(job: dict) -> dict:
    """Train (or load from build/kd/teachers) one teacher; report its test accuracy."""
    torch.set_num_threads(1)
    dataset, kind, seed, quick = job["dataset"], job["kind"], job["seed"], job["quick"]
    path = _teacher_path(dataset, kind, seed, quick)
    d = data(dataset, seed)
    t0 = time.perf_counter()
    torch.manual_seed(seed)  # the initial weights too: not whatever ran before in the worker
    teacher = _build_teacher(dataset, kind)
    if path.exists():
        teacher.load_state_dict(torch.load(path, weights_only=True))
        teacher.eval()
    else:
        cfg = TEACHERS[(dataset, kind)]
        epochs = max(3, cfg["epochs"] // 3) if quick else cfg["epochs"]
        train_teacher(teacher, d["x"], d["y"], epochs=epochs, batch_size=64, lr=cfg["lr"],
                      seed=seed, augment_shift=cfg["shift"], image_shape=IMAGE[dataset],
                      recalibrate_bn=cfg.get("recal", False))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two workers may train the same one
        torch.save(teacher.state_dict(), tmp)
        tmp.replace(path)
    with torch.no_grad():
        acc = float((teacher(d["xt"]).argmax(1).numpy() == d["yt"]).mean())
    return {**job, "acc": acc, "seconds": time.perf_counter() - t0}


def load_teacher(dataset: str, kind: str, seed: int, quick: bool):
    """The cached teacher, trained again first when its file is gone (a run cache can
    outlive build/kd/teachers: its teacher row says "done" but the weights are missing)."""
    path = _teacher_path(dataset, kind, seed, quick)
    if not path.exists():
        run_teacher({"dataset": dataset, "kind": kind, "seed": seed, "quick": quick})
    teacher = _build_teacher(dataset, kind)
    teacher.load_state_dict(torch.load(path, weights_only=True))
    return teacher.eval().requires_grad_(False)


def make_student(spec: dict, timesteps: int):
    """``spec``: ``{"kind": "mlp", "sizes": [...]}`` or ``{"kind": "cnn", "image", "channels"}``."""
    if spec["kind"] == "cnn":
        return SpikingCNN(tuple(spec["image"]), tuple(spec["channels"]), 10,
                          timesteps=timesteps)
    return SpikingMLP(tuple(spec["sizes"]), timesteps=timesteps)


def n_weights(model) -> int:
    """Weights (not biases) of a student: what must fit in the FPGA's memories."""
    return sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))


def run_student(job: dict) -> dict:
    """Train one student with one method on one seed; return its test accuracy."""
    torch.set_num_threads(1)
    seed, dataset = job["seed"], job["dataset"]
    d = data(dataset, seed)
    x, y, xt = d["x"], d["y"], d["xt"]
    xs, xts = x, xt
    if job["student"].get("pool"):
        xs, xts = pool2(x, IMAGE[dataset]), pool2(xt, IMAGE[dataset])
    if job.get("n_labels"):
        idx = label_subset(y, job["n_labels"], seed)
        x, y, xs = x[idx], y[idx], xs[idx]
    torch.manual_seed(seed)
    student = make_student(job["student"], job["T"])
    kwargs = dict(job.get("kwargs", {}))
    method = job["method"]
    if method == "tssd":
        spec = job["student"]
        width = spec["channels"][0] if spec["kind"] == "cnn" else spec["sizes"][1]
        kwargs.update(student=student, n_features=width, n_classes=10)
    if method in ("nld", "ckdsnn"):
        kwargs["generator"] = torch.Generator().manual_seed(seed)
    recipe = make_recipe(method, **kwargs)
    t0 = time.perf_counter()
    tout = None
    teacher = load_teacher(dataset, job["teacher"], seed, job["quick"]) \
        if recipe.needs_teacher else None
    if job.get("shift"):
        xs, tout = _shifted(job, x, teacher, recipe.needs_cam)
    elif teacher is not None:
        tout = teacher_outputs(teacher, x, cam=recipe.needs_cam)
    hist = train_student(student, recipe, xs, y, teacher=tout, epochs=job["epochs"],
                         batch_size=64, lr=job.get("lr", 5e-3), warmup=job.get("warmup", 0.0),
                         seed=seed)
    acc = evaluate(student, xts, d["yt"])
    out = {**job, "acc": acc, "seconds": time.perf_counter() - t0,
           "final_loss": hist.loss[-1], "weights": n_weights(student)}
    if job.get("qat"):  # the conv section: acc is the golden accuracy after QAT
        from kd_conv import qat_golden

        out.update(float_acc=acc, **qat_golden(student, job, xs, y, xts, d["yt"]))
        out["seconds"] = time.perf_counter() - t0
    return out


def _shifted(job: dict, x: torch.Tensor, teacher, cam: bool):
    """Per-epoch student inputs and teacher outputs for ``job["shift"]`` and ``job["views"]``.

    Every training image gets ``views`` shifted copies (``spikefab.data.epoch_shifts``: each
    image moves by its own random offset; the 8-bit values move, nothing is re-rounded), the
    teacher labels each copy once, and each epoch shows every image as one of its copies,
    drawn from the seed and the epoch. The teacher sees exactly the copy the student sees
    (before the pooled student's 2x2 pooling): consistent distillation (Beyer et al. 2022)
    with the teacher run ``views`` times instead of once per epoch."""
    image = IMAGE[job["dataset"]]
    shifted = epoch_shifts(x.numpy(), image, job["shift"], job["seed"])
    views = job["views"]
    raw = [torch.from_numpy(shifted(v).copy()) for v in range(views)]
    student_views = torch.stack([pool2(v, image) if job["student"].get("pool") else v
                                 for v in raw])
    labelled = [teacher_outputs(teacher, v, cam=cam) for v in raw] if teacher else None
    del raw
    rows = torch.arange(len(x))
    drawn = {}

    def pick(epoch):  # asked for by the student's and the teacher's side of an epoch
        if epoch not in drawn:
            drawn.clear()
            gen = torch.Generator().manual_seed(1_000_003 * job["seed"] + epoch)
            drawn[epoch] = torch.randint(0, views, (len(x),), generator=gen)
        return drawn[epoch]

    def xs(epoch):
        return student_views[pick(epoch), rows]

    if labelled is None:
        return xs, None
    logits = torch.stack([t.logits for t in labelled])
    maps = torch.stack([t.maps for t in labelled]) if cam else None

    def tout(epoch):
        k = pick(epoch)
        return TeacherOutputs(logits[k, rows], maps[k, rows] if cam else None)

    return xs, tout


#: The stars section's synthesis variants: STARS keyword arguments over the recipe's
#: (jitter, TV, first-BN multiplier, lr in ``job["synth"]``).
STARS_WEIGHTS = {
    "ce-synth": dict(r_feature=0.0, adi=0.0, rca_weight=0.0, tar_weight=0.0),
    "deepinversion": dict(adi=0.0, rca_weight=0.0, tar_weight=0.0),
    "+adi": dict(rca_weight=0.0, tar_weight=0.0),
    "+adi+rca": dict(tar_weight=0.0),
    "+adi+tar": dict(rca_weight=0.0),
    "stars": dict(),
}


def run_stars(job: dict) -> dict:
    """Data-free distillation from the BN teacher ``job["teacher"]`` (no real image, no
    label), or its references on the real images: pure KD (``kd-real``) or CE on the labels
    (``ce-real``), with the same student steps and shifts."""
    torch.set_num_threads(1)
    seed, dataset = job["seed"], job["dataset"]
    d = data(dataset, seed)
    teacher = load_teacher(dataset, job.get("teacher", "cnnbn"), seed, job["quick"])
    torch.manual_seed(seed)
    student = make_student(job["student"], job["T"])
    t0 = time.perf_counter()
    variant = job["variant"]
    out = {}
    if variant in ("kd-real", "ce-real"):
        steps = (job["rounds"] * job["steps_per_round"]
                 + job.get("final_epochs", 0) * -(-job["rounds"] * job["batch"] // 64))
        epochs = max(1, round(steps * 64 / len(d["y"])))  # the data-free runs' student steps
        shifted = epoch_shifts(d["x"].numpy(), IMAGE[dataset], job["shift"], seed)

        def xs(epoch):
            return torch.from_numpy(shifted(epoch))

        def tout(epoch):
            return teacher_outputs(teacher, xs(epoch))

        if variant == "kd-real":  # alpha = 1: the labels carry no weight
            recipe = make_recipe("hinton", alpha=1.0)
        else:
            recipe, tout = make_recipe("ce"), None
        train_student(student, recipe, xs, d["y"], teacher=tout, epochs=epochs, lr=3e-3,
                      seed=seed)
    else:
        synth = {**job["synth"], **STARS_WEIGHTS[variant.split(" ")[0]]}
        stars = STARS(teacher, student, IMAGE[dataset], in_bits=IN_BITS,
                      augment_shift=job["shift"], **synth, **job.get("mix", {}))
        final = job.get("final_epochs", 0)
        curve = {}

        def score(k):  # the real test set, for the report only: it chooses nothing
            if k % 50 == 0 or k == final:
                curve[k] = evaluate(student, d["xt"], d["yt"])

        res = stars.train(n_classes=10, rounds=job["rounds"], batch_size=job["batch"],
                          steps_per_round=job["steps_per_round"], final_epochs=final,
                          final_average=job.get("final_average", 0), seed=seed,
                          on_final_epoch=score)
        out["teacher_agreement"] = res["agreement"]
        if curve:  # test accuracy after the rounds (0) and after final epoch k, unaveraged
            out["final_curve"] = {str(k): v for k, v in sorted(curve.items())}
    acc = evaluate(student, d["xt"], d["yt"])
    return {**job, **out, "acc": acc, "seconds": time.perf_counter() - t0}


RUNNERS = {"teacher": run_teacher, "student": run_student, "stars": run_stars}


def run(job: dict) -> dict:
    """Dispatch on ``job["type"]``."""
    return RUNNERS[job["type"]](job)
