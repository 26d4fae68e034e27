"""docs/protocol.md's example exchange is what the protocol code and the board model say.

Every frame of the example is parsed from the page; requests must be what the encoder
writes, INFO and ERROR what the board model answers, byte for byte, and the RESULT must
carry golden's accumulators and prediction (its cycle count is the core's, not checked).
"""

import re
from pathlib import Path

import numpy as np
from spikefab.driver.board_model import BoardModel, reply_frame
from spikefab.golden import run_network
from spikefab.protocol import (
    FrameType,
    decode_frame,
    decode_result,
    encode_frame,
    encode_sample,
)
from test_protocol import _net

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def _example_frames() -> list[tuple[str, bytes]]:
    text = DOC.read_text().split("## An example exchange", 1)[1].split("```")[1]
    frames: list[tuple[str, bytearray]] = []
    for line in text.splitlines():
        m = re.match(r"(host → board|board → host)?\s*((?:[0-9a-f]{2} )*[0-9a-f]{2})(?:\s|$)",
                     line)
        if not m or not m[2]:
            continue
        if m[1]:
            frames.append((m[1], bytearray()))
        frames[-1][1].extend(bytes.fromhex(m[2]))
    return [(d, bytes(b)) for d, b in frames]


def test_example_exchange_matches_the_code():
    frames = _example_frames()
    assert [d for d, _ in frames] == ["host → board", "board → host"] * 3
    net = _net(n_in=10, seed=1)
    model = BoardModel(net, clk_hz=12_000_000, baud=3_000_000)
    x = np.array([3, 0, 15, 7, 1, 9, 0, 4, 12, 2])
    assert frames[0][1] == encode_frame(FrameType.INFO_REQ, b"", 1)
    (info,) = model.feed(frames[0][1])
    assert frames[1][1] == reply_frame(model.info, info)
    assert model.info.value_bits == 4  # two values per byte
    assert frames[2][1] == encode_frame(FrameType.INFER_REQ, encode_sample(model.info, x), 2)
    (result,) = model.feed(frames[2][1])
    frame, rest = decode_frame(frames[3][1])
    assert rest == b"" and (frame.type, frame.rid) == (FrameType.RESULT, 2)
    got = decode_result(model.info, frame.payload)
    gold = run_network(net, x[None])
    assert got.prediction == gold.prediction[0] == result.result.prediction
    np.testing.assert_array_equal(got.acc, gold.acc[0])
    assert got.cycles > 0
    bad = bytearray(encode_frame(FrameType.INFER_REQ, encode_sample(model.info, x), 3))
    bad[7] ^= 0x01
    assert frames[4][1] == bad
    replies = model.feed(frames[4][1])
    assert len(replies) == 1 and (replies[0].type, replies[0].rid) == (FrameType.ERROR, 3)
    assert frames[5][1] == reply_frame(model.info, replies[0])
