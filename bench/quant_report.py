"""Tables, target checks and the plot for bench/quant.py (mean and 95 % CI over seeds)."""

from __future__ import annotations

import io
import math
from collections import defaultdict

import numpy as np
from jobcache import write_results
from scipy import stats

METHODS = ("ptq", "cal", "qat")


def ci95(values) -> tuple[float, float]:
    """Mean and half-width of the 95 % t-interval (0 for a single value)."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), 0.0
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean()), float(half)


def summarize(runs: list[dict]) -> list[dict]:
    """One row per (dataset, T, w, v) with every method's mean and interval, in pp."""
    cells = defaultdict(list)
    floats = defaultdict(list)
    for r in runs:
        floats[(r["dataset"], r["T"])].append(r["float_acc"])
        for c in r["grid"]:
            cells[(r["dataset"], r["T"], c["w"], c["v"])].append((r["float_acc"], c))
    rows = []
    for (ds, T, w, v), items in sorted(cells.items(), key=lambda kv: (
            kv[0][0], kv[0][1], -kv[0][2], -kv[0][3])):
        row = {"dataset": ds, "T": T, "w": w, "v": v, "n": len(items)}
        row["float"] = ci95([100 * f for f, _ in items])
        for m in METHODS:
            row[m] = ci95([None if c[f"{m}_acc"] is None else 100 * c[f"{m}_acc"]
                           for _, c in items])
        row["ptq_failed"] = sum(c["ptq_acc"] is None for _, c in items)
        row["qat_minus_float"] = ci95([100 * (c["qat_acc"] - f) for f, c in items])
        row["qat_minus_ptq"] = ci95([100 * (c["qat_acc"] - c["ptq_acc"]) for _, c in items
                                     if c["ptq_acc"] is not None])
        row["golden_equals_qat"] = all(c["golden_acc"] == c["qat_acc"] for _, c in items)
        rows.append(row)
    return rows


def check_targets(rows: list[dict]) -> list[dict]:
    """Per (dataset, T, v): QAT >= float - 0.5 pp at w8, >= float - 2 pp at w4, > PTQ at every w."""
    by = defaultdict(dict)
    for r in rows:
        by[(r["dataset"], r["T"], r["v"])][r["w"]] = r
    out = []
    for (ds, T, v), ws in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2])):
        t = {"dataset": ds, "T": T, "v": v}
        for w, tol in ((8, 0.5), (4, 2.0)):
            if w in ws:
                d = ws[w]["qat"][0] - ws[w]["float"][0]
                t[f"w{w}_drop_pp"] = d
                t[f"w{w}_ok"] = bool(d >= -tol - 1e-9)
        beats, diffs = {}, {}
        for w, r in ws.items():
            # paired over the seeds where PTQ produced a network; where PTQ cannot represent
            # the threshold in v_bits at all (every seed), QAT wins by default
            diffs[w] = None if r["ptq_failed"] == r["n"] else r["qat_minus_ptq"][0]
            beats[w] = bool(diffs[w] is None or diffs[w] > 0)
        t["beats_ptq"], t["qat_minus_ptq_pp"] = beats, diffs
        t["beats_ptq_all"] = all(beats.values())
        out.append(t)
    return out


def pooled_by_width(runs: list[dict], widths) -> list[dict]:
    """Per w_bits, every (dataset, T, v, seed) where PTQ produced a network, paired: mean and
    95 % interval of PTQ − float (what PTQ loses) and of QAT − PTQ (what QAT adds), in pp."""
    out = []
    for w in widths:
        pairs = [(r["float_acc"], c) for r in runs for c in r["grid"]
                 if c["w"] == w and c["ptq_acc"] is not None]
        if not pairs:
            continue
        loss = ci95([100 * (c["ptq_acc"] - f) for f, c in pairs])
        gain = ci95([100 * (c["qat_acc"] - c["ptq_acc"]) for _, c in pairs])
        out.append({"w": w, "n": len(pairs), "ptq_minus_float": loss, "qat_minus_ptq": gain,
                    "ptq_loses": loss[0] + loss[1] < 0, "qat_beats": gain[0] - gain[1] > 0})
    return out


def _signed(mean_half, digits=2) -> str:
    return f"{mean_half[0]:+.{digits}f} ± {mean_half[1]:.{digits}f}"


def pooled_lines(pooled) -> list[str]:
    """The per-width pooled table (see ``pooled_by_width``)."""
    lines = ["## Per width, pooled over datasets, T, v and seeds", "",
             "Paired differences in pp, mean ± 95 % t-interval over every (dataset, T, v, seed) "
             "where `export_ptq` produced a network. *PTQ loses* / *QAT beats PTQ*: the "
             "interval lies wholly below / above 0.", "",
             "| w | pairs | PTQ − float | PTQ loses | QAT − PTQ | QAT beats PTQ |",
             "|---|---|---|---|---|---|"]
    for p in pooled:
        lines.append(f"| {p['w']} | {p['n']} | {_signed(p['ptq_minus_float'])} | "
                     f"{'yes' if p['ptq_loses'] else 'no'} | {_signed(p['qat_minus_ptq'])} | "
                     f"{'yes' if p['qat_beats'] else 'no'} |")
    return lines + [""]


def summary_lines(targets, grid, pooled=()) -> list[str]:
    """Generated summary at the top of the report: each target, and QAT − PTQ per width."""
    n = len(targets)
    w8 = [t["w8_drop_pp"] for t in targets if "w8_drop_pp" in t]
    w4 = [t["w4_drop_pp"] for t in targets if "w4_drop_pp" in t]
    lines = ["## Summary", ""]
    if w8:
        lines.append(f"* QAT ≥ float − 0.5 pp at w8: {sum(t.get('w8_ok', False) for t in targets)}"
                     f"/{n} settings (QAT − float {min(w8):+.2f} to {max(w8):+.2f} pp).")
    if w4:
        lines.append(f"* QAT ≥ float − 2 pp at w4: {sum(t.get('w4_ok', False) for t in targets)}"
                     f"/{n} settings (QAT − float {min(w4):+.2f} to {max(w4):+.2f} pp).")
    lines.append(f"* QAT > PTQ at every width: {sum(t['beats_ptq_all'] for t in targets)}/{n} "
                 "settings. Per width (settings where PTQ produced a network):")
    for w in grid["w"]:
        d = [t["qat_minus_ptq_pp"][w] for t in targets if t["qat_minus_ptq_pp"].get(w) is not None]
        failed = sum(t["qat_minus_ptq_pp"].get(w, 0) is None for t in targets)
        if d:
            lines.append(f"  w{w}: QAT > PTQ in {sum(x > 0 for x in d)}/{len(d)}, QAT − PTQ "
                         f"{min(d):+.2f} to {max(d):+.2f} pp"
                         + (f"; PTQ cannot fit v_bits in {failed} more" if failed else "") + ".")
    if pooled:
        beat = [p["w"] for p in pooled if p["qat_beats"]]
        lossless = [p for p in pooled if not p["ptq_loses"]]
        lines.append(
            "* Pooled per width (all settings and seeds, paired): QAT beats PTQ with the 95 % "
            f"interval above 0 at w = {', '.join(map(str, beat)) or 'none'}"
            + "".join(f"; at w{p['w']} PTQ loses nothing measurable (PTQ − float "
                      f"{_signed(p['ptq_minus_float'])} pp) and QAT − PTQ is "
                      f"{_signed(p['qat_minus_ptq'])} pp" for p in lossless) + ".")
    lines.append("* Discussion (why QAT only ties PTQ at w ≥ 4): "
                 "[docs/qat.md](../../docs/qat.md#benchmark).")
    return lines + [""]


def _pm(mean_half) -> str:
    m, h = mean_half
    if math.isnan(m):
        return "—"
    return f"{m:.1f}" if h == 0 else f"{m:.1f} ± {h:.1f}"


def markdown(rows, targets, pooled, grid, settings, seconds, runs) -> str:
    vs = sorted({r["v"] for r in rows}, reverse=True)
    n_seeds = len(grid["seeds"])
    lines = [
        "# Quantization: float vs post-training quantization vs QAT",
        "",
        f"`python bench/quant.py{' --quick' if settings['quick'] else ''}` — "
        f"{len(runs)} float models ({', '.join(grid['datasets'])}; T in {grid['T']}; "
        f"{n_seeds} seed{'s' if n_seeds > 1 else ''}), each quantized at w_bits in "
        f"{grid['w']} x v_bits in {grid['v']}. "
        + (f"Compute time {seconds / 60:.1f} min (sum over runs, rebuilt from the run cache)."
           if settings.get("report_only") else f"Wall time {seconds / 60:.1f} min.")
        + " Code hash of the runs: "
        + ", ".join(sorted({r.get("code", "unrecorded") for r in runs})) + ".",
        "",
        f"Network `n_in-{settings['hidden']}-C`, direct 4-bit input, leak k=3, subtract reset. "
        "Test accuracy in %, mean ± 95 % t-interval over seeds. `float`: the float student; "
        "`PTQ`: `export_ptq` (max-abs scale; — where its threshold cannot fit v_bits); "
        "`cal`: the QAT model's MSE calibration without training; `QAT`: fine-tuned "
        f"{grid['qat_epochs']} epochs (lr {settings['qat_lr']}), epoch chosen on a "
        f"{int(100 * settings['val_fraction'])} % validation hold-out that no model trained on.",
        *([f"**Partial run**: {len(runs)} of {len(runs) + len(settings['missing'])} planned "
           f"float models; missing: {', '.join(settings['missing'])}.", ""]
          if settings.get("missing") else []),
        "Every QAT accuracy equals the golden model's accuracy on the exported IR "
        f"(checked in every cell: {all(r['golden_equals_qat'] for r in rows)}).",
        "",
        *summary_lines(targets, grid, pooled),
        *pooled_lines(pooled),
        "## Targets",
        "",
        "QAT ≥ float − 0.5 pp at w8; QAT ≥ float − 2 pp at w4; QAT > PTQ at every width "
        "(means over seeds; QAT−PTQ paired over the seeds where PTQ produced a network, "
        "`fails` where `export_ptq` cannot fit the threshold into v_bits in any seed).",
        "",
        "| dataset | T | v | QAT−float w8 (pp) | w8 ok | QAT−float w4 (pp) | w4 ok | "
        "QAT−PTQ (pp) at w = " + ", ".join(map(str, grid["w"])) + " | QAT > PTQ at every w |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        diffs = ", ".join("fails" if t["qat_minus_ptq_pp"][w] is None
                          else f"{t['qat_minus_ptq_pp'][w]:+.1f}" for w in grid["w"])
        lines.append(
            f"| {t['dataset']} | {t['T']} | {t['v']} | {t.get('w8_drop_pp', float('nan')):+.2f} "
            f"| {'yes' if t.get('w8_ok') else 'NO'} | {t.get('w4_drop_pp', float('nan')):+.2f} "
            f"| {'yes' if t.get('w4_ok') else 'NO'} | {diffs} "
            f"| {'yes' if t['beats_ptq_all'] else 'NO'} |")
    n = len(targets)
    lines += ["", f"Summary: w8 target met in {sum(t.get('w8_ok', False) for t in targets)}/{n}, "
              f"w4 in {sum(t.get('w4_ok', False) for t in targets)}/{n}, "
              f"QAT beats PTQ at every width in {sum(t['beats_ptq_all'] for t in targets)}/{n}"
              " settings.", ""]
    for ds in grid["datasets"]:
        lines += [f"## {ds}", "",
                  "| T | w | float | " + " | ".join(
                      f"PTQ v{v} | cal v{v} | QAT v{v}" for v in vs) + " |",
                  "|---|---|---|" + "---|---|---|" * len(vs)]
        sub = [r for r in rows if r["dataset"] == ds]
        for T in grid["T"]:
            for w in grid["w"]:
                cell = {r["v"]: r for r in sub if r["T"] == T and r["w"] == w}
                if not cell:
                    continue
                first = next(iter(cell.values()))
                parts = []
                for v in vs:
                    r = cell[v]
                    ptq = _pm(r["ptq"]) + (f" ({r['ptq_failed']} failed)" if 0 < r[
                        "ptq_failed"] < r["n"] else "")
                    parts += [ptq, _pm(r["cal"]), f"**{_pm(r['qat'])}**"]
                lines.append(f"| {T} | {w} | {_pm(first['float'])} | " + " | ".join(parts) + " |")
        lines.append("")
    errors = sorted({c["ptq_error"].split(" does not fit")[0].split(" threshold")[0]
                     for r in runs for c in r["grid"] if c.get("ptq_error")})
    if errors:
        lines += ["PTQ failures (threshold `round(theta * scale)` larger than the v_bits "
                  "membrane holds), by layer: " + "; ".join(errors) + ".", ""]
    return "\n".join(lines)


def plot(rows, grid) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dss, Ts = grid["datasets"], grid["T"]
    fig, axes = plt.subplots(len(dss), len(Ts), figsize=(3.6 * len(Ts), 3.2 * len(dss)),
                             squeeze=False, sharey="row")
    vs = sorted({r["v"] for r in rows}, reverse=True)
    for i, ds in enumerate(dss):
        for j, T in enumerate(Ts):
            ax = axes[i][j]
            sub = [r for r in rows if r["dataset"] == ds and r["T"] == T]
            ws = sorted({r["w"] for r in sub})

            def series(method, v, sub=sub, ws=ws):
                pick = {r["w"]: r[method] for r in sub if r["v"] == v}
                return [pick[w][0] for w in ws], [pick[w][1] for w in ws]

            fm = sub[0]["float"][0] if sub else float("nan")
            ax.axhline(fm, color="k", ls="--", lw=1, label="float")
            m, h = series("ptq", vs[0])
            ax.errorbar(ws, m, yerr=h, marker="s", color="tab:red", label=f"PTQ v{vs[0]}")
            m, h = series("cal", vs[0])
            ax.errorbar(ws, m, yerr=h, marker="^", color="tab:orange", label=f"cal v{vs[0]}")
            for v, c in zip(vs, ("tab:blue", "tab:green", "tab:purple"), strict=False):
                m, h = series("qat", v)
                ax.errorbar(ws, m, yerr=h, marker="o", color=c, label=f"QAT v{v}")
            ax.set_title(f"{ds}, T={T}")
            ax.set_xlabel("weight bits")
            ax.set_xticks(ws)
            ax.set_ylim(max(0.0, fm - 15), min(100.0, fm + 3))
            if j == 0:
                ax.set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_report(stem, runs, grid, *, seconds, settings) -> str:
    """Write ``stem.{json,md,png}``; return the markdown."""
    rows = summarize(runs)
    targets = check_targets(rows)
    pooled = pooled_by_width(runs, grid["w"])
    md = markdown(rows, targets, pooled, grid, settings, seconds, runs)
    doc = {"settings": settings, "grid": grid, "seconds": seconds, "summary": rows,
           "targets": targets, "pooled_by_width": pooled, "runs": runs}
    write_results(stem, doc, md, plot(rows, grid))
    return md
