"""SpikingCNN: conv LIF stages and a dense non-spiking readout, in floats.

Each stage is ``conv3x3 -> LIF -> maxpool 2`` (max-pooling binary spikes is an OR, so the
pooled features stay spikes); the readout is a linear layer on the flattened last stage whose
per-step current is the logit, as in ``SpikingMLP`` (DESIGN §2: the last layer does not spike).
For t = 0 ... T-1, stage l sees stage l-1's pooled spikes of the same step.

Inputs: flat ``[B, C*H*W]`` or images ``[B, C, H, W]`` (direct encoding: the same x every step,
so the first convolution is computed once), or spikes ``[T, B, C*H*W]`` / ``[T, B, C, H, W]``.
``forward(x, return_hidden=True)`` also returns each stage's pooled feature spikes
``[T, B, C_l, H_l, W_l]`` (the last one is what SAMD distils). ``engine`` picks the time
loop as in ``SpikingMLP`` (``snn.fused``; default ``"fused"``, ``"loop"`` is the per-step
reference below).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..fixed import is_int
from ..spec import ConvSpec
from .fused import check_engine
from .fused_cnn import cnn_forward
from .lif import LIF, check_neuron_args, check_timesteps
from .surrogate import SLOPE

__all__ = ["SpikingCNN"]


def _positive_ints(name: str, value, length: int | None = None) -> tuple[int, ...]:
    ok = isinstance(value, Sequence) and not isinstance(value, str) and len(value) >= 1
    ok = ok and (length is None or len(value) == length)
    ok = ok and all(is_int(n) and n >= 1 for n in value)
    if not ok:
        what = f"{length} positive integers" if length else "a sequence of positive integers"
        raise ValueError(f"SpikingCNN {name} must be {what}, not {value!r}")
    return tuple(int(n) for n in value)


class SpikingCNN(nn.Module):
    """Float spiking CNN student returning per-step logits ``[T, B, C]``.

    Parameters
    ----------
    image_shape : (int, int, int)
        ``(channels, height, width)`` of one image, e.g. ``(1, 28, 28)``.
    channels : sequence of int
        Output channels per stage (default ``(8, 16)``); each stage halves H and W (floor).
    n_classes : int
        Number of classes.
    timesteps, leak_shift, theta, reset, slope, engine :
        As ``SpikingMLP`` (``beta = 1 - 2**-leak_shift``).

    Attributes
    ----------
    convs : nn.ModuleList of nn.Conv2d
    lifs : nn.ModuleList of LIF
    readout : nn.Linear
    """

    def __init__(self, image_shape: Sequence[int] = (1, 28, 28),
                 channels: Sequence[int] = (8, 16), n_classes: int = 10, *,
                 timesteps: int = 4, leak_shift: int | None = 3, theta: float = 1.0,
                 reset: str = "subtract", slope: float = SLOPE, engine: str = "fused"):
        super().__init__()
        self.engine = check_engine("SpikingCNN", engine)
        self.image_shape = _positive_ints("image_shape", image_shape, 3)
        self.channels = _positive_ints("channels", channels)
        self.n_classes = _positive_ints("n_classes", (n_classes,), 1)[0]
        self.timesteps = check_timesteps("SpikingCNN", timesteps)
        leak_shift = check_neuron_args("SpikingCNN", theta=theta, reset=reset,
                                       leak_shift=leak_shift)
        c, h, w = self.image_shape
        convs = []
        for out in self.channels:
            if h < 2 or w < 2:
                raise ValueError(
                    f"SpikingCNN channels has {len(self.channels)} stages, too many for "
                    f"image_shape {list(self.image_shape)} (each stage halves H and W)"
                )
            convs.append(nn.Conv2d(c, out, 3, padding=1))
            c, h, w = out, h // 2, w // 2
        self.convs = nn.ModuleList(convs)
        self.lifs = nn.ModuleList(
            LIF(leak_shift=leak_shift, theta=theta, reset=reset, slope=slope) for _ in convs
        )
        self.pool = nn.MaxPool2d(2)
        self.feature_shape = (c, h, w)
        self.readout = nn.Linear(c * h * w, self.n_classes)

    @property
    def n_in(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    def conv_specs(self) -> tuple[ConvSpec, ...]:
        """Each stage as the integer semantics' ``ConvSpec`` (3x3, stride 1, padding 1, pool
        2): the shapes quantization writes into the IR."""
        specs, (c, h, w) = [], self.image_shape
        for conv in self.convs:
            specs.append(ConvSpec(c, h, w, conv.out_channels, 3, 1, 1, pool=2))
            c, h, w = conv.out_channels, h // 2, w // 2
        return tuple(specs)

    @property
    def spiking_lifs(self) -> list:
        """Every neuron stage (one per conv stage; the readout does not spike)."""
        return list(self.lifs)

    def _as_images(self, x) -> tuple[torch.Tensor, bool]:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SpikingCNN input must be a torch.Tensor, not {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"SpikingCNN input must be floating point, not {x.dtype}")
        shape = list(x.shape)
        img = list(self.image_shape)
        if x.ndim == 2 and shape[1] == self.n_in:
            return x.view(shape[0], *img), False
        if x.ndim == 4 and shape[1:] == img:
            return x, False
        if x.ndim == 3 and shape[0] == self.timesteps and shape[2] == self.n_in:
            return x.view(shape[0], shape[1], *img), True
        if x.ndim == 5 and shape[0] == self.timesteps and shape[2:] == img:
            return x, True
        raise ValueError(
            f"SpikingCNN input must have shape [B, {self.n_in}], [B, {', '.join(map(str, img))}]"
            f" or the same with a leading T={self.timesteps}, not {shape}"
        )

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        """Run ``T`` steps.

        Returns
        -------
        logits : torch.Tensor ``[T, B, C]``
        hidden : list of ``[T, B, C_l, H_l, W_l]`` pooled feature spikes per stage
            (only with ``return_hidden=True``)
        """
        x, spikes = self._as_images(x)
        if check_engine("SpikingCNN", self.engine) != "loop":
            return cnn_forward(self, x, spikes, return_hidden)
        first = None if spikes else self.convs[0](x)
        vs = [None] * len(self.convs)
        logits, hidden = [], [[] for _ in self.convs]
        for t in range(self.timesteps):
            h = x[t] if first is None else None
            for i, lif in enumerate(self.lifs):
                cur = first if i == 0 and first is not None else self.convs[i](h)
                s, vs[i] = lif(cur, vs[i])
                h = self.pool(s)
                hidden[i].append(h)
            logits.append(self.readout(h.flatten(1)))
        out = torch.stack(logits)
        if return_hidden:
            return out, [torch.stack(s) for s in hidden]
        return out

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """``argmax`` over classes of the logits summed over time, ``[B]`` int64."""
        with torch.no_grad():
            return self(x).sum(0).argmax(1)
