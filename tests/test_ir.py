"""ir.py: QuantizedNetwork validation, versioned save/load, corrupt files refused cleanly."""

import json
import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.atomic import atomic_write
from spikefab.ir import IRError, QuantizedNetwork, ir_paths
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec

SPEC = NetworkSpec(
    layers=(LayerSpec(3, 2, w_bits=4, b_bits=6, neuron=LIFSpec(v_bits=8, theta=5)),
            LayerSpec(2, 2, w_bits=4, b_bits=6)),
    timesteps=2, encoding="direct", in_bits=2,
)
W = [np.array([[1, -8, 7], [0, 2, -3]]), np.array([[1, 2], [-1, 3]])]
B = [np.array([-32, 31]), np.array([0, 1])]


def _net(**meta):
    return QuantizedNetwork(SPEC, W, B, meta)


def test_round_trip(tmp_path):
    net = _net(dataset="toy", scales=[1.5, 2.0])
    path = net.save(tmp_path / "m")
    assert path == tmp_path / "m.json" and (tmp_path / "m.npz").is_file()
    for form in ("m", "m.json", "m.npz"):
        again = QuantizedNetwork.load(tmp_path / form)
        assert again.spec == SPEC and again.meta == net.meta
        for a, b in zip(again.weights + again.biases, net.weights + net.biases, strict=True):
            assert_array_equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]


def test_arrays_are_read_only():
    net = _net()
    with pytest.raises(ValueError):
        net.weights[0][0, 0] = 3


@pytest.mark.parametrize(
    "weights, biases, message",
    [
        ([W[0] * 2, W[1]], B, "weights[0] must lie in [-8, 7] (4-bit signed), not -16"),
        (W, [B[0], np.array([0, 40])], "biases[1] must lie in [-32, 31] (6-bit signed), not 40"),
        ([W[0].T, W[1]], B, "weights[0] must have shape (2, 3), not (3, 2)"),
        ([W[0] + 0.5, W[1]], B, "weights[0] must hold integers, not dtype float64"),
        (W[:1], B, "weights and biases must have one entry per layer (2), not 1 and 2"),
    ],
)
def test_validation(weights, biases, message):
    with pytest.raises(IRError, match="^" + re.escape(message) + "$"):
        QuantizedNetwork(SPEC, weights, biases)


def test_widths_from_weights():
    net = _net()
    # layer 0: max = (1+7)*3 + 31 = 55... per neuron: n0 hi 8*3-32=-8, n1 hi 2*3+31=37
    assert net.current_bounds(0) == (-8 * 3 - 32, 37)
    assert net.current_bits(0) == 7
    # readout on spikes: n0 = [1, 2].s in [0, 3]; n1 = [-1, 3].s + 1 in [0, 4]; T=2 -> [0, 8]
    assert net.acc_bounds() == (0, 8)
    assert net.n_weights == 10


def _corrupt(tmp_path, edit):
    path = _net().save(tmp_path / "m")
    edit(tmp_path)
    with pytest.raises(IRError) as info:
        QuantizedNetwork.load(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def _edit_json(tmp_path, fn):
    p = tmp_path / "m.json"
    doc = json.loads(p.read_text())
    fn(doc)
    p.write_text(json.dumps(doc))


def test_refuses_wrong_version(tmp_path):
    msg = _corrupt(tmp_path, lambda d: _edit_json(d, lambda doc: doc.update(version=2)))
    assert msg == f"IR {tmp_path / 'm.json'}: version must be 1, not 2"


def test_refuses_wrong_format(tmp_path):
    msg = _corrupt(tmp_path, lambda d: _edit_json(d, lambda doc: doc.update(format="onnx")))
    assert msg.endswith("format must be 'spikefab-ir', not 'onnx'")


def test_refuses_flipped_array_byte(tmp_path):
    def flip(d):
        p = d / "m.npz"
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))

    assert _corrupt(tmp_path, flip).endswith(
        "arrays file m.npz does not match its sha256 (corrupt or stale)")


def test_refuses_truncated_json(tmp_path):
    def trunc(d):
        p = d / "m.json"
        p.write_text(p.read_text()[:40])

    assert "not valid JSON" in _corrupt(tmp_path, trunc)


def test_refuses_missing_arrays_and_file(tmp_path):
    assert _corrupt(tmp_path, lambda d: (d / "m.npz").unlink()).endswith(
        "arrays file m.npz not found")
    with pytest.raises(IRError, match=r"nothing\.json: file not found$"):
        QuantizedNetwork.load(tmp_path / "nothing")


def test_refuses_bad_spec_inside(tmp_path):
    def bad(d):
        _edit_json(d, lambda doc: doc["spec"].update(timesteps=0))

    assert _corrupt(tmp_path, bad).endswith(
        "NetworkSpec.timesteps must be an integer in [1, 1024], not 0")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_old_file(tmp_path, monkeypatch):
    net = _net()
    path = net.save(tmp_path / "m")
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("spikefab.atomic.os.replace", boom)
    other = QuantizedNetwork(SPEC, [W[0], -W[1]], B)
    with pytest.raises(OSError):
        other.save(tmp_path / "m")
    assert path.read_bytes() == before
    assert_array_equal(QuantizedNetwork.load(path).weights[1], W[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]


def test_ir_paths():
    assert ir_paths("a/b.json") == ir_paths("a/b") == ir_paths("a/b.npz")
