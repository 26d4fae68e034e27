"""NumPy integers are integers wherever an int is accepted (spec, IR, configs, snn
constructors), stored as Python ints so JSON and checkpoints stay plain; bools are still
refused."""

import json

import numpy as np
import pytest
import torch
from spikefab.fixed import is_int, is_number
from spikefab.ir import QuantizedNetwork
from spikefab.nirgraph import ImportModes
from spikefab.run import check_config
from spikefab.snn.cnn import SpikingCNN
from spikefab.snn.lif import LIF, beta_from_leak_shift
from spikefab.snn.mlp import SpikingMLP
from spikefab.snn.qmlp import QSpikingMLP
from spikefab.snn.surrogate import spike
from spikefab.snn.teachers import CNNTeacher, MLPTeacher
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec
from spikefab.train.config import TrainConfig

N = np.int64


def _plain_ints(*values):
    for v in values:
        assert type(v) is int, (v, type(v))


def test_is_int():
    assert [is_int(v) for v in (3, N(3), np.uint8(3), np.int32(-1))] == [True] * 4
    assert [is_int(v) for v in (True, np.bool_(True), 3.0, np.float32(3), "3")] == [False] * 5
    assert is_number(np.float32(0.5)) and is_number(N(2)) and not is_number(np.bool_(False))


def test_spec_accepts_and_stores_python_ints():
    lif = LIFSpec(v_bits=N(8), theta=np.int32(5), leak_shift=np.uint8(2))
    layer = LayerSpec(N(3), N(2), w_bits=np.int16(4), b_bits=N(6), neuron=lif)
    spec = NetworkSpec((layer, LayerSpec(N(2), N(2))), timesteps=N(4), in_bits=N(3))
    _plain_ints(lif.v_bits, lif.theta, lif.leak_shift, layer.n_in, layer.n_out, layer.w_bits,
                layer.b_bits, spec.timesteps, spec.in_bits)
    assert NetworkSpec.from_json(spec.to_json()) == spec
    spikes = NetworkSpec((LayerSpec(2, 2, neuron=LIFSpec()), LayerSpec(2, 2)),
                         encoding="spikes", in_bits=N(1))
    _plain_ints(spikes.in_bits)


@pytest.mark.parametrize("make, message", [
    (lambda: LIFSpec(v_bits=True), "LIFSpec.v_bits must be an integer in [2, 32], not True"),
    (lambda: LIFSpec(leak_shift=np.bool_(True)),
     "LIFSpec.leak_shift must be None or an integer in [0, 16), not np.True_"),
    (lambda: NetworkSpec((LayerSpec(2, 2),), encoding="spikes", in_bits=True),
     "NetworkSpec.in_bits must be 1 when encoding is 'spikes', not True"),
    (lambda: TrainConfig(epochs=True), "TrainConfig.epochs must be an integer in [1, 100000], "
                                       "not True"),
])
def test_bools_are_still_refused(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert str(e.value) == message


def test_ir_meta_with_numpy_scalars_saves(tmp_path):
    spec = NetworkSpec((LayerSpec(2, 2),), timesteps=2)
    net = QuantizedNetwork(spec, [np.eye(2, dtype=int)], [np.zeros(2, int)],
                           {"n_test": N(360), "acc": np.float32(0.5), "ks": [N(1), (N(2),)]})
    assert net.meta == {"n_test": 360, "acc": 0.5, "ks": [1, (2,)]}
    _plain_ints(net.meta["n_test"], net.meta["ks"][0])
    again = QuantizedNetwork.load(net.save(tmp_path / "m"))
    assert again.meta == {"n_test": 360, "acc": 0.5, "ks": [1, [2]]}


def test_train_config_and_run_config():
    tc = TrainConfig(hidden=[N(32)], timesteps=N(4), leak_shift=N(2), epochs=np.int32(3),
                     batch_size=N(16), seed=np.uint32(7), theta=np.float32(0.5), lr=N(1))
    _plain_ints(tc.hidden[0], tc.timesteps, tc.leak_shift, tc.epochs, tc.batch_size, tc.seed)
    assert type(tc.theta) is float and tc.theta == 0.5
    assert TrainConfig.from_dict(json.loads(json.dumps(tc.to_dict()))) == tc
    cfg = check_config({"student": {"timesteps": N(8), "hidden": [N(16)], "theta": N(2)},
                        "hardware": {"lanes": np.uint8(2)}}, default_name="x")
    _plain_ints(cfg["student"]["timesteps"], cfg["student"]["hidden"][0], cfg["hardware"]["lanes"])
    json.dumps(cfg)


def test_snn_constructors():
    m = SpikingMLP([N(4), N(3), N(2)], timesteps=N(3), leak_shift=N(2), theta=N(1))
    _plain_ints(*m.sizes, m.timesteps, m.leak_shift, m.lifs[0].leak_shift)
    assert m(torch.zeros(2, 4)).shape == (3, 2, 2)
    q = QSpikingMLP([N(4), N(3), N(2)], timesteps=N(3), leak_shift=N(2), v_bits=N(10),
                    w_bits=[N(4), N(4)], b_bits=N(8), in_bits=N(4), headroom=N(2))
    _plain_ints(*q.sizes, q.timesteps, q.in_bits, *q.v_bits, *q.w_bits, *q.b_bits,
                *q.leak_shift)
    c = SpikingCNN((N(1), N(8), N(8)), (N(2),), N(3), timesteps=N(2), leak_shift=N(1))
    _plain_ints(*c.image_shape, *c.channels, c.n_classes, c.timesteps)
    _plain_ints(*MLPTeacher([N(4), N(2)]).sizes, *CNNTeacher((N(1), N(8), N(8)), (N(2),), N(3))
                .image_shape)
    assert LIF(leak_shift=N(3)).leak_shift == 3 and beta_from_leak_shift(N(1)) == 0.5
    assert spike(torch.zeros(2), slope=N(5)).shape == (2,)
    assert ImportModes(np.float32(0.5), "value", "gt").dt == 0.5


def test_data_hdl_and_host_helpers_accept_numpy_integers():
    """The helpers outside spec/config take NumPy integers too (bools still refused)."""
    from amaranth import Const
    from spikefab.data import encode_direct, encode_rate
    from spikefab.data.augment import check_shift
    from spikefab.driver.client import Board
    from spikefab.protocol import decode_frame, encode_frame
    from spikefab_hdl.board.uart import uart_divisor
    from spikefab_hdl.core.arith import times

    x = np.full((2, 4), 0.5)
    assert encode_direct(x, N(4)).max() == 8
    assert encode_rate(x, N(3), seed=0).shape == (3, 2, 4)
    assert check_shift("t", N(2), (1, 8, 8)) == 2
    assert uart_divisor(12_000_000, N(1_000_000)) == 12
    assert times(Const(3, 4), N(5)).shape().width >= 4
    assert decode_frame(encode_frame(N(3), b"ab", N(9)))[0].rid == 9
    assert type(Board(None, first_id=N(7)).next_id) is int
    with pytest.raises(ValueError):
        encode_direct(x, True)
