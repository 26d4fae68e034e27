"""Sample text files: corrupt lines, out-of-range and huge values are one line naming the
file and the line; the writer refuses what the readers would refuse."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.driver.samples import read_samples_text, samples_text, write_samples_text
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec

DIRECT = NetworkSpec((LayerSpec(3, 2, neuron=LIFSpec()), LayerSpec(2, 2)), timesteps=2,
                     encoding="direct", in_bits=4)
SPIKES = NetworkSpec((LayerSpec(3, 2, neuron=LIFSpec()), LayerSpec(2, 2)), timesteps=2,
                     encoding="spikes", in_bits=1)


def test_round_trip(tmp_path):
    x = np.array([[0, 15, 7], [1, 2, 3]])
    write_samples_text(tmp_path / "d.txt", x, "direct", in_bits=4)
    assert_array_equal(read_samples_text(tmp_path / "d.txt", DIRECT), x)
    s = np.random.default_rng(0).integers(0, 2, (4, 2, 3))
    write_samples_text(tmp_path / "s.txt", s, "spikes")
    assert_array_equal(read_samples_text(tmp_path / "s.txt", SPIKES), s)
    (tmp_path / "crlf.txt").write_bytes(b"1 2 3\r\n4 5 6\r\n")
    assert_array_equal(read_samples_text(tmp_path / "crlf.txt", DIRECT), [[1, 2, 3], [4, 5, 6]])
    (tmp_path / "empty.txt").write_bytes(b"")
    assert read_samples_text(tmp_path / "empty.txt", DIRECT).shape == (0, 3)


@pytest.mark.parametrize("data, net, where", [
    (b"1 2 3\n4 5\n", DIRECT, "line 2: a sample needs 3 values, not 2"),
    (b"1 2 3\n\n", DIRECT, "line 2: a sample needs 3 values, not 0"),
    (b"1 2 3.5\n", DIRECT, "line 1: '3.5' is not an integer"),
    (b"1 2 x\n", DIRECT, "line 1: 'x' is not an integer"),
    (b"1 2 1_0\n", DIRECT, "line 1: '1_0' is not an integer"),
    (b"0 0 0\n1 16 0\n", DIRECT, "line 2: direct values must lie in [0, 15], not 16"),
    (b"0 -1 0\n", DIRECT, "line 1: direct values must lie in [0, 15], not -1"),
    (b"1 2 " + b"9" * 40 + b"\n", DIRECT,
     "line 1: direct values must lie in [0, 15], not 99999999999999999999... (40 digits)"),
    (b"1 2 99999999999999999999\n", DIRECT,
     "line 1: direct values must lie in [0, 15], not 99999999999999999999"),
    (b"0 1 0 1 1 2\n", SPIKES, "line 1: spikes must lie in [0, 1], not 2"),
    (b"0 1 0\n", SPIKES, "line 1: a sample needs 6 values, not 3"),
    (b"0 1 0\n1 2\x00 3\n", DIRECT, "line 2: a NUL byte is not text (a binary file?)"),
    (b"1 2 3\n\x89PNG\xff\n", DIRECT, "line 2: byte 0x89 is not UTF-8 text (a binary file?)"),
])
def test_bad_lines_name_the_file_and_line(tmp_path, data, net, where):
    p = tmp_path / "s.txt"
    p.write_bytes(data)
    with pytest.raises(ValueError) as e:
        read_samples_text(p, net)
    assert str(e.value) == f"{p} {where}"


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"^samples file .*none.txt: cannot be read \("):
        read_samples_text(tmp_path / "none.txt", DIRECT)


@pytest.mark.parametrize("x, encoding, in_bits, message", [
    (np.array([[0, 16]]), "direct", 4, "direct sample values must lie in [0, 15], not 16 "
                                       "(sample 0, value 1)"),
    (np.array([[0, 1], [-3, 0]]), "direct", None, "direct sample values must lie in "
                                                  "[0, 65535], not -3 (sample 1, value 0)"),
    (np.array([[2**63]], np.uint64), "direct", None, "direct sample values must lie in "
                                                     "[0, 65535], not 9223372036854775808 "
                                                     "(sample 0, value 0)"),
    (np.array([[[0, 2]]]), "spikes", None, "spikes sample values must lie in [0, 1], not 2 "
                                           "(sample 0, value 1)"),
])
def test_writer_refuses_what_readers_refuse(x, encoding, in_bits, message):
    with pytest.raises(ValueError) as e:
        samples_text(x, encoding, in_bits)
    assert str(e.value) == message


def test_reads_for_a_board_info(tmp_path):
    from spikefab.protocol import NetInfo

    info = NetInfo("direct", 4, 2, 3, 2, 2, 0x1234, 12_000_000)
    (tmp_path / "s.txt").write_text("1 2 3\n15 0 0\n")
    assert_array_equal(read_samples_text(tmp_path / "s.txt", info), [[1, 2, 3], [15, 0, 0]])
    (tmp_path / "s.txt").write_text("1 2 16\n")
    with pytest.raises(ValueError, match=r"line 1: direct values must lie in \[0, 15\], not 16$"):
        read_samples_text(tmp_path / "s.txt", info)
