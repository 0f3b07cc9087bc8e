"""Proposal quality: recall at top-N and mean best overlap (pure numpy).

Inputs are per-image lists: ground truth ``[G_i, 4]`` and proposals ``[P_i, 4]``, both xyxy in the same image's
coordinates (``x2`` exclusive), proposals in their ranking order (best first) so that "top N" means the first N.
Leave out ground truth that should not count (VOC ``difficult``, COCO crowd) before calling.

With no ground truth at all the measures are undefined and come back as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.data.boxes import as_boxes, box_iou

__all__ = ["best_overlaps", "recall_at", "mean_best_overlap"]


def _check_lengths(gt_boxes_per_image, proposals_per_image) -> None:
    if len(gt_boxes_per_image) != len(proposals_per_image):
        raise ValueError(f"got ground truth for {len(gt_boxes_per_image)} images but proposals for "
                         f"{len(proposals_per_image)}")


def _cumulative_best(gt, proposals) -> np.ndarray:
    """``float64 [G, P]``: entry ``[g, n-1]`` = best IoU of ground-truth box g with the first n proposals."""
    iou = box_iou(gt, proposals)  # G x P
    if iou.shape[1] == 0:
        return iou
    return np.maximum.accumulate(iou, axis=1)


def best_overlaps(gt_boxes_per_image: Sequence, proposals_per_image: Sequence, top_n: int | None = None) -> np.ndarray:
    """Best IoU of every ground-truth box with any of its image's first ``top_n`` proposals (all if None).

    Returns ``float64 [sum G_i]``, images in order, boxes in their order; 0 for an image without proposals.
    """
    _check_lengths(gt_boxes_per_image, proposals_per_image)
    if top_n is not None and top_n < 0:
        raise ValueError(f"top_n must be >= 0 or None, got {top_n}")
    out = []
    for gt, props in zip(gt_boxes_per_image, proposals_per_image):
        gt, props = as_boxes(gt), as_boxes(props)
        if top_n is not None:
            props = props[:top_n]
        if len(gt) == 0:
            continue
        out.append(box_iou(gt, props).max(axis=1) if len(props) else np.zeros(len(gt)))
    return np.concatenate(out) if out else np.zeros(0)


def recall_at(
    gt_boxes_per_image: Sequence,
    proposals_per_image: Sequence,
    iou_thresholds: Sequence[float] = (0.5, 0.7),
    top_ns: Sequence[int | None] = (100, 300, 1000, 2000, None),
) -> dict[tuple[float, int | None], float]:
    """Recall of the proposals: the fraction of ALL ground-truth boxes (pooled over images) that at least one of
    their image's first N proposals covers with IoU >= t.

    Args:
        gt_boxes_per_image: per image, ``[G_i, 4]`` xyxy ground truth.
        proposals_per_image: per image, ``[P_i, 4]`` xyxy proposals, best first.
        iou_thresholds: the thresholds t.
        top_ns: the values of N; None = every proposal. An image with fewer than N proposals uses all it has.

    Returns:
        ``{(t, N): recall}`` for every threshold and N (NaN when there is no ground truth).
    """
    _check_lengths(gt_boxes_per_image, proposals_per_image)
    for n in top_ns:
        if n is not None and n < 0:
            raise ValueError(f"top_ns must hold non-negative integers or None, got {n}")
    best = {n: [] for n in top_ns}  # N -> per-image [G_i] best IoU within the top N
    total = 0
    for gt, props in zip(gt_boxes_per_image, proposals_per_image):
        gt, props = as_boxes(gt), as_boxes(props)
        if len(gt) == 0:
            continue
        total += len(gt)
        cum = _cumulative_best(gt, props)  # G x P
        for n in top_ns:
            k = cum.shape[1] if n is None else min(n, cum.shape[1])
            best[n].append(cum[:, k - 1] if k > 0 else np.zeros(len(gt)))
    result = {}
    for t in iou_thresholds:
        for n in top_ns:
            if total == 0:
                result[(t, n)] = float("nan")
            else:
                covered = sum(int((b >= t).sum()) for b in best[n])
                result[(t, n)] = covered / total
    return result


def mean_best_overlap(gt_boxes_per_image: Sequence, proposals_per_image: Sequence, top_n: int | None = None) -> float:
    """MABO: the mean, over all ground-truth boxes (pooled over images), of the best IoU with any of their image's
    first ``top_n`` proposals (all if None). NaN when there is no ground truth.

    (Uijlings et al. average per class first; with one class, as here by default, the two agree.)
    """
    best = best_overlaps(gt_boxes_per_image, proposals_per_image, top_n)
    return float(best.mean()) if best.size else float("nan")
