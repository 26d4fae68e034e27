"""DP16KD weight memories with the output register (core/dp16kd.py): the contents and
address layout against yosys's own ECP5 mapping, the blocks of live columns only, the
instances reaching the netlist with REGMODE_A OUTREG, the model in the simulation Verilog.
(Exactness of a core built this way: sim/core_cases.py's OUTREG case, Verilator and Icarus.)"""


import numpy as np
import pytest
from amaranth import Module, signed
from amaranth.hdl import Fragment, Instance
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from spikefab_hdl.build.verilog import write_verilog
from spikefab_hdl.core import dp16kd
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.core.weight_memory import WeightMemory
from spikefab_hdl.sim.randnet import make_spec, random_network
from yosys_synth import synth_top


class _Rom(wiring.Component):
    addr: In(10)
    data: Out(18)

    def __init__(self, init):
        self.init = init
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=18, depth=1024, init=self.init)
        rd = mem.read_port()
        m.d.comb += [rd.addr.eq(self.addr), self.data.eq(rd.data)]
        return m


def _synth_json(top, tmp_path) -> dict:
    return synth_top(top, tmp_path, "synth_ecp5 -top top")


def _dp16kd_cells(mod) -> list[dict]:
    return [c for c in mod["cells"].values() if c["type"] == "DP16KD"]


def test_initval_and_row_address_are_laid_out_as_yosys_maps_a_1024x18_memory(tmp_path):
    init = [int(v) for v in np.random.default_rng(0).integers(0, 1 << 18, 1024)]
    mod = _synth_json(_Rom(init), tmp_path)
    (cell,) = _dp16kd_cells(mod)
    assert int(cell["parameters"]["DATA_WIDTH_A"], 2) == dp16kd.WIDTH
    for name, value in dp16kd.initval(init).items():
        assert int(cell["parameters"][name], 2) == value, name
    conn = cell["connections"]
    assert [conn[f"ADA{i}"][0] for i in range(4, 14)] == mod["ports"]["addr"]["bits"]
    assert [conn[f"ADA{i}"] for i in range(4)] == [["0"]] * 4
    assert [conn[f"DOA{i}"][0] for i in range(18)] == mod["ports"]["data"]["bits"]


def _outreg_memory(lanes_used=5, lanes=8, depth=300, bank_rows=1024):
    rng = np.random.default_rng(1)
    rows = np.zeros((depth, lanes), np.int64)
    rows[:, :lanes_used] = rng.integers(-128, 128, (depth, lanes_used))
    shape = data.ArrayLayout(signed(8), lanes)
    return WeightMemory(shape=shape, rows=rows, bank_rows=bank_rows, outreg=True), rows


def _instances(top) -> list[Instance]:
    found = []

    def walk(frag):
        if isinstance(frag, Instance):
            found.append(frag)
        for sub, *_ in frag.subfragments:
            walk(sub)

    walk(Fragment.get(top, None))
    return found


@pytest.mark.parametrize(("depth", "banks", "latency"), [(300, 1, 3), (2500, 3, 4)])
def test_blocks_hold_only_the_live_columns(depth, banks, latency):
    """5 of 8 lanes carry weights: 40 live bits, 3 blocks of 18 per bank (not 4 for 64)."""
    mem, _ = _outreg_memory(depth=depth)
    assert (mem.banks, mem.latency) == (banks, latency)
    insts = _instances(mem)
    assert len(insts) == 3 * banks
    assert {i.type for i in insts} == {"DP16KD"}
    assert {i.parameters["REGMODE_A"] for i in insts} == {"OUTREG"}


def test_a_shallow_memory_stays_generic_and_a_bank_holds_at_most_1024_rows():
    mem, _ = _outreg_memory(depth=100)
    assert not mem.outreg and mem.latency == 2 and not _instances(mem)
    with pytest.raises(ValueError, match=r"^bank_rows must be at most 1024 with outreg, not 2048$"):
        _outreg_memory(bank_rows=2048)


def test_yosys_keeps_the_output_registered_blocks(tmp_path):
    mem, _ = _outreg_memory(depth=300)
    cells = _dp16kd_cells(_synth_json(mem, tmp_path))
    assert len(cells) == 3
    assert {c["parameters"]["REGMODE_A"] for c in cells} == {"OUTREG"}


def test_plan_banks_and_latency_with_outreg():
    spec = make_spec([200, 20, 3], w_bits=8)
    net = random_network(spec, 0)
    reg = plan_core(net, lanes=4, bram_outreg=True).layers
    # layer 0: 200 x 5 = 1000 rows of 32 bits: 2 blocks of 1024 x 18 as of 512 x 36; one
    # bank: the block's register, ``data`` and the walk's address copies (Integrator.walk)
    assert (reg[0].outreg, reg[0].bank_rows, reg[0].weight_latency) == (True, 1024, 4)
    assert not reg[1].outreg  # 20 rows: LUTs
    # lanes 1: 4,000 rows of 8 bits: 4 blocks of 1024 x 18 against 2 of 4096 x 4
    assert not plan_core(net, lanes=1, bram_outreg=True).layers[0].outreg
    deep = plan_core(net, lanes=1, bram_outreg="always").layers[0]
    assert (deep.outreg, deep.weight_banks, deep.weight_latency) == (True, 4, 4)
    # a block budget (a board's, Board.outreg): as True, then more while the blocks fit
    fits = plan_core(net, lanes=1, bram_outreg=4).layers
    assert (fits[0].outreg, fits[0].weight_banks, fits[0].weight_latency) == (True, 4, 4)
    assert not fits[1].outreg
    assert not plan_core(net, lanes=1, bram_outreg=3).layers[0].outreg
    assert plan_core(net, lanes=4, bram_outreg=0).layers[0].outreg  # True's choice stays
    for bad in ("yes", -1):
        with pytest.raises(ValueError, match=r"^bram_outreg must be False, True, 'always' or "
                                             rf"a block count >= 0, not {bad!r}$"):
            plan_core(net, lanes=1, bram_outreg=bad)
    plain = plan_core(net, lanes=1).layers[0]  # one bank of 4096 x 4
    assert (plain.weight_banks, plain.weight_latency) == (1, 2)


def test_the_simulation_verilog_carries_the_model_once(tmp_path):
    net = random_network(make_spec([200, 20, 3], w_bits=8), 0)
    v, _ = write_verilog(net, tmp_path / "a", lanes=4, bram_outreg=True)
    text = v.read_text()
    assert text.count("module DP16KD(") == 1 and "REGMODE_A" in text
    v, _ = write_verilog(net, tmp_path / "b", lanes=4)
    assert "DP16KD" not in v.read_text()
    assert dp16kd.with_model(text) == text
