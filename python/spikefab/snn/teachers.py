"""ANN teachers for distillation: an MLP (optionally with BatchNorm) and a small BN CNN with CAM.

Teachers take the same inputs as the students: flat pixels ``[B, n_in]`` in [0, 1] (the
CNN reshapes them to ``image_shape``) or images ``[B, C, H, W]``. ``freeze(teacher)`` puts a
teacher in eval mode and turns off its gradients; every distillation method expects that
(research/kd_methods.md §4.2: the public CKDSNN code left it in train mode, we do not).

``CNNTeacher.cam(x)`` is the class activation map of the predicted class (Zhou et al. 2016)
as in the public CKDSNN code::

    M[b] = ReLU( sum_d W_fc[y_hat_b, d] * F[b, d] )     F: last conv stage [B, D, H, W]

With a global-average-pool + linear head, Grad-CAM's channel weights are ``W_fc[y_hat] / (H*W)``,
so Grad-CAM is CAM scaled by ``1/(H*W)``: after SAMD's min-max normalisation they coincide.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..fixed import is_int

__all__ = ["MLPTeacher", "CNNTeacher", "ConvBNTeacher", "freeze", "recompute_bn_stats",
           "train_teacher"]


def _check_sizes(owner: str, name: str, sizes, min_len: int) -> tuple[int, ...]:
    ok = isinstance(sizes, Sequence) and not isinstance(sizes, str) and len(sizes) >= min_len
    ok = ok and all(is_int(n) and n >= 1 for n in sizes)
    if not ok:
        raise ValueError(
            f"{owner}.{name} must be a sequence of >= {min_len} positive integers, not {sizes!r}"
        )
    return tuple(int(n) for n in sizes)


class MLPTeacher(nn.Module):
    """ReLU MLP ``sizes[0] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : sequence of int
        Widths, input first, classes last (e.g. ``(784, 256, 256, 10)``).
    batch_norm : bool
        A ``BatchNorm1d`` before every hidden ReLU (needed by DeepInversion/STARS synthesis).
    dropout : float
        Dropout after every hidden ReLU (0 by default).
    """

    def __init__(self, sizes: Sequence[int], *, batch_norm: bool = False, dropout: float = 0.0):
        super().__init__()
        self.sizes = _check_sizes("MLPTeacher", "sizes", sizes, 2)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(self.sizes) - 2:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(b))
                layers.append(nn.ReLU())
                if dropout:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]`` of ``x`` ``[B, n_in]`` (or any ``[B, ...]``, flattened)."""
        return self.net(x.flatten(1))

    def features(self, x: torch.Tensor):
        """``(logits, penultimate activations [B, D])``."""
        h = x.flatten(1)
        for layer in self.net[:-1]:
            h = layer(h)
        return self.net[-1](h), h


class CNNTeacher(nn.Module):
    """Conv-BN-ReLU-maxpool stages, global average pool, linear head.

    Parameters
    ----------
    image_shape : (int, int, int)
        ``(channels, height, width)`` of one input image, e.g. ``(1, 28, 28)``.
    channels : sequence of int
        Output channels of each stage (default ``(32, 64)``); each stage halves H and W.
    n_classes : int
        Number of classes.
    """

    def __init__(self, image_shape: Sequence[int] = (1, 28, 28),
                 channels: Sequence[int] = (32, 64), n_classes: int = 10):
        super().__init__()
        self.image_shape = _check_sizes("CNNTeacher", "image_shape", image_shape, 3)
        if len(self.image_shape) != 3:
            raise ValueError(f"CNNTeacher.image_shape must be (C, H, W), not {image_shape!r}")
        self.channels = _check_sizes("CNNTeacher", "channels", channels, 1)
        n_classes = _check_sizes("CNNTeacher", "n_classes", (n_classes,), 1)[0]
        stages, c_in = [], self.image_shape[0]
        for c in self.channels:
            stages += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in = c
        self.body = nn.Sequential(*stages)
        self.fc = nn.Linear(c_in, n_classes)

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], *self.image_shape) if x.ndim == 2 else x

    def features(self, x: torch.Tensor):
        """``(logits [B, C], last-stage feature map [B, D, H, W])``."""
        fmap = self.body(self._images(x))
        return self.fc(fmap.mean(dim=(2, 3))), fmap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]`` of flat ``[B, C*H*W]`` or image ``[B, C, H, W]`` inputs."""
        return self.features(x)[0]

    def cam(self, x: torch.Tensor, classes: torch.Tensor | None = None):
        """``(logits, CAM [B, H, W])`` of ``classes`` (default: the predicted class), no grad."""
        with torch.no_grad():
            logits, fmap = self.features(x)
            cls = logits.argmax(-1) if classes is None else classes
            w = self.fc.weight[cls]  # [B, D]
            cam = F.relu(torch.einsum("bd,bdhw->bhw", w, fmap))
        return logits, cam


class ConvBNTeacher(nn.Module):
    """Conv-BN-ReLU-maxpool stages, flatten, Linear-BN-ReLU hidden layers, linear head.

    The teacher of data-free distillation (STARS): a BatchNorm after every convolution and
    every hidden linear layer (their running statistics are what synthesis matches), and a
    flattening head rather than a global average pool, so that the statistics pin where the
    strokes are, not only what they look like (a dense student is not shift-invariant).

    Parameters
    ----------
    image_shape : (int, int, int)
        ``(channels, height, width)`` of one input image.
    channels : sequence of int
        Output channels of each 3x3 stage (default ``(8, 16)``); each stage halves H and W.
    hidden : sequence of int
        Widths of the hidden linear layers (default ``(128,)``; may be empty).
    n_classes : int
    """

    def __init__(self, image_shape: Sequence[int] = (1, 28, 28),
                 channels: Sequence[int] = (8, 16), hidden: Sequence[int] = (128,),
                 n_classes: int = 10):
        super().__init__()
        self.image_shape = _check_sizes("ConvBNTeacher", "image_shape", image_shape, 3)
        if len(self.image_shape) != 3:
            raise ValueError(f"ConvBNTeacher.image_shape must be (C, H, W), not {image_shape!r}")
        self.channels = _check_sizes("ConvBNTeacher", "channels", channels, 1)
        self.hidden = _check_sizes("ConvBNTeacher", "hidden", hidden, 0)
        n_classes = _check_sizes("ConvBNTeacher", "n_classes", (n_classes,), 1)[0]
        layers: list[nn.Module] = []
        c_in, (_, h, w) = self.image_shape[0], self.image_shape
        for c in self.channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(), nn.MaxPool2d(2)]
            c_in, h, w = c, h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"ConvBNTeacher.channels has {len(self.channels)} stages, too "
                             f"many for a {self.image_shape[1]}x{self.image_shape[2]} image")
        layers.append(nn.Flatten())
        width = c_in * h * w
        for n in self.hidden:
            layers += [nn.Linear(width, n, bias=False), nn.BatchNorm1d(n), nn.ReLU()]
            width = n
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]`` of flat ``[B, C*H*W]`` or image ``[B, C, H, W]`` inputs."""
        return self.net(x.view(x.shape[0], *self.image_shape) if x.ndim == 2 else x)


def freeze(teacher: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` on every parameter; returns ``teacher``."""
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def train_teacher(teacher: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int = 30,
                  batch_size: int = 128, lr: float = 2e-3, weight_decay: float = 1e-4,
                  seed: int = 0, augment_shift: int = 0,
                  image_shape: Sequence[int] | None = None,
                  recalibrate_bn: bool = False) -> nn.Module:
    """Train an ANN teacher (AdamW, one-cycle lr) on ``(x, y)``, then :func:`freeze` it.

    ``augment_shift > 0`` rolls each training image by up to that many pixels (needs
    ``image_shape``), a cheap augmentation that makes a small-data teacher stronger.
    ``recalibrate_bn`` then recomputes every BatchNorm's running statistics on the
    unshifted ``x`` (:func:`recompute_bn_stats`): the accuracy of the shifted training, the
    statistics of centred images (what data-free synthesis inverts).
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(teacher.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(y) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    teacher.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), batch_size):
            idx = order[start:start + batch_size]
            xb = x[idx]
            if augment_shift:
                xb = random_shift(xb, augment_shift, image_shape, gen)
            loss = F.cross_entropy(teacher(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    if recalibrate_bn:
        recompute_bn_stats(teacher, x)
    return freeze(teacher)


def recompute_bn_stats(model: nn.Module, x: torch.Tensor, *, batch_size: int = 500) -> nn.Module:
    """Recompute the running statistics of every BatchNorm of ``model`` on ``x``.

    The equal-weight average over the batches of ``x`` in order (``momentum=None``,
    ``torch.optim.swa_utils.update_bn``), no gradient; the weights do not change. Returns
    ``model`` in eval mode.
    """
    batches = [x[i:i + batch_size] for i in range(0, len(x), batch_size)]
    with torch.no_grad():
        torch.optim.swa_utils.update_bn(batches, model)
    return model.eval()


def random_shift(x: torch.Tensor, shift: int, image_shape, gen: torch.Generator) -> torch.Tensor:
    """Roll the whole batch of flat images by one random ``(dy, dx)`` in ``[-shift, shift]``."""
    if image_shape is None:
        raise ValueError("random_shift image_shape must be given when shift > 0, not None")
    dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=gen))
    img = x.view(x.shape[0], *image_shape)
    return torch.roll(img, shifts=(dy, dx), dims=(-2, -1)).reshape(x.shape)
