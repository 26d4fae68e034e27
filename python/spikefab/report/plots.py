"""The report's PNG figures (matplotlib's object API on the Agg canvas: no pyplot, no GUI).

Each function takes the plain data the report collected and writes one PNG atomically.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..atomic import atomic_write_bytes

__all__ = ["plot_accuracy", "plot_firing", "plot_ops", "plot_raster", "plot_resources",
           "plot_sweeps"]

_BLUE, _ORANGE, _GREEN, _GREY = "#3b75af", "#ef8636", "#519e3e", "#8c8c8c"


def _save(fig: Figure, path) -> None:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(path, buf.getvalue())


def plot_accuracy(rows: list, path) -> None:
    """Horizontal bars: one per ``(label, accuracy, note)`` row."""
    fig = Figure(figsize=(6.4, 0.5 + 0.45 * len(rows)))
    ax = fig.add_subplot()
    labels = [r[0] for r in rows][::-1]
    accs = [100 * r[1] for r in rows][::-1]
    bars = ax.barh(labels, accs, color=_BLUE)
    for b, a in zip(bars, accs, strict=True):
        ax.text(b.get_width() - 1, b.get_y() + b.get_height() / 2, f"{a:.2f}%",
                va="center", ha="right", color="white", fontsize=9)
    lo = max(0.0, min(accs) - 10)
    ax.set_xlim(lo, 100)
    ax.set_xlabel("test accuracy (%)")
    ax.set_title("accuracy along the pipeline")
    _save(fig, path)


def plot_sweeps(t_rows: list, bit_rows: list, trained_t: int, run_bits, path) -> None:
    """Accuracy against T (golden and float) and against w_bits (golden, PTQ)."""
    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ts = [r["T"] for r in t_rows]
    ax1.plot(ts, [100 * r["golden_acc"] for r in t_rows], "o-", color=_BLUE, label="golden")
    if t_rows and "float_acc" in t_rows[0]:
        ax1.plot(ts, [100 * r["float_acc"] for r in t_rows], "s--", color=_ORANGE,
                 label="float student")
    ax1.axvline(trained_t, color=_GREY, lw=0.8, ls=":", label=f"trained T={trained_t}")
    ax1.set_xscale("log", base=2)
    ax1.set_xticks(ts, [str(t) for t in ts])
    ax1.set_xlabel("timesteps T (same weights)")
    ax1.set_ylabel("test accuracy (%)")
    ax1.legend(fontsize=8)
    ok = [r for r in bit_rows if "golden_acc" in r]
    ax2.plot([r["w_bits"] for r in ok], [100 * r["golden_acc"] for r in ok], "o-",
             color=_GREEN, label="PTQ re-export, golden")
    if run_bits is not None:
        ax2.plot([run_bits[0]], [100 * run_bits[1]], "*", ms=13, color="#c03d3e",
                 label=f"this run ({run_bits[2]})")
    ax2.set_xlabel("weight bits w_bits")
    ax2.set_ylabel("test accuracy (%)")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    _save(fig, path)


def plot_firing(rates: list, path) -> None:
    """Per hidden layer: mean firing rate and the distribution over its neurons.

    ``rates``: one array ``[n]`` per layer of spikes per neuron per step (test-set mean).
    """
    fig = Figure(figsize=(9, 3.2))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    names = [f"L{i}" for i in range(len(rates))]
    ax1.bar(names, [float(np.mean(r)) for r in rates], color=_BLUE)
    ax1.set_ylabel("spikes / neuron / step")
    ax1.set_title("mean firing rate per layer")
    for i, r in enumerate(rates):
        ax2.hist(r, bins=20, range=(0, 1), alpha=0.6, label=names[i])
    ax2.set_xlabel("firing rate of a neuron")
    ax2.set_ylabel("neurons")
    ax2.set_title("rates over neurons")
    ax2.legend(fontsize=8)
    _save(fig, path)


def plot_raster(x_sample: np.ndarray, spikes: list, acc: np.ndarray, label: int, pred: int,
                encoding: str, path, image_shape=None) -> None:
    """The input, every hidden layer's spikes over T, and the readout accumulators of one
    sample (a direct input with an ``image_shape`` ``(C, H, W)`` is drawn as the image)."""
    n = len(spikes)
    fig = Figure(figsize=(3.0 * (n + 2), 3.6))
    ax = fig.add_subplot(1, n + 2, 1)
    x_sample = np.asarray(x_sample)
    if encoding == "direct" and image_shape and int(np.prod(image_shape)) == x_sample.size:
        ax.imshow(x_sample.reshape(image_shape[-2:]), cmap="Greys", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("input image (direct, every step)")
    elif encoding == "direct":
        ax.imshow(x_sample[:, None], aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_xticks([])
        ax.set_ylabel("input")
        ax.set_title("input (direct, every step)")
    else:
        t, i = np.nonzero(np.asarray(x_sample))
        ax.scatter(t, i, marker="|", s=12, color="k")
        ax.set_xlabel("step")
        ax.set_ylabel("input")
        ax.set_title("input spikes")
    for k, s in enumerate(spikes):
        ax = fig.add_subplot(1, n + 2, k + 2)
        ax.imshow(np.asarray(s).T, aspect="auto", cmap="Blues", vmin=0, vmax=1,
                  interpolation="nearest", origin="lower")
        ax.set_xticks(range(s.shape[0]) if s.shape[0] <= 16 else
                      np.linspace(0, s.shape[0] - 1, 5).astype(int))
        ax.set_xlabel("step")
        ax.set_ylabel("neuron")
        ax.set_title(f"L{k} spikes ({int(np.sum(s))})")
    ax = fig.add_subplot(1, n + 2, n + 2)
    colors = [_GREEN if c == label else (_ORANGE if c == pred else _GREY)
              for c in range(len(acc))]
    ax.bar(range(len(acc)), acc, color=colors)
    ax.set_xticks(range(len(acc)))
    ax.set_xlabel("class")
    ax.set_title(f"readout acc (label {label}, pred {pred})")
    _save(fig, path)


def plot_ops(ops: dict, energy: dict, path) -> None:
    """Synaptic operations per layer (SNN vs same-size ANN) and energy per inference."""
    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    layers = ops["layers"]
    xs = np.arange(len(layers))
    ax1.bar(xs - 0.2, [la["ops"] for la in layers], 0.4, color=_BLUE, label="SNN synaptic ops")
    ax1.bar(xs + 0.2, [la["dense_macs"] for la in layers], 0.4, color=_GREY,
            label="ANN MACs (same sizes)")
    ax1.set_xticks(xs, [f"L{la['layer']} ({la['kind'].upper()})" for la in layers])
    ax1.set_ylabel("operations / inference")
    ax1.legend(fontsize=8)
    names = list(energy)
    xs = np.arange(len(names))
    ax2.bar(xs - 0.2, [energy[m]["snn_pj"] / 1e3 for m in names], 0.4, color=_BLUE,
            label="SNN")
    ax2.bar(xs + 0.2, [energy[m]["ann_pj"] / 1e3 for m in names], 0.4, color=_GREY,
            label="ANN")
    ax2.set_xticks(xs, names)
    ax2.set_yscale("log")
    ax2.set_ylabel("nJ / inference (45 nm estimate)")
    ax2.legend(fontsize=8)
    _save(fig, path)


def plot_resources(boards: list, path) -> None:
    """Utilisation (% of the device) per resource, one group per board, Fmax in the legend."""
    kinds = sorted({k for b in boards for k, v in b["resources"].items() if v["available"]})
    fig = Figure(figsize=(max(5.0, 1.4 * len(kinds) * max(1, len(boards)) ** 0.5), 3.4))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(boards))
    for j, b in enumerate(boards):
        vals = [b["resources"].get(k, {}).get("percent", 0.0) for k in kinds]
        clk = b["clock"]
        ax.bar(np.arange(len(kinds)) + j * width, vals, width,
               label=f"{b['board']}: Fmax {clk['fmax_mhz']} MHz (clock {clk['board_mhz']})")
    ax.set_xticks(np.arange(len(kinds)) + width * (len(boards) - 1) / 2, kinds)
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of the device")
    ax.legend(fontsize=8)
    _save(fig, path)
