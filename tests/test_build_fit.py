"""Conv networks on boards before any place and route: the memory estimate, the UP5K's SPRAM
placement, the one-line refusals, and yosys mapping the placed state memories to SPRAM."""

import re
import subprocess

import pytest
from amaranth.back import rtlil
from spikefab.spec import LIFSpec
from spikefab_hdl.board.definitions import get_board
from spikefab_hdl.build import bitstream as build_mod
from spikefab_hdl.build import fit as fit_mod
from spikefab_hdl.build.bitstream import (
    FitError,
    build_bitstream,
    strip_spram_init,
    yowasp_env,
)
from spikefab_hdl.build.fit import (
    MIN_BRAM_DEPTH,
    check_network,
    memory_blocks,
    place_spram,
    spram_blocks,
)
from spikefab_hdl.build.yosys_names import HIDE_BIT_NAMES
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.core.spram import SPRAMMemory
from spikefab_hdl.sim.randnet import make_conv_spec, make_spec, random_network


def _mnist_conv(channels=(4, 8)):
    """A random MNIST-sized conv net: 28x28 direct input, two conv3x3 + pool stages."""
    spec = make_conv_spec((1, 28, 28), [(channels[0], 3, 1, 1, 2), (channels[1], 3, 1, 1, 2)],
                          [10], encoding="direct", in_bits=4, timesteps=4, w_bits=8,
                          b_bits=16, neurons=[LIFSpec(14, 300, 3), LIFSpec(12, 300, 3)])
    return random_network(spec, 0)


@pytest.fixture
def no_tools(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a tool was started: {args!r}")

    monkeypatch.setattr(build_mod, "run_in_group", refuse)


def test_spram_blocks_count_width_banks_and_depth():
    assert spram_blocks(16, 16384) == 1
    assert spram_blocks(17, 100) == 2
    assert spram_blocks(30, 1568, banks=2) == 4
    assert spram_blocks(16, 16385) == 2


def test_a_conv_net_that_overflows_block_ram_is_placed_in_spram():
    board = get_board("icebreaker")
    net = _mnist_conv()
    # lanes 1: both of layer 0's state memories in two banks each (a row per cycle)
    assert place_spram(board, net, lanes=1) == {0: {"currents": 2, "membranes": 2}}
    est = check_network(board, net, lanes=1)
    assert est["bram_blocks"] <= 30 and est["spram_blocks"] == 4
    assert sum(1 for m in est["memories"] if m.get("spram")) == 4  # two banks each
    # lanes 2: twice as wide; the four SPRAMs hold them in one bank each
    assert place_spram(board, net, lanes=2) == {0: {"currents": 1, "membranes": 1}}
    # ECP5 has no SPRAM; small nets need none
    assert place_spram(get_board("ulx3s-25f"), net, lanes=4) is None
    small = random_network(make_conv_spec((1, 8, 8), [(8, 3, 1, 1, 2)], [10],
                                          encoding="direct", in_bits=4), 0)
    assert place_spram(board, small, lanes=2) is None


def test_a_conv_net_too_large_even_with_spram_is_refused_naming_the_resource(tmp_path, no_tools):
    with pytest.raises(FitError, match=r"^network too large for icebreaker \(iCE40UP5K-SG48\): "
                       r"its memories need at least \d+ block RAMs, the device has 30 \(\d+ "
                       r"weights; 1 conv state memory in 4 of its 4 SPRAMs\)$"):
        build_bitstream(_mnist_conv(), "icebreaker", lanes=4, out_root=tmp_path)
    assert not (tmp_path / "icebreaker").exists()
    with pytest.raises(FitError, match=r"^network too large for icebreaker \(iCE40UP5K-SG48\): "
                       r"its memories need at least \d+ block RAMs, the device has 30 "
                       r"\(4244 weights\)$"):
        check_network(get_board("icebreaker"), _mnist_conv(), lanes=1, spram=None)


def test_a_placement_needing_more_sprams_than_the_device_has_is_refused():
    with pytest.raises(FitError, match=r"^network too large for icebreaker \(iCE40UP5K-SG48\): "
                       r"its state memories need 8 SPRAMs, the device has 4$"):
        check_network(get_board("icebreaker"), _mnist_conv(), lanes=2,
                      spram={0: {"currents": 2, "membranes": 2}})


def test_spram_init_is_stripped_only_from_spram_memories():
    text = rtlil.convert(SPRAMMemory(shape=16, depth=64, banks=2))
    assert text.count("$meminit_v2") == 2
    assert strip_spram_init(text).count("$meminit_v2") == 0
    core = NetworkCore(net=_mnist_conv(), lanes=1, trace=False)
    plain = rtlil.convert(core)
    assert strip_spram_init(plain) == plain


def _yosys(il_text, tmp_path):
    (tmp_path / "dut.il").write_text(il_text)
    env = yowasp_env()
    script = "read_rtlil dut.il; synth_ice40 -dsp -spram -top top -run begin:map_ffram; stat"
    return subprocess.run([env["YOSYS"], "-p", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def _yosys_cells(il_text, tmp_path) -> dict[str, int]:
    proc = _yosys(il_text, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    stat = proc.stdout[proc.stdout.rindex("Printing statistics"):]
    return {name: int(n) for n, name in re.findall(r"^\s+(\d+)\s+.*?(\S+)\s*$", stat, re.M)}


def test_yosys_maps_the_placed_state_memories_to_spram(tmp_path):
    """Two banks of layer 0's currents and membranes: four SB_SPRAM256KA once their
    (simulation-only) initial contents are stripped; with them yosys finds no mapping and
    stops (never a silent fallback to block RAM)."""
    spec = make_conv_spec((1, 12, 12), [(4, 3, 1, 1, 2)], [3], encoding="direct", in_bits=4,
                          w_bits=8, neurons=[LIFSpec(12, 100, 3)])
    core = NetworkCore(net=random_network(spec, 0), lanes=1, trace=False,
                       spram={0: {"currents": 2, "membranes": 2}})
    text = rtlil.convert(core, name="top")
    assert _yosys_cells(strip_spram_init(text), tmp_path).get("SB_SPRAM256KA") == 4
    proc = _yosys(text, tmp_path)
    assert proc.returncode != 0 and "no valid mapping found for memory" in proc.stderr


def test_shallow_conv_kernels_stay_out_of_block_ram_as_the_estimate_assumes(tmp_path):
    """Kernel memories (here 9 and 72 rows) are LUTs, as the estimate (which leaves them out)
    assumes: a block RAM each for them made a UP5K design need 31 of 30 in nextpnr."""
    spec = make_conv_spec((1, 12, 12), [(4, 3, 1, 1, 2), (8, 3, 1, 1, 2)], [3],
                          encoding="direct", in_bits=4, w_bits=4, neurons=[LIFSpec(12, 100, 3),
                                                                         LIFSpec(12, 100, 3)])
    core = NetworkCore(net=random_network(spec, 0), lanes=4, trace=False)
    depths = {p: d for p, _, d, _ in fit_mod._memories(core)}
    kernels = [d for p, d in depths.items() if p.endswith("weights/bank0")]
    assert kernels == [9, 72, 72] and max(kernels) < MIN_BRAM_DEPTH
    proc = _yosys(rtlil.convert(core, name="top"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mapped = re.findall(r"mapping memory top\.(\S+) via \$__ICE40_RAM4K_", proc.stdout)
    assert "layer0.membranes" in mapped  # (state memories: yosys's choice)
    assert not [m for m in mapped if "weights" in m], mapped


def test_zero_padding_lanes_are_not_counted_as_yosys_removes_them(tmp_path):
    """A 20-neuron layer at lanes 32 stores 12 lanes of zero weights: yosys removes those
    columns (``removing const-0 lane``), so the estimate counts the 160 live bits of the
    256-bit row (5 DP16KD at 512 x 36, not 8), as many as ``synth_ecp5`` maps."""
    spec = make_spec([200, 20, 3], w_bits=8)
    core = NetworkCore(net=random_network(spec, 0), lanes=32, trace=False)
    mems = {p: (w, d) for p, w, d, _ in fit_mod._memories(core)}
    assert mems["layer0/integrator/weights/bank0"] == (20 * 8, 200)
    assert mems["layer0/integrator/currents"][0] == 32 * 14  # written: every column counts
    counted = sum(memory_blocks("ecp5", w, d) for w, d in mems.values() if d >= MIN_BRAM_DEPTH)
    (tmp_path / "dut.il").write_text(rtlil.convert(core, name="top"))
    env = yowasp_env()
    script = (f"read_rtlil dut.il; {HIDE_BIT_NAMES}; synth_ecp5 -top top -run begin:map_ffram; "
              "stat")
    proc = subprocess.run([env["YOSYS"], "-p", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stat = proc.stdout[proc.stdout.rindex("Printing statistics"):]
    assert re.findall(r"^\s+(\d+)\s+DP16KD\s*$", stat, re.M) == [str(counted)]
    assert counted == 5


def test_a_shallow_weight_memory_too_wide_for_the_luts_is_refused_naming_it(no_tools):
    # pixel chunks 4 wide: 100 rows < MIN_BRAM_DEPTH, so layer 0's 128 x 4 weights of 8 bits
    # stay in LUTs, at least 4,096 columns x ceil(100 / 16) = 28,672 LUT4s; the 25F has 24,288
    net = random_network(make_spec([400, 128, 10], encoding="direct", in_bits=4, w_bits=8,
                                   b_bits=12), 0)
    assert fit_mod.logic_luts(4096, 100) == 28672
    board = get_board("ulx3s-25f")
    with pytest.raises(FitError, match=r"^network too large for ulx3s-25f \(LFE5U-25F-6BG381\): "
                       r"its memories of fewer than 128 rows, kept in LUTs, need at least "
                       r"\d+ LUTs, the device has 24288 \(core/layer0/integrator/weights/bank0: "
                       r"4096 bits x 100 rows\)$"):
        check_network(board, net, lanes=((128, 4), (10, 1)), in_pack=4)
    # one input a cycle: 400 rows of 1,024 bits in block RAM
    est = check_network(board, net, lanes=((128, 1), (10, 1)), in_pack=4)
    assert est["logic_memory_luts"] < 24288 < fit_mod.logic_luts(4096, 100)
