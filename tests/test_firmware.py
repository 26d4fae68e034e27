"""The C99 firmware library: its own unit tests, and the POSIX host example on a pty board.

``make -C firmware test`` runs three programs, the unit tests, the pipelined client's
(``sfp_client_infer_many``) and the shared table of answer frames
(tests/vectors/protocol_answers.txt); each must print ``N passed, 0 failed`` last,
and make must exit 0. The host example (``build/firmware/sfp_host``) talks to
:class:`PtyBoard` (the golden board model on a pseudo-terminal) and must print exactly the
golden prediction and accumulators.
"""

import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from spikefab.driver.pty_board import PtyBoard
from spikefab.driver.samples import write_samples_text
from spikefab.golden import run_network
from test_protocol import _net

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "firmware"


@pytest.fixture(scope="module")
def host_exe():
    proc = subprocess.run(["make", "-C", str(ROOT / "firmware"), "all"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return BUILD / "sfp_host"


def _totals(stdout: str) -> list[tuple[int, int]]:
    return [(int(m[1]), int(m[2])) for m in re.finditer(r"^(\d+) passed, (\d+) failed$",
                                                        stdout, re.M)]


def test_c_unit_tests_pass():
    proc = subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "test"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (unit, unit_failed), (pipe, pipe_failed), (table, table_failed) = _totals(proc.stdout)
    assert (unit_failed, pipe_failed, table_failed) == (0, 0, 0), proc.stdout
    assert unit >= 80 and pipe >= 20 and table >= 50
    assert proc.stdout.strip().splitlines()[-1] == f"{table} passed, 0 failed"


def test_c_unit_tests_pass_under_asan_and_ubsan(tmp_path):
    flags = "-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all"
    proc = subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), f"BUILD={tmp_path}",
                           f"CFLAGS={flags}", "test"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [f for _, f in _totals(proc.stdout)] == [0, 0, 0], proc.stdout


def test_c_build_is_strict_c99():
    text = (ROOT / "firmware" / "Makefile").read_text()
    assert "-std=c99 -Wall -Wextra -Werror" in text


def test_library_core_calls_no_os_and_no_allocator(host_exe):
    """The library's objects need nothing from outside but strtol (sample text parsing)."""
    objs = [BUILD / f"{stem}.o" for stem in ("sfp", "sfp_client", "sfp_text")]
    proc = subprocess.run(["nm", "-u", *map(str, objs)], capture_output=True, text=True,
                          check=True)
    undefined = {line.split()[-1] for line in proc.stdout.splitlines()
                 if line.strip().startswith("U ")}
    assert {s for s in undefined if not s.startswith("sfp_")} == {"strtol"}


#: The pty board's quiet-line time: a frame's three writes (head, payload, tail, each
#: drained) must not look like a stalled frame when the machine is loaded (0.02 s did).
T_IDLE = 0.1


def _run_host(exe, board, samples, timeout_ms=2000, idle_ms=250):
    return subprocess.run([str(exe), board.path, str(samples), "115200", str(timeout_ms),
                           str(idle_ms)], capture_output=True, text=True, timeout=60)


def _parse(stdout):
    rows = {}
    for line in stdout.splitlines():
        m = re.fullmatch(r"sample (\d+): prediction (\d+) cycles (\d+) acc ([-\d ]+)", line)
        if m:
            rows[int(m[1])] = (int(m[2]), [int(v) for v in m[4].split()])
    return rows


@pytest.mark.parametrize("encoding", ["direct", "spikes"])
def test_host_example_matches_golden(host_exe, tmp_path, encoding):
    net = _net(encoding, n_in=13, seed=4)
    rng = np.random.default_rng(5)
    if encoding == "direct":
        x = rng.integers(0, 16, (12, 13))
        batch = x
    else:
        x = rng.integers(0, 2, (12, 3, 13))
        batch = np.transpose(x, (1, 0, 2))
    samples = tmp_path / "samples.txt"
    write_samples_text(samples, x, encoding)
    with samples.open("a") as f:
        f.write("1 2 3\n")  # a malformed line: reported, not sent
    golden = run_network(net, batch)
    with PtyBoard(net, t_idle=T_IDLE) as board:
        proc = _run_host(host_exe, board, samples)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the malformed line
    assert proc.stdout.splitlines()[0].startswith(f"info: encoding {encoding}")
    assert "sample 12: error bad argument" in proc.stdout
    rows = _parse(proc.stdout)
    assert sorted(rows) == list(range(12))
    np.testing.assert_array_equal([rows[i][0] for i in range(12)], golden.prediction)
    np.testing.assert_array_equal([rows[i][1] for i in range(12)], golden.acc)


def test_host_example_on_a_board_that_answers_twice(host_exe, tmp_path):
    """Every answer arrives twice: each copy is discarded by the next request, which gets
    its own result (without request ids, sample i got sample i-1's answer)."""
    net = _net(n_in=13, seed=4)
    x = np.random.default_rng(6).integers(0, 16, (8, 13))
    samples = tmp_path / "samples.txt"
    write_samples_text(samples, x, "direct")
    golden = run_network(net, x)
    with PtyBoard(net, t_idle=T_IDLE, twice=True) as board:
        proc = _run_host(host_exe, board, samples)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _parse(proc.stdout)
    np.testing.assert_array_equal([rows[i][0] for i in range(8)], golden.prediction)
    np.testing.assert_array_equal([rows[i][1] for i in range(8)], golden.acc)
    # INFO's copy and 7 results' copies were read and discarded; the last copy never was
    assert proc.stderr.strip() == "sfp_host: discarded 8 frame(s) that answered no request"


def test_host_example_times_out_on_a_silent_board(host_exe, tmp_path):
    net = _net()
    samples = tmp_path / "samples.txt"
    write_samples_text(samples, np.zeros((1, 10), np.int64), "direct")
    t0 = time.monotonic()
    with PtyBoard(net, silent=True) as board:
        proc = _run_host(host_exe, board, samples, timeout_ms=200, idle_ms=20)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 2
    assert proc.stdout.strip() == "info: error timeout: no answer from the board"
    assert len(board.received) == 8  # it did send the INFO request
    assert board.received[:2] == b"\xa5\x01" and board.received[2:4] != b"\0\0"  # an id


def test_host_example_usage_errors(host_exe, tmp_path):
    proc = subprocess.run([str(host_exe)], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "usage: sfp_host DEVICE SAMPLES [BAUD [TIMEOUT_MS [IDLE_MS]]]"
    proc = subprocess.run([str(host_exe), str(tmp_path / "nope"), "x"], capture_output=True,
                          text=True, timeout=10)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"cannot open {tmp_path / 'nope'}: No such file")
    proc = subprocess.run([str(host_exe), "/dev/null", "x", "1234"], capture_output=True,
                          text=True, timeout=10)
    assert proc.stderr.strip() == ("baud must be one of 9600 19200 38400 57600 115200 230400 "
                                   "460800 921600 1000000 1500000 2000000 3000000, "
                                   "not 1234")
