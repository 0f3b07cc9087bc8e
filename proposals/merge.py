"""The paper's proposal set: selective-search boxes ∪ the top-N MultiBox boxes, near-duplicates removed, capped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import nms

__all__ = ["MergeConfig", "merge_proposals", "dedupe", "MAX_MULTIBOX_TOP"]

MAX_MULTIBOX_TOP = 100_000  # the largest --multibox-top: far above any MultiBox's outputs (the bundled: 200)


@dataclass(frozen=True)
class MergeConfig:
    multibox_top: int = 200  # the paper added the top 200 MultiBox boxes
    dedupe_iou: float = 0.95  # a box this close to one kept before it adds nothing (our choice)
    max_proposals: int = 2000  # cap on the merged set (R-CNN scored about 2000 boxes per image)


def dedupe(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Indices of ``boxes`` (xyxy [R, 4], in priority order) kept after dropping every box whose IoU with an
    earlier kept box is ≥ ``iou``; order preserved."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    b = torch.as_tensor(np.asarray(boxes, np.float32))
    rank = torch.arange(len(b), 0, -1, dtype=torch.float32)  # earlier = higher "score"
    keep = nms(b, rank, iou)  # sorted by rank: input order
    return keep.numpy().astype(np.int64)


def merge_proposals(ss_boxes: np.ndarray, multibox_boxes: np.ndarray, config: MergeConfig = MergeConfig()
                    ) -> np.ndarray:
    """MultiBox's top ``multibox_top`` boxes (best first), then the selective-search boxes in their order; boxes
    within ``dedupe_iou`` of an earlier one dropped; at most ``max_proposals``. float32 [R, 4] xyxy."""
    mb = np.asarray(multibox_boxes, np.float32).reshape(-1, 4)[: config.multibox_top]
    ss = np.asarray(ss_boxes, np.float32).reshape(-1, 4)
    both = np.concatenate([mb, ss])
    keep = dedupe(both, config.dedupe_iou)[: config.max_proposals]
    return both[keep]
