"""Where the data-free gap goes (issue 25): pool quality against pool size, cheaply.

One seeded teacher (the stars section's MNIST-5k ``cnnbn``, cached by bench/kd_jobs.py),
one probe per argument, each a fixed student budget (``--steps`` KD steps of batch 64, pure
KD tau 3 as in the stars section, +-2 px shifted views labelled by the teacher, 784-128-10
at T = 4) scored on the real test set:

* ``teacher``: the teacher's accuracy and confidence on the real training images;
* ``real:N``: KD on ``N`` real *unlabelled* training images (class-balanced draw): the upper
  bound for a perfect pool of that size;
* ``NAME:TARGETS:JSON``: synthesise ``--pool`` images (balanced batches of 100, STARS with the
  stars section's DeepInversion recipe overridden by ``JSON``, no student term), report the
  teacher's agreement and confidence on them, their fraction of black pixels (< 0.05) and
  the student KD'd on them. ``TARGETS``: ``hard`` (one class per image), ``dirB`` (Zero-Shot
  KD's data impressions: soft targets drawn from Dirichlet(B x class similarity of the
  teacher's last layer)), ``pairM`` (the class mixed with one random other, weight U(0, M)).

Usage::

    nice -n 15 python bench/stars_probe.py teacher real:1000 real:4000 \\
        'base:hard:{}' 'lr05:hard:{"lr":0.5}' 'it800:hard:{"iterations":800}'

``--teacher-recipe JSON`` overrides the teacher's recipe (bench/kd_jobs.py ``TEACHERS``:
``epochs``, ``lr``, ``shift``, ``recal``); the teacher is cached under that recipe.

Each probe prints one line; ``--out FILE`` also writes them as JSON. Seeded: the same
arguments give the same numbers (one torch thread).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import kd_jobs as kj
import numpy as np
import torch
import torch.nn.functional as F
from kd import STARS_SETUP
from spikefab.data import epoch_shifts
from spikefab.distill import STARS, make_recipe, teacher_outputs, train_student
from spikefab.train.loop import evaluate

DS = "mnist5k"
STUDENT = {"kind": "mlp", "sizes": [784, 128, 10]}


def kd(teacher, d, x: torch.Tensor, steps: int, seed: int) -> float:
    """Test accuracy of a student KD'd on images ``x [N, 784]`` for ``steps`` steps."""
    torch.manual_seed(seed)
    student = kj.make_student(STUDENT, 4)
    n = len(x)
    epochs = max(1, round(steps / -(-n // 64)))
    shifted = epoch_shifts(x.numpy(), kj.IMAGE[DS], 2, seed)

    def xs(e):
        return torch.from_numpy(shifted(e))

    def tout(e):
        return teacher_outputs(teacher, xs(e))

    train_student(student, make_recipe("hinton", alpha=1.0), xs,
                  torch.zeros(n, dtype=torch.long), teacher=tout, epochs=epochs, lr=3e-3,
                  seed=seed)
    return evaluate(student, d["xt"], d["yt"])


def soft_targets(mode: str, hard: torch.Tensor, sim: torch.Tensor, gen) -> torch.Tensor:
    if mode == "hard":
        return hard
    if mode.startswith("dir"):
        conc = (float(mode[3:]) * sim[hard]).clamp_min(1e-3)
        return torch.distributions.Dirichlet(conc).sample()
    if mode.startswith("pair"):
        other = (hard + torch.randint(1, 10, hard.shape, generator=gen)) % 10
        lam = torch.rand(len(hard), generator=gen) * float(mode[4:])
        return ((1 - lam)[:, None] * F.one_hot(hard, 10)
                + lam[:, None] * F.one_hot(other, 10))
    raise SystemExit(f"stars_probe: targets must be hard, dirB or pairM, not {mode!r}")


def synth_pool(teacher, over: dict, mode: str, n: int, seed: int):
    synth = {**STARS_SETUP[DS]["synth"], "adi": 0.0, "rca_weight": 0.0, "tar_weight": 0.0,
             **over}
    st = STARS(teacher, kj.make_student(STUDENT, 4), kj.IMAGE[DS], in_bits=kj.IN_BITS,
               augment_shift=2, **synth)
    w = teacher.net[-1].weight.detach()
    sim = F.normalize(w, dim=1) @ F.normalize(w, dim=1).T
    lo, hi = sim.min(1, keepdim=True).values, sim.max(1, keepdim=True).values
    sim = (sim - lo) / (hi - lo)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xs, ys = [], []
    for r in range(n // 100):
        hard = (torch.arange(100) % 10)[torch.randperm(100, generator=gen)]
        xs.append(st.to_grid(st.synthesize(soft_targets(mode, hard, sim, gen),
                                           seed=seed * 1000 + r)))
        ys.append(hard)
    return torch.cat(xs), torch.cat(ys)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("probes", nargs="+")
    ap.add_argument("--pool", type=int, default=500, help="synthetic images per probe")
    ap.add_argument("--steps", type=int, default=4000, help="student KD steps per probe")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--teacher-recipe", type=json.loads, default={},
                    help="JSON over the cnnbn teacher's recipe, e.g. '{\"shift\": 2}'")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    key = (DS, "cnnbn")
    kj.TEACHERS[key] = {**kj.TEACHERS[key], **args.teacher_recipe}
    kj.run_teacher({"dataset": DS, "kind": "cnnbn", "seed": args.seed, "quick": False})
    teacher = kj.load_teacher(DS, "cnnbn", args.seed, False)
    d = kj.data(DS, args.seed)
    rows = []
    for probe in args.probes:
        t0 = time.process_time()
        row = {"probe": probe, "seed": args.seed, "steps": args.steps}
        if probe == "teacher":
            with torch.no_grad():
                p = F.softmax(teacher(d["x"]), 1)
                acc_t = float((teacher(d["xt"]).argmax(1).numpy() == d["yt"]).mean())
            row.update(train_acc=float((p.argmax(1) == d["y"]).float().mean()),
                       train_conf=float(p.max(1).values.mean()), test_acc=acc_t,
                       black=float((d["x"] < 0.05).float().mean()))
        elif probe.startswith("real:"):
            idx = kj.label_subset(d["y"], int(probe[5:]), args.seed)
            row.update(n=len(idx), acc=kd(teacher, d, d["x"][idx], args.steps, args.seed))
        else:
            name, mode, over = probe.split(":", 2)
            x, y = synth_pool(teacher, json.loads(over or "{}"), mode, args.pool, args.seed)
            with torch.no_grad():
                p = F.softmax(teacher(x), 1)
            row.update(n=len(x), synth_cpu_s=time.process_time() - t0,
                       agreement=float((p.argmax(1) == y).float().mean()),
                       conf=float(p.max(1).values.mean()),
                       classes=np.bincount(p.argmax(1).numpy(), minlength=10).tolist(),
                       black=float((x < 0.05).float().mean()),
                       acc=kd(teacher, d, x.flatten(1), args.steps, args.seed))
        row["cpu_s"] = time.process_time() - t0
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1) + "\n")
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
