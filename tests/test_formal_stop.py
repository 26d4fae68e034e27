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

#: Proofs that run for hours: the solver is in one long call (it has to factor a 127-bit
#: product of two primes), not in many short ones (there smtbmc would notice SymbiYosys gone).
CHILD = textwrap.dedent("""
    import sys
    from spikefab_hdl.formal.checks import Harness
    from spikefab_hdl.formal.network import prove
    from spikefab_hdl.formal.proof import Proof
    from amaranth.lib.wiring import In

    class Hard(Harness):
        def __init__(self, k):
            self.k = k  # two different proofs (prove runs an identical one once)
            super().__init__({"a": In(64), "b": In(64)})

        def build(self, m):
            n = 18446744073709551557 * 9223372036854775783
            self.check(f"prime{self.k}", self.a * self.b != n, "no factors")

    work = sys.argv[1]
    proofs = [Proof(f"long{k}", "long", lambda k=k: Hard(k), "comb", 1) for k in range(2)]
    prove(proofs, work=work + "/work", out=work, jobs=int(sys.argv[2]))
""")


def _under(work: Path, word: str = "") -> list[int]:
    """Processes whose working directory or command line is in ``work`` (SymbiYosys and
    what it started: the engines, the solvers), with ``word`` in their command line."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if (str(work) in os.readlink(proc / "cwd") or str(work) in cmd) and word in cmd:
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
        # every proof's solver runs (SymbiYosys puts each engine in a process group of its
        # own: killing SymbiYosys's group leaves them running)
        while len(_under(work, ".bin/boolector")) < jobs and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(_under(work, ".bin/boolector")) == jobs, "the solvers did not start"
        time.sleep(2)  # the solvers are in their long call
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) in (128 + signal.SIGTERM, -signal.SIGTERM)
        time.sleep(1)
        assert _under(work) == []
    finally:
        child.kill()
        for pid in _under(work):  # what the run left (only without the fix)
            os.kill(pid, signal.SIGKILL)
