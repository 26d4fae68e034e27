"""train.dist: DDP under torchrun, one plain process otherwise.

World size 1 (gloo, in this process) gives the single-process weights bit for bit, for
training and for distillation with a training-only auxiliary head; two gloo ranks under
``torchrun`` end with identical weights that agree with the single-process run up to float
summation order."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import ddp_worker
import pytest
import torch
import torch.distributed as dist
from spikefab.train.dist import (
    DistContext,
    all_sum,
    context,
    init_distributed,
    launched_by_torchrun,
    share,
)

KEYS = ("model", "student", "aux")


def _assert_same_weights(a, b):
    for key in KEYS:
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name}"


def test_single_process_without_torchrun():
    assert not launched_by_torchrun({"RANK": "0"})
    assert launched_by_torchrun({k: "0" for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK",
                                                  "MASTER_ADDR", "MASTER_PORT")})
    ctx = init_distributed()
    assert ctx == DistContext() and not ctx.distributed and ctx.is_main
    assert ctx.device == torch.device("cpu")
    idx = torch.arange(5)
    mine, scale = share(idx, ctx)
    assert torch.equal(mine, idx) and scale == 1.0
    assert all_sum([1.5, 2.0], ctx) == [1.5, 2.0]


def test_shares_cover_the_batch_and_weight_the_mean():
    idx = torch.arange(7)
    parts = [share(idx, DistContext(r, 3, r, "gloo")) for r in range(3)]
    assert sorted(torch.cat([p for p, _ in parts]).tolist()) == list(range(7))
    assert [s for _, s in parts] == [3 * 3 / 7, 2 * 3 / 7, 2 * 3 / 7]
    mine, scale = share(torch.arange(1), DistContext(1, 2, 1, "gloo"))
    assert mine.tolist() == [0] and scale == 0.0  # an empty share still joins the all-reduce


def test_bad_backend_is_refused():
    with pytest.raises(ValueError, match=r"^init_distributed backend must be one of 'gloo', "
                       r"'nccl', not 'mpi'$"):
        init_distributed("mpi")


def test_world_size_1_ddp_is_identical_to_a_single_process(tmp_path):
    (tmp_path / "single").mkdir()
    (tmp_path / "ddp").mkdir()
    single = ddp_worker.run(tmp_path / "single")
    assert single["backend"] is None
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        assert context() == DistContext(0, 1, 0, "gloo")
        ddp = ddp_worker.run(tmp_path / "ddp")
    finally:
        dist.destroy_process_group()
    assert ddp["backend"] == "gloo" and ddp["world_size"] == 1
    _assert_same_weights(single, ddp)
    assert single["loss"] == ddp["loss"] and single["kd_loss"] == ddp["kd_loss"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_under_torchrun(tmp_path):
    (tmp_path / "single").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
           "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), str(Path(ddp_worker.__file__)), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert [(d["rank"], d["world_size"], d["backend"]) for d in ranks] == [
        (0, 2, "gloo"), (1, 2, "gloo")]
    _assert_same_weights(ranks[0], ranks[1])  # DDP keeps every rank on the same weights
    assert ranks[0]["loss"] == ranks[1]["loss"]  # the logged loss is the all-ranks mean
    single = ddp_worker.run(tmp_path / "single")
    # half a batch per rank, gradients averaged: the single-process run up to rounding
    for key in KEYS:
        for name, w in single[key].items():
            torch.testing.assert_close(ranks[0][key][name], w, rtol=1e-4, atol=1e-5)
    for a, b in zip(ranks[0]["loss"] + ranks[0]["kd_loss"], single["loss"] + single["kd_loss"],
                    strict=True):
        assert abs(a - b) < 1e-4


def test_train_command_writes_a_checkpoint_and_refuses_bad_flags(tmp_path, capsys):
    from spikefab.train import load_checkpoint
    from spikefab.train.__main__ import main

    out = tmp_path / "run.pt"
    assert main(["--epochs", "1", "--hidden", "16", "--timesteps", "2", "--leak-shift",
                 "none", "--out", str(out)]) == 0
    model, cfg, extra = load_checkpoint(out)
    assert cfg.hidden == (16,) and cfg.leak_shift is None and model.timesteps == 2
    assert extra["world_size"] == 1 and f"test accuracy {extra['float_acc']:.4f}" in \
        capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--leak-shift", "-3"])
    assert "TrainConfig.leak_shift must be an integer in [0, 31], not -3" in \
        capsys.readouterr().err
