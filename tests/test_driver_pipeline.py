"""The Python driver with more than one request outstanding (``Board.infer_many``).

The board is the golden model in-process (:class:`ModelTransport`); a recording wrapper
shows the order of writes and reads, and the faults (a broken request, a lost one, a
duplicated answer) come from small wrappers and :class:`FaultyTransport`. Every answer
must be matched to its own request, in order, and a failure must land on its own sample.
"""

import numpy as np
import pytest
from spikefab.driver.client import Board, BoardTimeout, DeviceError
from spikefab.driver.faults import FaultyTransport, ModelTransport
from spikefab.golden import run_network
from spikefab.protocol import ErrorCode, FrameDecoder
from test_protocol import _net

NET = _net(n_in=10, seed=1)
X = np.random.default_rng(0).integers(0, 16, (8, 10))
GOLDEN = run_network(NET, X)


class _Recording:
    """Passes everything to ``inner``; logs ``("w", rid)`` per write and ``("r", n)`` per
    read that returned bytes; can flip a bit in write number ``corrupt``."""

    def __init__(self, inner, corrupt=None):
        self.inner, self.corrupt, self.log, self.writes = inner, corrupt, [], 0

    def write(self, data):
        frame = FrameDecoder().feed(data)[0]
        if self.writes == self.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0x5A])
        self.log.append(("w", frame.rid))
        self.writes += 1
        self.inner.write(data)

    def read(self, n, timeout):
        data = self.inner.read(n, timeout)
        if data:
            self.log.append(("r", len(data)))
        return data

    def close(self):
        self.inner.close()


def _board(line):
    return Board(line, timeout=0.1, idle=0.06, first_id=500)


def _assert_golden(out, skip=()):
    for i, res in enumerate(out):
        if i in skip:
            continue
        assert res.prediction == GOLDEN.prediction[i], i
        np.testing.assert_array_equal(res.acc, GOLDEN.acc[i])


def test_two_requests_outstanding_in_order():
    """With INFO's window (2), request k+1 is written before the answer to k is read, and
    every answer is its own sample's (the samples all differ, so a swap would show)."""
    assert len({tuple(a) for a in GOLDEN.acc}) == len(X)
    line = _Recording(ModelTransport(NET, t_idle=0.05))
    board = _board(line)
    assert board.info().window == 2
    line.log.clear()
    out = board.infer_many(X)
    _assert_golden(out)
    writes = [i for i, (op, _) in enumerate(line.log) if op == "w"]
    # the first two requests back to back, then one more after each answer
    assert writes[:2] == [0, 1]
    assert [rid for op, rid in line.log if op == "w"] == list(range(501, 501 + len(X)))
    assert board.discarded == 0


def test_window_one_is_one_request_at_a_time():
    line = _Recording(ModelTransport(NET, t_idle=0.05))
    board = _board(line)
    board.info()
    line.log.clear()
    _assert_golden(board.infer_many(X, window=1))
    ops = [op for op, _ in line.log]
    assert ops[0] == "w" and ops[1] == "r"  # an answer is read before the next write
    assert all(ops[i] == "r" for i in range(len(ops)) if i and ops[i - 1] == "w")


def test_an_error_reply_in_the_middle_of_a_pipeline():
    """Request 3 arrives broken (bad CRC): its sample gets the board's ERROR; request 4,
    sent behind it, was drained with it, so the host sends it again after the quiet time
    (a new id) and every other sample gets its own result."""
    line = _Recording(ModelTransport(NET, t_idle=0.05), corrupt=4)  # write 0 is INFO_REQ
    board = _board(line)
    out = board.infer_many(X, errors="return")
    assert isinstance(out[3], DeviceError)
    assert out[3].error.code == ErrorCode.CRC
    assert str(out[3]).startswith("board rejected INFER_REQ of sample 3: ")
    _assert_golden(out, skip={3})
    rids = [rid for op, rid in line.log if op == "w"]
    assert len(rids) == 1 + len(X) + 1  # INFO, every sample, sample 4 again
    assert len(set(rids)) == len(rids)  # every request its own id
    with pytest.raises(DeviceError, match="^board rejected INFER_REQ of sample 3: "):
        _board(_Recording(ModelTransport(NET, t_idle=0.05), corrupt=4)).infer_many(X)


def test_a_lost_request_times_out_on_its_own_sample():
    """Request 2 never reaches the board: the answer to request 3 arrives while the host
    waits for 2's, so it is discarded; 2 times out, and 3 is sent again."""
    line = FaultyTransport(ModelTransport(NET, t_idle=0.05), drop={3})  # write 0 is INFO
    board = _board(line)
    out = board.infer_many(X, errors="return")
    assert isinstance(out[2], BoardTimeout)
    assert str(out[2]).startswith("no answer from the board to INFER_REQ of sample 2 "
                                  "(id 503): silent for 0.1 s")
    _assert_golden(out, skip={2})
    assert board.discarded == 1


def test_a_duplicated_answer_in_a_pipeline_is_discarded():
    line = FaultyTransport(ModelTransport(NET, t_idle=0.05), duplicate={2})
    board = _board(line)
    out = board.infer_many(X)
    _assert_golden(out)
    assert board.discarded == 1


def test_window_and_errors_are_checked():
    board = _board(ModelTransport(NET, t_idle=0.05))
    with pytest.raises(ValueError, match=r"^window must be an integer in \[1, 2\] \(the "
                                         r"board's INFO window\), not 3$"):
        board.infer_many(X, window=3)
    with pytest.raises(ValueError, match=r"^window must be an integer in \[1, 2\] \(the "
                                         r"board's INFO window\), not 0$"):
        board.infer_many(X, window=0)
    with pytest.raises(ValueError, match=r"^errors must be 'raise' or 'return', not 'skip'$"):
        board.infer_many(X, errors="skip")
    assert board.infer_many([]) == []
