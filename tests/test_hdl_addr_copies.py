"""The walk's row address in copies (ECP5 builds): a one-bank DP16KD weight memory's blocks
read an equal share of ``walk_addr_dup_*`` registers each (at most ``ADDR_FANOUT``), yosys
keeps the copies apart (``KEEP_COPIES``), every copy loads from the ``walk_addr`` register
and holds the walk's address."""


from amaranth import signed
from amaranth.hdl import Fragment
from amaranth.lib import data
from spikefab_hdl.build.yosys_names import HIDE_BIT_NAMES, KEEP_COPIES
from spikefab_hdl.core import dp16kd
from spikefab_hdl.core.copies import ADDR_FANOUT
from spikefab_hdl.core.integrator import Integrator
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.core.weight_memory import WeightMemory
from spikefab_hdl.sim.randnet import make_spec, random_network
from yosys_synth import synth_top


def _layer(lanes, *, outreg="always"):
    """A spike layer of 130 rows (one bank, above LOGIC_ROWS) ``lanes`` 8-bit weights wide."""
    spec = make_spec((130, lanes, 3), encoding="spikes", w_bits=8, b_bits=10)
    return plan_core(random_network(spec, 0), lanes=lanes, bram_outreg=outreg).layers[0]


def _memory(lp, addr_fanout=ADDR_FANOUT, outreg=True) -> WeightMemory:
    """The layer's weight memory as the integrator makes it on an ECP5 build, elaborated."""
    mem = WeightMemory(shape=data.ArrayLayout(signed(lp.w_bits), lp.lanes), rows=lp.weight_rows,
                       bank_rows=lp.bank_rows, outreg=outreg, addr_fanout=addr_fanout)
    Fragment.get(mem, None)
    return mem


def _image(lp):
    """``(raw rows, width)`` of the layer's weight memory, as the memory lays them out."""
    mem = _memory(lp)
    return mem._raw(mem._rows), lp.lanes * lp.w_bits


def _synth(top, tmp_path) -> dict:
    return synth_top(top, tmp_path, "synth_ecp5 -top top",
                     after_read=f"{HIDE_BIT_NAMES}; {KEEP_COPIES}")


def test_copies_cover_the_blocks_at_most_addr_fanout_each():
    lp = _layer(24)
    n_blocks = dp16kd.blocks(*_image(lp))
    mem = _memory(lp)
    assert lp.outreg and mem.banks == 1 and n_blocks > ADDR_FANOUT
    assert mem.addr_copies == -(-n_blocks // ADDR_FANOUT) >= 2
    assert "addr_dup" in mem.signature.members
    # none without the block's output register or when asked for none
    for plain in (_memory(lp, outreg=False), _memory(lp, addr_fanout=0)):
        assert plain.addr_copies == 0 and "addr_dup" not in plain.signature.members


def test_yosys_keeps_one_address_register_per_share_of_the_blocks(tmp_path):
    """After synthesis every block's row-address pins come from flip-flops; the blocks
    split into ``addr_copies`` groups by the flip-flops that drive them, each group at most
    ``ADDR_FANOUT`` blocks (without KEEP_COPIES yosys would merge them into one)."""
    lp = _layer(24)
    dut = Integrator(layer=lp)
    copies = -(-dp16kd.blocks(*_image(lp)) // ADDR_FANOUT)
    mod = _synth(dut, tmp_path)
    driver = {}  # net bit -> the flip-flop cell driving it
    for name, cell in mod["cells"].items():
        if cell["type"] == "TRELLIS_FF":
            driver[cell["connections"]["Q"][0]] = name
    groups = {}
    blocks = [c for c in mod["cells"].values() if c["type"] == "DP16KD"]
    for cell in blocks:
        pins = [cell["connections"][f"ADA{i}"][0] for i in range(4, 14)]
        ffs = tuple(driver.get(p) for p in pins if not isinstance(p, str))
        assert ffs and None not in ffs, "an address pin not driven by a flip-flop"
        groups.setdefault(ffs, []).append(cell)
    assert len(groups) == copies
    assert max(len(g) for g in groups.values()) <= ADDR_FANOUT
    assert sum(len(g) for g in groups.values()) == len(blocks)
    # each copy loads from one flip-flop (``walk_addr``), not from the walk's next-address
    # logic: the hop to the blocks across the die starts at a register (one cycle later)
    sources = {}  # address bit -> the flip-flops its copies load from
    for ffs in groups:
        for bit, ff in enumerate(ffs):
            di = mod["cells"][ff]["connections"]["DI"][0]
            assert di in driver, f"copy {ff} loads from logic, not from a flip-flop"
            sources.setdefault(bit, set()).add(driver[di])
    assert all(len(v) == 1 for v in sources.values()), sources
