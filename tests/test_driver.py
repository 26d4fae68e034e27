"""The Python driver (Board) over a real serial-port transport: pyserial on a pty board.

:class:`PtyBoard` answers with the golden board model; the Verilator transport and the
gateware's fault handling are tested in sim/test_driver_sim.py.
"""

import time

import numpy as np
import pytest
from spikefab.driver.client import Board, BoardTimeout, DeviceError
from spikefab.driver.pty_board import PtyBoard
from spikefab.driver.samples import samples_text
from spikefab.driver.transport import SerialTransport, SimTransport, TransportError
from spikefab.golden import run_network
from spikefab.protocol import (
    ErrorCode,
    FrameDecoder,
    FrameType,
    NetInfo,
    ProtocolError,
    encode_frame,
    encode_sample,
)
from test_protocol import _net

T_IDLE = 0.02


def _board(pty, timeout=0.5, first_id=1):
    return Board(SerialTransport(pty.path), timeout=timeout, idle=2 * T_IDLE, first_id=first_id)


def test_info_and_inference_equal_golden():
    net = _net(n_in=10, seed=1)
    x = np.random.default_rng(2).integers(0, 16, (8, 10))
    golden = run_network(net, x)
    with PtyBoard(net, t_idle=T_IDLE) as pty, _board(pty) as board:
        assert board.info() == NetInfo.from_network(net, 12_000_000)
        for i in range(len(x)):
            res = board.infer(x[i])
            assert res.prediction == golden.prediction[i]
            np.testing.assert_array_equal(res.acc, golden.acc[i])


def test_spike_samples():
    net = _net("spikes", n_in=11, seed=3)
    x = np.random.default_rng(4).integers(0, 2, (3, 5, 11))
    golden = run_network(net, x)
    with PtyBoard(net, t_idle=T_IDLE) as pty, _board(pty) as board:
        for i in range(5):
            np.testing.assert_array_equal(board.infer(x[:, i]).acc, golden.acc[i])


def test_device_errors_raise_and_the_next_request_works():
    net = _net(n_in=10, seed=1)
    x = np.arange(10) % 16
    good = encode_frame(FrameType.INFER_REQ, encode_sample(NetInfo.from_network(net, 1), x),
                        0x55)
    with PtyBoard(net, t_idle=T_IDLE) as pty, _board(pty) as board:
        bad = bytearray(good)
        bad[9] ^= 0x01
        board.transport.write(bytes(bad))
        with pytest.raises(DeviceError, match=r"^board rejected INFER_REQ: device error CRC "
                                              r"\(type 0x02, arg \d+\)$") as e:
            board.read_answer(0x55, want=FrameType.RESULT, name="INFER_REQ")
        assert e.value.error.code == ErrorCode.CRC
        with pytest.raises(DeviceError, match="device error TYPE"):
            board.request(0x82, b"", want=FrameType.RESULT)  # a response sent as a request
        with pytest.raises(DeviceError, match=r"device error LENGTH \(type 0x02, arg 5\)"):
            board.request(FrameType.INFER_REQ, bytes(10), want=FrameType.RESULT)
        assert len(good) == 8 + 5  # 4-bit input two values per byte: 10 inputs in 5 bytes
        board.transport.write(good[:9])  # truncated: the device times it out
        with pytest.raises(DeviceError, match=r"device error TIMEOUT \(type 0x02, arg 8\)"):
            board.read_answer(0x55, want=FrameType.RESULT)
        res = board.infer(x)
        np.testing.assert_array_equal(res.acc, run_network(net, x[None]).acc[0])
        # each answer echoed its request's id (ids 1..4: TYPE, LENGTH, INFO, INFER)
        assert (board.discarded, board.next_id) == (0, 5)


def test_silent_board_times_out_with_a_clear_error():
    with PtyBoard(_net(), t_idle=T_IDLE, silent=True) as pty, _board(pty, timeout=0.2) as board:
        t0 = time.monotonic()
        with pytest.raises(BoardTimeout, match=r"^no answer from the board to INFO_REQ \(id 1\): "
                                               r"silent for 0.2 s after 0 bytes$"):
            board.info()
        assert time.monotonic() - t0 < 5


def test_wrong_answer_type_is_a_protocol_error():
    with PtyBoard(_net(), t_idle=T_IDLE) as pty, _board(pty) as board:
        with pytest.raises(ProtocolError, match=r"^answer to INFO_REQ \(id 1\) must be of type "
                                                r"0x82 or ERROR, not 0x81$"):
            board.request(FrameType.INFO_REQ, b"", want=FrameType.RESULT, name="INFO_REQ")
        assert board.info().n_in == 10  # recovered


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^timeout must be a positive number of seconds, "
                                         r"not 0$"):
        Board(None, timeout=0)
    with pytest.raises(ValueError, match=r"^idle must be a positive number of seconds, not "
                                         r"'x'$"):
        Board(None, idle="x")
    for bad in (0, 65536, "1"):
        with pytest.raises(ValueError, match=rf"^first_id must be an integer in \[1, 65535\], "
                                             rf"not {bad!r}$"):
            Board(None, first_id=bad)
    with pytest.raises(TransportError, match=r"^cannot open serial port /nonexistent/tty: "):
        SerialTransport("/nonexistent/tty")
    with pytest.raises(ValueError, match=r"^baud must be an integer in \[9600, 3000000\], "
                                         r"not 0$"):
        SerialTransport("/dev/null", baud=0)
    with pytest.raises(ValueError, match=r"^baud must be an integer in \[9600, 3000000\], "
                                         r"not 4000000$"):
        SerialTransport("/dev/null", baud=4_000_000)
    with pytest.raises(TransportError, match=r"^simulation bridge /nonexistent does not exist"):
        SimTransport("/nonexistent", clk_hz=1, divisor=4)
    with PtyBoard(_net(), t_idle=T_IDLE) as pty, SerialTransport(pty.path) as tr:
        with pytest.raises(ValueError, match=r"^n must be a positive integer, not 0$"):
            tr.read(0, 1.0)
        with pytest.raises(ValueError, match=r"^timeout must be a positive number of seconds, "
                                             r"not -1$"):
            tr.read(1, -1)


def test_samples_text():
    assert samples_text(np.array([[1, 2], [3, 4]]), "direct") == "1 2\n3 4\n"
    assert samples_text(np.array([[[1, 0], [0, 1]]]), "spikes") == "1 0 0 1\n"
    with pytest.raises(ValueError, match=r"^encoding must be 'direct' or 'spikes', not 'x'$"):
        samples_text(np.zeros((1, 2), int), "x")
    with pytest.raises(ValueError, match=r"^spikes samples must have 3 dimensions, not shape "
                                         r"\[1, 2\]$"):
        samples_text(np.zeros((1, 2), int), "spikes")
    with pytest.raises(TypeError, match=r"^samples must hold integers, not dtype float64$"):
        samples_text(np.zeros((1, 2)), "direct")


def test_command_line_on_a_pty_board(tmp_path, capsys):
    from spikefab.driver.__main__ import main

    net = _net(n_in=10, seed=1)
    net.save(tmp_path / "net")
    x = np.random.default_rng(6).integers(0, 16, (5, 10))
    (tmp_path / "s.txt").write_text(samples_text(x, "direct"))
    with PtyBoard(net, t_idle=T_IDLE) as pty:
        rc = main([pty.path, str(tmp_path / "s.txt"), "--ir", str(tmp_path / "net.json"),
                   "--timeout", "0.5", "--idle", "0.04"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0, out
    assert out[0].startswith("info: direct in_bits 4 n_in 10 classes 3 T 3 net_id ")
    assert out[0].endswith(" baud 115200 value_bits 4 window 2")
    assert sum(line.endswith(" golden equal") for line in out) == 5
    assert out[-1] == "5 of 5 samples ok"
    other = _net(n_in=10, seed=2)
    other.save(tmp_path / "other")
    with PtyBoard(net, t_idle=T_IDLE) as pty:
        rc = main([pty.path, str(tmp_path / "s.txt"), "--ir", str(tmp_path / "other.json")])
    assert rc == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("error: the board runs net_id ")


def test_command_line_on_a_board_that_answers_twice(tmp_path, capsys):
    from spikefab.driver.__main__ import main

    net = _net(n_in=10, seed=1)
    x = np.random.default_rng(0).integers(0, 16, (6, 10))
    assert len({tuple(a) for a in run_network(net, x).acc}) == 6  # every answer differs
    (tmp_path / "s.txt").write_text(samples_text(x, "direct"))
    net.save(tmp_path / "net")
    with PtyBoard(net, t_idle=T_IDLE, twice=True) as pty:
        rc = main([pty.path, str(tmp_path / "s.txt"), "--ir", str(tmp_path / "net.json"),
                   "--timeout", "0.5", "--idle", "0.04"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0, out
    assert sum(line.endswith(" golden equal") for line in out) == 6
    assert out[-2:] == ["discarded 6 frame(s) that answered no request", "6 of 6 samples ok"]


def test_command_line_refuses_a_bad_samples_file_in_one_line(tmp_path, capsys):
    """A huge integer (an OverflowError traceback before) or a value out of range is one
    line naming the file and the line, exit 2; nothing is sent for the bad file."""
    from spikefab.driver.__main__ import main

    net = _net(n_in=10, seed=1)
    good = samples_text(np.zeros((1, 10), np.int64), "direct")
    for bad, problem in (("9" * 40, "must lie in [0, 15]"), ("16", "must lie in [0, 15], not 16")):
        (tmp_path / "s.txt").write_text(good + " ".join([bad] + ["0"] * 9) + "\n")
        with PtyBoard(net, t_idle=T_IDLE) as pty:
            rc = main([pty.path, str(tmp_path / "s.txt"), "--timeout", "0.5", "--idle", "0.04"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1, err
        assert err[0].startswith(f"error: {tmp_path / 's.txt'} line 2: ") and problem in err[0]


class _Babbler:
    """A line that never stops sending zeros."""

    def __init__(self):
        self.read_bytes = 0

    def write(self, data):
        pass

    def read(self, n, timeout):
        self.read_bytes += n
        return bytes(n)

    def close(self):
        pass


def test_a_line_that_never_frames_ends_in_an_error_not_a_hang():
    line = _Babbler()
    with pytest.raises(ProtocolError, match=r"^the line never went quiet \(\d+ bytes "
                                            r"discarded\)$") as e:
        Board(line, timeout=0.1, idle=0.1).info()
    assert str(e.value.__context__).startswith("no answer frame to INFO_REQ (id ")
    assert line.read_bytes < 3 * 4 * 0x10000


class _Scripted:
    """A device that answers every write with the next scripted bytes, then stays quiet."""

    def __init__(self, answers):
        self.answers, self.pending, self.sent = list(answers), bytearray(), []

    def write(self, data):
        self.sent.append(bytes(data))
        if self.answers:
            self.pending += self.answers.pop(0)

    def read(self, n, timeout):
        out = bytes(self.pending[:n])
        del self.pending[:n]
        return out

    def close(self):
        pass


def test_broken_answers_from_the_board():
    """A broken answer fails its request only; the next request (the next id) works."""
    net = _net(n_in=10, seed=1)
    info = NetInfo.from_network(net, 1000)
    good = [encode_frame(FrameType.INFO, info.to_payload(), rid) for rid in range(5, 9)]
    corrupt = bytearray(good[0])
    corrupt[11] ^= 0x20
    short = encode_frame(FrameType.INFO, info.to_payload()[:-1], 6)
    line = _Scripted([bytes(corrupt), short, good[2][:10], b"\x00\x13" + good[3]])
    board = Board(line, timeout=0.1, idle=0.1, first_id=5)
    with pytest.raises(ProtocolError, match=r"^frame CRC must be 0x[0-9A-F]{4}, not "
                                            r"0x[0-9A-F]{4}$"):
        board.info()
    with pytest.raises(ProtocolError, match=r"^INFO payload must be 26 bytes, not 25$"):
        board.info()
    with pytest.raises(BoardTimeout, match=r"^no answer from the board to INFO_REQ \(id 7\): "
                                           r"silent for 0.1 s after 10 bytes$"):
        board.info()
    assert board.info() == info  # noise before SYNC is skipped
    assert line.sent == [encode_frame(FrameType.INFO_REQ, b"", rid) for rid in range(5, 9)]
    assert board.discarded == 0


def test_request_ids_wrap_and_start_at_random():
    line = _Scripted([])
    board = Board(line, timeout=0.01, idle=0.01, first_id=0xFFFE)
    for _ in range(3):
        with pytest.raises(BoardTimeout):
            board.info()
    assert [FrameDecoder().feed(f)[0].rid for f in line.sent] == [0xFFFE, 0xFFFF, 1]
    firsts = {Board(line).next_id for _ in range(20)}
    assert len(firsts) > 1 and all(1 <= r <= 0xFFFF for r in firsts)
