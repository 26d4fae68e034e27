"""A 2-D convolution layer's shape (extension ``conv2d``, docs/semantics.md "conv2d").

:class:`ConvSpec` is the part of a :class:`spikefab.spec.LayerSpec` that a conv layer adds:
input and output channels, the input's height and width, kernel, stride, zero padding and
the OR pooling of its spikes. Construction validates every field with a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass

from .neuron import check_int, from_dict

__all__ = [
    "CHANNELS_RANGE", "KERNEL_RANGE", "POOL_RANGE", "SIZE_RANGE", "STRIDE_RANGE", "ConvSpec",
]

#: A layer's fan-in and fan-out, and a conv input's height and width.
SIZE_RANGE = (1, 65536)
KERNEL_RANGE = (1, 15)
STRIDE_RANGE = (1, 8)
POOL_RANGE = (1, 8)
CHANNELS_RANGE = (1, 4096)


@dataclass(frozen=True)
class ConvSpec:
    """The shape of a 2-D convolution layer (extension ``conv2d``).

    The layer maps an input ``[in_channels, height, width]`` (flattened channel-major:
    index ``(c * height + y) * width + x``) to ``[out_channels, out_height, out_width]``
    with square ``kernel``, ``stride`` and zero ``padding``; its spikes are then max-pooled
    (a window's OR) over ``pool x pool`` windows with stride ``pool`` (1: no pooling).

    Parameters
    ----------
    in_channels, height, width : int
        Input shape. Channels in [1, 4096], height and width in [1, 65536].
    out_channels : int
        In [1, 4096].
    kernel : int
        In [1, 15] and at most ``height + 2 * padding`` and ``width + 2 * padding``.
    stride : int
        In [1, 8].
    padding : int
        In [0, kernel - 1].
    pool : int
        In [1, 8] and at most the output height and width.
    """

    in_channels: int
    height: int
    width: int
    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    pool: int = 1
    OPTIONAL = ()

    def __post_init__(self):
        own = "ConvSpec"
        check_int(own, "in_channels", self.in_channels, *CHANNELS_RANGE)
        check_int(own, "height", self.height, *SIZE_RANGE)
        check_int(own, "width", self.width, *SIZE_RANGE)
        check_int(own, "out_channels", self.out_channels, *CHANNELS_RANGE)
        check_int(own, "kernel", self.kernel, *KERNEL_RANGE)
        check_int(own, "stride", self.stride, *STRIDE_RANGE)
        check_int(own, "padding", self.padding, 0, self.kernel - 1)
        for name in ("height", "width"):
            size = getattr(self, name) + 2 * self.padding
            if self.kernel > size:
                raise ValueError(f"{own}.kernel {self.kernel} is larger than the padded input "
                                 f"{name} {size}")
        oh, ow = self.out_hw
        check_int(own, "pool", self.pool, POOL_RANGE[0], min(POOL_RANGE[1], oh, ow))
        for name in ("in_channels", "height", "width", "out_channels", "kernel", "stride",
                     "padding", "pool"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def out_hw(self) -> tuple[int, int]:
        """Output height and width before pooling."""
        k, s, p = self.kernel, self.stride, self.padding
        return (self.height + 2 * p - k) // s + 1, (self.width + 2 * p - k) // s + 1

    @property
    def pooled_hw(self) -> tuple[int, int]:
        """Output height and width after pooling (floor, as torch's max pooling)."""
        oh, ow = self.out_hw
        return oh // self.pool, ow // self.pool

    @property
    def n_in(self) -> int:
        return self.in_channels * self.height * self.width

    @property
    def n_out(self) -> int:
        oh, ow = self.out_hw
        return self.out_channels * oh * ow

    @property
    def n_pooled(self) -> int:
        ph, pw = self.pooled_hw
        return self.out_channels * ph * pw

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in (
            "in_channels", "height", "width", "out_channels", "kernel", "stride", "padding",
            "pool")}

    @classmethod
    def from_dict(cls, data) -> ConvSpec:
        return cls(**from_dict(cls, data, "ConvSpec"))
