"""The final phase of the stars section, replayed: where the seed spread comes from (issue 25).

``synth SEED`` runs the MNIST-5k ``+adi`` job of bench/kd.py up to the end of its rounds
(synthesis of the whole pool and the 2,000 KD steps on the growing pool; the same code and
numbers as the bench's job) and saves the pool and the student to
``build/stars_final/sSEED.pt`` (≈ 11 CPU-minutes). ``final SEED NAME:JSON ...`` then runs
only the final phase on that saved state, once per ``NAME:JSON`` (≈ 1 CPU-minute each),
with ``JSON`` setting STARS attributes (``augment_mix``, ``mix_mode``, ``mix_alpha``,
``temperature``, ``augment_shift``) and ``epochs``, ``average`` (SWA) and ``lr`` of the
final phase. ``NAME:{}`` is the bench's recipe (it reproduces the bench's accuracy). Prints
one JSON line per run: the student's real-test accuracy, after the final phase and along it
(``curve``; the test set chooses nothing in the run). Usage::

    nice -n 10 python bench/stars_final.py synth 1
    nice -n 10 python bench/stars_final.py final 1 'base:{}' \\
        'cutmix50:{"augment_mix": 0.5, "mix_mode": "cutmix"}'
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import kd_jobs as kj
import torch
from kd import STARS_SETUP
from spikefab.distill import STARS
from spikefab.train.loop import evaluate

DS = "mnist5k"
OUT = Path("build/stars_final")
#: Keys of a final-phase run that are not STARS attributes.
PHASE = ("epochs", "average", "lr")


def _make(seed: int):
    setup = STARS_SETUP[DS]
    teacher = kj.load_teacher(DS, "cnnbn", seed, False)
    torch.manual_seed(seed)  # as kd_jobs.run_stars: the student's initial weights
    student = kj.make_student({"kind": "mlp", "sizes": list(setup["student"]),
                               "pool": False}, 4)
    synth = {**setup["synth"], **kj.STARS_WEIGHTS["+adi"]}
    stars = STARS(teacher, student, kj.IMAGE[DS], in_bits=kj.IN_BITS,
                  augment_shift=setup["shift"], **synth)  # no mix: set per final run
    return stars, student


def synth(seed: int) -> None:
    setup = STARS_SETUP[DS]
    kj.run_teacher({"dataset": DS, "kind": "cnnbn", "seed": seed, "quick": False})
    stars, student = _make(seed)
    t0 = time.process_time()
    res = stars.train(n_classes=10, rounds=setup["rounds"], batch_size=setup["batch"],
                      steps_per_round=setup["steps_per_round"], final_epochs=0, seed=seed)
    d = kj.data(DS, seed)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"s{seed}.pt"
    tmp = path.with_suffix(".tmp")
    torch.save({"pool": res["pool"], "student": student.state_dict()}, tmp)
    tmp.replace(path)
    print(json.dumps({"seed": seed, "after_rounds": evaluate(student, d["xt"], d["yt"]),
                      "cpu_s": round(time.process_time() - t0)}), flush=True)


def final(seed: int, name: str, over: dict) -> None:
    setup = STARS_SETUP[DS]
    path = OUT / f"s{seed}.pt"
    if not path.is_file():
        raise SystemExit(f"stars_final: {path} is missing; run 'synth {seed}' first")
    stars, student = _make(seed)
    saved = torch.load(path)
    student.load_state_dict(saved["student"])
    for key, value in over.items():
        if key not in PHASE:
            if not hasattr(stars, key):
                raise SystemExit(f"stars_final: {name}: STARS has no attribute {key!r}")
            setattr(stars, key, value)
    epochs = over.get("epochs", setup["final_epochs"])
    average = over.get("average", setup["final_average"])
    d = kj.data(DS, seed)
    curve = {}

    def score(k):
        if k % 50 == 0 or k == epochs:
            curve[k] = round(evaluate(student, d["xt"], d["yt"]), 4)

    t0 = time.process_time()
    score(0)
    stars._final(saved["pool"], epochs, 64, over.get("lr", 3e-3), seed, average=average,
                 on_epoch=score)
    print(json.dumps({"seed": seed, "name": name, "over": over,
                      "acc": evaluate(student, d["xt"], d["yt"]), "curve": curve,
                      "cpu_s": round(time.process_time() - t0)}), flush=True)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in ("synth", "final") or not argv[1].isdigit():
        raise SystemExit("usage: stars_final.py synth SEED | final SEED NAME:JSON ...")
    torch.set_num_threads(1)
    seed = int(argv[1])
    if argv[0] == "synth":
        synth(seed)
        return
    for spec in argv[2:]:
        name, _, js = spec.partition(":")
        final(seed, name, json.loads(js or "{}"))


if __name__ == "__main__":
    main()
