"""Datasets (digits, mnist5k, user arrays) and input encoders. NumPy only, no torch."""

from .augment import epoch_shifts, random_shift
from .datasets import DATASETS, IMAGE_SHAPES, Dataset, from_arrays, load_dataset
from .encode import decode_direct, encode_direct, encode_rate, quantize_input
from .mix import MIX_MODES, mix_pairs

__all__ = [
    "DATASETS",
    "IMAGE_SHAPES",
    "MIX_MODES",
    "Dataset",
    "from_arrays",
    "load_dataset",
    "mix_pairs",
    "decode_direct",
    "encode_direct",
    "encode_rate",
    "epoch_shifts",
    "quantize_input",
    "random_shift",
]
