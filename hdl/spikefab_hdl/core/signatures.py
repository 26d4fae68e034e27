"""Payload layouts and signatures shared by the core's blocks.

* An *event* is one input to a layer: ``index`` (which input), ``value`` (its
  multi-bit value, only for a direct first layer), ``mask`` (only into a layer taking
  spike masks ``K`` wide, :mod:`.lanes`: ``index`` is then a chunk ``c`` and bit ``k``
  of ``mask`` says input ``c*K + k`` spiked) and ``eos`` (end of step: the beat carries
  no input, it closes the step).
* A *trace* port is ``valid`` + ``payload`` with no ``ready``: the core never waits
  for it. One beat per neuron group per step: ``step``, ``group``, ``spikes`` (one bit
  per lane), ``values`` (per lane: the membrane a spiking layer exposes, the current
  ``I`` = per-step logit for the summing readout) and, for a ``cuba`` layer,
  ``synapses`` (per lane: the synaptic current after the step).
"""

from __future__ import annotations

from amaranth import signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from .plan import CorePlan, LayerPlan

__all__ = [
    "event_layout",
    "layer_event_layout",
    "acc_layout",
    "input_layout",
    "output_layout",
    "trace_layout",
    "TraceSignature",
    "refuse",
]


def refuse(component, error: Exception) -> Exception:
    """Mark a half-built ``component`` as deliberately unused and return ``error`` to raise.

    A constructor that rejects its arguments raises before the Component exists;
    without this, Amaranth's unused-elaboratable check fails on the half-built object.
    """
    component._MustUse__silence = True
    return error


def event_layout(index_bits: int, value_bits: int = 0, mask: int = 1) -> data.StructLayout:
    """``{index, [value], [mask], eos}``; ``value`` only when ``value_bits`` > 0, ``mask``
    only when ``mask`` > 1."""
    fields = {"index": unsigned(index_bits)}
    if value_bits:
        fields["value"] = unsigned(value_bits)
    if mask > 1:
        fields["mask"] = unsigned(mask)
    fields["eos"] = unsigned(1)
    return data.StructLayout(fields)


def layer_event_layout(layer: LayerPlan) -> data.StructLayout:
    """Layout of the events entering ``layer``."""
    if layer.value_bits:  # a direct layer: K values a chunk (mask K), no mask field
        return event_layout(layer.in_index_bits, layer.value_bits * layer.mask)
    return event_layout(layer.in_index_bits, layer.value_bits, layer.mask)


def acc_layout(acc_bits: int) -> data.StructLayout:
    """One readout accumulator ``{data, last}``; ``last`` marks the final class."""
    return data.StructLayout({"data": signed(acc_bits), "last": unsigned(1)})


def input_layout(plan: CorePlan) -> data.StructLayout:
    """The core's input beat ``{data, eos}`` (see docs/core.md for the two encodings)."""
    return data.StructLayout({"data": unsigned(plan.in_data_bits), "eos": unsigned(1)})


def output_layout(plan: CorePlan) -> data.StructLayout:
    """The core's output beat ``{data, last}``: accumulators, prediction, cycle count."""
    return data.StructLayout({"data": unsigned(plan.out_data_bits), "last": unsigned(1)})


def trace_layout(layer: LayerPlan, timesteps: int) -> data.StructLayout:
    """One trace beat of ``layer``: ``{step, group, spikes, values[, synapses]}``."""
    value_bits = layer.cur_bits if layer.is_readout else layer.state_bits
    fields = {
        "step": unsigned(max(1, (timesteps - 1).bit_length())),
        "group": unsigned(max(1, (layer.groups - 1).bit_length())),
        "spikes": unsigned(layer.lanes),
        "values": data.ArrayLayout(signed(value_bits), layer.lanes),
    }
    if layer.neuron is not None and layer.neuron.synapse is not None:
        fields["synapses"] = data.ArrayLayout(signed(layer.neuron.synapse.i_bits), layer.lanes)
    return data.StructLayout(fields)


class TraceSignature(wiring.Signature):
    """``valid: Out(1)``, ``payload: Out(layout)``; no backpressure."""

    def __init__(self, layout: data.StructLayout):
        self._layout = layout
        super().__init__({"valid": Out(1), "payload": Out(layout)})

    def __eq__(self, other):
        return isinstance(other, TraceSignature) and other._layout == self._layout

    def __hash__(self):
        return hash(("TraceSignature", repr(self._layout)))

    def __repr__(self):
        return f"TraceSignature({self._layout!r})"

