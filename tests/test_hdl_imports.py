"""The gateware and the golden model import without torch (DESIGN §1: dependencies one way)."""

import subprocess
import sys

MODULES = [
    "spikeforge.golden",
    "spikeforge.toolchain",
    "spikeforge_hdl",
    "spikeforge_hdl.core",
    "spikeforge_hdl.export",
    "spikeforge_hdl.__main__",
    "spikeforge_hdl.pysim",
    "spikeforge_hdl.bound",
    "spikeforge_hdl.rtlsim",
    "spikeforge_hdl.verilator",
    "spikeforge_hdl.cocotb_bench",
    "spikeforge_hdl.randnet",
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
    """python/spikeforge (golden, toolchain) stays free of amaranth."""
    program = (
        'import sys; sys.modules["amaranth"] = None; '
        "import spikeforge.golden, spikeforge.toolchain, spikeforge.ir; print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
