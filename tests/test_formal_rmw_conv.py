"""Proof 2 for conv layers, currents in SPRAM and layers taking spike masks (formal/rmw_conv.py,
formal/rmw_mask.py): no update lost or doubled for any weights and any event sequence
(k-induction); planted bugs fail it (a dropped bypass, an off-by-one in the walk's address
step, a tap skipped, a bubble dropped, a mask bit ignored) with a real counterexample."""

import inspect
import textwrap

import pytest
from rmwcheck import assert_planted_fails, drop_bypass
from spikefab_hdl.core import conv_integrator, integrator
from spikefab_hdl.core.adder_tree import tree_schedule
from spikefab_hdl.core.conv_integrator import ConvIntegrator
from spikefab_hdl.core.integrator import Integrator
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.formal.network import prove
from spikefab_hdl.formal.rmw import rmw_proofs
from spikefab_hdl.sim.randnet import make_conv_spec, make_spec, random_network


def _conv(encoding="spikes", spram=None, lanes=2, out=2):
    """A 2x4x4 input, a 2x2 kernel (stride 1, no padding): 3x3 positions, G = 1 at lanes 2;
    inputs that touch 1, 2 and 4 positions."""
    spec = make_conv_spec((2, 4, 4), [(out, 2, 1, 0)], [3], encoding=encoding,
                          in_bits=3 if encoding == "direct" else 1)
    sp = None if spram is None else {0: {"currents": spram}}
    return plan_core(random_network(spec, 5), lanes=lanes, spram=sp).layers[0]


def _side8():
    """A 1x8x8 input, a 1x1 kernel: the coordinate tables have exactly 8 entries, which
    yosys turns into ROMs (free at an induction trace's start unless mapped to logic)."""
    spec = make_conv_spec((1, 8, 8), [(2, 1, 1, 0)], [3])
    return plan_core(random_network(spec, 5), lanes=2).layers[0]


def _mask(k=4, **kw):
    """12 inputs in chunks of ``k``, 16 neurons at 4 lanes (G = 4); ``kw`` to plan_core."""
    spec = make_spec((12, 16, 9, 5), w_bits=8)
    return plan_core(random_network(spec, 3), lanes=[8, f"4x{k}", 2], **kw).layers[1]


#: Fast enough for make test; stride, padding, direct conv and the shipped configs' widths:
#: sim/test_formal_cases.py.
LAYERS = {
    "conv-spikes-g1": lambda: _conv(),
    "conv-spram1": lambda: _conv(spram=1),
    "conv-spram2": lambda: _conv(spram=2),
    "conv-side8": _side8,
    "mask-k4": lambda: _mask(),
    # an ECP5 core's tree (core/adder_tree.py): 8-wide masks in two stages, 1 + 2 levels
    "mask-k8-ecp5": lambda: _mask(8, bram_outreg=True),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_the_integrator_loses_and_doubles_no_update(tmp_path, name):
    lp = LAYERS[name]()
    (proof,) = rmw_proofs(lp)
    assert proof.mode == "prove" and proof.name == f"layer{lp.index}.integrator"
    r = prove([proof], work=tmp_path / "work", out=tmp_path / "out", jobs=1, timeout=600)[0]
    assert r.passed, r.line()


def test_what_the_proofs_say():
    assert "conv 2x2, 9 positions x 1 groups, 2 lanes" in rmw_proofs(_conv())[0].what
    assert "currents in 1 SPRAM bank(s)" in rmw_proofs(_conv(spram=1))[0].what
    assert "masks 4 wide" in rmw_proofs(_mask())[0].what


def _mutant(cls, method, old, new):
    """``cls`` with ``method``'s source changed from ``old`` to ``new`` (a planted bug)."""
    src = textwrap.dedent(inspect.getsource(getattr(cls, method)))
    assert src.count(old) == 1, old
    module = conv_integrator if cls is ConvIntegrator else integrator
    scope = dict(vars(module))
    exec(compile(src.replace(old, new), module.__file__, "exec"), scope)
    return type(f"Planted{cls.__name__}", (cls,), {method: scope[method]})


def _fails(tmp_path, layer, text, dut=None):
    assert_planted_fails(tmp_path, layer, text, dut=dut)


def test_a_dropped_bypass_fails_the_conv_proof(tmp_path, monkeypatch):
    drop_bypass(monkeypatch)  # the row read for the add misses the write just before it
    _fails(tmp_path, _conv(), "the current row read for the add stage is the tracked row")


def test_an_off_by_one_address_step_fails_the_conv_proof(tmp_path):
    planted = _mutant(ConvIntegrator, "walk", "w.eq(w + (s * g_n - (g_n - 1)))",
                      "w.eq(w + (s * g_n - (g_n - 1)) + 1)")  # kx += s: one row too far
    _fails(tmp_path, _conv(), "the walk is at tap", planted)


def test_a_skipped_tap_fails_the_conv_proof(tmp_path):
    planted = _mutant(ConvIntegrator, "walk", "last = (g == g_n - 1) & (ix == nx - 1)",
                      "last = (g == g_n - 1) & (ix + 2 >= nx)")  # the last row ends early
    _fails(tmp_path, _conv(), "the model's row = the tracked row + C per term", planted)


@pytest.mark.parametrize("banks", [1, 2])
def test_a_dropped_bubble_fails_the_spram_proof(tmp_path, banks):
    old = "ok = ~issued if banks == 1 else ~(issued & (issued_odd == cur[0]))"
    new = ("ok = 1 if banks == 1 else ~(issued & (issued_odd == cur[0]))" if banks == 1 else
           "ok = ~issued if banks == 1 else ~(issued & (issued_odd != cur[0]))")
    planted = _mutant(ConvIntegrator, "walk", old, new)
    _fails(tmp_path, _conv(spram=banks), "no two neighbouring stages carry rows of one SPRAM",
           planted)


def test_an_ignored_mask_bit_fails_the_mask_proof(tmp_path):
    planted = _mutant(Integrator, "mask_tree", "for i in range(k)] for j in range(lanes)]",
                      "for i in range(k - 1)] for j in range(lanes)]")  # input K-1 never added
    _fails(tmp_path, _mask(), "a tree stage's partial sums: C in the one covering k_w", planted)


def test_an_ignored_mask_bit_fails_the_two_stage_tree_proof(tmp_path):
    planted = _mutant(Integrator, "mask_tree", "for i in range(k)] for j in range(lanes)]",
                      "for i in range(k - 1)] for j in range(lanes)]")
    layer = _mask(8, bram_outreg=True)
    assert tree_schedule(layer.mask, layer.tree_levels) == [1, 2]
    _fails(tmp_path, layer, "a tree stage's partial sums: C in the one covering k_w", planted)
