"""The board's UART protocol (docs/protocol.md), shared by the gateware, both host drivers
and the docs: :mod:`.frames` (constants, frame types, CRC, frame codec, request ids) and
:mod:`.payloads` (INFO, samples, RESULT, ERROR, each field checked on decode).

Pure Python and NumPy; no torch, no amaranth. The gateware (``spikefab_hdl.board.framing``)
imports the constants, the C firmware restates them, and both are tested against this
package.
"""

from .frames import (
    ANSWER_TYPES,
    BOARD_WINDOW,
    DEFAULT_BAUD,
    ERROR_LEN,
    FRAME_OVERHEAD,
    HEADER_LEN,
    INFO_LEN,
    MAX_ACC_BYTES,
    MAX_BAUD,
    MAX_PAYLOAD,
    MAX_WINDOW,
    MIN_BAUD,
    RESULT_TAIL_LEN,
    SYNC,
    VERSION,
    ErrorCode,
    Frame,
    FrameDecoder,
    FrameType,
    ProtocolError,
    crc16,
    decode_frame,
    encode_frame,
    next_rid,
)
from .payloads import (
    ErrorReply,
    NetInfo,
    Result,
    decode_result,
    decode_sample,
    encode_result,
    encode_sample,
    network_id,
    value_bits_allowed,
    value_bytes,
    wire_value_bits,
)

__all__ = [
    "SYNC", "VERSION", "MAX_PAYLOAD", "HEADER_LEN", "FRAME_OVERHEAD", "INFO_LEN", "ERROR_LEN",
    "RESULT_TAIL_LEN", "MAX_ACC_BYTES", "DEFAULT_BAUD", "MIN_BAUD", "MAX_BAUD",
    "BOARD_WINDOW", "MAX_WINDOW", "ANSWER_TYPES", "FrameType", "ErrorCode", "ProtocolError",
    "Frame", "NetInfo", "Result",
    "ErrorReply", "crc16", "encode_frame", "decode_frame", "FrameDecoder", "next_rid",
    "network_id", "value_bytes", "wire_value_bits", "value_bits_allowed", "encode_sample",
    "decode_sample", "encode_result", "decode_result",
]
