"""RTL against golden: the one comparison used by the pipeline's sim step, demo, sim/ and bench/.

A sample matches when its prediction and all its accumulators equal golden's; traces
(per-step logits, spikes, post-reset membranes) are compared where the RTL result carries
them. Integers only, compared exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["compare_rtl"]


def compare_rtl(golden, rtl: dict) -> dict:
    """Per-sample agreement of an RTL result with a golden ``RunResult``.

    A sample matches when its prediction and all its accumulators are equal. When the RTL
    result carries traces (``logits``, ``spikes``, ``membranes``, and ``synapses`` where a
    layer has a synaptic current) of the golden shapes, they are compared too
    (``trace_mismatches`` counts the samples that differ anywhere). ``match`` and ``agree``
    are per sample: the prediction and accumulators equal, and also every trace.
    """
    pred = np.asarray(rtl["prediction"], dtype=np.int64)
    acc = np.asarray(rtl["acc"], dtype=np.int64)
    if pred.shape != golden.prediction.shape or acc.shape != golden.acc.shape:
        raise ValueError(
            f"RTL result shapes prediction {list(pred.shape)} / acc {list(acc.shape)} do not "
            f"match golden {list(golden.prediction.shape)} / {list(golden.acc.shape)}"
        )
    match = (pred == golden.prediction) & (acc == golden.acc).all(axis=1)
    out = {"matching": int(match.sum()), "total": int(match.size), "match": match}
    bad = np.zeros(match.size, bool)
    compared = []
    for key, ref in (("logits", [golden.logits]), ("spikes", golden.spikes),
                     ("membranes", golden.membranes), ("synapses", golden.synapses)):
        got = rtl.get(key)
        if got is None or (key == "synapses" and all(r is None for r in ref)):
            continue
        got = [got] if key == "logits" else list(got)
        if len(got) != len(ref) or any(
                (g is None) != (r is None) or (r is not None and np.shape(g) != r.shape)
                for g, r in zip(got, ref, strict=True)):
            raise ValueError(f"RTL trace {key!r} does not have the golden shapes")
        for g, r in zip(got, ref, strict=True):
            if r is not None:
                bad |= (np.asarray(g, np.int64) != r).reshape(r.shape[0], r.shape[1],
                                                               -1).any(axis=(0, 2))
        compared.append(key)
    out["trace_compared"] = compared
    out["trace_mismatches"] = int(bad.sum())
    out["agree"] = match & ~bad
    return out
