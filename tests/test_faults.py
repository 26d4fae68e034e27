"""Fault injection: a run killed or starved anywhere leaves only artifacts that load, and resumes.

A tiny digits run (teacher, student, PTQ, IR + golden: ~20 file commits) is

* killed with SIGKILL right after each of its file commits in turn (a real ``os._exit``
  in a ``spikefab`` process, so no cleanup runs), and at seeded random times with SIGKILL and
  SIGINT;
* started twice at once on one run directory;
* starved: the k-th file write hits a full disk (``/dev/full``: ENOSPC) or a read-only
  output (EACCES), for every k.

After each fault every artifact on disk either loads and verifies (IRs load and match
their hashes, checkpoints load, the steps recorded done hold the outputs they recorded)
or is absent, no temporary is left once the next writer takes the run, and the resumed
run ends with exactly the results of an undisturbed one. Marked ``slow`` (about two
minutes); CI runs it (``make test`` deselects nothing).
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from runlib import tiny_config
from spikefab import atomic
from spikefab.cli import main
from spikefab.ir import QuantizedNetwork
from spikefab.run import RunDir
from spikefab.run.rundir import file_sha256
from spikefab.train import load_checkpoint

pytestmark = pytest.mark.slow

UNTIL = ["run", "--until", "export"]
#: A spikefab process that dies (``os._exit``, as SIGKILL) right after its k-th file commit.
KILLER = """
import os, sys
count, k = [0], int(sys.argv[1])
real = os.replace
def replace(a, b):
    real(a, b)
    count[0] += 1
    if count[0] == k:
        os._exit(137)
os.replace = replace
from spikefab.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _cli(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spikefab", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def pending(root: Path) -> set[Path]:
    """Files a cut-off set still has to get: named by a journal whose temporary is there
    (the next writer renames them, ``atomic.finish_cut_writes``)."""
    out = set()
    for journal in root.rglob(".*.set"):
        if atomic.JOURNAL_NAME.match(journal.name):
            out |= {Path(path) for tmp, path in json.loads(journal.read_text())
                    if Path(tmp).is_file()}
    return out


def verify(root: Path) -> None:
    """Every artifact of the run at ``root`` loads and verifies, or is absent; a set cut off
    between its renames is complete but for files its journal still names."""
    run = RunDir(root)
    later = pending(root)
    for name in ("config.json", "state.json", "teacher/teacher.json", "student/student.json",
                 "quant/quant.json", "ir/golden.json"):
        if run.path(name).exists():
            json.loads(run.path(name).read_text())
    for stem in ("quant/net", "ir/net"):
        there = [run.path(stem + ext).exists() for ext in (".json", ".npz")]
        if there[0]:  # the JSON names the arrays by their SHA-256 (the old ones are kept)
            QuantizedNetwork.load(run.path(stem))
    if run.path("teacher/teacher.pt").exists():  # written as one set with teacher.json
        assert run.path("teacher/teacher.json").exists() or \
            run.path("teacher/teacher.json") in later
        torch.load(run.path("teacher/teacher.pt"), weights_only=True)
    if run.path("student/student.pt").exists():
        load_checkpoint(run.path("student/student.pt"))
    for name in ("student/float_pred.npy", "ir/test_inputs.npy"):
        if run.path(name).exists():
            np.load(run.path(name))
    if run.path("ir/golden.npz").exists():
        with np.load(run.path("ir/golden.npz")) as z:
            list(z.values())
    if run.path("state.json").exists():
        for step, rec in run.state()["steps"].items():
            for rel, digest in rec.get("outputs", {}).items():
                assert file_sha256(run.path(rel)) == digest, (step, rel)


def temps(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp") if atomic.TEMP_NAME.match(p.name)]



def resume_and_compare(config: Path, root: Path, reference: Path) -> None:
    """Resume in this process; the results must be the undisturbed run's, and clean."""
    assert main([*UNTIL[:1], str(config), *UNTIL[1:]]) == 0
    verify(root)
    assert temps(root) == [] and pending(root) == set()
    with np.load(root / "ir" / "golden.npz") as a, np.load(reference / "ir" / "golden.npz") as b:
        assert sorted(a) == sorted(b)
        for key in a:
            assert_array_equal(a[key], b[key])
    assert (root / "ir" / "net.npz").read_bytes() == (reference / "ir" / "net.npz").read_bytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An undisturbed run: its root, and how many file commits it makes."""
    root = tmp_path_factory.mktemp("reference")
    config = tiny_config(root)
    count = [0]
    real = os.replace

    def counting(a, b):
        real(a, b)
        count[0] += 1

    os.replace = counting
    try:
        assert main([*UNTIL[:1], str(config), *UNTIL[1:]]) == 0
    finally:
        os.replace = real
    assert count[0] >= 15
    return root / "runs" / "tiny", count[0]


def test_killed_after_each_file_commit_every_artifact_verifies_and_resumes(tmp_path,
                                                                          reference):
    ref, commits = reference
    for k in range(1, commits):
        case = tmp_path / f"k{k}"
        case.mkdir()
        config = tiny_config(case)
        proc = subprocess.run([sys.executable, "-c", KILLER, str(k), UNTIL[0], str(config),
                               *UNTIL[1:]], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 137, (k, proc.stderr[-2000:])
        root = case / "runs" / "tiny"
        verify(root)
        resume_and_compare(config, root, ref)


@pytest.mark.parametrize("sig, seed", [(signal.SIGKILL, 1), (signal.SIGKILL, 2),
                                       (signal.SIGKILL, 3), (signal.SIGINT, 4),
                                       (signal.SIGINT, 5)])
def test_killed_at_a_random_time_every_artifact_verifies_and_resumes(tmp_path, reference, sig,
                                                                    seed):
    ref, _ = reference
    config = tiny_config(tmp_path)
    proc = _cli(UNTIL[0], str(config), *UNTIL[1:])
    time.sleep(np.random.default_rng(seed).uniform(0.5, 6.0))
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=300)
    if proc.returncode == 130:  # SIGINT: one line naming the step left not done
        assert err.startswith("interrupted: step ") and err.count("\n") == 1, err
    root = tmp_path / "runs" / "tiny"
    if root.exists():
        verify(root)
    resume_and_compare(config, root, ref)


def test_two_writers_at_once_one_runs_the_other_is_refused(tmp_path, reference):
    ref, _ = reference
    config = tiny_config(tmp_path)
    procs = [_cli(UNTIL[0], str(config), *UNTIL[1:]) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], outs
    refused = outs[[p.returncode for p in procs].index(3)][1]
    assert refused.startswith("error: run directory ") and " is in use by pid " in refused
    root = tmp_path / "runs" / "tiny"
    verify(root)
    resume_and_compare(config, root, ref)


def _failing_open(k: int, code: int):
    """``atomic._open_temp`` whose k-th call gives a file that cannot be written: ``/dev/full``
    (ENOSPC on write) or a refusal (EACCES, a read-only output)."""
    real, calls = atomic._open_temp, [0]

    def open_temp(path):
        calls[0] += 1
        if calls[0] != k:
            return real(path)
        if code == errno.EACCES:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        fd, tmp = real(path)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), tmp

    return open_temp


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_write_that_fails_anywhere_is_one_line_and_leaves_the_run_sound(tmp_path, reference,
                                                                         monkeypatch, capsys,
                                                                         code):
    ref, commits = reference
    for k in range(1, commits + 1):
        case = tmp_path / f"k{k}"
        case.mkdir()
        config = tiny_config(case)
        with monkeypatch.context() as m:
            m.setattr(atomic, "_open_temp", _failing_open(k, code))
            rc = main([*UNTIL[:1], str(config), *UNTIL[1:]])
        err = capsys.readouterr().err
        assert rc == 2, (k, err)
        assert err.count("\n") == 1 and err.startswith("error: ") and \
            os.strerror(code) in err, (k, err)
        root = case / "runs" / "tiny"
        verify(root)
        assert temps(root) == []
        resume_and_compare(config, root, ref)
