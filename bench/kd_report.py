"""Statistics and output files of bench/kd.py: JSON, markdown tables, a plot.

For every configuration (section, dataset, student, T) and method: the mean test accuracy
over seeds with a 95% Student-t interval, and the paired difference to CE-only on the same
seeds (same split, teacher, init and batch order) with its own 95% interval. A method
"helps" when the paired interval lies above 0, "hurts" when below, otherwise "no change";
with fewer than 3 paired seeds the verdict is "too few seeds".
``separated`` says whether the two accuracy intervals do not overlap (the issue's target
criterion). In the STARS section the reference is ``kd-real`` instead of CE; in the ``aug``
section it is ``ce +shift`` (CE with the same augmentation), so a KD row's difference is
what the teacher adds on top of the augmentation.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from jobcache import write_results
from scipy import stats

SECTION_TITLES = {
    "a": "a: full labels",
    "b": "b: few labels for the student, teacher trained on all",
    "c": "c: UP5K-sized students (<= ~16k weights; MNIST-5k in the full run)",
    "aug": "aug: random-shift augmentation, with and without a teacher (section c student)",
    "tune": "tune: temperature, alpha, warm-up, teacher strength (section c students)",
    "stars": "stars: data-free distillation (no real images, no labels)",
    "conv": "conv: the UP5K-sized conv student (16-32, T=4, shifted views), golden accuracy "
            "after QAT to 4-bit weights",
}


REFERENCE = {"stars": "kd-real", "aug": "ce +shift"}
TEACHER_METHODS = ("hinton", "tser", "seal", "nld", "ckdsnn")


def ci95(values) -> tuple[float, float]:
    """``(mean, half-width)`` of the 95% Student-t interval (half-width 0 for one value)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), 0.0
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean()), float(half)


def summarize(results: list[dict]) -> list[dict]:
    """One row per (section, dataset, student, T, label)."""
    groups = defaultdict(list)
    for r in results:
        groups[(r["section"], r["dataset"], r["student_label"], r["T"], r["label"])].append(r)
    rows = []
    for (section, ds, student, T, label), runs in groups.items():
        ref_label = REFERENCE.get(section, "ce")
        ref = {r["seed"]: r["acc"] for r in groups.get((section, ds, student, T, ref_label), [])}
        accs = [r["acc"] for r in runs]
        mean, half = ci95(accs)
        paired = [r["acc"] - ref[r["seed"]] for r in runs if r["seed"] in ref]
        d_mean, d_half = ci95(paired) if paired else (float("nan"), float("nan"))
        ref_mean, ref_half = ci95(list(ref.values())) if ref else (float("nan"), 0.0)
        if label == ref_label or not paired:
            verdict = "reference"
        elif len(paired) < 3:  # two seeds can give a zero-width interval from equal diffs
            verdict = "too few seeds"
        elif d_mean - d_half > 0:
            verdict = "helps"
        elif d_mean + d_half < 0:
            verdict = "hurts"
        else:
            verdict = "no change"
        separated = label != ref_label and (mean - half > ref_mean + ref_half
                                            or mean + half < ref_mean - ref_half)
        rows.append({"section": section, "dataset": ds, "student": student, "T": T,
                     "label": label, "n": len(accs), "acc_mean": mean, "acc_ci95": half,
                     "diff_mean": d_mean, "diff_ci95": d_half, "reference": ref_label,
                     "verdict": verdict, "separated": bool(separated),
                     "weights": runs[0].get("weights"), "epochs": runs[0].get("epochs"),
                     "qat": runs[0].get("qat"),
                     "float_acc_mean": (float(np.mean([r["float_acc"] for r in runs]))
                                        if all("float_acc" in r for r in runs) else None),
                     "seconds_mean": float(np.mean([r["seconds"] for r in runs])),
                     "spread": float(max(accs) - min(accs)),
                     "cpu_min_mean": float(np.mean([r.get("cpu_seconds", r["seconds"])
                                                    for r in runs])) / 60})
    order = {k: i for i, k in enumerate(SECTION_TITLES)}
    rows.sort(key=lambda r: (order[r["section"]], r["dataset"], r["student"], r["T"]))
    return rows


def target_check(rows: list[dict]) -> list[dict]:
    """Section c, MNIST-5k: the best method per (student, T) against CE-only."""
    out = []
    configs = {(r["student"], r["T"]) for r in rows
               if r["section"] == "c" and r["dataset"] == "mnist5k"}
    for student, T in sorted(configs):
        cand = [r for r in rows if r["section"] == "c" and r["student"] == student
                and r["T"] == T and r["label"] != "ce"]
        ce = [r for r in rows if r["section"] == "c" and r["student"] == student
              and r["T"] == T and r["label"] == "ce"]
        if not cand or not ce:
            continue
        best = max(cand, key=lambda r: r["acc_mean"])
        gain = 100 * (best["acc_mean"] - ce[0]["acc_mean"])
        out.append({"student": student, "T": T, "best": best["label"], "gain_pp": gain,
                    "separated": best["separated"],
                    "met": bool(gain >= 1.5 and best["separated"])})
    return out


def summary_lines(rows: list[dict], checks: list[dict]) -> list[str]:
    """The generated summary at the top of the report: target, verdicts per section, tuning."""
    lines = ["## Summary", "",
             "Generated from the tables below; the discussion (why methods hurt here, what the "
             "tuning changed) is in [docs/distill/benchmark.md](../../docs/distill/benchmark.md).",
             ""]
    if checks:
        met = [c for c in checks if c["met"]]
        best = max(checks, key=lambda c: c["gain_pp"])
        lines.append(f"* **Target** (section c, MNIST-5k, best method ≥ CE-only + 1.5 pp with "
                     f"separated 95% intervals): met in {len(met)}/{len(checks)} "
                     f"student/T settings; largest gain {best['gain_pp']:+.2f} pp "
                     f"({best['best']}, {best['student']}, T={best['T']}, intervals "
                     f"{'separated' if best['separated'] else 'overlapping'}).")
    for section in SECTION_TITLES:
        sub = [r for r in rows if r["section"] == section and r["verdict"] != "reference"]
        if not sub:
            continue
        count = {v: sum(r["verdict"] == v for r in sub)
                 for v in ("helps", "no change", "hurts", "too few seeds")}
        named = {v: sorted({r["label"] for r in sub if r["verdict"] == v})
                 for v in ("helps", "hurts")}
        lines.append(f"* Section {section}: {len(sub)} method × setting cells: "
                     f"{count['helps']} help, {count['no change']} no change, "
                     f"{count['hurts']} hurt"
                     + (f", {count['too few seeds']} with < 3 seeds" if count["too few seeds"]
                        else "")
                     + " (paired 95% CI vs "
                     f"{sub[0]['reference']})"
                     + "".join(f"; {v}: {', '.join(named[v])}" for v in ("helps", "hurts")
                               if named[v]) + ".")
    lines += _aug_lines(rows)
    lines += conv_lines(rows)
    tune = [r for r in rows if r["section"] == "tune" and r["verdict"] != "reference"]
    for student in sorted({r["student"] for r in tune}):
        sub = [r for r in tune if r["student"] == student]
        base = next((r for r in sub if r["label"] == "hinton"), None)
        best = max(sub, key=lambda r: r["diff_mean"])
        if base is not None and len(sub) > 1:  # a variant besides the default ran
            lines.append(f"* Tuning, {student}, T={base['T']}: default Hinton "
                         f"{100 * base['diff_mean']:+.2f} pp "
                         f"vs CE; best variant `{best['label']}` "
                         f"{_pct(best['diff_mean'], best['diff_ci95'])} pp ({best['verdict']}).")
    return lines + [""]


def _aug_lines(rows: list[dict]) -> list[str]:
    """Augmentation section: what the shifts give alone, and what a teacher adds to them."""
    out = []
    aug = [r for r in rows if r["section"] == "aug"]
    for student, T in sorted({(r["student"], r["T"]) for r in aug}):
        sub = {r["label"]: r for r in aug if (r["student"], r["T"]) == (student, T)}
        plain, ref = sub.get("ce"), sub.get("ce +shift")
        kd = [r for k, r in sub.items() if k not in ("ce", "ce +shift")]
        if plain is None or ref is None or not kd:
            continue
        best = max(kd, key=lambda r: r["acc_mean"])
        taught = [r for r in kd if r["label"].split()[0] in TEACHER_METHODS]

        def over_plain(r, plain=plain):
            sep = r["acc_mean"] - r["acc_ci95"] > plain["acc_mean"] + plain["acc_ci95"]
            return (f"{100 * (r['acc_mean'] - plain['acc_mean']):+.2f} pp over CE-only, "
                    f"intervals {'separated' if sep else 'overlapping'}")

        line = (f"* Augmentation, {student}, T={T}: CE +shift "
                f"{_pct(ref['acc_mean'], ref['acc_ci95'])} % ({over_plain(ref)}); best "
                f"`{best['label']}` {_pct(best['acc_mean'], best['acc_ci95'])} % "
                f"({over_plain(best)}; {_pct(best['diff_mean'], best['diff_ci95'])} pp over "
                f"CE +shift: {best['verdict']})")
        if taught:
            bt = max(taught, key=lambda r: r["acc_mean"])
            line += (f"; best with a teacher `{bt['label']}` "
                     f"{_pct(bt['acc_mean'], bt['acc_ci95'])} % "
                     f"({_pct(bt['diff_mean'], bt['diff_ci95'])} pp over CE +shift: "
                     f"{bt['verdict']})")
        out.append(line + ".")
    return out


#: The conv section's target: the best KD method >= CE + this many pp, paired CI above 0.
CONV_TARGET_PP = 1.0


def conv_check(rows: list[dict]) -> list[dict]:
    """Conv section, per (dataset, student/regime): the best method against CE-only."""
    out = []
    conv = [r for r in rows if r["section"] == "conv"]
    for ds, student in sorted({(r["dataset"], r["student"]) for r in conv}):
        sub = [r for r in conv if (r["dataset"], r["student"]) == (ds, student)]
        ce = next((r for r in sub if r["label"] == "ce"), None)
        kd = [r for r in sub if r["label"] != "ce" and r["verdict"] != "reference"]
        if ce is None or not kd:
            continue
        best = max(kd, key=lambda r: r["diff_mean"])
        gain = 100 * best["diff_mean"]
        out.append({"dataset": ds, "student": student, "ce": ce, "best": best,
                    "gain_pp": gain, "met": bool(gain >= CONV_TARGET_PP
                                                 and best["verdict"] == "helps")})
    return out


def conv_lines(rows: list[dict]) -> list[str]:
    """The conv section's target line and, per regime, where each method helps or hurts."""
    checks = conv_check(rows)
    if not checks:
        return []
    met = [c for c in checks if c["met"]]
    lines = [f"* **Conv target** (best KD method ≥ CE + {CONV_TARGET_PP:.1f} pp, paired 95% "
             f"interval above 0, golden accuracy): met in {len(met)}/{len(checks)} regimes."]
    for c in checks:
        ce, best = c["ce"], c["best"]
        sub = [r for r in rows if r["section"] == "conv" and r["dataset"] == c["dataset"]
               and r["student"] == c["student"] and r["verdict"] != "reference"]
        verdicts = "; ".join(f"{r['label']} {_pct(r['diff_mean'], r['diff_ci95'])} "
                             f"({r['verdict']})" for r in sub)
        ce_acc = _pct(ce["acc_mean"], ce["acc_ci95"])
        lines.append(f"* Conv, {c['dataset']}, {c['student']}: CE {ce_acc} %; best "
                     f"`{best['label']}` {c['gain_pp']:+.2f} pp; Δ vs CE (pp): {verdicts}.")
    return lines


def _pct(m, h) -> str:
    return f"{100 * m:.2f} ± {100 * h:.2f}"


def cpu_minutes(runs: list[dict]) -> float:
    """Summed worker CPU time in minutes (wall time where a cached run has no CPU time)."""
    return sum(r.get("cpu_seconds", r["seconds"]) for r in runs) / 60


def markdown(teachers: list[dict], rows: list[dict], checks: list[dict], elapsed: float,
             quick: bool, seeds: list[int], cpu_min: float, codes: list[str],
             coverage: list[str], workers: int = 2) -> str:
    lines = [f"# Distillation benchmark{' (quick)' if quick else ''}", "",
             f"Seeds {seeds}; accuracy on the held-out test split, mean ± 95% CI (Student t); "
             f"Δ is the paired difference to the reference (CE-only; `kd-real` for STARS; "
             f"`ce +shift` in the augmentation section) on "
             f"the same seeds. This invocation took {elapsed / 60:.1f} min wall time "
             f"({workers} worker process{'es' * (workers > 1)}, 1 torch thread each, "
             f"shared machine; cached runs are read "
             f"back). All runs together used {cpu_min:.1f} CPU-minutes: "
             f"{cpu_min / 2:.1f} min on 2 dedicated cores. Code hash of the runs: "
             f"{', '.join(codes)}.", "",
             *coverage, *summary_lines(rows, checks),
             "## Teachers", "", "| dataset | teacher | test accuracy (%) |", "|---|---|---|"]
    tgroups = defaultdict(list)
    for t in teachers:
        tgroups[(t["dataset"], t["kind"])].append(t["acc"])
    for (ds, kind), accs in sorted(tgroups.items()):
        lines.append(f"| {ds} | {kind} | {_pct(*ci95(accs))} |")
    current = None
    for r in rows:
        head = (r["section"], r["dataset"], r["student"], r["T"])
        if head != current:
            if current is None or current[0] != r["section"]:
                lines += ["", f"## {SECTION_TITLES[r['section']]}"]
            qat, stars = r.get("qat"), r["section"] == "stars"
            lines += ["", f"**{r['dataset']}, {r['student']}, T={r['T']}"
                      + (f", {r['weights']} weights" if r.get("weights") else "")
                      + (f", {r['epochs']} float epochs + {qat['epochs']} QAT epochs"
                         if qat else "") + "**", "",
                      "| method | accuracy (%) | Δ vs ref (pp) | verdict | intervals separated |"
                      + (" float, before QAT (%) |" if qat else "")
                      + (" seeds | spread (pp) | CPU-min per run | wall-min per run |"
                         if stars else ""),
                      "|---|---|---|---|---|" + ("---|" if qat else "")
                      + ("---|---|---|---|" if stars else "")]
            current = head
        diff = "—" if r["verdict"] == "reference" else _pct(r["diff_mean"], r["diff_ci95"])
        few = f" (n={r['n']})" if r["n"] != len(seeds) else ""
        lines.append(f"| {r['label']} | {_pct(r['acc_mean'], r['acc_ci95'])}{few} | {diff} | "
                     f"{r['verdict']} | {'yes' if r['separated'] else 'no'} |"
                     + (f" {100 * r['float_acc_mean']:.2f} |" if r.get("qat") else "")
                     + (f" {r['n']} | {100 * r['spread']:.2f} | {r['cpu_min_mean']:.1f} | "
                        f"{r['seconds_mean'] / 60:.1f} |" if r["section"] == "stars" else ""))
    if checks:
        lines += ["", "## Target (section c, MNIST-5k): best method ≥ CE + 1.5 pp, intervals "
                  "separated", "", "| student | T | best method | gain (pp) | separated | met |",
                  "|---|---|---|---|---|---|"]
        for c in checks:
            lines.append(f"| {c['student']} | {c['T']} | {c['best']} | {c['gain_pp']:+.2f} | "
                         f"{'yes' if c['separated'] else 'no'} | {'yes' if c['met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = []
    for r in rows:
        head = (r["section"], r["dataset"], r["student"], r["T"])
        if head not in configs and r["verdict"] != "reference":  # a panel needs a comparison
            configs.append(head)
    cols = 3
    nrows = max(1, math.ceil(len(configs) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 2.6 * nrows), squeeze=False)
    for ax, head in zip(axes.flat, configs, strict=False):
        sub = [r for r in rows if (r["section"], r["dataset"], r["student"], r["T"]) == head
               and r["verdict"] != "reference"]
        colors = {"helps": "tab:green", "hurts": "tab:red", "no change": "tab:gray",
                  "too few seeds": "tab:olive"}
        y = np.arange(len(sub))
        ax.barh(y, [100 * r["diff_mean"] for r in sub],
                xerr=[100 * r["diff_ci95"] for r in sub],
                color=[colors[r["verdict"]] for r in sub])
        ax.set_yticks(y, [r["label"] for r in sub], fontsize=7)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"{head[0]}: {head[1]}, {head[2][:28]}, T={head[3]}", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel("Δ accuracy vs reference (pp)", fontsize=7)
    for ax in list(axes.flat)[len(configs):]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def coverage_lines(results: list[dict], missing: list[dict]) -> list[str]:
    """For a partial report: how many planned runs of each section are in it."""
    if not missing:
        return []
    have, lack = defaultdict(int), defaultdict(int)
    for r in results:
        have[r["section"]] += 1
    for j in missing:
        lack[j["section"]] += 1
    parts = [f"{s}: {have[s]}/{have[s] + lack[s]}" for s in SECTION_TITLES
             if have[s] + lack[s]]
    return [f"**Partial run**: {len(results)} of {len(results) + len(missing)} planned runs "
            f"finished ({'; '.join(parts)}). An accuracy over fewer seeds than planned shows its "
            f"n; a method missing from a table did not run.", ""]


def kept_lines(results: list[dict], kept) -> list[str]:
    """Which sections (``section/dataset``: one dataset of a section) were read back from the
    previous report, with their code hashes."""
    if not kept:
        return []
    codes = sorted({r.get("code", "unrecorded") for r in results
                    if r["section"] in kept or f"{r['section']}/{r['dataset']}" in kept})
    return [f"Sections {', '.join(kept)} are read back from the previous report (code "
            f"{', '.join(codes)}); this invocation ran the others. The wall time above is "
            f"this invocation's; the CPU-minutes count every run in the report.", ""]


def curve_lines(results: list[dict]) -> str:
    """The stars runs' test accuracy after the rounds (epoch 0) and after final epoch k, before
    any weight averaging, beside the run's accuracy (averaged when the recipe averages)."""
    runs = sorted((r for r in results if r.get("final_curve")),
                  key=lambda r: (r["dataset"], r["label"], r["seed"]))
    if not runs:
        return ""
    ks = sorted({int(k) for r in runs for k in r["final_curve"]})
    lines = ["", "## Stars: test accuracy along the final phase (reported, never used to choose)",
             "", "| dataset | row | seed | " + " | ".join(f"epoch {k}" for k in ks)
             + " | the run's (%) |", "|---|---|---|" + "---|" * (len(ks) + 1)]
    for r in runs:
        cells = [f"{100 * r['final_curve'][str(k)]:.1f}" if str(k) in r["final_curve"] else "—"
                 for k in ks]
        lines.append(f"| {r['dataset']} | {r['label']} | {r['seed']} | {' | '.join(cells)} | "
                     f"{100 * r['acc']:.1f} |")
    return "\n".join(lines) + "\n"


def write(out: Path, stem: str, teachers, results, elapsed: float, *, quick: bool,
          seeds: list[int], missing: list[dict] | None = None, kept=(), workers: int = 2) -> str:
    """Write ``{stem}.json``, ``{stem}.md`` and ``{stem}.png`` under ``out``; return the md.
    ``kept``: the sections whose runs were read back from the previous report; ``workers``:
    the worker processes this invocation ran."""
    rows = summarize(results)
    checks = target_check(rows)
    cpu_min = cpu_minutes(list(teachers) + list(results))
    codes = sorted({r.get("code", "unrecorded") for r in results})
    md = markdown(teachers, rows, checks, elapsed, quick, seeds, cpu_min, codes,
                  coverage_lines(results, missing or []) + kept_lines(results, kept), workers)
    md += curve_lines(results)
    payload = {"quick": quick, "seeds": seeds, "elapsed_s": elapsed, "cpu_minutes": cpu_min,
               "workers": workers,
               "kept_sections": list(kept),
               "codes": codes, "missing": missing or [],
               "teachers": teachers,
               "summary": rows, "target": checks, "runs": results}
    write_results(out / stem, payload, md, plot(rows))
    return md
