"""1000-way ImageNet outputs summed onto model classes through :func:`detector.data.imagenet.leaf_matrix`.

Shapes: N regions or images, L = 1000 leaves, C model classes (label k + 1 is class k; label 0 background).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mapped_probabilities", "mapped_log_likelihood"]


def mapped_probabilities(logits: Tensor, matrix: Tensor) -> Tensor:
    """1000-way ``logits`` [N, L] → class probabilities [N, C + 1] (``softmax(logits) @ matrix``, rows sum to 1)."""
    return torch.softmax(logits.float(), dim=1) @ matrix.to(logits.device, torch.float32)


def mapped_log_likelihood(logits: Tensor, labels: Tensor, matrix: Tensor) -> Tensor:
    """``log P(label)`` [N] of 1000-way ``logits`` [N, L] under the mapping (the log of the sum of the label's leaves'
    softmax), computed in log space so that a badly wrong prediction still has a gradient. ``labels`` int64 [N] in
    0..C. Labels with no leaf (a class outside the DET vocabulary) raise ``ValueError``."""
    member = matrix.to(logits.device, torch.bool).t()[labels]  # N x L: the label's leaves
    if not bool(member.any(dim=1).all()):
        raise ValueError("a label has no ImageNet leaf under the mapping")
    z = logits.float()
    return torch.logsumexp(z.masked_fill(~member, float("-inf")), dim=1) - torch.logsumexp(z, dim=1)
