"""golden.run_network with the named extensions against an independent scalar reading.

The reference restates docs/semantics.md ("Named extensions") with Python ints, one neuron
and one sample at a time: explicit loops for the convolution and the pooling, the leak,
threshold, reset and synapse written out per mode. Hypothesis draws networks that mix
conv (stride, padding, pooling) and dense layers, every neuron mode and both readouts.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.spec import ConvSpec, LayerSpec, LIFSpec, NetworkSpec, SynapseSpec


def _sat(x, bits):
    return max(-(2 ** (bits - 1)), min(2 ** (bits - 1) - 1, x))


def _current(layer, w, b, h):
    """Python-int current of one layer for one sample's inputs ``h`` (a flat list)."""
    c = layer.conv
    if c is None:
        return [sum(int(w[j][i]) * h[i] for i in range(layer.n_in)) + int(b[j])
                for j in range(layer.n_out)]
    oh, ow = c.out_hw
    out = []
    for co in range(c.out_channels):
        for y in range(oh):
            for x in range(ow):
                acc = int(b[co])
                for ci in range(c.in_channels):
                    for ky in range(c.kernel):
                        for kx in range(c.kernel):
                            yy = y * c.stride + ky - c.padding
                            xx = x * c.stride + kx - c.padding
                            if 0 <= yy < c.height and 0 <= xx < c.width:
                                acc += int(w[co][ci][ky][kx]) * h[(ci * c.height + yy) * c.width
                                                                   + xx]
                out.append(acc)
    return out


def _pool(layer, s):
    c = layer.conv
    if c is None or c.pool == 1:
        return s
    oh, ow = c.out_hw
    ph, pw = c.pooled_hw
    out = []
    for ch in range(c.out_channels):
        for py in range(ph):
            for px in range(pw):
                out.append(max(s[(ch * oh + py * c.pool + dy) * ow + px * c.pool + dx]
                               for dy in range(c.pool) for dx in range(c.pool)))
    return out


def _fires(n, v):
    return 1 if (v > n.theta if n.threshold == "gt" else v >= n.theta) else 0


def _neuron(n, cur, v, i):
    """One neuron, one step: returns (spike, exposed v, i)."""
    if n.synapse is not None:
        syn = n.synapse
        i = _sat(i - (i * syn.decay) // 2**syn.decay_bits + cur, syn.i_bits)
        cur = i
    if n.decay is not None:
        leak = (v * n.decay) // 2**n.decay_bits
    elif n.leak_shift is not None:
        leak = v // 2**n.leak_shift
    else:
        leak = 0
    total = v - leak + cur
    if n.reset == "subtract-delayed":
        total -= n.theta * _fires(n, v)
    v = _sat(total, n.v_bits)
    s = _fires(n, v)
    if s and n.reset == "subtract":
        v -= n.theta
    elif s and n.reset == "zero":
        v = 0
    return s, v, i


def reference(net, xs):
    """One sample: xs is [T][n_in]; returns spikes, membranes, synapses, logits, acc, pred."""
    spec = net.spec
    spiking = [ly for ly in spec.layers if ly.neuron is not None]
    v = [[0] * ly.n_out for ly in spiking]
    i = [[0] * ly.n_out for ly in spiking]
    spikes, mems, syns, logits = [], [], [], []
    for t in range(spec.timesteps):
        h = [int(a) for a in xs[t]]
        st_s, st_v, st_i = [], [], []
        for li, layer in enumerate(spec.layers):
            cur = _current(layer, net.weights[li], net.biases[li], h)
            if layer.neuron is None:
                logits.append(cur)
                break
            out = []
            for j in range(layer.n_out):
                s, v[li][j], i[li][j] = _neuron(layer.neuron, cur[j], v[li][j], i[li][j])
                out.append(s)
            st_s.append(out)
            st_v.append(list(v[li]))
            st_i.append(list(i[li]))
            h = _pool(layer, out)
        else:
            logits.append(list(st_s[-1]))
        spikes.append(st_s)
        mems.append(st_v)
        syns.append(st_i)
    acc = [sum(col) for col in zip(*logits, strict=True)]
    return spikes, mems, syns, logits, acc, acc.index(max(acc))


@st.composite
def neurons(draw):
    v_bits = draw(st.integers(3, 12))
    threshold = draw(st.sampled_from(["ge", "gt"]))
    theta = draw(st.integers(1, 2 ** (v_bits - 1) - 1 - (threshold == "gt")))
    leak = draw(st.sampled_from(["none", "shift", "decay"]))
    kw = {}
    if leak == "shift":
        kw["leak_shift"] = draw(st.integers(0, v_bits - 1))
    else:
        kw["leak_shift"] = None
    if leak == "decay":
        q = draw(st.integers(1, 8))
        kw.update(decay=draw(st.integers(0, 2**q)), decay_bits=q)
    if draw(st.booleans()):
        q = draw(st.integers(1, 8))
        kw["synapse"] = SynapseSpec(i_bits=draw(st.integers(3, 12)),
                                    decay=draw(st.integers(0, 2**q)), decay_bits=q)
    return LIFSpec(v_bits=v_bits, theta=theta, threshold=threshold,
                   reset=draw(st.sampled_from(["subtract", "zero", "subtract-delayed"])), **kw)


@st.composite
def networks(draw):
    encoding = draw(st.sampled_from(["direct", "spikes"]))
    in_bits = draw(st.integers(1, 4)) if encoding == "direct" else 1
    layers = []
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(2, 6)), draw(st.integers(2, 6))
    n = c * h * w
    for _ in range(draw(st.integers(0, 2))):
        k = draw(st.integers(1, min(3, h, w)))
        pad = draw(st.integers(0, k - 1))
        conv = ConvSpec(c, h, w, draw(st.integers(1, 3)), k, stride=draw(st.integers(1, 2)),
                        padding=pad)
        oh, ow = conv.out_hw
        pool = draw(st.integers(1, max(1, min(2, oh, ow))))
        conv = ConvSpec(c, h, w, conv.out_channels, k, conv.stride, pad, pool)
        layers.append(LayerSpec(conv.n_in, conv.n_out, w_bits=draw(st.integers(2, 6)),
                                b_bits=draw(st.integers(2, 8)), neuron=draw(neurons()),
                                conv=conv))
        c, (h, w) = conv.out_channels, conv.pooled_hw
        n = conv.n_pooled
    sizes = [n] + draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    readout = draw(st.sampled_from(["current", "spikes"]))
    for j in range(len(sizes) - 1):
        last = j == len(sizes) - 2
        neuron = None if last and readout == "current" else draw(neurons())
        layers.append(LayerSpec(sizes[j], sizes[j + 1], w_bits=draw(st.integers(2, 6)),
                                b_bits=draw(st.integers(2, 8)), neuron=neuron))
    spec = NetworkSpec(tuple(layers), timesteps=draw(st.integers(1, 5)), encoding=encoding,
                       in_bits=in_bits, readout=readout)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ws = [rng.integers(-(2 ** (ly.w_bits - 1)), 2 ** (ly.w_bits - 1), ly.weight_shape)
          for ly in layers]
    bs = [rng.integers(-(2 ** (ly.b_bits - 1)), 2 ** (ly.b_bits - 1), ly.bias_shape)
          for ly in layers]
    net = QuantizedNetwork(spec, ws, bs)
    batch = draw(st.integers(1, 3))
    if encoding == "direct":
        x = rng.integers(0, 2**in_bits, (batch, spec.n_in))
        xs = np.broadcast_to(x, (spec.timesteps, *x.shape))
    else:
        x = xs = rng.integers(0, 2, (spec.timesteps, batch, spec.n_in))
    return net, x, xs


@settings(max_examples=250, deadline=None)
@given(networks())
def test_extensions_match_the_scalar_reference(case):
    net, x, xs = case
    r = run_network(net, x)
    for b in range(xs.shape[1]):
        spikes, mems, syns, logits, acc, pred = reference(net, xs[:, b])
        spiking = [ly for ly in net.spec.layers if ly.neuron is not None]
        for li, layer in enumerate(spiking):
            assert_array_equal(r.spikes[li][:, b], [s[li] for s in spikes])
            assert_array_equal(r.membranes[li][:, b], [m[li] for m in mems])
            if layer.neuron.synapse is None:
                assert r.synapses[li] is None
            else:
                assert_array_equal(r.synapses[li][:, b], [i[li] for i in syns])
        assert_array_equal(r.logits[:, b], logits)
        assert_array_equal(r.acc[b], acc)
        assert r.prediction[b] == pred


def test_decay_equal_to_a_shift_is_v1_bit_for_bit():
    """``decay = 2**(q-k)`` is v1's ``v >> k`` leak: same spikes and membranes."""
    rng = np.random.default_rng(3)
    w = rng.integers(-60, 60, (7, 5))
    b = rng.integers(-20, 20, 7)
    ro_w, ro_b = rng.integers(-8, 8, (3, 7)), rng.integers(-8, 8, 3)

    def net(neuron):
        spec = NetworkSpec((LayerSpec(5, 7, 8, 8, neuron), LayerSpec(7, 3, 8, 8)),
                           timesteps=9, encoding="direct", in_bits=4)
        return QuantizedNetwork(spec, [w, ro_w], [b, ro_b])

    x = rng.integers(0, 16, (40, 5))
    v1 = run_network(net(LIFSpec(9, 50, 3, "subtract")), x)
    dec = run_network(net(LIFSpec(9, 50, None, "subtract", decay=2 ** 7, decay_bits=10)), x)
    assert net(LIFSpec(9, 50, None, "subtract", decay=128, decay_bits=10)).spec.semantics \
        == "v1+decay"
    assert_array_equal(v1.spikes[0], dec.spikes[0])
    assert_array_equal(v1.membranes[0], dec.membranes[0])
    assert 0 < v1.spikes[0].mean() < 1


def test_compare_rtl_checks_synaptic_currents():
    """An RTL result of a cuba network is compared on its synaptic currents too."""
    from spikefab.golden import compare_rtl

    spec = NetworkSpec((LayerSpec(5, 6, 6, 8, LIFSpec(10, 30, None, decay=100,
                                                      synapse=SynapseSpec(12, 900))),
                        LayerSpec(6, 3, 6, 8)), timesteps=4, encoding="direct", in_bits=3)
    rng = np.random.default_rng(1)
    net = QuantizedNetwork(spec, [rng.integers(-32, 32, (6, 5)), rng.integers(-32, 32, (3, 6))],
                           [rng.integers(-60, 60, 6), rng.integers(-60, 60, 3)])
    gold = run_network(net, rng.integers(0, 8, (9, 5)))
    rtl = {"prediction": gold.prediction.copy(), "acc": gold.acc.copy(),
           "logits": gold.logits.copy(), "spikes": [s.copy() for s in gold.spikes],
           "membranes": [m.copy() for m in gold.membranes],
           "synapses": [s.copy() for s in gold.synapses]}
    assert compare_rtl(gold, rtl)["trace_compared"] == ["logits", "spikes", "membranes",
                                                        "synapses"]
    rtl["synapses"][0][2, 4, 1] += 1
    out = compare_rtl(gold, rtl)
    assert (out["matching"], out["trace_mismatches"]) == (9, 1)
