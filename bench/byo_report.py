"""The markdown table of bench/byo.py's results."""

from __future__ import annotations

TARGET = 0.99  # integer golden vs the user's snnTorch predictions at w8


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _spikes(rec: dict) -> str:
    differ = sum(la["differ"] for la in rec["layers"])
    total = sum(la["total"] for la in rec["layers"])
    return f"{differ} of {total:,}"


def _rtl(r: dict) -> tuple[str, str]:
    rtl = r["rtl"]
    if rtl["status"] == "not yet":
        return "not yet", "—"
    if rtl["status"] != "ran":
        return f"failed: {rtl['reason']}", "—"
    same = rtl["matching"] == rtl["total"] and not rtl["trace_mismatches"]
    what = f"{'yes' if same else 'NO'}: {rtl['matching']}/{rtl['total']} images"
    if rtl["trace_compared"]:
        what += f", traces ({', '.join(rtl['trace_compared'])}) " + \
            f"{rtl['total'] - rtl['trace_mismatches']}/{rtl['total']}"
    return what, _pct(rtl["rtl_acc"])


def markdown(payload: dict) -> str:
    T, epochs = payload["timesteps"], payload["epochs"]
    rows, notes, reasons = [], [], set()
    for r in payload["results"]:
        if "error" in r:
            notes.append(f"* `{r['model']}`: {r['error']}")
            continue
        rtl, hw_acc = _rtl(r)
        if r["rtl"]["status"] == "not yet":
            reasons.add(r["rtl"]["reason"])
        ok8 = "✓" if r["w8"]["agreement"] >= TARGET else "✗"
        rows.append(
            f"| `{r['model']}` | {r['semantics'].removeprefix('v1+')} | "
            f"{_pct(r['snntorch_acc'])} | {_spikes(r['float'])} | {_pct(r['float']['agreement'])} "
            f"| {_pct(r['w8']['agreement'])} {ok8} | {_pct(r['w4']['agreement'])} | "
            f"{_pct(r['golden_acc'])} | {rtl} | {hw_acc} | {r['n_commands']} |")
        if not r["run_golden_equals_check_w8"]:
            notes.append(f"* `{r['model']}`: the run's golden predictions differ from "
                         "`nir check`'s w8 integer model (they should be the same model)")
    lines = [
        "# Bring your own model: snnTorch on digits, NIR file to RTL",
        "",
        f"`python bench/byo.py` (code {payload['code']}): each model built as snnTorch users "
        f"build it, trained with snnTorch for {epochs} epochs on digits (Adam 5e-3, ATan "
        f"surrogate, cross-entropy on the output summed over T = {T} steps), exported with "
        "snnTorch's `export_to_nir`, its spikes and predictions on the 360 test images "
        "recorded (`spikefab.nirgraph.reference`), then taken through the command line:",
        "",
        "    spikefab nir check model.nir --reference ref.npz --timesteps T --reset R "
        "--w-bits 8 --w-bits 4",
        "    spikefab nir import model.nir --run DIR --timesteps T --reset R "
        "[--encoding spikes]",
        "    spikefab run DIR --skip bitstream        # quantize, export, verilog, sim, report",
        "    spikefab bitstream DIR --board icebreaker",
        "",
        "(`R` is `subtract-delayed` for snnTorch's default reset, `zero` for "
        "`reset_mechanism=\"zero\"`; the bench runs the first three.)",
        "",
        "| model | extensions | snnTorch accuracy (the user's) | float import: spikes "
        "differing | float import: prediction agreement | golden w8: agreement with snnTorch "
        f"(target ≥ {100 * TARGET:.0f}%) | golden w4: agreement | golden w8 accuracy | "
        "RTL ≡ golden (every spike, membrane, logit) | hardware accuracy | commands |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Spikes differing: every spike of every spiking layer (the output layer's included) on "
        "every step of every test image, imported float model against snnTorch's own run. "
        "The float model does snnTorch's float operations in snnTorch's order "
        "(`beta * mem + input - reset * threshold`, `alpha * syn + input`, `mem > threshold`), "
        "so no float tie can arise and none is expected. Agreement: the fraction of test "
        "images on which the model predicts what snnTorch predicted (spike-count argmax, ties "
        "to the lowest index, as `torch.argmax`). Golden w8 is the run's integer model "
        "(`quantize.w_bits = 8`, `v_bits` auto, `decay_bits` 12, direct input 8 bits); w4 the "
        "same at 4-bit weights. Hardware accuracy is the RTL's, once it runs.",
    ]
    if reasons:
        lines += ["", "\"not yet\": the gateware of this checkout refuses these networks with "
                  "one line (the modes are being added to the core in parallel):", ""]
        lines += [f"* {reason}" for reason in sorted(reasons)]
    if notes or payload.get("missing"):
        lines += ["", "Notes:", ""] + notes
        lines += [f"* `{m}`: no cached run" for m in payload.get("missing", [])]
    return "\n".join(lines) + "\n"
