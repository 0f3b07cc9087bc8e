"""The 1,000 ImageNet-1k (ILSVRC CLS-LOC) classes and their mapping onto the 200 ILSVRC DET classes.

ImageNet classifiers (the distillation teacher, a distilled GoogLeNet) output 1,000 logits in sorted-WordNet-id order
(PyTorch's ``ImageFolder`` order — not the devkit's ``ILSVRC2014_ID`` order). In the devkit's CLS-LOC hierarchy
(``meta_clsloc.mat``) every DET class is a node; 483 of the 1,000 leaves lie under exactly one DET class (the 118
dog breeds under ``dog``, the ballplayer, groom and scuba diver under ``person``), the other 517 under none. The
probability of a DET class is the sum of its leaves' softmax probabilities; what the other leaves hold is
"no DET class", which a detector reads as background. The table is package data (``imagenet1k_det.tsv``, made by
``scripts/make_imagenet_map.py`` from the devkit file).

Shapes: N regions or images, L = 1000 leaves, C model classes (label k + 1 is class k; label 0 background).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .vocab import Category

__all__ = ["ImageNetClass", "imagenet_classes", "IMAGENET_CLASS_MAP", "leaf_matrix", "mapped_probabilities",
           "mapped_log_likelihood"]

IMAGENET_CLASS_MAP = "imagenet1k"  # ClassifierSpec.class_map: the network's outputs are the 1,000 ImageNet classes


@dataclass(frozen=True)
class ImageNetClass:
    index: int  # position in the 1,000 outputs (sorted WordNet ids)
    wnid: str
    ilsvrc2014_id: int  # the devkit's CLS-LOC id (1..1000), for reference
    det_id: int | None  # the ILSVRC DET class whose subtree holds this leaf, or None
    name: str


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1,000 classes in output order (package data ``imagenet1k_det.tsv``)."""
    text = resources.files("detector.data").joinpath("imagenet1k_det.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")][1:]
    out = tuple(ImageNetClass(int(i), w, int(cid), int(d) or None, n) for i, w, cid, d, n in rows)
    if [c.index for c in out] != list(range(1000)) or [c.wnid for c in out] != sorted(c.wnid for c in out):
        raise RuntimeError("imagenet1k_det.tsv is damaged: expected 1000 rows in sorted-wnid order")
    return out


def leaf_matrix(classes: Sequence[Category]) -> np.ndarray:
    """``float32 [L, C + 1]``: column 0 (background) takes every leaf under none of ``classes``; column k + 1 the
    leaves under ``classes[k]`` (an ILSVRC DET class; classes without a det_id get no leaf). Each row has one 1."""
    col = {c.det_id: k + 1 for k, c in enumerate(classes) if c.det_id is not None}
    m = np.zeros((1000, len(classes) + 1), np.float32)
    for leaf in imagenet_classes():
        m[leaf.index, col.get(leaf.det_id, 0)] = 1.0
    return m


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
