"""``report.md`` from the collected data (``collect.collect``): tables beside the figures."""

from __future__ import annotations

from .collect import accuracy_rows
from .energy import ENERGY_SOURCE

__all__ = ["render"]


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _table(head: list, rows: list) -> list:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


def _modes(st: dict) -> str:
    """The student's neuron modes beyond semantics v1 (config keys at their non-defaults)."""
    extra = [f"{k} {st[k]:.6g}" if isinstance(st[k], float) else f"{k} {st[k]}"
             for k, dflt in (("beta", "none"), ("threshold", "ge"),
                                            ("alpha", "none"), ("readout", "current"))
             if st.get(k, dflt) != dflt]
    return "".join(f", {e}" for e in extra)


def _header(d: dict) -> list:
    c = d["config"]
    st, q, hw = c["student"], c["quantize"], c["hardware"]
    shape = st.get("hidden", st.get("channels", []))
    sizes = d["student"]["sizes"] if d["student"] else ["?", *shape, "?"]
    bits = "" if st["encoding"] == "spikes" else f" {st['in_bits']}-bit"
    lines = [f"# spikefab run `{d['name']}`", "",
             f"Dataset **{c['data']['dataset']}**, student {'-'.join(map(str, sizes))} "
             f"(T={st['timesteps']}, {st['encoding']} input{bits}, "
             f"leak_shift {st['leak_shift']}, reset {st['reset']}{_modes(st)}), teacher "
             f"{c['teacher']['kind']}, distillation **{c['distill']['method']}**, "
             f"quantisation **{q['method']}** (w{q['w_bits']} b{q['b_bits']} v {q['v_bits']}), "
             f"{hw['lanes']} lanes. Run directory `{d['root']}`.", ""]
    state = d["state"]
    rows = [(n, s["finished"], f"{s['seconds']:.1f}") for n, s in state.items()]
    lines += ["Steps done:", ""] + _table(["step", "finished (UTC)", "seconds"], rows)
    return lines


def _accuracy(d: dict) -> list:
    rows = accuracy_rows(d)
    if not rows:
        return []
    lines = ["## Accuracy", ""]
    lines += _table(["stage", "test accuracy", "note"],
                    [(a, _pct(b), n) for a, b, n in rows])
    if d["sim"]:
        s = d["sim"]
        lines += [f"RTL against golden: **{s['matching']}/{s['total']}** samples with equal "
                  f"prediction and accumulators"
                  + (f"; full traces ({', '.join(s['trace_compared'])}) identical on "
                     f"{s['total'] - s['trace_mismatches']}/{s['total']}"
                     if s["trace_compared"] else "") + ".", ""]
    return lines + ["![accuracy](accuracy.png)", ""]


def _sweeps(d: dict) -> list:
    if not d["sweep_T"]:
        return []
    lines = ["## Accuracy against T and bits", "",
             "Nothing is retrained: the T sweep runs the exported network (golden) and the "
             "float student for T steps with the trained weights; the bits sweep re-exports "
             "the float student with post-training quantisation at each weight width "
             "(membrane wide enough never to saturate) and runs the golden model.", ""]
    has_float = "float_acc" in d["sweep_T"][0]
    lines += _table(["T", "golden", *(["float student"] if has_float else [])],
                    [(r["T"], _pct(r["golden_acc"]),
                      *([_pct(r["float_acc"])] if has_float else [])) for r in d["sweep_T"]])
    if d["sweep_bits"]:
        lines += _table(["w_bits", "golden (PTQ)", "membrane bits"],
                        [(r["w_bits"], _pct(r.get("golden_acc")),
                          ", ".join(map(str, r.get("v_bits", []))) or r.get("error", ""))
                         for r in d["sweep_bits"]])
    return lines + ["![accuracy against T and bits](sweeps.png)", ""]


def _spikes(d: dict) -> list:
    if d["firing"] is None:
        return []
    rows = []
    for i, r in enumerate(d["firing"]):
        silent = sum(1 for v in r if v == 0)
        rows.append((f"L{i}", len(r), f"{sum(r) / len(r):.3f}", f"{max(r):.3f}",
                     f"{silent} ({100 * silent / len(r):.0f}%)"))
    ra = d["raster"]
    return (["## Spikes", "", "Firing rate = spikes per neuron per step, mean over the test "
             "set (golden model).", ""]
            + _table(["layer", "neurons", "mean rate", "max rate", "silent neurons"], rows)
            + ["![firing rates](firing.png)", "",
               f"Test sample {ra['sample']} (label {ra['label']}, predicted "
               f"{ra['prediction']}): input, spikes of every hidden layer at every step, and "
               f"the readout accumulators.", "", "![spike raster](raster.png)", ""])


def _ops(d: dict) -> list:
    if d["ops"] is None:
        return []
    o, e = d["ops"], d["energy"]
    rows = [(f"L{la['layer']}", f"{la['n_in']}→{la['n_out']}", la["kind"].upper(),
             f"{la['events']:.1f}", f"{la['ops']:,.0f}", la["bias_adds"],
             f"{la['dense_macs']:,}") for la in o["layers"]]
    lines = ["## Synaptic operations and energy per inference", "",
             "Counted from the golden model's spikes on the test set (means per inference). "
             "A layer fed by spikes does one accumulate (AC) per input spike and output "
             "neuron; a directly fed first layer does one multiply-accumulate (MAC) per "
             "non-zero input, output neuron and step. The ANN column is one dense pass of "
             "a network of the same sizes.", ""]
    lines += _table(["layer", "size", "op", "input events", "synaptic ops", "bias adds",
                     "ANN MACs"], rows)
    erows = [(m, f"{v['costs_pj']['ac']:.3g}", f"{v['costs_pj']['mac']:.3g}",
              f"{v['snn_pj'] / 1e3:.2f}", f"{v['ann_pj'] / 1e3:.2f}", f"{v['ratio']:.1f}×")
             for m, v in e.items()]
    lines += _table(["cost model", "pJ/AC", "pJ/MAC", "SNN nJ", "ANN nJ", "ANN / SNN"], erows)
    if e["int"]["ratio"] < 1:
        mac = o["total_mac"]
        lines += [f"Here the SNN costs more than the ANN: {mac:,.0f} of its "
                  f"{mac + o['total_ac']:,.0f} synaptic ops are the MACs of a direct first "
                  f"layer, repeated at each of the T steps." if mac else
                  "Here the SNN costs more than the ANN: its layers see more input spikes "
                  "over T steps than the ANN does inputs.", ""]
    lines += [f"Constants: {ENERGY_SOURCE}. `fp32`: AC = 32-bit float add 0.9 pJ, MAC = "
              "float mult + add 3.7 + 0.9 = 4.6 pJ (the convention of the SNN literature). "
              "`int`: this design's integers, AC = 32-bit integer add 0.1 pJ, MAC = 8-bit "
              "multiply + 32-bit add 0.2 + 0.1 pJ (ANN at int8 too). `int+sram`: plus one "
              "weight read per operation, 10 pJ per 64 bits from an 8 KB SRAM scaled to "
              "w_bits. These are arithmetic estimates for a 45 nm ASIC, not a measurement "
              "of the FPGA: no control, routing or static power.", "",
              "![operations and energy](ops.png)", ""]
    return lines


def _hardware(d: dict) -> list:
    lines = ["## Hardware", ""]
    s = d["sim"]
    if s:
        c = s["cycles"]
        lines += [f"Cycles per inference (Verilator, lanes={s['lanes']}, {s['n']} images): "
                  f"mean {c['mean']:.1f}, min {c['min']}, max {c['max']}.", ""]
    if not d["boards"]:
        return lines + ["No bitstream report in this run yet: `spikefab bitstream "
                        f"{d['root']} --board icebreaker` builds one.", ""]
    kinds = sorted({k for b in d["boards"] for k, v in b["resources"].items() if v["available"]})
    rows = []
    for b in d["boards"]:
        clk = b["clock"]
        res = [f"{b['resources'][k]['used']}/{b['resources'][k]['available']}"
               if k in b["resources"] else "—" for k in kinds]
        lat = ""
        if s:
            lat = f"{s['cycles']['mean'] / clk['board_mhz']:.1f} / " \
                  f"{s['cycles']['mean'] / clk['fmax_mhz']:.1f}"
        rows.append((b["board"], b["device"], *res, clk["fmax_mhz"], clk["board_mhz"],
                     "yes" if clk["met"] else "**no**", lat))
    lines += _table(["board", "device", *kinds, "Fmax MHz", "clock MHz", "timing met",
                     "µs/inference at clock / Fmax"], rows)
    return lines + ["From each board's `report.json` (nextpnr utilisation and Fmax).", "",
                    "![resources](resources.png)", ""]


def render(d: dict, missing: list) -> str:
    """The markdown text of the report; ``missing`` names the steps not done yet."""
    lines = _header(d) + _accuracy(d) + _sweeps(d) + _spikes(d) + _ops(d) + _hardware(d)
    if missing:
        lines += ["## Not run yet", "", ", ".join(f"`{m}`" for m in missing) +
                  " (`spikefab run` resumes from the last completed step).", ""]
    return "\n".join(lines)
