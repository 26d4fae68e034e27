"""The gateware and the golden model import without torch (DESIGN §1: dependencies one way)."""

import subprocess
import sys
from pathlib import Path

HDL = Path(__file__).resolve().parent.parent / "hdl" / "spikefab_hdl"

#: Every gateware module, and the software it may use (tests/test_layering.py).
MODULES = [
    "spikefab.golden",
    "spikefab.toolchain",
    "spikefab.protocol",
    "spikefab.driver.transport",
    "spikefab.driver.samples",
    *sorted(
        ".".join(["spikefab_hdl", *p.relative_to(HDL).with_suffix("").parts]).removesuffix(
            ".__init__")
        for p in HDL.rglob("*.py")
    ),
]

# torch is blocked: any import of it raises ImportError; afterwards it must not be loaded.
PROGRAM = """
import sys
sys.modules["torch"] = None
import importlib
for name in {modules!r}:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
assert loaded == ["torch"] and sys.modules["torch"] is None, loaded
print("ok")
"""


def test_hdl_and_golden_import_with_torch_blocked():
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(modules=MODULES)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


def test_the_block_really_blocks():
    """Sanity check of the method: importing torch under the block fails."""
    proc = subprocess.run(
        [sys.executable, "-c", 'import sys; sys.modules["torch"] = None; import torch'],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode != 0
    assert "ModuleNotFoundError" in proc.stderr or "ImportError" in proc.stderr


def test_software_side_never_imports_amaranth():
    """python/spikefab (golden, toolchain) stays free of amaranth."""
    program = (
        'import sys; sys.modules["amaranth"] = None; '
        "import spikefab.golden, spikefab.toolchain, spikefab.ir; print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
