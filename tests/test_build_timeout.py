"""A build past its wall-clock limit leaves no tool running: the build script runs in a
process group of its own, which is stopped whole (SIGTERM, then SIGKILL).

No FPGA tool runs here: the "tools" are shell scripts that start a long sleep and wait.
"""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from spikefab.ir import QuantizedNetwork
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec
from spikefab_hdl.build import bitstream as build_mod
from spikefab_hdl.build.bitstream import YOWASP_TOOLS, build_bitstream
from spikefab_hdl.build.process_group import run_in_group
from spikefab_hdl.build.tool_report import BuildError


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (an orphan waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _tool(path: Path, pid_file: Path, trap_term: bool = False) -> Path:
    """A fake tool: starts ``sleep 600`` as a child (its pid into ``pid_file``) and waits."""
    trap = "trap '' TERM\n" if trap_term else ""
    path.write_text(f"#!/bin/sh\n{trap}sleep 600 &\necho $! > {pid_file}\nwait\n")
    path.chmod(0o755)
    return path


def _pid(pid_file: Path) -> int:
    text = pid_file.read_text().strip()
    assert text.isdigit(), f"the fake tool did not start: {text!r}"
    return int(text)


def test_a_build_past_its_timeout_stops_the_tools(tmp_path, monkeypatch):
    tool = _tool(tmp_path / "tool", tmp_path / "sleep.pid")
    monkeypatch.setattr(build_mod, "yowasp_env",
                        lambda: {"PATH": "/usr/bin:/bin", **dict.fromkeys(YOWASP_TOOLS,
                                                                          str(tool))})
    spec = NetworkSpec(layers=(LayerSpec(16, 4, w_bits=4, b_bits=8,
                                         neuron=LIFSpec(v_bits=12, theta=30)),
                               LayerSpec(4, 3, w_bits=4, b_bits=8)),
                       timesteps=2, encoding="direct", in_bits=4)
    net = QuantizedNetwork(spec, [np.ones((4, 16), int), np.ones((3, 4), int)],
                           [np.zeros(4, int), np.zeros(3, int)])
    out = tmp_path / "out"
    with pytest.raises(BuildError) as e:
        build_bitstream(net, "icebreaker", out_root=out, timeout_s=1)
    assert str(e.value) == (f"yosys synthesis for icebreaker failed: ran past 1 s; log: "
                            f"{out / 'icebreaker' / 'build.log'}")
    assert _gone(_pid(tmp_path / "sleep.pid"))


def test_a_group_that_ignores_sigterm_is_killed(tmp_path):
    pid_file = tmp_path / "sleep.pid"
    tool = _tool(tmp_path / "tool", pid_file, trap_term=True)
    with pytest.raises(subprocess.TimeoutExpired, match=r"timed out after 0\.5 seconds"):
        run_in_group([str(tool)], timeout_s=0.5, grace_s=0.5)
    # the sleep ignores SIGTERM too (inherited), so only the SIGKILL after the grace ends it
    assert _gone(_pid(pid_file))


def test_a_group_that_ends_in_time_returns_its_exit_status(tmp_path):
    proc = run_in_group(["sh", "-c", "exit 3"], timeout_s=30)
    assert proc.returncode == 3


def test_sigterm_to_the_caller_stops_the_group(tmp_path):
    # a kill, a cancelled job or `timeout` signals the caller only: the group is its own
    pid_file = tmp_path / "sleep.pid"
    tool = _tool(tmp_path / "tool", pid_file)
    caller = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from spikefab_hdl.build.process_group import run_in_group
        run_in_group([{str(tool)!r}], timeout_s=600)
    """)])
    try:
        deadline = time.monotonic() + 60
        while not pid_file.is_file() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the fake tool did not start"
            time.sleep(0.05)
        sleeper = _pid(pid_file)
        time.sleep(0.5)  # the caller is in its wait (its handler set right after the start)
        caller.send_signal(signal.SIGTERM)
        assert caller.wait(timeout=60) == -signal.SIGTERM
        assert _gone(sleeper)
    finally:
        caller.kill()
