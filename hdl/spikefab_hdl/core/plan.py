"""The core's plan: every width, depth and memory image, derived from the IR alone.

:func:`plan_core` turns a QuantizedNetwork and ``lanes`` (one count, or per layer ``lanes``
and a spike-mask width, :mod:`.lanes`) into a :class:`CorePlan`: per layer the lane groups
``G = ceil(n_out / lanes)``, the current width (``net.current_bits(i)``), the membrane or
accumulator width, the memory images (weights, biases) laid out ``lanes`` values per row.
The gateware reads these numbers; it never computes a width or converts a float itself.

The core implements v1 and every named extension (:data:`EXTENSIONS`); :func:`plan_core`
refuses, in one line, a conv layer after a dense one (fed by the input or a conv layer only).

Weight memory layout (:mod:`.layout`): row ``i * G + g`` holds ``W[g*lanes + j, i]`` for
``j < lanes`` (zero beyond ``n_out``), so one read returns the ``lanes`` weights an input
event ``i`` adds into neuron group ``g``; a layer taking spike masks ``K`` wide has one row
per chunk of ``K`` inputs. A conv layer (:mod:`.conv_geometry`) has lanes across its
output channels: ``i`` is the kernel input ``(ci * k + ky) * k + kx`` and ``g`` the channel
group; its state memories have one row per output position and channel group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spikefab.fixed import unsigned_width
from spikefab.ir import QuantizedNetwork
from spikefab.spec import ConvSpec, LIFSpec

from . import lanes as _lanes
from .adder_tree import TREE_LEVELS, tree_levels_for
from .conv_geometry import ConvGeometry, check_conv_order, coord_bits
from .dp16kd import place_outreg
from .input_pack import check_in_pack
from .lanes import MAX_LANES, MAX_MASK, check_lanes, lanes_label, lanes_value, resolve_lanes
from .layout import DP16KD_SHAPES, bank_rows_for, pack_groups, pack_rows
from .placement import SPRAM_MEMORIES, check_spram
from .weight_memory import LOGIC_ROWS, read_latency

__all__ = ["EXTENSIONS", "MAX_LANES", "MAX_MASK", "CYCLE_BITS", "LayerPlan", "CorePlan",
           "check_lanes", "resolve_lanes", "lanes_label", "plan_core", "pack_rows", "pack_groups",
           "DP16KD_SHAPES", "bank_rows_for", "SPRAM_MEMORIES", "check_spram"]

#: The named extensions of semantics v1 the core implements (all of them).
EXTENSIONS = ("conv2d", "cuba", "decay", "delayed-reset", "gt", "spike-readout")
#: Width of the cycle counter reported with every result (wraps after 2**32 cycles).
CYCLE_BITS = 32


@dataclass(frozen=True)
class LayerPlan:
    """Everything the gateware needs to build one layer.

    Attributes
    ----------
    index : int
        Layer number (0 = first).
    n_in, n_out : int
        Fan-in and number of neurons.
    lanes, groups : int
        Weights read per cycle, and the rows of the state memories (the length of a
        pass): ``ceil(n_out / lanes)``, or ``P * G`` for a conv layer.
    w_bits, b_bits : int
        Weight and bias widths (from the spec).
    cur_bits : int
        Width of the input current ``I = W x + b`` (``net.current_bits(index)``).
    state_bits : int
        Membrane width ``v_bits`` (spiking layer), ``net.acc_bits()`` (summing readout).
    value_bits : int
        An input event's value width: ``in_bits`` (direct first layer), else 0 (spikes).
    repeat : bool
        A direct first layer: its current is computed once per sample, used every step.
    neuron : LIFSpec or None
        The neuron stage (None for the summing readout).
    weights, biases : ndarray
        The layer's integer arrays from the IR.
    bank_rows : int
        Rows per bank of the weight memory (:mod:`.weight_memory`): by default those of the
        DP16KD shape holding it in the fewest blocks (:func:`bank_rows_for`).
    last : bool
        The output layer: the summing readout, or a spiking readout (``spike-readout``).
    acc_bits : int
        Width of the output layer's accumulators (``net.acc_bits()``; 0 for other layers).
    conv : ConvSpec or None
        The layer's convolution (None: dense).
    next_conv : ConvSpec or None
        The next layer's convolution: this layer's spike events are then packed coordinates.
    spram : tuple of (str, int)
        A conv layer's state memories in single-port RAM (UP5K SPRAM, :mod:`.spram`):
        ``(name, banks)``, ``name`` in :data:`SPRAM_MEMORIES`, ``banks`` 1 or 2; empty: none.
    mask : int
        Spike events of the previous layer taken per cycle (:mod:`.lanes`): 1, or ``K``:
        an input event is a chunk ``c`` with a ``K``-bit mask of inputs ``c*K + k``.
    next_mask : int
        The next layer's ``mask``: this layer's spike events are then chunks.
    logic_lanes : int
        Lanes of a direct layer (the last ones) whose product ``w * x`` is shifts and adds
        in logic (:func:`.arith.times_unsigned`); 0 unless ``plan_core(dsp=...)`` ran out.
    mac8x8 : bool
        The DSP products are SB_MAC16 instances in dual 8x8 mode, two a block (:mod:`.sb_mac16`).
    bram_outreg : bool
        A weight memory of :data:`.weight_memory.LOGIC_ROWS` rows or more is DP16KD blocks
        with their output register (:mod:`.dp16kd`, 1024-row banks; ``place_outreg``).
    tree_levels : int
        Adder-tree levels between two registers of a ``mask > 1`` layer (:mod:`.adder_tree`).
    skid : bool
        Its events pass a skid buffer (:mod:`.skid`): every layer of ECP5 builds.
    """

    index: int
    n_in: int
    n_out: int
    lanes: int
    groups: int
    w_bits: int
    b_bits: int
    cur_bits: int
    state_bits: int
    value_bits: int
    repeat: bool
    neuron: LIFSpec | None
    weights: np.ndarray
    biases: np.ndarray
    bank_rows: int = 0
    last: bool = False
    acc_bits: int = 0
    conv: ConvSpec | None = None
    next_conv: ConvSpec | None = None
    spram: tuple = ()
    mask: int = 1
    next_mask: int = 1
    logic_lanes: int = 0
    mac8x8: bool = False
    bram_outreg: bool = False
    tree_levels: int = TREE_LEVELS
    skid: bool = False

    def __post_init__(self):
        if not self.bank_rows:
            rows = bank_rows_for(self.lanes * self.mask * self.w_bits, self.weight_depth)
            object.__setattr__(self, "bank_rows", rows)

    def spram_banks(self, name: str) -> int:
        """Banks of state memory ``name`` in SPRAM (0: an ordinary memory)."""
        return dict(self.spram).get(name, 0)

    @property
    def pass_half_rate(self) -> bool:
        """A state memory in one SPRAM bank: the neuron pass reads a row every other cycle."""
        return any(banks == 1 for _, banks in self.spram)

    @property
    def geometry(self) -> ConvGeometry | None:
        """The conv layer's geometry (None for a dense layer)."""
        return None if self.conv is None else ConvGeometry(self.conv, self.lanes)

    @property
    def channel_groups(self) -> int:
        """Rows of the bias memory: ``G`` of a conv layer's channels; ``groups`` if dense."""
        return self.groups if self.conv is None else self.geometry.groups

    @property
    def weight_inputs(self) -> int:
        """Weight rows per group: ``n_in`` (``ceil(n_in / mask)`` chunks), or
        ``C_in * k * k`` for a conv layer."""
        return -(-self.n_in // self.mask) if self.conv is None else self.geometry.kernel_inputs

    @property
    def weight_depth(self) -> int:
        return self.weight_inputs * self.channel_groups

    @property
    def n_next(self) -> int:
        """Outputs the next layer sees (the pooled ones of a conv layer)."""
        return self.n_out if self.conv is None else self.conv.n_pooled

    @property
    def weight_banks(self) -> int:
        """Banks of the weight memory (``ceil(weight_depth / bank_rows)``)."""
        return -(-self.weight_depth // self.bank_rows)

    @property
    def outreg(self) -> bool:
        """The weight memory is DP16KD blocks with their output register."""
        return self.bram_outreg and self.weight_depth >= LOGIC_ROWS

    @property
    def weight_latency(self) -> int:
        """Cycles from the walk's address to its row (+1: one bank's address copies, walk)."""
        return read_latency(self.weight_banks, self.outreg) + (self.weight_banks == 1) * self.outreg

    @property
    def is_readout(self) -> bool:
        """The summing readout (no neurons)."""
        return self.neuron is None

    @property
    def spike_readout(self) -> bool:
        """The output layer is a LIF layer whose spike counts are the accumulators."""
        return self.last and self.neuron is not None

    @property
    def weight_rows(self) -> np.ndarray:
        w = np.asarray(self.weights)
        return pack_rows(w.reshape(w.shape[0], -1), self.lanes, self.mask)

    @property
    def bias_rows(self) -> np.ndarray:
        return pack_groups(self.biases, self.lanes)

    @property
    def out_index_bits(self) -> int:
        """Width of a spike address leaving this layer (a packed coordinate into a conv
        layer)."""
        if self.next_conv is not None:
            return sum(coord_bits(self.next_conv))
        return unsigned_width(-(-self.n_next // self.next_mask) - 1)

    @property
    def in_index_bits(self) -> int:
        """Width of an input-event address entering this layer (a packed coordinate for
        a conv layer)."""
        if self.conv is not None:
            return sum(coord_bits(self.conv))
        return unsigned_width(self.weight_inputs - 1)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "n_in": self.n_in,
            "n_out": self.n_out,
            "lanes": self.lanes,
            "mask": self.mask,
            "groups": self.groups,
            "w_bits": self.w_bits,
            "b_bits": self.b_bits,
            "cur_bits": self.cur_bits,
            "state_bits": self.state_bits,
            "value_bits": self.value_bits,
            "repeat": self.repeat,
            "readout": self.is_readout,
            "spike_readout": self.spike_readout,
            "synapse_bits": 0 if self.neuron is None or self.neuron.synapse is None
            else self.neuron.synapse.i_bits,
            "weight_memory": {
                "depth": self.weight_depth,
                "width": self.lanes * self.mask * self.w_bits,
                "banks": self.weight_banks,
                "bank_rows": self.bank_rows,
                **({"outreg": True} if self.outreg else {}),
            },
            **({"conv": self.geometry.to_dict()} if self.conv is not None else {}),
            **({"spram": dict(self.spram)} if self.spram else {}),
            **({"logic_lanes": self.logic_lanes} if self.logic_lanes else {}),
            **({"mac8x8": True} if self.mac8x8 else {}),
        }


@dataclass(frozen=True)
class CorePlan:
    """The plan of a whole core: one :class:`LayerPlan` per layer plus the stream widths.

    Attributes
    ----------
    layers : tuple of LayerPlan
    lanes : int or tuple of (int, int)
        The lanes of every layer (an int: one ``lanes``, mask width 1), or ``(L_l, K_l)``
        per layer (:mod:`.lanes`).
    timesteps : int
    encoding : str
        ``"direct"`` or ``"spikes"`` (from the spec).
    in_bits : int
        Input width of a direct sample.
    in_pack : int
        Direct input values per input beat (:mod:`.input_adapter`).
    in_data_bits : int
        Width of the input stream's ``data`` field: ``in_pack * in_bits`` (direct) or the
        width of an input address (spikes; a packed coordinate for a conv first layer).
    acc_bits : int
        Readout accumulator width (``net.acc_bits()``).
    out_data_bits : int
        Width of the output stream's ``data`` field: holds an accumulator, a class index
        and the ``CYCLE_BITS`` cycle count.
    """

    layers: tuple[LayerPlan, ...]
    lanes: int | tuple
    timesteps: int
    encoding: str
    in_bits: int
    in_pack: int
    in_data_bits: int
    acc_bits: int
    out_data_bits: int

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_classes(self) -> int:
        return self.layers[-1].n_out

    def to_dict(self) -> dict:
        return {
            "lanes": self.lanes if isinstance(self.lanes, int) else lanes_value(self.lanes),
            "timesteps": self.timesteps,
            "encoding": self.encoding,
            "in_bits": self.in_bits,
            "in_pack": self.in_pack,
            "n_in": self.n_in,
            "n_classes": self.n_classes,
            "in_data_bits": self.in_data_bits,
            "acc_bits": self.acc_bits,
            "out_data_bits": self.out_data_bits,
            "cycle_bits": CYCLE_BITS,
            "layers": [layer.to_dict() for layer in self.layers],
        }


def plan_core(net: QuantizedNetwork, *, lanes, spram=None, in_pack: int = 1,
              budget=None, dsp: int | None = None, mac8x8: bool = False,
              bram_outreg: bool | str | int = False, tree_levels: int | None = None) -> CorePlan:
    """Derive the :class:`CorePlan` of ``net`` for ``lanes`` weights per cycle.

    ``lanes``: any form :func:`.lanes.resolve_lanes` accepts (``budget``: the resources
    ``"auto"`` plans for). ``spram``: ``{layer: {memory: banks}}``, the conv layers' state
    memories placed in single-port RAM (:func:`check_spram`); None: none. ``in_pack``: see
    :mod:`.input_pack`. ``dsp``: at most this many products in DSP blocks (the device's count),
    the rest in logic (:attr:`LayerPlan.logic_lanes`); None: every product a multiply.
    ``mac8x8``: two products a DSP block, SB_MAC16 instances (iCE40; :mod:`.sb_mac16`).
    ``bram_outreg``: block-RAM weight memories as DP16KD with the output register (ECP5;
    True: where that takes no more blocks, ``"always"``: all, an int: a block budget;
    :func:`.dp16kd.place_outreg`); set, it also puts a skid before every layer. ``tree_levels``:
    adder-tree levels a register; None: :func:`.adder_tree.tree_levels_for`. Raises TypeError
    when ``net`` is not a QuantizedNetwork, ValueError when ``lanes`` is not an integer in
    ``[1, MAX_LANES]`` (or a valid per-layer list), or ``dsp`` or ``tree_levels`` is out of
    range, or ``mac8x8`` meets wider products.
    """
    if not isinstance(net, QuantizedNetwork):
        raise TypeError(f"net must be a QuantizedNetwork, not {type(net).__name__}")
    spec = net.spec
    spec.require("the network core", EXTENSIONS)
    in_pack = check_in_pack(spec, in_pack)
    per = tree_levels_for(tree_levels, bram_outreg)
    items = resolve_lanes(net, lanes, budget=budget, in_pack=in_pack)
    uniform = len(set(items)) == 1 and items[0][1] == 1
    placed = check_spram(net, spram)
    check_conv_order(spec)
    direct = spec.encoding == "direct"
    acc_bits = net.acc_bits()
    layers = []
    for i, layer in enumerate(spec.layers):
        readout = layer.neuron is None
        last = i == len(spec.layers) - 1
        lanes, mask = items[i]
        geo = None if layer.conv is None else ConvGeometry(layer.conv, lanes)
        layers.append(
            LayerPlan(
                index=i,
                n_in=layer.n_in,
                n_out=layer.n_out,
                lanes=lanes,
                groups=-(-layer.n_out // lanes) if geo is None else geo.rows,
                w_bits=layer.w_bits,
                b_bits=layer.b_bits,
                cur_bits=net.current_bits(i),
                state_bits=acc_bits if readout else layer.neuron.v_bits,
                value_bits=spec.in_bits if (direct and i == 0) else 0,
                repeat=direct and i == 0,
                neuron=layer.neuron,
                weights=net.weights[i],
                biases=net.biases[i],
                last=last,
                acc_bits=acc_bits if last else 0,
                conv=layer.conv,
                next_conv=None if last else spec.layers[i + 1].conv,
                spram=placed.get(i, ()),
                mask=mask,
                next_mask=1 if last else items[i + 1][1],
                tree_levels=per,
                skid=bool(bram_outreg),
            )
        )
    if dsp is not None or mac8x8:
        layers = _lanes.place_products(layers, dsp, mac8x8)
    layers = place_outreg(layers, bram_outreg)
    in_data_bits = spec.in_bits * in_pack if direct else layers[0].in_index_bits
    n_classes = spec.n_classes
    out_data_bits = max(acc_bits, CYCLE_BITS, unsigned_width(n_classes - 1))
    return CorePlan(
        layers=tuple(layers),
        lanes=items[0][0] if uniform else items,
        timesteps=spec.timesteps,
        encoding=spec.encoding,
        in_bits=spec.in_bits,
        in_pack=in_pack,
        in_data_bits=in_data_bits,
        acc_bits=acc_bits,
        out_data_bits=out_data_bits,
    )
