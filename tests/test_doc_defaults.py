"""Every documented default IR path is the one `make demo` writes (configs/digits.toml)."""

import re
from pathlib import Path

from spikefab.run import RunDir, load_config

ROOT = Path(__file__).resolve().parent.parent


def demo_ir() -> str:
    """The IR of `make demo`: `run configs/digits.toml` writes it to <run dir>/ir/net.json."""
    make = (ROOT / "Makefile").read_text()
    assert "run configs/digits.toml" in make.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    run = RunDir.for_config(load_config(ROOT / "configs" / "digits.toml"))
    return str(run.path("ir", "net.json"))


def test_makefile_defaults_are_the_demo_ir():
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^DEMO_IR := (\S+)$", make, re.M).group(1) == demo_ir()
    for target in ("verilog", "bitstream"):
        recipe = make.split(f"\n{target}: ", 1)[1].split("\n\n", 1)[0]
        assert "$(DEMO_IR)" in recipe, target


def test_documented_ir_paths_are_the_demo_ir():
    """Any IR path the README, docs/ or a command's help names as an example exists after
    `make demo` (no build/demo/*.json that nothing writes)."""
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             ROOT / "python" / "spikefab" / "driver" / "__main__.py"]
    seen = 0
    for path in texts:
        for m in re.finditer(r"(?:--ir|IR=)\s*(build/\S+?\.json)", path.read_text()):
            assert m.group(1) == demo_ir(), f"{path.name}: {m.group(0)}"
            seen += 1
    assert seen >= 3
