"""The UART framing protocol codec (docs/protocol.md) and the software board model."""

import numpy as np
import pytest
from spikefab.driver.board_model import BoardModel, reply_frame
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import (
    SYNC,
    ErrorCode,
    ErrorReply,
    Frame,
    FrameDecoder,
    FrameType,
    NetInfo,
    ProtocolError,
    Result,
    crc16,
    decode_frame,
    decode_result,
    decode_sample,
    encode_frame,
    encode_result,
    encode_sample,
    network_id,
    next_rid,
)
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec


def _net(encoding="direct", n_in=10, in_bits=4, seed=0, timesteps=3):
    spec = NetworkSpec(
        layers=(
            LayerSpec(n_in, 6, w_bits=6, b_bits=8, neuron=LIFSpec(v_bits=12, theta=20)),
            LayerSpec(6, 3, w_bits=6, b_bits=8),
        ),
        timesteps=timesteps,
        encoding=encoding,
        in_bits=in_bits if encoding == "direct" else 1,
    )
    rng = np.random.default_rng(seed)
    ws = [rng.integers(-31, 32, (lay.n_out, lay.n_in)) for lay in spec.layers]
    bs = [rng.integers(-20, 20, lay.n_out) for lay in spec.layers]
    return QuantizedNetwork(spec, ws, bs)


def test_crc16_check_value():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF


def test_frame_layout_and_zero_residue():
    frame = encode_frame(FrameType.INFER_REQ, bytes([1, 2, 3]), rid=0x1234)
    assert frame[:6] == bytes([SYNC, 0x02, 0x34, 0x12, 3, 0])
    assert frame[6:9] == bytes([1, 2, 3])
    assert int.from_bytes(frame[9:], "big") == crc16(frame[1:9])
    assert crc16(frame[1:]) == 0
    assert encode_frame(FrameType.INFO_REQ, rid=1) == bytes.fromhex("a5 01 01 00 00 00 cd e9")


def test_decode_roundtrip_and_rest():
    data = encode_frame(0x81, b"abc", 0xBEEF) + b"\x00\x01"
    frame, rest = decode_frame(data)
    assert frame == Frame(0x81, b"abc", 0xBEEF)
    assert rest == b"\x00\x01"


def test_request_ids_count_up_and_skip_zero():
    assert [next_rid(r) for r in (1, 2, 0xFFFE, 0xFFFF)] == [2, 3, 0xFFFF, 1]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "frame must start with SYNC 0xA5, not nothing"),
        (b"\x00\x01", "frame must start with SYNC 0xA5, not 0x00"),
        (b"\xa5\x01\x00", "frame is truncated: 3 bytes, a frame has at least 8"),
        (b"\xa5\x02\x01\x00\x05\x00\x01\x02", "frame is truncated: LEN 5 needs 13 bytes, got 8"),
        (b"\xa5\x01\x01\x00\x00\x00\xcd\xea", "frame CRC must be 0xCDE9, not 0xCDEA"),
    ],
)
def test_decode_errors(data, message):
    with pytest.raises(ProtocolError) as e:
        decode_frame(data)
    assert str(e.value) == message


def test_encode_frame_bad_input():
    with pytest.raises(ValueError, match=r"^frame type must be an integer in \[0, 255\], not 256$"):
        encode_frame(256)
    with pytest.raises(ValueError, match=r"^payload length must be at most 65535, not 65536$"):
        encode_frame(1, bytes(65536))
    with pytest.raises(ValueError, match=r"^request id must be an integer in \[0, 65535\], "
                                         r"not 65536$"):
        encode_frame(1, b"", 65536)


def test_stream_decoder_skips_noise_splits_and_resyncs():
    a, b = encode_frame(0x81, b"xy", 7), encode_frame(0x82, bytes(range(7)), 8)
    dec = FrameDecoder()
    assert dec.feed(b"\x00\x13" + a[:3]) == []
    assert dec.pending == 3
    assert dec.feed(a[3:] + b[:5]) == [Frame(0x81, b"xy", 7)]
    assert dec.feed(b[5:]) == [Frame(0x82, bytes(range(7)), 8)]
    bad = bytearray(a)
    bad[-1] ^= 1
    with pytest.raises(ProtocolError, match="CRC"):
        dec.feed(bytes(bad))
    assert dec.feed(b) == [Frame(0x82, bytes(range(7)), 8)]


def test_network_id_is_stable_and_sensitive():
    net = _net()
    assert network_id(net) == network_id(_net())
    w = [np.array(x) for x in net.weights]
    w[1][0, 0] += 1 if w[1][0, 0] < 31 else -1
    other = QuantizedNetwork(net.spec, w, net.biases)
    assert network_id(other) != network_id(net)
    assert 0 <= network_id(net) < 2**32


def test_info_roundtrip_and_lengths():
    net = _net()
    info = NetInfo.from_network(net, 12_000_000, baud=3_000_000)
    assert info.acc_bytes == -(-net.acc_bits() // 8)
    payload = info.to_payload()
    assert len(payload) == 26
    assert payload[:4] == bytes([4, 0, 4, info.acc_bytes])
    # baud, value_bits, window (the board builds take 2 requests outstanding)
    assert payload[20:] == (3_000_000).to_bytes(4, "little") + bytes([4, 2])
    assert NetInfo.from_payload(payload) == info
    assert info.sample_len == 5 and info.result_len == 3 * info.acc_bytes + 6
    assert NetInfo.from_network(net, 1).baud == 115_200
    loose = NetInfo.from_network(net, 1, pack=False)
    assert (loose.value_bits, loose.sample_len) == (8, 10)
    assert NetInfo.from_payload(loose.to_payload()) == loose
    assert NetInfo.from_network(_net(n_in=9), 1).sample_len == 5
    assert NetInfo.from_network(_net(in_bits=5), 1, pack=True).value_bits == 8
    spikes = NetInfo.from_network(_net("spikes", n_in=10), 25_000_000)
    assert spikes.sample_len == 3 * 2 and spikes.value_bits == 1
    with pytest.raises(ProtocolError, match=r"^INFO payload must be 26 bytes, not 3$"):
        NetInfo.from_payload(b"abc")
    with pytest.raises(ProtocolError, match=r"^INFO baud must lie in \[9600, 3000000\], not "
                                            r"4000000$"):
        NetInfo.from_network(net, 1, baud=4_000_000)


def test_sample_codec_direct_and_spikes():
    info = NetInfo.from_network(_net(in_bits=4), 1)
    x = np.arange(10) % 16
    # two values per byte, value 2k in the low nibble
    assert encode_sample(info, x) == bytes([0x10, 0x32, 0x54, 0x76, 0x98])
    np.testing.assert_array_equal(decode_sample(info, encode_sample(info, x)), x)
    loose = NetInfo.from_network(_net(in_bits=4), 1, pack=False)
    assert encode_sample(loose, x) == bytes(range(10))
    np.testing.assert_array_equal(decode_sample(loose, encode_sample(loose, x)), x)
    odd = NetInfo.from_network(_net(n_in=9, in_bits=3), 1)
    assert encode_sample(odd, np.arange(9) % 8) == bytes([0x10, 0x32, 0x54, 0x76, 0x00])
    np.testing.assert_array_equal(decode_sample(odd, bytes([0x10, 0x32, 0x54, 0x76, 0x00])),
                                  np.arange(9) % 8)
    with pytest.raises(ProtocolError, match=r"^padding nibble set at payload offset 4$"):
        decode_sample(odd, bytes([0, 0, 0, 0, 0x10]))
    with pytest.raises(ProtocolError, match=r"^direct value at payload offset 3 is out of range$"):
        decode_sample(odd, bytes([0, 0, 0, 0x80, 0]))
    with pytest.raises(ProtocolError, match=r"^direct value at payload offset 1 is out of range$"):
        decode_sample(odd, bytes([0, 0x08, 0, 0, 0]))
    wide = NetInfo.from_network(_net(in_bits=12), 1)
    assert encode_sample(wide, np.full(10, 0xABC))[:2] == b"\xbc\x0a"
    sp = NetInfo.from_network(_net("spikes", n_in=10), 1)
    s = np.zeros((3, 10), np.int64)
    s[0, 0] = s[0, 9] = s[2, 8] = 1
    assert encode_sample(sp, s) == bytes([0x01, 0x02, 0, 0, 0, 0x01])
    np.testing.assert_array_equal(decode_sample(sp, encode_sample(sp, s)), s)
    with pytest.raises(ProtocolError, match=r"^spike padding bit set at payload offset 3$"):
        decode_sample(sp, bytes([0, 0, 0, 0x04, 0, 0]))
    with pytest.raises(ProtocolError, match=r"^direct value at payload offset 2 is out of range$"):
        decode_sample(loose, bytes([0, 0, 16] + [0] * 7))
    w = NetInfo.from_network(_net(in_bits=12), 1)
    with pytest.raises(ProtocolError, match=r"^direct value at payload offset 4 is out of range$"):
        decode_sample(w, bytes(4) + b"\x00\x10" + bytes(14))


@pytest.mark.parametrize(
    "x, err, message",
    [
        (np.zeros(9, int), ValueError, r"^direct sample must have shape \[10\], not \[9\]$"),
        (np.full(10, 16), ValueError, r"^direct sample values must lie in \[0, 15\], not 16$"),
        (np.full(10, -1), ValueError, r"^direct sample values must lie in \[0, 15\], not -1$"),
        (np.zeros(10), TypeError, r"^sample must hold integers, not dtype float64$"),
    ],
)
def test_sample_bad_input(x, err, message):
    info = NetInfo.from_network(_net(), 1)
    with pytest.raises(err, match=message):
        encode_sample(info, x)


def test_result_roundtrip_signed():
    info = NetInfo.from_network(_net(), 1)
    res = Result(2, 123456, np.array([-5, 0, 2 ** (8 * info.acc_bytes - 1) - 1]))
    payload = encode_result(info, res)
    assert payload[-6:] == bytes([2, 0]) + (123456).to_bytes(4, "little")
    assert payload[: info.acc_bytes] == (-5).to_bytes(info.acc_bytes, "little", signed=True)
    back = decode_result(info, payload)
    assert (back.prediction, back.cycles) == (2, 123456)
    np.testing.assert_array_equal(back.acc, res.acc)
    with pytest.raises(ValueError, match="signed bytes"):
        encode_result(info, Result(0, 0, np.array([2 ** (8 * info.acc_bytes), 0, 0])))


def test_error_reply_roundtrip():
    e = ErrorReply(ErrorCode.LENGTH, 0x02, 784)
    assert e.to_payload() == bytes([3, 2, 0x10, 0x03])
    assert ErrorReply.from_payload(e.to_payload()) == e
    assert e.describe() == "device error LENGTH (type 0x02, arg 784)"


@pytest.mark.parametrize("encoding", ["direct", "spikes"])
def test_board_model_infers_like_golden(encoding):
    net = _net(encoding)
    board = BoardModel(net, clk_hz=12_000_000)
    rng = np.random.default_rng(1)
    for _ in range(5):
        if encoding == "direct":
            x = rng.integers(0, 16, 10)
            batch = x[None]
        else:
            x = rng.integers(0, 2, (3, 10))
            batch = x[:, None]
        (reply,) = board.feed(encode_frame(FrameType.INFER_REQ, encode_sample(board.info, x)))
        run = run_network(net, batch)
        assert reply.type == FrameType.RESULT
        assert reply.result.prediction == run.prediction[0]
        np.testing.assert_array_equal(reply.result.acc, run.acc[0])
    (reply,) = board.feed(b"\x13" + encode_frame(FrameType.INFO_REQ))
    assert reply.info == board.info


def test_board_model_errors_and_drain():
    """Each ERROR echoes the request id as far as it arrived (missing bytes are 0)."""
    board = BoardModel(_net(), clk_hz=1, pack=False)
    good = encode_frame(FrameType.INFER_REQ, bytes(10), 0x0A0B)
    # unknown type: answered after the header, then everything is drained until idle
    (r,) = board.feed(encode_frame(0x07, b"", 0x0102) + good)
    assert (r.rid, r.error) == (0x0102, ErrorReply(ErrorCode.TYPE, 0x07, 0))
    assert board.idle() == []
    (r,) = board.feed(encode_frame(FrameType.INFER_REQ, bytes(9), 0x0203))
    assert (r.rid, r.error) == (0x0203, ErrorReply(ErrorCode.LENGTH, 0x02, 10))
    board.idle()
    bad = bytearray(good)
    bad[7] ^= 0x01
    (r,) = board.feed(bytes(bad))
    assert (r.rid, r.error) == (0x0A0B, ErrorReply(ErrorCode.CRC, 0x02, crc16(bytes(bad[1:-2]))))
    board.idle()
    (r,) = board.feed(encode_frame(FrameType.INFER_REQ, bytes([0] * 7 + [16, 0, 0]), 9))
    assert (r.rid, r.error) == (9, ErrorReply(ErrorCode.VALUE, 0x02, 7))
    board.idle()
    assert board.feed(good[:9]) == []
    (r,) = board.idle()
    assert (r.rid, r.error) == (0x0A0B, ErrorReply(ErrorCode.TIMEOUT, 0x02, 8))
    assert board.feed(good[:3]) == []  # only ID's low byte arrived
    (r,) = board.idle()
    assert (r.rid, r.error) == (0x000B, ErrorReply(ErrorCode.TIMEOUT, 0x02, 2))
    assert board.feed(good[:2]) == []
    (r,) = board.uart_error()
    assert (r.rid, r.error) == (0, ErrorReply(ErrorCode.UART, 0x02, 1))
    board.idle()
    (r,) = board.feed(good)
    assert (r.type, r.rid) == (FrameType.RESULT, 0x0A0B)


def test_stream_decoder_needed_counts_the_missing_bytes():
    dec = FrameDecoder()
    frame = encode_frame(0x82, b"abcd", 5)
    assert dec.needed == 8
    assert dec.feed(frame[:3]) == [] and dec.needed == 5
    assert dec.feed(frame[3:7]) == [] and dec.needed == len(frame) - 7
    assert dec.feed(frame[7:]) == [Frame(0x82, b"abcd", 5)] and dec.needed == 8


def test_reply_frame_is_what_the_device_sends():
    net = _net()
    model = BoardModel(net, clk_hz=1000)
    x = np.arange(10) % 16
    (reply,) = model.feed(encode_frame(FrameType.INFER_REQ, encode_sample(model.info, x), 77))
    frame, rest = decode_frame(reply_frame(model.info, reply, cycles=77))
    assert rest == b"" and (frame.type, frame.rid) == (FrameType.RESULT, 77)
    res = decode_result(model.info, frame.payload)
    assert res.cycles == 77
    np.testing.assert_array_equal(res.acc, run_network(net, x[None]).acc[0])
    (info,) = model.feed(encode_frame(FrameType.INFO_REQ, b"", 0xFFFF))
    assert reply_frame(model.info, info) == encode_frame(FrameType.INFO,
                                                         model.info.to_payload(), 0xFFFF)


def test_a_network_whose_result_does_not_fit_a_frame_is_refused():
    spec = NetworkSpec(layers=(LayerSpec(1, 40000, w_bits=8, b_bits=8),), timesteps=1,
                       encoding="direct", in_bits=8)
    net = QuantizedNetwork(spec, [np.full((40000, 1), 100)], [np.zeros(40000, np.int64)])
    with pytest.raises(ValueError, match=r"^network does not fit the protocol: acc_bytes 2 must "
                                         r"be at most 8 and n_classes \* acc_bytes \+ 6 "
                                         r"\(80006\) at most 65535$"):
        NetInfo.from_network(net, 1)


def test_netinfo_check_names_the_field():
    info = NetInfo.from_network(_net(), 1)
    with pytest.raises(ProtocolError, match=r"^INFO clk_hz must be at least 1, not 0$"):
        NetInfo(**{**info.__dict__, "clk_hz": 0}).check()
    with pytest.raises(ProtocolError, match=r"^RESULT prediction must be less than n_classes 3, "
                                            r"not 3$"):
        decode_result(info, bytes(3 * info.acc_bytes) + bytes([3, 0, 0, 0, 0, 0]))
    with pytest.raises(ProtocolError, match=r"^ERROR code must lie in \[1, 6\], not 0$"):
        ErrorReply.from_payload(bytes(4))
