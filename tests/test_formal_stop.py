"""A proof run killed by SIGTERM (a CI job cancelled, ``kill``) leaves no SymbiYosys or
solver running, as Ctrl-C does not (formal/sby.py: ``stopping_solvers``)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

#: A proof that runs for hours: a BMC of a million steps of a counter (each step is quick).
CHILD = textwrap.dedent("""
    import sys
    from amaranth import Signal
    from spikefab_hdl.formal.checks import Harness
    from spikefab_hdl.formal.network import prove
    from spikefab_hdl.formal.proof import Proof

    class Count(Harness):
        def __init__(self):
            super().__init__({})

        def build(self, m):
            n = Signal(8)
            m.d.sync += n.eq(n + 1)
            self.check("any", n < 256, "an 8-bit counter stays below 256")

    work = sys.argv[1]
    proofs = [Proof(f"long{k}", "long", Count, "bmc", 1_000_000) for k in range(2)]
    prove(proofs, work=work + "/work", out=work, jobs=int(sys.argv[2]))
""")


def _under(work: Path) -> list[int]:
    """Processes whose working directory is in ``work``: SymbiYosys and what it started."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(work) in os.readlink(proc / "cwd"):
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigterm_kills_the_solvers(tmp_path, jobs):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(jobs)])
    work = tmp_path / "work"
    try:
        deadline = time.monotonic() + 120
        while len(_under(work)) < 2 * jobs and time.monotonic() < deadline:  # sby + smtbmc
            time.sleep(0.5)
        time.sleep(2)  # the solvers started too
        started = _under(work)
        assert started, "the proofs did not start"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) in (128 + signal.SIGTERM, -signal.SIGTERM)
        time.sleep(1)
        assert _under(work) == []
    finally:
        child.kill()
        for pid in _under(work):  # what the run left (only without the fix)
            os.kill(pid, signal.SIGKILL)
