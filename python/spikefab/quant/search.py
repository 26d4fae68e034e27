"""Bit-width search: trade weight and membrane bits for accuracy, layer by layer.

Greedy coordinate descent over a trained float ``SpikingMLP``:

1. reference: QAT at the widest setting (``w_bits = w_range[1]`` and ``v_bits =
   v_range[1]`` in every layer), accuracy ``a_ref`` on a validation set that neither the
   float model nor QAT trained on (``quant.qat.holdout``; the test set is never used to
   choose);
2. for each layer in order, the smallest ``w_bits`` in ``w_range`` whose QAT accuracy
   stays within ``tolerance_pp`` of ``a_ref`` (binary search: accuracy is assumed to
   fall monotonically with fewer bits), then, for a hidden layer, the smallest ``v_bits``
   in ``v_range`` the same way, keeping what earlier layers chose;
3. the chosen widths are fine-tuned once more and scored on the test set.

Every candidate is a short QAT fine-tune (``finetune_qat``) from the same float model.
``format_table`` prints every trial: layer, what changed, widths, validation accuracy,
its drop from the reference, weight memory, and whether it was kept.

Run it: ``python -m spikefab.quant.search --dataset digits``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np

from ..data import Dataset
from ..snn.mlp import SpikingMLP
from ..train.config import TrainConfig
from ..train.fit import encode_inputs
from .qat import finetune_qat, holdout, int_accuracy

__all__ = [
    "SearchResult", "Trial", "V_RANGE", "W_RANGE", "format_table", "search_bits", "weight_bits",
]

W_RANGE = (2, 8)
V_RANGE = (8, 24)


@dataclass(frozen=True)
class Trial:
    """One evaluated candidate."""

    layer: str
    knob: str
    w_bits: tuple[int, ...]
    v_bits: tuple[int, ...]
    val_acc: float
    drop_pp: float
    weight_bits: int
    kept: bool


@dataclass
class SearchResult:
    """The chosen widths, their accuracies and every trial."""

    w_bits: tuple[int, ...]
    v_bits: tuple[int, ...]
    ref_val_acc: float
    val_acc: float
    test_acc: float
    ref_weight_bits: int
    weight_bits: int
    trials: list = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "ref_val_acc", "val_acc", "test_acc", "ref_weight_bits", "weight_bits")}
        d["w_bits"], d["v_bits"] = list(self.w_bits), list(self.v_bits)
        d["trials"] = [t.__dict__ | {"w_bits": list(t.w_bits), "v_bits": list(t.v_bits)}
                       for t in self.trials]
        return d


def _check_range(name: str, rng, lo: int, hi: int) -> tuple[int, int]:
    ok = isinstance(rng, tuple | list) and len(rng) == 2 and all(
        isinstance(b, int) and not isinstance(b, bool) for b in rng)
    if not ok or not lo <= rng[0] <= rng[1] <= hi:
        raise ValueError(
            f"search_bits {name} must be (low, high) integers with {lo} <= low <= high <= {hi}, "
            f"not {rng!r}"
        )
    return int(rng[0]), int(rng[1])


def weight_bits(model: SpikingMLP, w_bits) -> int:
    """Weight memory in bits: ``sum_l n_in * n_out * w_bits_l``."""
    return int(sum(fc.weight.numel() * w for fc, w in zip(model.fcs, w_bits, strict=True)))


def search_bits(
    model: SpikingMLP,
    ds: Dataset,
    cfg: TrainConfig,
    *,
    val,
    w_range=W_RANGE,
    v_range=V_RANGE,
    tolerance_pp: float = 1.0,
    epochs: int = 3,
    lr: float = 1e-3,
    log=None,
) -> SearchResult:
    """Greedy per-layer search for the fewest bits within ``tolerance_pp`` of the widest.

    Parameters
    ----------
    model : SpikingMLP
        Trained float model (unchanged).
    ds, cfg : Dataset, TrainConfig
        Its training data (the float model's) and configuration.
    val : (x, y)
        Validation inputs (floats in [0, 1]) and labels the float model never saw.
    w_range, v_range : (low, high)
        Candidate weight widths (within [2, 8]) and membrane widths (within [8, 24]).
    tolerance_pp : float
        Largest accepted drop of validation accuracy, in percentage points.
    epochs, lr : QAT fine-tuning per candidate.
    log : callable, optional
        Gets one line per trial.
    """
    w_lo, w_hi = _check_range("w_range", w_range, *W_RANGE)
    v_lo, v_hi = _check_range("v_range", v_range, *V_RANGE)
    if isinstance(tolerance_pp, bool) or not isinstance(tolerance_pp, int | float) or (
            tolerance_pp < 0):
        raise ValueError(f"search_bits tolerance_pp must be a number >= 0, not {tolerance_pp!r}")
    n_layers, n_hidden = len(model.fcs), len(model.spiking_lifs)  # membranes to size
    x_val, y_val = encode_inputs(cfg, np.asarray(val[0]), seed=cfg.seed + 1), np.asarray(val[1])
    trials: list[Trial] = []

    def score(w, v):
        res = finetune_qat(model, ds, cfg, w_bits=list(w), v_bits=list(v), epochs=epochs, lr=lr)
        return int_accuracy(res.model, x_val, y_val), res

    w_cur, v_cur = [w_hi] * n_layers, [v_hi] * n_hidden
    ref, _ = score(w_cur, v_cur)
    ref_bits = weight_bits(model, w_cur)

    def record(layer, knob, w, v, acc, kept):
        t = Trial(layer, knob, tuple(w), tuple(v), acc, 100.0 * (ref - acc),
                  weight_bits(model, w), kept)
        trials.append(t)
        if log is not None:
            log(_row(t))

    record("all", "reference", w_cur, v_cur, ref, True)

    def shrink(set_width, lo, hi, layer, knob):
        """Binary search for the smallest width in [lo, hi] that keeps the accuracy."""
        best = hi
        while lo < best:
            mid = (lo + best) // 2
            w, v = set_width(mid)
            acc, _ = score(w, v)
            ok = 100.0 * (ref - acc) <= tolerance_pp
            record(layer, f"{knob}={mid}", w, v, acc, ok)
            if ok:
                best = mid
            else:
                lo = mid + 1
        return best

    for i in range(n_layers):
        def set_w(b, i=i):
            w = list(w_cur)
            w[i] = b
            return w, v_cur

        w_cur[i] = shrink(set_w, w_lo, w_hi, str(i), "w_bits")
        if i < n_hidden:
            def set_v(b, i=i):
                v = list(v_cur)
                v[i] = b
                return w_cur, v

            v_cur[i] = shrink(set_v, v_lo, v_hi, str(i), "v_bits")

    final, res = score(w_cur, v_cur)
    test_acc = res.qat_acc
    record("all", "chosen", w_cur, v_cur, final, True)
    return SearchResult(tuple(w_cur), tuple(v_cur), ref, final, test_acc, ref_bits,
                        weight_bits(model, w_cur), trials)


_HEAD = f"{'layer':>5}  {'trial':<11} {'w_bits':<14} {'v_bits':<12} {'val_acc':>7} " \
        f"{'drop_pp':>7} {'weight_bits':>11}  kept"


def _row(t: Trial) -> str:
    w = ",".join(map(str, t.w_bits))
    v = ",".join(map(str, t.v_bits)) or "-"
    return (f"{t.layer:>5}  {t.knob:<11} {w:<14} {v:<12} {t.val_acc:7.4f} {t.drop_pp:7.2f} "
            f"{t.weight_bits:11d}  {'yes' if t.kept else 'no'}")


def format_table(result: SearchResult) -> str:
    """Every trial as a text table, then the chosen widths and their test accuracy."""
    lines = [_HEAD, "-" * len(_HEAD)] + [_row(t) for t in result.trials]
    saved = 1 - result.weight_bits / result.ref_weight_bits if result.ref_weight_bits else 0.0
    lines.append(
        f"chosen w_bits={list(result.w_bits)} v_bits={list(result.v_bits)}: "
        f"val {result.val_acc:.4f} (reference {result.ref_val_acc:.4f}), "
        f"test {result.test_acc:.4f}, weight memory {result.weight_bits} bits "
        f"({100 * saved:.0f}% less than {result.ref_weight_bits})"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    from ..data import load_dataset
    from ..train.fit import fit

    p = argparse.ArgumentParser(prog="python -m spikefab.quant.search", description=__doc__
                                .split("\n")[0])
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    p.add_argument("--hidden", type=int, nargs="+", default=[64])
    p.add_argument("--timesteps", type=int, default=4)
    p.add_argument("--epochs", type=int, default=20, help="float training epochs")
    p.add_argument("--qat-epochs", type=int, default=3)
    p.add_argument("--tolerance-pp", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    cfg = TrainConfig(dataset=a.dataset, hidden=tuple(a.hidden), timesteps=a.timesteps,
                      epochs=a.epochs, seed=a.seed, threads=1)
    ds, val = holdout(load_dataset(a.dataset, seed=a.seed), 0.15, a.seed)
    fr = fit(cfg, dataset=ds)
    print(f"float model: test accuracy {fr.float_acc:.4f}")
    res = search_bits(fr.model, ds, cfg, val=val, tolerance_pp=a.tolerance_pp,
                      epochs=a.qat_epochs)
    print(format_table(res))
    return 0 if np.isfinite(res.test_acc) else 1


if __name__ == "__main__":
    raise SystemExit(main())
