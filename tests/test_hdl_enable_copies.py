"""The clock enables of a one-group layer's wide registers on ECP5 builds: split per
``ENABLE_SPAN`` lanes over copies of the valid and ready bits (``NeuronPass.enable_copies``,
the integrator's and the state rows' write enables), and no enable on the read registers
(``LayerStepper.free_read``); yosys keeps the copies apart (``KEEP_COPIES``). Before, the
pass's ``advance`` was one LUT driving the enables of every stage register and read register
of the layer (the 85F ``128x3`` router2 build's critical path, docs/hardware.md)."""

from collections import Counter

from spikefab_hdl.build.yosys_names import HIDE_BIT_NAMES, KEEP_COPIES
from spikefab_hdl.core.copies import ENABLE_SPAN, enable_spans
from spikefab_hdl.core.layer import HiddenLayer
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.randnet import make_spec, random_network
from yosys_synth import synth_top

#: A clock-enable net driving at least this many flip-flops is a wide register's.
WIDE = 64


def _enable_fanout(tmp_path, lanes: int) -> Counter:
    """Flip-flops per clock-enable net of a one-group hidden layer built for ECP5."""
    spec = make_spec((20, lanes, 3), encoding="spikes", w_bits=6, b_bits=8)
    lp = plan_core(random_network(spec, 0), lanes=lanes, bram_outreg="always").layers[0]
    assert lp.groups == 1 and lp.bram_outreg
    mod = synth_top(HiddenLayer(layer=lp, timesteps=4), tmp_path, "synth_ecp5 -top top",
                    after_read=f"{HIDE_BIT_NAMES}; {KEEP_COPIES}")
    return Counter(cell["connections"]["CE"][0] for cell in mod["cells"].values()
                   if cell["type"] == "TRELLIS_FF" and "CE" in cell["connections"])


def test_wide_enables_split_per_span(tmp_path):
    lanes = 32
    spans = enable_spans(lanes)
    assert spans == lanes // ENABLE_SPAN == 4
    wide = {net: n for net, n in _enable_fanout(tmp_path, lanes).items() if n >= WIDE}
    assert len(wide) >= spans
    # each enable drives at most its span's share of the wide registers (one LUT driving
    # them all, as before, fails this)
    assert max(wide.values()) * spans <= sum(wide.values())
