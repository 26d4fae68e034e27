"""``python -m spikefab.train``: one float training run (``fit``) from the command line.

    python -m spikefab.train --dataset digits --hidden 128 --epochs 40 --out build/runs/d.pt
    torchrun --nproc-per-node 2 -m spikefab.train --dataset mnist5k --out build/runs/m.pt

Every ``TrainConfig`` field is a flag (``--leak-shift none`` for no leak, ``--hidden 128,64``).
Under ``torchrun`` each rank trains on its share of every batch (``train.dist``); rank 0
prints the epochs and the test accuracy and writes the checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields

from .checkpoint import save_checkpoint
from .config import TrainConfig
from .dist import finish_distributed, init_distributed
from .fit import fit


def _convert(name: str, default):
    def conv(text: str):
        if name == "hidden":
            return tuple(int(v) for v in text.split(",") if v.strip())
        if name == "leak_shift":
            return None if text.lower() == "none" else int(text)
        return type(default)(text)

    return conv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m spikefab.train", description=__doc__.split(
        "\n")[0])
    for f in fields(TrainConfig):
        default = f.default if f.default is not MISSING else None
        ap.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=default,
                        type=_convert(f.name, default), help=f"default {default!r}")
    ap.add_argument("--out", help="checkpoint path (.pt), written by rank 0")
    args = vars(ap.parse_args(argv))
    out = args.pop("out")
    try:
        cfg = TrainConfig(**args)
    except ValueError as e:
        ap.error(str(e))
    ctx = init_distributed()
    res = fit(cfg, log=print if ctx.is_main else None)
    if ctx.is_main:
        print(f"test accuracy {res.float_acc:.4f} (world size {ctx.world_size}, "
              f"{res.history.seconds:.1f} s training)")
        if out:
            save_checkpoint(out, res.model, config=cfg,
                            extra={"float_acc": res.float_acc, "world_size": ctx.world_size})
            print(f"wrote {out}")
    finish_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
