"""One writer per run directory: a second writing command is refused with one line naming
the holder (exit 3), readers are not, and the lock of a killed process is recovered."""

import json
import os
import re
import signal
import socket

import pytest
from runlib import slow_teacher, start_cli, tiny_config, wait_for_line
from spikefab.cli import main
from spikefab.run.lock import RunLocked, run_lock


def test_a_second_writer_is_refused_and_a_killed_holder_is_recovered(tmp_path, capsys):
    path = slow_teacher(tiny_config(tmp_path, method="none"))
    root = tmp_path / "runs" / "tiny"
    first = start_cli("run", str(path))
    try:
        wait_for_line(first, "[1/7] train-teacher: ")
        for argv in (["run", str(path)], ["train-teacher", str(root), "--force"],
                     ["report", str(root)], ["nir", "export", str(root)]):
            assert main(argv) == 3
            err = capsys.readouterr().err
            assert err.startswith(f"error: run directory {root} is in use by pid {first.pid} "
                                  f"on {socket.gethostname()}: `spikefab run {path}` since ")
            assert err.endswith("; wait for it to finish or stop it\n") and err.count("\n") == 1
        assert main(["status", str(root)]) == 0  # a reader is not held up
        out = capsys.readouterr().out
        assert out.startswith(f"{'train-teacher':24s} not run")
        assert re.search(rf"\nnote: pid {first.pid} on {re.escape(socket.gethostname())}: "
                         rf"`spikefab run {re.escape(str(path))}` since \S+Z is writing this "
                         rf"run now\n$", out)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # no clean-up: the lock file still names it
        first.wait()
    assert json.loads((root / ".lock").read_text())["pid"] == first.pid
    assert main(["quantize", str(root)]) == 2  # past the lock, refused only for its input
    assert "needs step 'distill', which is not done" in capsys.readouterr().err
    with run_lock(root, "test"):
        info = json.loads((root / ".lock").read_text())
        assert (info["pid"], info["command"]) == (os.getpid(), "test")
    assert main(["status", str(root)]) == 0
    assert "is writing this run now" not in capsys.readouterr().out


def test_the_lock_is_per_process_and_released(tmp_path):
    with run_lock(tmp_path / "r", "one"):
        with pytest.raises(RunLocked, match=r"is in use by pid \d+ on .*: `one` since "):
            with run_lock(tmp_path / "r", "two"):
                pass
    with run_lock(tmp_path / "r", "three"):
        pass
    assert (tmp_path / "r" / ".lock").read_text() == ""  # released: no holder named
