"""The 1,000 ImageNet-1k (ILSVRC CLS-LOC) classes and their mapping onto the 200 ILSVRC DET classes.

ImageNet classifiers (the distillation teacher, a distilled GoogLeNet) output 1,000 logits in sorted-WordNet-id order
(PyTorch's ``ImageFolder`` order — not the devkit's ``ILSVRC2014_ID`` order). In the devkit's CLS-LOC hierarchy
(``meta_clsloc.mat``) every DET class is a node; 483 of the 1,000 leaves lie under exactly one DET class (the 118
dog breeds under ``dog``, the ballplayer, groom and scuba diver under ``person``), the other 517 under none. The
probability of a DET class is the sum of its leaves' softmax probabilities; what the other leaves hold is
"no DET class", which a detector reads as background. The table is package data (``imagenet1k_det.tsv``, made by
``scripts/make_imagenet_map.py`` from the devkit file); the sums over network outputs are
:mod:`detector.nn.imagenet_map`'s (this layer reads files without torch).

Shapes: N regions or images, L = 1000 leaves, C model classes (label k + 1 is class k; label 0 background).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np

from .vocab import Category

__all__ = ["ImageNetClass", "imagenet_classes", "IMAGENET_CLASS_MAP", "leaf_matrix"]

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
