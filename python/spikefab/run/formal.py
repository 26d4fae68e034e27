"""``spikefab formal TARGET``: prove the run's network's gateware (docs/verification.md).

Reads the run's IR (step ``export``) and ``hardware.lanes``, lists the proofs of its core
(:func:`spikefab_hdl.formal.network.network_proofs`, imported here lazily: the software
never loads Amaranth at import) and of its board framing (``board_proofs``), and runs
them with SymbiYosys. Every result is one line on stdout as it comes (``PASS <proof>:
...`` or ``FAIL <proof> ...: <property>; counterexample: <vcd>``);
``<run>/formal/formal.json`` keeps them all, the counterexamples are
``<run>/formal/<proof>.vcd`` and SymbiYosys's folders ``<run>/formal/work/<proof>/``. Any
proof that fails makes the command fail (exit 1).
"""

from __future__ import annotations

import shutil
import time

from ..ir import QuantizedNetwork
from .rundir import write_json
from .steps_hw import StepFailed

__all__ = ["run_formal"]


def run_formal(run, cfg, *, jobs: int = 2, solver: str | None = None,
               timeout: int | None = None, say=print) -> dict:
    """Prove every block of the run's core at its widths and lanes; a summary dict.

    Raises
    ------
    ValueError
        When the run has no IR yet (step ``export`` not done) or an argument is bad.
    StepFailed
        When a proof fails (its line names the property and the counterexample).
    """
    from spikefab_hdl.core.plan import plan_core
    from spikefab_hdl.formal.network import board_proofs, network_proofs, prove
    from spikefab_hdl.formal.rmw import spram_rmw_proofs

    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, not {jobs}")
    if timeout is not None and timeout < 1:
        raise ValueError(f"--timeout must be at least 1 second, not {timeout}")
    ir = run.path("ir", "net")
    if not ir.with_suffix(".json").is_file():
        raise ValueError(f"{ir.with_suffix('.json')} not found: formal proves the run's IR; "
                         f"run the export step first (spikefab export {run.root})")
    net = QuantizedNetwork.load(ir)
    lanes = cfg["hardware"]["lanes"]
    plan = plan_core(net, lanes=lanes, in_pack=cfg["hardware"]["in_pack"])
    proofs = network_proofs(plan) + board_proofs(net)
    proofs += spram_rmw_proofs(net, lanes, cfg["hardware"].get("boards", []))  # UP5K builds
    folder = run.path("formal")
    if folder.exists():
        shutil.rmtree(folder)
    say(f"{len(proofs)} proofs of {run.root} (lanes={lanes}, {jobs} at a time)")
    t0 = time.perf_counter()
    results = prove(proofs, work=folder / "work", out=folder, jobs=jobs, solver=solver,
                    timeout=timeout, report=lambda r: say(r.line()))
    seconds = time.perf_counter() - t0
    summary = {
        "lanes": lanes, "seconds": round(seconds, 1),
        "proofs": [{"name": r.name, "what": p.what, "mode": r.mode, "depth": r.depth,
                    "solver": r.solver, "same_as": r.same_as,
                    "passed": r.passed, "status": r.status, "seconds": round(r.seconds, 2),
                    "failed": r.failed, "trace": None if r.trace is None else str(r.trace)}
                   for p, r in zip(proofs, results, strict=True)],
    }
    write_json(folder / "formal.json", summary)
    failed = [r for r in results if not r.passed]
    say(f"{len(results) - len(failed)}/{len(results)} proofs passed in {seconds:.1f} s")
    if failed:
        raise StepFailed(f"{len(failed)} of {len(results)} proofs failed, first "
                         f"{failed[0].line()[len('FAIL '):]}", step="formal")
    return summary
