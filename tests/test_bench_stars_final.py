"""bench/stars_final.py's pool swaps and bad input: a bad key fails with one line naming it,
before any teacher is loaded or trained; the swapped pool is the saved pools in order."""

import pytest
import stars_final  # bench/ is on pytest's pythonpath
import torch


def _save(path, pool):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"pool": pool, "student": {}}, path)


@pytest.mark.parametrize(("over", "key"), [
    ({"bogus": 1}, "'bogus'"), ({"rounds": 0}, "rounds"), ({"iterations": 2.5}, "iterations"),
    ({"teacher_init": True}, "teacher_init"), ({"lr": 0}, "lr"), ({"lr": "0.5"}, "lr"),
    ({"lr": True}, "lr"), ({"r_feature": -1}, "r_feature"),
    ({"first_bn_multiplier": "10"}, "first_bn_multiplier"), ({"bn_relative": 1}, "bn_relative")])
def test_synth_rejects_bad_overrides_by_name(over, key, monkeypatch):
    def no_teacher(job):  # the check must come first: nothing trains
        raise AssertionError("a teacher was trained before the overrides were checked")

    monkeypatch.setattr(stars_final.kj, "run_teacher", no_teacher)
    with pytest.raises(SystemExit, match=key):
        stars_final.synth(1, "x", over)


@pytest.mark.parametrize(("over", "msg"), [
    ({"pool": "s2"}, "pool must be a non-empty list"), ({"pool": []}, "pool must be"),
    ({"pool": ["nope"]}, "pool 'nope' is missing"), ({"pool_size": 0}, "pool_size"),
    ({"pool_size": True}, "pool_size")])
def test_final_rejects_bad_pool_keys_before_loading(over, msg, tmp_path, monkeypatch):
    monkeypatch.setattr(stars_final, "OUT", tmp_path)
    _save(tmp_path / "s1.pt", torch.zeros(4, 1, 28, 28))

    def no_make(*a, **k):
        raise AssertionError("the teacher was loaded before the keys were checked")

    monkeypatch.setattr(stars_final, "_make", no_make)
    with pytest.raises(SystemExit, match=msg):
        stars_final.final(1, "x", over)


def test_final_pool_concatenates_saved_pools_in_order_then_cuts(tmp_path, monkeypatch):
    monkeypatch.setattr(stars_final, "OUT", tmp_path)
    a, b = torch.full((3, 1, 2, 2), 1.0), torch.full((2, 1, 2, 2), 2.0)
    _save(tmp_path / "s2.pt", a)
    _save(tmp_path / "A" / "s1.pt", b)
    own = torch.zeros(5, 1, 2, 2)
    assert torch.equal(stars_final.final_pool("x", own, {}), own)
    both = stars_final.final_pool("x", own, {"pool": ["A/s1", "s2"]})
    assert torch.equal(both, torch.cat([b, a]))
    cut = stars_final.final_pool("x", own, {"pool": ["s2", "A/s1"], "pool_size": 4})
    assert torch.equal(cut, torch.cat([a, b])[:4])
    assert cut[3].max() == 2.0  # the fourth image comes from the second pool
    with pytest.raises(SystemExit, match="at most the pool's 5 images"):
        stars_final.final_pool("x", own, {"pool_size": 6})


def test_final_names_a_missing_or_bad_state(tmp_path, monkeypatch):
    monkeypatch.setattr(stars_final, "OUT", tmp_path)
    _save(tmp_path / "s1.pt", torch.zeros(4, 1, 28, 28))  # the bench's state is there
    with pytest.raises(SystemExit, match="lr05/s1.pt is missing"):
        stars_final.final(1, "x", {"state": "lr05"})
    with pytest.raises(SystemExit, match="state must be the NAME"):
        stars_final.final(1, "x", {"state": 5})
