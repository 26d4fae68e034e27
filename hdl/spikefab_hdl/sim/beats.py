"""Stream beats of the core as plain integers, from the JSON port description alone.

Used by every bench (amaranth.sim, cocotb on Verilator, the host): :func:`input_beats`
turns a sample into the ``i_stream`` payloads, :class:`Recorder` turns the ``o_stream``
and ``trace`` payloads back into arrays shaped like the golden model's
(``spikefab.golden.RunResult``). Nothing here imports Amaranth.
"""

from __future__ import annotations

import numpy as np

from ..core.input_pack import pack_values

__all__ = ["field", "pack", "input_beats", "spike_address", "spike_index", "golden_order",
           "to_signed", "Recorder"]


def to_signed(raw: int, width: int) -> int:
    """Two's complement value of the low ``width`` bits of ``raw``."""
    raw &= (1 << width) - 1
    return raw - (1 << width) if raw >> (width - 1) else raw


def field(raw: int, f: dict):
    """Value of field ``f`` (an entry of a port's ``fields``) in payload ``raw``.

    Array fields (with ``count``) give a list.
    """
    width, signed = f["width"], f["signed"]

    def one(offset):
        v = (raw >> offset) & ((1 << width) - 1)
        return to_signed(v, width) if signed else v

    if "count" in f:
        return [one(f["offset"] + k * width) for k in range(f["count"])]
    return one(f["offset"])


def pack(fields: dict, **values) -> int:
    """Payload integer with the named fields set (others 0)."""
    raw = 0
    for name, value in values.items():
        f = fields[name]
        raw |= (int(value) & ((1 << f["width"]) - 1)) << f["offset"]
    return raw


def spike_address(desc: dict, index):
    """The ``data`` of input spike(s) ``index`` (flat): the index itself, or for a conv first
    layer the packed coordinate ``(c << (yb + xb)) | (y << xb) | x`` (docs/core.md)."""
    conv = desc["plan"]["layers"][0].get("conv")
    index = np.asarray(index, dtype=np.int64)
    if conv is None:
        return index
    h, w = conv["height"], conv["width"]
    _, yb, xb = conv["coord_bits"]
    return ((index // (h * w)) << (yb + xb)) | (((index // w) % h) << xb) | (index % w)


def spike_index(desc: dict, data: int) -> int:
    """The flat input index of a spike beat's ``data`` (the inverse of :func:`spike_address`)."""
    conv = desc["plan"]["layers"][0].get("conv")
    if conv is None:
        return data
    _, yb, xb = conv["coord_bits"]
    c, y, x = data >> (yb + xb), (data >> xb) & ((1 << yb) - 1), data & ((1 << xb) - 1)
    return (c * conv["height"] + y) * conv["width"] + x


def input_beats(desc: dict, x) -> list[int]:
    """``i_stream`` payloads of one sample.

    ``x`` is ``[n_in]`` values (direct) or ``[T, n_in]`` 0/1 (spikes), as one sample of
    what ``spikefab.golden.check_input`` accepts.
    """
    fields = desc["ports"]["i_stream__payload"]["fields"]
    x = np.asarray(x, dtype=np.int64)
    plan = desc["plan"]
    if plan["encoding"] == "direct":
        words = pack_values(x, plan["in_bits"], plan.get("in_pack", 1))
        return [pack(fields, data=v) for v in words]
    beats = []
    for row in x:
        beats += [pack(fields, data=a) for a in spike_address(desc, np.flatnonzero(row)).tolist()]
        beats.append(pack(fields, eos=1))
    return beats


def golden_order(lp: dict, lanes: int) -> np.ndarray:
    """Positions, in a layer's trace (row ``r``, lane ``j`` at ``r * lanes + j``), of its
    neurons in golden's order: neuron ``i`` of a dense layer is ``i``; channel ``c`` at
    position ``pos`` of a conv layer (golden index ``c * P + pos``) is in row
    ``pos * G + c // lanes``, lane ``c % lanes``."""
    conv = lp.get("conv")
    if conv is None:
        return np.arange(lp["n_out"])
    g, positions = conv["channel_groups"], conv["positions"]
    c = np.arange(conv["out_channels"])[:, None]
    pos = np.arange(positions)[None, :]
    return ((pos * g + c // lanes) * lanes + c % lanes).reshape(-1)


class Recorder:
    """Collects a run's output and trace beats and turns them into arrays.

    Parameters
    ----------
    desc : dict
        The core's JSON description.
    n_samples : int
        Number of samples ``B`` of the run.
    """

    def __init__(self, desc: dict, n_samples: int):
        self.desc = desc
        self.plan = desc["plan"]
        self.n_samples = n_samples
        self.out_fields = desc["ports"]["o_stream__payload"]["fields"]
        self.outputs: list[int] = []
        self.traces: dict[int, list[int]] = {lp["index"]: [] for lp in self.plan["layers"]}
        self.trace_fields = {
            lp["index"]: desc["ports"][f"trace__l{lp['index']}__payload"]["fields"]
            for lp in self.plan["layers"]
            if desc["trace"]
        }

    def output(self, raw: int) -> None:
        self.outputs.append(int(raw))

    def trace(self, layer: int, raw: int) -> None:
        self.traces[layer].append(int(raw))

    @property
    def beats_per_result(self) -> int:
        return self.plan["n_classes"] + 2

    def results(self) -> dict:
        """``prediction [B]``, ``acc [B, C]``, ``cycles [B]`` from the output beats.

        Raises
        ------
        AssertionError
            When the beats are not exactly ``B`` well-formed results.
        """
        n, c = self.n_samples, self.plan["n_classes"]
        k = self.beats_per_result
        if len(self.outputs) != n * k:
            raise AssertionError(f"expected {n * k} output beats, got {len(self.outputs)}")
        width = self.out_fields["data"]["width"]
        acc = np.zeros((n, c), np.int64)
        prediction = np.zeros(n, np.int64)
        cycles = np.zeros(n, np.int64)
        for b in range(n):
            beats = self.outputs[b * k : (b + 1) * k]
            lasts = [field(raw, self.out_fields["last"]) for raw in beats]
            if lasts != [0] * (k - 1) + [1]:
                raise AssertionError(f"sample {b}: 'last' flags {lasts}, want only on beat {k - 1}")
            data = [field(raw, self.out_fields["data"]) for raw in beats]
            acc[b] = [to_signed(v, width) for v in data[:c]]
            prediction[b], cycles[b] = data[c], data[c + 1]
        return {"prediction": prediction, "acc": acc, "cycles": cycles}

    def trace_arrays(self) -> dict:
        """The trace as ``[T, B, n]`` arrays shaped like ``spikefab.golden.RunResult``'s:
        ``spikes``/``membranes``/``synapses`` per spiking layer (``synapses`` None unless
        the layer is ``cuba``) and ``logits`` (the summing readout's currents, or the
        spiking readout's spikes).

        Raises
        ------
        AssertionError
            When a layer's beats are not exactly one per group per step per sample in
            order (``step`` and ``group`` fields are checked).
        """
        steps, n = self.plan["timesteps"], self.n_samples
        spikes, membranes, synapses, logits = [], [], [], None
        for lp in self.plan["layers"]:
            idx, groups, n_out = lp["index"], lp["groups"], lp["n_out"]
            beats = self.traces[idx]
            if len(beats) != n * steps * groups:
                raise AssertionError(
                    f"layer {idx}: expected {n * steps * groups} trace beats, got {len(beats)}"
                )
            f = self.trace_fields[idx]
            lanes = f["values"]["count"]
            vals = np.zeros((steps, n, groups * lanes), np.int64)
            syn = np.zeros((steps, n, groups * lanes), np.int64) if "synapses" in f else None
            spk = np.zeros((steps, n, groups * lanes), np.uint8)
            for k, raw in enumerate(beats):
                b, t, g = k // (steps * groups), (k // groups) % steps, k % groups
                got = (field(raw, f["step"]), field(raw, f["group"]))
                if got != (t, g):
                    raise AssertionError(
                        f"layer {idx}: trace beat {k} is (step, group) {got}, want {(t, g)}"
                    )
                vals[t, b, g * lanes : (g + 1) * lanes] = field(raw, f["values"])
                if syn is not None:
                    syn[t, b, g * lanes : (g + 1) * lanes] = field(raw, f["synapses"])
                bits = field(raw, f["spikes"])
                spk[t, b, g * lanes : (g + 1) * lanes] = [(bits >> j) & 1 for j in range(lanes)]
            if lp["readout"]:
                logits = vals[:, :, :n_out]
                continue
            order = golden_order(lp, lanes)
            spikes.append(spk[:, :, order])
            membranes.append(vals[:, :, order])
            synapses.append(None if syn is None else syn[:, :, order])
            if lp.get("spike_readout"):
                logits = spikes[-1].astype(np.int64)
        return {"spikes": spikes, "membranes": membranes, "synapses": synapses,
                "logits": logits}
