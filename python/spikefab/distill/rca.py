"""Relational consistency alignment (STARS' RCA; the similarity-preserving form, [inferred]).

research/kd_methods.md §6.2: with rows L2-normalised, ``G = N(F) N(F)^T`` is the ``B x B``
cosine Gram matrix of a batch's features, and::

    L_RCA = mean_{i,j} (G^T_ij - G^S_ij)^2

Teacher and student features may have different widths (``[B, D_T]`` vs ``[B, D_S]``);
only the batch relations are compared. Zero when the features are equal or rescaled per
row; symmetric; invariant to a joint permutation of the batch; the diagonal (always 1)
contributes nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .common import to_tensor

__all__ = ["cosine_gram", "rca_loss"]


def cosine_gram(f: torch.Tensor) -> torch.Tensor:
    """``[B, B]`` cosine similarities of the rows of ``f [B, ...]`` (flattened)."""
    n = F.normalize(f.flatten(1), dim=1, eps=1e-8)
    return n @ n.T


def rca_loss(teacher_features, student_features) -> torch.Tensor:
    """Mean squared difference of the two batch Gram matrices (teacher side detached)."""
    ft = to_tensor("rca_loss", "teacher_features", teacher_features)
    fs = to_tensor("rca_loss", "student_features", student_features)
    if ft.ndim < 2 or fs.ndim < 2 or ft.shape[0] != fs.shape[0]:
        raise ValueError(
            f"rca_loss: teacher_features and student_features must be [B, ...] with the same "
            f"B, not {list(ft.shape)} and {list(fs.shape)}"
        )
    return (cosine_gram(ft.detach()) - cosine_gram(fs)).pow(2).mean()
