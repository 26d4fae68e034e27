"""Both hosts judge the board's answers by the same rules: one table of good and bad frames.

:data:`CASES` is the table; ``tests/vectors/protocol_answers.txt`` is its committed form,
read here by the Python driver's test and by the C library's unit tests
(``firmware/tests/test_sfp.c``). Each case is what a board sends in answer to one request
(INFO_REQ or INFER_REQ with request id RID), then silence; the host must return the answer
(``ok``), discard every frame and time out (``discard``), reject a malformed answer
(``frame``), a broken frame (``crc``) or report the board's ERROR (``device``), and
count exactly the frames it discarded. The Python messages are checked here as well.

Regenerate the file after changing the table: ``.venv/bin/python tests/test_protocol_vectors.py``.
"""

import re
import struct
import sys
from pathlib import Path

import pytest
from spikefab.driver.client import Board, BoardTimeout, DeviceError
from spikefab.protocol import (
    ErrorCode,
    ErrorReply,
    FrameType,
    NetInfo,
    ProtocolError,
    Result,
    encode_frame,
    encode_result,
)
from test_driver import _Scripted

VECTORS = Path(__file__).resolve().parent / "vectors" / "protocol_answers.txt"
RID = 0x0102
INFO_FIELDS = dict(version=4, encoding=0, in_bits=4, acc_bytes=2, n_in=10, n_classes=3,
                   timesteps=3, sample_len=5, net_id=0x12345678, clk_hz=12_000_000,
                   baud=3_000_000, value_bits=4, window=2)
INFO = NetInfo("direct", 4, 2, 10, 3, 3, 0x12345678, 12_000_000, 3_000_000)
SAMPLE = bytes(INFO.sample_len)


def info_payload(**change) -> bytes:
    f = {**INFO_FIELDS, **change}
    return struct.pack("<BBBBHHHHIIIBB", *f.values())


def frame(ftype, payload=b"", rid=RID) -> bytes:
    return encode_frame(ftype, payload, rid)


def result(pred=2, cycles=52, acc=(-162, -6, 69)) -> bytes:
    return encode_result(INFO, Result(pred, cycles, list(acc)))


def raw_result(pred, acc=(1, 2, 3), cycles=52) -> bytes:
    """A RESULT payload with any prediction (encode_result does not check it)."""
    body = b"".join(int(a).to_bytes(2, "little", signed=True) for a in acc)
    return body + struct.pack("<HI", pred, cycles)


def error(code, ftype, arg=0) -> bytes:
    return struct.pack("<BBH", code, ftype, arg)


def bad_crc(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x5A])


GOOD_INFO = frame(FrameType.INFO, info_payload())
GOOD_RESULT = frame(FrameType.RESULT, result())
OK_WANT = "2/52/-162,-6,69"
HUGE = bytes(range(256)) * 4  # LEN 1024: more than the C client's answer buffer
TIMEOUT = r"^no answer from the board to {req} \(id 258\): silent for 0.1 s after {n} bytes"
DISCARDED = TIMEOUT + r"; discarded 1 frame\(s\) not answering it: {what}$"
KIND = r"^answer to {req} \(id 258\) must be of type 0x{want:02X} or ERROR, not 0x{got:02X}$"
CRC = r"^frame CRC must be 0x[0-9A-F]{4}, not 0x[0-9A-F]{4}$"

#: (name, request, expect, discarded, want, bytes the board sends, Python message regex)
CASES = [
    # -- INFO_REQ ------------------------------------------------------------------------
    ("info_ok", "INFO", "ok", 0, "info", GOOD_INFO, None),
    ("info_after_noise", "INFO", "ok", 0, "info", b"\x00\x13" + GOOD_INFO, None),
    ("info_version_3", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload(version=3)),
     r"^INFO version must be 4, not 3$"),
    ("info_version_5", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload(version=5)),
     r"^INFO version must be 4, not 5$"),
    ("info_encoding_2", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(encoding=2)), r"^INFO encoding must be 0 or 1, not 2$"),
    ("info_in_bits_0", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload(in_bits=0)),
     r"^INFO in_bits must lie in \[1, 16\] for direct input, not 0$"),
    ("info_in_bits_17", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(in_bits=17, value_bits=16, sample_len=20)),
     r"^INFO in_bits must lie in \[1, 16\] for direct input, not 17$"),
    ("info_spikes_in_bits_2", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(encoding=1, in_bits=2, value_bits=1, sample_len=6)),
     r"^INFO in_bits must be 1 for spike input, not 2$"),
    ("info_value_bits_2", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(value_bits=2, sample_len=3)),
     r"^INFO value_bits must be 4 or 8 for direct input of 4 bits, not 2$"),
    ("info_value_bits_16", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(value_bits=16, sample_len=20)),
     r"^INFO value_bits must be 4 or 8 for direct input of 4 bits, not 16$"),
    ("info_value_bits_4_for_8_bits", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(in_bits=8)),
     r"^INFO value_bits must be 8 for direct input of 8 bits, not 4$"),
    ("info_value_bits_8_spikes", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(encoding=1, in_bits=1, value_bits=8, sample_len=6)),
     r"^INFO value_bits must be 1 for spike input, not 8$"),
    ("info_value_bits_8_sample_len", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(value_bits=8, sample_len=11)),
     r"^INFO sample_len must be 10, not 11$"),
    ("info_acc_bytes_0", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(acc_bytes=0)),
     r"^INFO acc_bytes must lie in \[1, 8\], not 0$"),
    ("info_acc_bytes_9", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(acc_bytes=9)),
     r"^INFO acc_bytes must lie in \[1, 8\], not 9$"),
    ("info_n_in_0", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(n_in=0, sample_len=0)),
     r"^INFO n_in must be at least 1, not 0$"),
    ("info_n_classes_0", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(n_classes=0)),
     r"^INFO n_classes must be at least 1, not 0$"),
    ("info_timesteps_0", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(timesteps=0)),
     r"^INFO timesteps must be at least 1, not 0$"),
    ("info_clk_hz_0", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload(clk_hz=0)),
     r"^INFO clk_hz must be at least 1, not 0$"),
    ("info_baud_9599", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload(baud=9599)),
     r"^INFO baud must lie in \[9600, 3000000\], not 9599$"),
    ("info_baud_3000001", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(baud=3_000_001)),
     r"^INFO baud must lie in \[9600, 3000000\], not 3000001$"),
    ("info_window_0", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload(window=0)),
     r"^INFO window must lie in \[1, 16\], not 0$"),
    ("info_window_17", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload(window=17)),
     r"^INFO window must lie in \[1, 16\], not 17$"),
    ("info_sample_len_wrong", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(sample_len=10)),
     r"^INFO sample_len must be 5, not 10$"),
    ("info_sample_len_wraps", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(n_in=40000, in_bits=12, value_bits=16,
                                            sample_len=80000 & 0xFFFF)),
     r"^INFO sample_len must be 80000, not 14464$"),
    ("info_result_too_long", "INFO", "frame", 0, "-",
     frame(FrameType.INFO, info_payload(n_classes=40000)),
     r"^INFO n_classes \* acc_bytes \+ 6 must be at most 65535, not 80006$"),
    ("info_short", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload()[:25]),
     r"^INFO payload must be 26 bytes, not 25$"),
    ("info_long", "INFO", "frame", 0, "-", frame(FrameType.INFO, info_payload() + b"\0"),
     r"^INFO payload must be 26 bytes, not 27$"),
    ("info_huge_own", "INFO", "frame", 0, "-", frame(FrameType.INFO, HUGE),
     r"^INFO payload must be 26 bytes, not 1024$"),
    ("info_bad_crc", "INFO", "crc", 0, "-", bad_crc(GOOD_INFO), CRC),
    ("info_result_answer", "INFO", "frame", 0, "-", GOOD_RESULT,
     KIND.format(req="INFO_REQ", want=0x81, got=0x82)),
    ("info_error", "INFO", "device", 0, "-",
     frame(FrameType.ERROR, error(ErrorCode.LENGTH, FrameType.INFO_REQ)),
     r"^board rejected INFO_REQ: device error LENGTH \(type 0x01, arg 0\)$"),
    ("info_error_code_0", "INFO", "frame", 0, "-", frame(FrameType.ERROR, error(0, 1)),
     r"^ERROR code must lie in \[1, 6\], not 0$"),
    ("info_error_code_7", "INFO", "frame", 0, "-", frame(FrameType.ERROR, error(7, 1)),
     r"^ERROR code must lie in \[1, 6\], not 7$"),
    ("info_error_short", "INFO", "frame", 0, "-", frame(FrameType.ERROR, error(1, 1)[:3]),
     r"^ERROR payload must be 4 bytes, not 3$"),
    ("info_error_long", "INFO", "frame", 0, "-", frame(FrameType.ERROR, error(1, 1) + b"\0"),
     r"^ERROR payload must be 4 bytes, not 5$"),
    ("info_silent", "INFO", "discard", 0, "-", b"", TIMEOUT.format(req="INFO_REQ", n=0) + "$"),
    ("info_stale_id", "INFO", "discard", 1, "-",
     frame(FrameType.INFO, info_payload(), RID - 1),
     DISCARDED.format(req="INFO_REQ", n=34, what="INFO id 257")),
    ("info_future_id", "INFO", "discard", 1, "-",
     frame(FrameType.INFO, info_payload(), RID + 1),
     DISCARDED.format(req="INFO_REQ", n=34, what="INFO id 259")),
    ("info_error_id_0", "INFO", "discard", 1, "-",
     frame(FrameType.ERROR, error(ErrorCode.TIMEOUT, 1, 1), 0),
     DISCARDED.format(req="INFO_REQ", n=12, what="ERROR id 0")),
    ("info_stale_then_own", "INFO", "ok", 1, "info",
     frame(FrameType.INFO, info_payload(net_id=1), RID - 1) + GOOD_INFO, None),
    ("info_echo_then_own", "INFO", "ok", 1, "info", frame(FrameType.INFO_REQ) + GOOD_INFO,
     None),
    ("info_unknown_type_then_own", "INFO", "ok", 1, "info",
     frame(0x83, info_payload()) + GOOD_INFO, None),
    ("info_huge_foreign_then_own", "INFO", "ok", 1, "info",
     frame(FrameType.RESULT, HUGE, 0x7777) + GOOD_INFO, None),
    # -- INFER_REQ (the host holds INFO) ------------------------------------------------
    ("result_ok", "INFER", "ok", 0, OK_WANT, GOOD_RESULT, None),
    ("result_extremes", "INFER", "ok", 0, "1/4294967295/-32768,32767,0",
     frame(FrameType.RESULT, result(1, 0xFFFFFFFF, (-32768, 32767, 0))), None),
    ("result_short", "INFER", "frame", 0, "-", frame(FrameType.RESULT, result()[:11]),
     r"^RESULT payload must be 12 bytes, not 11$"),
    ("result_long", "INFER", "frame", 0, "-", frame(FrameType.RESULT, result() + b"\0"),
     r"^RESULT payload must be 12 bytes, not 13$"),
    ("result_no_accumulators", "INFER", "frame", 0, "-", frame(FrameType.RESULT, result()[6:]),
     r"^RESULT payload must be 12 bytes, not 6$"),
    ("result_prediction_3", "INFER", "frame", 0, "-", frame(FrameType.RESULT, raw_result(3)),
     r"^RESULT prediction must be less than n_classes 3, not 3$"),
    ("result_prediction_65535", "INFER", "frame", 0, "-",
     frame(FrameType.RESULT, raw_result(0xFFFF)),
     r"^RESULT prediction must be less than n_classes 3, not 65535$"),
    ("result_bad_crc", "INFER", "crc", 0, "-", bad_crc(GOOD_RESULT), CRC),
    ("result_info_answer", "INFER", "frame", 0, "-", GOOD_INFO,
     KIND.format(req="INFER_REQ", want=0x82, got=0x81)),
    ("result_error", "INFER", "device", 0, "-",
     frame(FrameType.ERROR, error(ErrorCode.VALUE, FrameType.INFER_REQ, 7)),
     r"^board rejected INFER_REQ: device error VALUE \(type 0x02, arg 7\)$"),
    ("result_stale_only", "INFER", "discard", 1, "-",
     frame(FrameType.RESULT, result(), RID - 1),
     DISCARDED.format(req="INFER_REQ", n=20, what="RESULT id 257")),
    ("result_foreign_id", "INFER", "discard", 1, "-", frame(FrameType.RESULT, result(), 0xBEEF),
     DISCARDED.format(req="INFER_REQ", n=20, what="RESULT id 48879")),
    ("result_duplicate_then_own", "INFER", "ok", 1, OK_WANT,
     frame(FrameType.RESULT, result(0, 9, (5, 4, 3)), RID - 1) + GOOD_RESULT, None),
    ("result_two_stale_then_own", "INFER", "ok", 2, OK_WANT,
     frame(FrameType.RESULT, result(0, 9, (5, 4, 3)), RID - 2)
     + frame(FrameType.RESULT, result(1, 9, (3, 4, 3)), RID - 1) + GOOD_RESULT, None),
    ("result_foreign_error_then_own", "INFER", "ok", 1, OK_WANT,
     frame(FrameType.ERROR, error(ErrorCode.CRC, 2, 0x1234), RID - 1) + GOOD_RESULT, None),
    ("result_echo_then_own", "INFER", "ok", 1, OK_WANT,
     frame(FrameType.INFER_REQ, SAMPLE) + GOOD_RESULT, None),
    ("result_stale_noise_then_own", "INFER", "ok", 1, OK_WANT,
     frame(FrameType.RESULT, result(), RID - 1) + b"\x00\x13" + GOOD_RESULT, None),
    ("result_huge_own", "INFER", "frame", 0, "-", frame(FrameType.RESULT, HUGE),
     r"^RESULT payload must be 12 bytes, not 1024$"),
]

HEADER = """\
# Answer frames both hosts must judge alike (docs/protocol.md, "What a host accepts").
# Read by tests/test_protocol_vectors.py (Python driver) and firmware/tests/test_sfp.c (C
# library); written from the table in tests/test_protocol_vectors.py.
#
# info PAYLOAD      the board's INFO payload (hex); the host holds it before each INFER case
# NAME REQUEST RID EXPECT DISCARDED WANT BYTES
#   REQUEST    INFO or INFER: the host sends INFO_REQ or INFER_REQ (a zero sample), id RID (hex)
#   EXPECT     ok: the answer is returned; discard: no frame answers it, the host times out;
#              frame: a malformed answer; crc: a frame with a bad CRC; device: the board's ERROR
#   DISCARDED  frames the host discards (not an answer, or another request's id)
#   WANT       ok INFO: "info" (the info line); ok INFER: PREDICTION/CYCLES/ACC0,ACC1,...; else -
#   BYTES      what the board sends (hex), then silence
"""


def vector_text() -> str:
    lines = [HEADER, f"info {info_payload().hex()}\n"]
    for name, req, expect, discarded, want, data, _msg in CASES:
        lines.append(f"{name} {req} {RID:04x} {expect} {discarded} {want} {data.hex()}\n")
    return "".join(lines)


def test_vector_file_is_the_table():
    assert VECTORS.read_text() == vector_text(), f"regenerate: python {__file__}"


RAISES = {"discard": BoardTimeout, "frame": ProtocolError, "crc": ProtocolError,
          "device": DeviceError}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_python_driver_judges_each_answer(case):
    name, req, expect, discarded, want, data, message = case
    infer = req == "INFER"
    line = _Scripted([frame(FrameType.INFO, info_payload(), RID - 1), data] if infer else [data])
    board = Board(line, timeout=0.1, idle=0.1, first_id=RID - infer)
    if infer:
        assert board.info() == INFO
    call = (lambda: board.infer_payload(SAMPLE)) if infer else board.info
    if expect == "ok":
        got = call()
        if infer:
            assert f"{got.prediction}/{got.cycles}/{','.join(map(str, got.acc))}" == want
        else:
            assert got == INFO
    else:
        with pytest.raises(RAISES[expect]) as e:
            call()
        assert re.search(message, str(e.value)), str(e.value)
        assert (expect == "crc") == str(e.value).startswith("frame CRC")
    assert board.discarded == discarded
    sent = frame(FrameType.INFER_REQ, SAMPLE) if infer else frame(FrameType.INFO_REQ)
    assert line.sent[-1] == sent  # the request carries RID


def test_the_table_covers_every_rule():
    """At least one case per INFO field rule, per answer kind and per outcome."""
    names = {c[0] for c in CASES}
    for field in ("version", "encoding", "in_bits", "value_bits", "acc_bytes", "n_in",
                  "n_classes", "timesteps", "clk_hz", "baud", "window", "sample_len", "result",
                  "short", "long"):
        assert any(n.startswith(f"info_{field}") for n in names), field
    assert {c[2] for c in CASES} == {"ok", "discard", "frame", "crc", "device"}
    assert ErrorReply(ErrorCode.UART, 1, 0).to_payload() == error(6, 1)


if __name__ == "__main__":
    VECTORS.write_text(vector_text())
    print(f"wrote {VECTORS} ({len(CASES)} cases)", file=sys.stderr)
