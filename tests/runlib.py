"""Tiny run configs shared by the run, CLI and report tests (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

TINY = """\
[run]
name = "{name}"
dir = "{root}"

[teacher]
hidden = [16]
epochs = 1

[student]
hidden = [8]
epochs = 2

[distill]
method = "{method}"

[quantize]
w_bits = {w_bits}

[hardware]
sim_samples = {sim_samples}

[report]
sweep_timesteps = [2, 4]
sweep_bits = [4, 8]
"""


def tiny_config(root: Path, name: str = "tiny", *, method: str = "hinton", w_bits: int = 8,
                sim_samples: int = 8) -> Path:
    """Write a tiny digits config under ``root`` whose runs go to ``root/runs``."""
    path = Path(root) / f"{name}.toml"
    path.write_text(TINY.format(name=name, root=Path(root) / "runs", method=method,
                                w_bits=w_bits, sim_samples=sim_samples))
    return path
