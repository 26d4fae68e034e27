"""atomic.py and IR saves: a multi-file artifact is replaced whole or not at all; outputs
follow the umask."""

import os
import shutil
import stat

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.atomic import atomic_write_bytes, atomic_write_files, atomic_write_text
from spikefab.ir import QuantizedNetwork
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec

SPEC = NetworkSpec(
    layers=(LayerSpec(3, 2, w_bits=4, b_bits=6, neuron=LIFSpec(v_bits=8, theta=5)),
            LayerSpec(2, 2, w_bits=4, b_bits=6)),
    timesteps=2, encoding="direct", in_bits=2,
)
OLD = QuantizedNetwork(SPEC, [np.array([[1, -8, 7], [0, 2, -3]]), np.array([[1, 2], [-1, 3]])],
                       [np.array([-32, 31]), np.array([0, 1])], {"which": "old"})
NEW = QuantizedNetwork(SPEC, [np.array([[2, 2, 2], [0, 0, 1]]), np.array([[-1, -2], [1, 3]])],
                       [np.array([5, 6]), np.array([7, 8])], {"which": "new"})
REAL_REPLACE = os.replace


def _same(a: QuantizedNetwork, b: QuantizedNetwork) -> None:
    assert a.spec == b.spec and a.meta == b.meta
    for x, y in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        assert_array_equal(x, y)


def _fail_on(monkeypatch, name, before=None):
    """Make ``os.replace`` onto a file called ``name`` raise (after calling ``before``)."""
    def replace(src, dst, *a, **k):
        if os.path.basename(dst) == name:
            if before is not None:
                before()
            raise OSError(28, "No space left on device")
        return REAL_REPLACE(src, dst, *a, **k)

    monkeypatch.setattr("spikefab.atomic.os.replace", replace)


def test_failed_json_rename_keeps_the_old_ir(tmp_path, monkeypatch):
    OLD.save(tmp_path / "m")
    _fail_on(monkeypatch, "m.json")
    with pytest.raises(OSError, match="No space left"):
        NEW.save(tmp_path / "m")
    _same(QuantizedNetwork.load(tmp_path / "m"), OLD)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]
    monkeypatch.undo()
    NEW.save(tmp_path / "m")
    _same(QuantizedNetwork.load(tmp_path / "m"), NEW)


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    _fail_on(monkeypatch, "m.json")
    with pytest.raises(OSError):
        NEW.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_a_save_cut_off_between_its_renames_leaves_the_old_ir_loadable(tmp_path, monkeypatch):
    """Copy the folder as a crash would leave it (new npz in place, old JSON) and load that."""
    OLD.save(tmp_path / "run" / "m")
    crash = tmp_path / "crash"
    _fail_on(monkeypatch, "m.json", lambda: shutil.copytree(tmp_path / "run", crash))
    with pytest.raises(OSError):
        NEW.save(tmp_path / "run" / "m")
    monkeypatch.undo()
    assert (crash / "m.npz").read_bytes() != (tmp_path / "run" / "m.npz").read_bytes()
    _same(QuantizedNetwork.load(crash / "m"), OLD)
    NEW.save(crash / "m")  # the next save clears what the cut-off one left
    _same(QuantizedNetwork.load(crash / "m"), NEW)
    assert sorted(p.name for p in crash.iterdir() if not p.name.endswith(".tmp")) == [
        "m.json", "m.npz"]


def test_rollback_of_several_files(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"old a")
    _fail_on(monkeypatch, "c")
    with pytest.raises(OSError):
        atomic_write_files({a: b"new a", b: b"new b", c: b"new c"})
    assert a.read_bytes() == b"old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        NEW.save(tmp_path / "m")
        atomic_write_text(tmp_path / "t.txt", "x\n")
        atomic_write_bytes(tmp_path / "b.bin", b"x")
        atomic_write_files({tmp_path / "x": b"1", tmp_path / "y": b"2"})
    finally:
        os.umask(old)
    for name in ("m.json", "m.npz", "t.txt", "b.bin", "x", "y"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
