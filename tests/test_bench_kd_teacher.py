"""bench/kd_jobs.py's teacher cache: a run cache can say a teacher is done while its weights
file is gone (build/kd/teachers deleted or not copied); loading it then trains it again."""

import kd_jobs  # bench/ is on pytest's pythonpath
import torch


def test_a_missing_teacher_file_is_trained_again(tmp_path, monkeypatch):
    monkeypatch.setattr(kd_jobs, "CACHE", tmp_path)
    first = kd_jobs.load_teacher("digits", "weak", 0, True)  # no file yet: trains it
    path = kd_jobs._teacher_path("digits", "weak", 0, True)
    assert path.is_file()
    assert not list(tmp_path.glob("*.tmp"))  # written by rename
    path.unlink()
    again = kd_jobs.load_teacher("digits", "weak", 0, True)
    assert path.is_file()
    for (name, a), (_, b) in zip(first.state_dict().items(), again.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name  # seeded: the same teacher, bit for bit
