"""The gateware is reproducible: the same network and options give byte-identical RTLIL in
every Python process, whatever its string-hash seed (``PYTHONHASHSEED``). A set iterated
while statements were added once reordered the LIF pipeline's wires: the RTL was the same
circuit, but a build cache keyed by the RTLIL (bench/hw.py ``build_key``) missed and rebuilt
for half an hour. Every random case of sim/core_cases.py (each placement option the core
has) and a board top are converted under two hash seeds."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import hashlib
from amaranth.back import rtlil
from core_cases import CASES, DSP, MAC8X8, OUTREG, PACK, SPRAM, random_case
from spikefab_hdl.board.top import BoardTop
from spikefab_hdl.core.network import NetworkCore

def digest(design):
    return hashlib.sha256(rtlil.convert(design, name="c", emit_src=False).encode()).hexdigest()

for name in sorted(CASES):
    net, _x, lanes, _seed = random_case(name)
    core = NetworkCore(net=net, lanes=lanes, spram=SPRAM.get(name), in_pack=PACK.get(name, 1),
                       dsp=DSP.get(name), mac8x8=name in MAC8X8,
                       bram_outreg=OUTREG.get(name, False))
    print(name, digest(core))
net, _x, lanes, _seed = random_case("direct-cuba-delayed-l2")
print("board-top", digest(BoardTop(net=net, clk_hz=12_000_000, lanes=lanes, n_leds=4)))
"""


def _digests(hash_seed: int) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT / "sim", env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.splitlines()


def test_rtlil_is_the_same_under_every_hash_seed():
    first, second = _digests(1), _digests(2)
    assert len(first) > 10 and first[-1].startswith("board-top")
    differ = [a.split()[0] for a, b in zip(first, second, strict=True) if a != b]
    assert not differ, f"RTLIL depends on PYTHONHASHSEED: {differ}"
