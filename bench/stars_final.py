"""The final phase of the stars section, replayed: where the seed spread comes from (issue 25).

``synth SEED`` runs the MNIST-5k ``+adi`` job of bench/kd.py up to the end of its rounds
(synthesis of the whole pool and the 2,000 KD steps on the growing pool; the same code and
numbers as the bench's job) and saves the pool and the student to
``build/stars_final/sSEED.pt`` (≈ 11 CPU-minutes). ``final SEED NAME:JSON ...`` then runs
only the final phase on that saved state, once per ``NAME:JSON`` (≈ 1 CPU-minute each),
with ``JSON`` setting STARS attributes (``augment_mix``, ``mix_mode``, ``mix_alpha``,
``temperature``, ``augment_shift``) over the bench's (its ``mix`` included) and ``epochs``,
``average`` (SWA) and ``lr`` of the final phase. ``NAME:{}`` is the bench's recipe (it
reproduces the bench's accuracy; ``{"augment_mix": 0}`` the unmixed one). Prints one JSON
line per run: the student's real-test accuracy, after the final phase and along it
(``curve``; the test set chooses nothing in the run).

``synth SEED NAME:JSON`` saves to ``build/stars_final/NAME/sSEED.pt`` instead, with ``JSON``
overriding the synthesis: ``rounds``, ``iterations`` and ``lr`` (DeepInversion's Adam lr),
``r_feature``, ``first_bn_multiplier`` and ``bn_relative`` (its BN term; ``{"bn_relative":
false, "r_feature": 5.0, "first_bn_multiplier": 10.0}`` is the recipe before the tenth session),
``teacher_init`` (a second ``cnnbn`` teacher on the seed's split, trained with this
initial-weight and shuffle seed, synthesises the pool and teaches the rounds' student).
In ``final``, ``"pool": ["NAME/sS", ...]`` replaces the seed's pool by those saved pools
(concatenated; ``"sS"`` is a bench pool) and ``"pool_size": N`` keeps the first ``N``
images; the seed's teacher and its student after its own rounds stay (a pool swap: is it the
pool or the teacher?). ``"state": "NAME"`` replays a variant's student and pool instead
(``synth SEED NAME:JSON``; the seed's bench teacher labels them). Usage::

    nice -n 10 python bench/stars_final.py synth 1
    nice -n 10 python bench/stars_final.py final 1 'base:{}' 'nomix:{"augment_mix": 0}'
    nice -n 10 python bench/stars_final.py synth 1 'A:{"rounds": 50, "iterations": 640}'
    nice -n 10 python bench/stars_final.py final 1 'pool2:{"pool": ["s2"]}' \\
        'poolA:{"pool": ["A/s1"]}' 'pool3000:{"pool_size": 3000}' 'A:{"state": "A"}'
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
from spikefab.snn.teachers import train_teacher
from spikefab.train.loop import evaluate

DS = "mnist5k"
OUT = Path("build/stars_final")
#: Keys of a final-phase run that are not STARS attributes.
PHASE = ("epochs", "average", "lr", "pool", "pool_size", "state")
#: Keys of a synthesis override (``synth SEED NAME:JSON``).
SYNTH = ("rounds", "iterations", "lr", "r_feature", "first_bn_multiplier", "bn_relative",
         "teacher_init")
#: The synthesis overrides that are DeepInversion's own keyword arguments.
_DI = ("iterations", "lr", "r_feature", "first_bn_multiplier", "bn_relative")


def _second_teacher(seed: int, init: int):
    """A ``cnnbn`` teacher with the bench's recipe on seed ``seed``'s split, its initial
    weights and shuffling seeded with ``init`` (not cached: 8-25 CPU-s)."""
    cfg = kj.TEACHERS[(DS, "cnnbn")]
    d = kj.data(DS, seed)
    torch.manual_seed(init)
    teacher = kj._build_teacher(DS, "cnnbn")
    train_teacher(teacher, d["x"], d["y"], epochs=cfg["epochs"], batch_size=64, lr=cfg["lr"],
                  seed=init, augment_shift=cfg["shift"], image_shape=kj.IMAGE[DS])
    teacher.eval().requires_grad_(False)
    with torch.no_grad():
        acc = float((teacher(d["xt"]).argmax(1).numpy() == d["yt"]).mean())
    print(json.dumps({"seed": seed, "teacher_init": init, "teacher_acc": acc}), flush=True)
    return teacher


def _make(seed: int, over: dict | None = None):
    over = over or {}
    setup = STARS_SETUP[DS]
    if "teacher_init" in over:
        teacher = _second_teacher(seed, over["teacher_init"])
    else:
        teacher = kj.load_teacher(DS, "cnnbn", seed, False)
    torch.manual_seed(seed)  # as kd_jobs.run_stars: the student's initial weights
    student = kj.make_student({"kind": "mlp", "sizes": list(setup["student"]),
                               "pool": False}, 4)
    synth = {**setup["synth"], **kj.STARS_WEIGHTS["+adi"]}
    for key in _DI:  # DeepInversion's, for this synthesis
        if key in over:
            synth[key] = over[key]
    stars = STARS(teacher, student, kj.IMAGE[DS], in_bits=kj.IN_BITS,
                  augment_shift=setup["shift"], **synth)  # no mix: set per final run
    return stars, student


def _check_final(name: str, over: dict) -> None:
    """Bad ``final`` keys fail before anything loads or trains: one line naming the key."""
    if "pool" in over:
        specs = over["pool"]
        if (not isinstance(specs, list) or not specs
                or not all(isinstance(p, str) for p in specs)):
            raise SystemExit(f"stars_final: {name}: pool must be a non-empty list of saved "
                             f"pools ('sS' or 'NAME/sS'), not {specs!r}")
        for spec in specs:
            if not (OUT / f"{spec}.pt").is_file():
                raise SystemExit(f"stars_final: {name}: pool {spec!r} is missing "
                                 f"({OUT / f'{spec}.pt'}); run 'synth' for it first")
    size = over.get("pool_size", 1)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise SystemExit(f"stars_final: {name}: pool_size must be an integer >= 1, not "
                         f"{size!r}")


def final_pool(name: str, own: torch.Tensor, over: dict) -> torch.Tensor:
    """The final phase's pool: ``own``, or the saved pools ``over["pool"]`` concatenated in
    order, then its first ``over["pool_size"]`` images (at most the pool's size)."""
    pool = own
    if "pool" in over:
        pool = torch.cat([torch.load(OUT / f"{spec}.pt")["pool"] for spec in over["pool"]])
    if "pool_size" in over:
        if over["pool_size"] > len(pool):
            raise SystemExit(f"stars_final: {name}: pool_size must be at most the pool's "
                             f"{len(pool)} images, not {over['pool_size']!r}")
        pool = pool[:over["pool_size"]]
    return pool


def synth(seed: int, name: str = "", over: dict | None = None) -> None:
    over = over or {}
    bad = sorted(set(over) - set(SYNTH))
    if bad:
        raise SystemExit(f"stars_final: synth {name}: unknown key {bad[0]!r}, allowed: "
                         f"{', '.join(SYNTH)}")
    lr = over.get("lr", 1.0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise SystemExit(f"stars_final: synth {name}: lr must be a number > 0, "
                         f"not {lr!r}")
    for key in ("r_feature", "first_bn_multiplier"):
        v = over.get(key, 1.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise SystemExit(f"stars_final: synth {name}: {key} must be a number >= 0, "
                             f"not {v!r}")
    if not isinstance(over.get("bn_relative", False), bool):
        raise SystemExit(f"stars_final: synth {name}: bn_relative must be true or false, "
                         f"not {over['bn_relative']!r}")
    for key in ("rounds", "iterations", "teacher_init"):
        if key in over and (isinstance(over[key], bool) or not isinstance(over[key], int)
                            or over[key] < 1):
            raise SystemExit(f"stars_final: synth {name}: {key} must be an integer >= 1, "
                             f"not {over[key]!r}")
    setup = STARS_SETUP[DS]
    kj.run_teacher({"dataset": DS, "kind": "cnnbn", "seed": seed, "quick": False})
    t0 = time.process_time()
    stars, student = _make(seed, over)
    res = stars.train(n_classes=10, rounds=over.get("rounds", setup["rounds"]),
                      batch_size=setup["batch"], steps_per_round=setup["steps_per_round"],
                      final_epochs=0, seed=seed)
    d = kj.data(DS, seed)
    out = OUT / name if name else OUT
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"s{seed}.pt"
    tmp = path.with_suffix(".tmp")
    torch.save({"pool": res["pool"], "student": student.state_dict()}, tmp)
    tmp.replace(path)
    print(json.dumps({"seed": seed, "name": name, "over": over, "pool": len(res["pool"]),
                      "after_rounds": evaluate(student, d["xt"], d["yt"]),
                      "cpu_s": round(time.process_time() - t0)}), flush=True)


def final(seed: int, name: str, over: dict) -> None:
    setup = STARS_SETUP[DS]
    state = over.get("state", "")
    if not isinstance(state, str):
        raise SystemExit(f"stars_final: {name}: state must be the NAME of a 'synth {seed} "
                         f"NAME:JSON' run, not {state!r}")
    path = OUT / state / f"s{seed}.pt"
    if not path.is_file():
        raise SystemExit(f"stars_final: {path} is missing; run 'synth {seed}' first")
    _check_final(name, over)
    stars, student = _make(seed)
    saved = torch.load(path)
    student.load_state_dict(saved["student"])
    for key, value in {**setup.get("mix", {}), **over}.items():
        if key not in PHASE:
            if not hasattr(stars, key):
                raise SystemExit(f"stars_final: {name}: STARS has no attribute {key!r}")
            setattr(stars, key, value)
    pool = final_pool(name, saved["pool"], over)
    epochs = over.get("epochs", setup["final_epochs"])
    average = over.get("average", setup["final_average"])
    d = kj.data(DS, seed)
    curve = {}

    def score(k):
        if k % 50 == 0 or k == epochs:
            curve[k] = round(evaluate(student, d["xt"], d["yt"]), 4)

    t0 = time.process_time()
    score(0)
    stars._final(pool, epochs, 64, over.get("lr", 3e-3), seed, average=average,
                 on_epoch=score)
    print(json.dumps({"seed": seed, "name": name, "over": over, "pool": len(pool),
                      "acc": evaluate(student, d["xt"], d["yt"]), "curve": curve,
                      "cpu_s": round(time.process_time() - t0)}), flush=True)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in ("synth", "final") or not argv[1].isdigit():
        raise SystemExit("usage: stars_final.py synth SEED [NAME:JSON] | final SEED NAME:JSON ...")
    torch.set_num_threads(1)
    seed = int(argv[1])
    if argv[0] == "synth":
        if len(argv) > 3:
            raise SystemExit("usage: stars_final.py synth SEED [NAME:JSON]")
        name, _, js = argv[2].partition(":") if len(argv) == 3 else ("", "", "")
        synth(seed, name, json.loads(js or "{}"))
        return
    for spec in argv[2:]:
        name, _, js = spec.partition(":")
        final(seed, name, json.loads(js or "{}"))


if __name__ == "__main__":
    main()
