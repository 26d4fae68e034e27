"""``spikefab sim TARGET --waves [N]``: sample N's Verilator run as a VCD (docs/verification.md).

With N: samples ``0 … N`` of the ``sim`` step's set (the test set or its first
``hardware.sim_samples``) run in Verilator (``spikefab_hdl.sim.waves``, imported lazily),
and sample N's cycles go to ``<run>/sim/waves/sample<N>.vcd``; the ``sim`` step itself is
not run. Without N: the ``sim`` step runs (or is skipped when done), and the first sample on
which RTL and golden disagree (prediction, accumulators or any trace) is the one dumped;
when they agree on every sample, one line says so and nothing is written. Either way the
command prints the wave file's path and whether that sample's RTL result equals golden's;
a ``sim`` step that found RTL and golden disagreeing still fails the command (exit 1)
after the wave file is written.
"""

from __future__ import annotations

import numpy as np

from ..golden import run_network
from .pipeline import is_done, run_one
from .steps_hw import RTLMismatch, sim_inputs

__all__ = ["parse_sample", "run_waves"]


def parse_sample(text: str, n: int) -> int:
    """The sample index ``text`` names, ``0 <= N < n``; else ValueError naming it."""
    allowed = f"the sim step's set has {n} samples: give 0 to {n - 1}"
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise ValueError(f"--waves {text!r} is not a sample index; {allowed}") from None
    if not 0 <= value < n:
        raise ValueError(f"--waves {value} is out of range; {allowed}")
    return value


def _first_disagreeing(ctx, force: bool) -> tuple[int | None, RTLMismatch | None]:
    """Run the ``sim`` step (unless done); the first sample RTL and golden disagree on."""
    failed = None
    try:
        run_one(ctx, "sim", force=force)
    except RTLMismatch as e:
        failed = e
    with np.load(ctx.run.path("sim", "results.npz")) as z:
        agree = z["agree"] if "agree" in z.files else z["match"]
    bad = np.flatnonzero(~agree.astype(bool))
    return (int(bad[0]) if bad.size else None), failed


def run_waves(ctx, sample: str | None, *, force: bool = False):
    """Write one sample's waveform; its path, or None when nothing was written.

    Raises
    ------
    ValueError
        The run has no IR (step ``export``), or ``sample`` is not an index of the set.
    RTLMismatch
        After writing the wave file, when the ``sim`` step found RTL and golden disagreeing.
    """
    from spikefab_hdl.sim.waves import write_waves  # lazy: it imports amaranth

    if not is_done(ctx, "export"):
        raise ValueError(f"--waves needs step 'export', which is not done in {ctx.run.root}: "
                         f"run `spikefab export ...` or `spikefab run ...`")
    net, x, y = sim_inputs(ctx)
    failed = None
    if sample is not None:
        index = parse_sample(sample, len(y))
    else:
        index, failed = _first_disagreeing(ctx, force)
        if index is None:
            ctx.out(f"waves: RTL and golden agree on all {len(y)} samples; no wave file "
                    f"written (--waves N writes sample N's)")
            return None
        ctx.out(f"waves: sample {index} is the first on which RTL and golden disagree")
    lanes = ctx.cfg["hardware"]["lanes"]
    out = ctx.run.path("sim", "waves", f"sample{index}.vcd")
    res = write_waves(net, x, index, lanes=lanes, build_dir=ctx.run.path("sim", "verilator-waves"),
                      out=out)
    one = x[index:index + 1] if net.spec.encoding == "direct" else x[:, index:index + 1]
    golden = run_network(net, one)
    differ = np.flatnonzero(res["acc"] != golden.acc[0])
    if res["prediction"] == golden.prediction[0] and not differ.size:
        verdict = "prediction and accumulators equal golden's"
    else:
        verdict = (f"RTL predicts {res['prediction']}, golden {int(golden.prediction[0])}; "
                   f"accumulators differ in classes {differ.tolist()}")
    ctx.out(f"waves: sample {index} ({res['cycles']} cycles, lanes={lanes}): {verdict}")
    ctx.out(f"wrote {out}")
    if failed is not None:
        raise failed
    return out
