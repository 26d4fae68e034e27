"""The Python driver on a line that duplicates answers and carries stale or foreign frames.

The board is the golden model in-process (:class:`ModelTransport`), the faults come from
:class:`FaultyTransport`. Without request ids, the answer a line delivers twice was
returned as the result of the next request (issue 20, part 5); now every answer is tied
to its request and the stray ones are counted in ``Board.discarded``.
"""

import numpy as np
import pytest
from spikefab.driver.client import Board, BoardTimeout, DeviceError
from spikefab.driver.faults import FaultyTransport, ModelTransport
from spikefab.golden import run_network
from spikefab.protocol import (
    ErrorCode,
    ErrorReply,
    FrameDecoder,
    FrameType,
    encode_frame,
)
from test_protocol import _net

NET = _net(n_in=10, seed=1)
X = np.random.default_rng(0).integers(0, 16, (6, 10))
GOLDEN = run_network(NET, X)


def _board(**faults):
    line = FaultyTransport(ModelTransport(NET, t_idle=0.05), **faults)
    return Board(line, timeout=0.1, idle=0.06, first_id=100)


def _check_all(board, order=None):
    for i in range(len(X)) if order is None else order:
        res = board.infer(X[i])
        assert res.prediction == GOLDEN.prediction[i], i
        np.testing.assert_array_equal(res.acc, GOLDEN.acc[i])


def test_the_samples_differ():
    """Else returning a neighbour's answer could go unnoticed."""
    assert len({tuple(a) for a in GOLDEN.acc}) == len(X)


@pytest.mark.parametrize("dup", [0, 1, 3])
def test_an_answer_sent_twice_is_not_the_next_result(dup):
    """Answer ``dup`` (0 = INFO, then one RESULT per sample) arrives twice: the copy is
    discarded by the next request, which still gets its own result."""
    board = _board(duplicate={dup})
    _check_all(board)
    assert board.discarded == 1
    assert board.transport.frames == len(X) + 1  # INFO and the results (copies not counted)


def test_every_answer_sent_twice():
    board = _board(duplicate=range(20))
    _check_all(board)
    assert board.discarded == len(X)  # the last copy is never read


def test_stale_foreign_and_unattributable_frames_before_answers():
    stale = encode_frame(FrameType.RESULT, bytes(3 * 2 + 6), 101)  # request 1's id again
    foreign = encode_frame(FrameType.RESULT, bytes(12), 0xBEEF)
    no_id = encode_frame(FrameType.ERROR, ErrorReply(ErrorCode.TIMEOUT, 2, 1).to_payload(), 0)
    echo = encode_frame(FrameType.INFER_REQ, bytes(10), 104)  # the request itself, echoed
    board = _board(before={2: stale, 3: foreign + no_id, 4: echo})
    _check_all(board)
    assert board.discarded == 4


def test_a_stale_answer_alone_is_a_timeout_not_a_result():
    """Request 2 (id 102) is lost on the way, and a copy of answer 1 (id 101) arrives."""
    board = _board()
    _check_all(board, [0])  # ids 100 (INFO) and 101
    copy = encode_frame(FrameType.RESULT, bytes(12), 101)
    board.transport.before[2], board.transport.drop = copy, {2}
    with pytest.raises(BoardTimeout, match=r"^no answer from the board to INFER_REQ \(id 102\): "
                                           r"silent for 0.1 s after 20 bytes; discarded 1 "
                                           r"frame\(s\) not answering it: RESULT id 101$"):
        board.infer(X[1])
    assert board.discarded == 1
    _check_all(board, [2])  # and the next request (id 103) is answered


def test_duplicated_error_does_not_fail_the_next_request():
    """The copy of an ERROR arrives during the recovery wait after it, which drains it."""
    board = _board(duplicate={1})
    board.info()
    with pytest.raises(DeviceError, match=r"device error LENGTH \(type 0x02, arg 5\)"):
        board.request(FrameType.INFER_REQ, bytes(3), want=FrameType.RESULT)
    _check_all(board, [2])
    assert board.discarded == 0


def test_model_transport_answers_like_the_device():
    line = ModelTransport(NET, t_idle=0.05)
    line.write(encode_frame(FrameType.INFO_REQ, b"", 7) + encode_frame(FrameType.INFER_REQ,
                                                                       bytes(5), 8)[:9])
    assert line.read(4096, 0.01) == encode_frame(FrameType.INFO, line.model.info.to_payload(), 7)
    assert line.read(4096, 0.01) == b""  # shorter than T_idle: nothing yet
    (err,) = FrameDecoder().feed(line.read(4096, 0.05))  # T_idle: the partial frame times out
    assert (err.rid, ErrorReply.from_payload(err.payload)) == (
        8, ErrorReply(ErrorCode.TIMEOUT, FrameType.INFER_REQ, 8))
    assert bytes(line.received[:8]) == encode_frame(FrameType.INFO_REQ, b"", 7)
