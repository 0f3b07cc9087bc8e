"""Average precision from a ranked list of true/false positives (pure functions)."""

from __future__ import annotations

import numpy as np

__all__ = ["precision_recall", "ap_all_point", "ap_11_point"]


def precision_recall(tp: np.ndarray, fp: np.ndarray, num_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative recall and precision of detections already sorted by confidence (descending).

    ``tp``/``fp`` are 0/1 per detection (a detection ignored by the metric has both 0 and is dropped here).
    Returns ``(recall, precision)``, float64, one entry per kept detection. ``recall`` is ``tp / num_pos``
    (``num_pos`` > 0 is required: AP of a class without positives is undefined).
    """
    tp = np.asarray(tp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    keep = (tp + fp) > 0
    tp, fp = np.cumsum(tp[keep]), np.cumsum(fp[keep])
    if num_pos <= 0:
        raise ValueError("recall is undefined without positives (num_pos must be > 0)")
    recall = tp / num_pos
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).tiny)  # tp + fp >= 1 for every kept detection
    return recall, precision


def ap_all_point(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC 2010+ / ILSVRC devkit ``VOCap``: append 0 and 1 to recall, 0 and 0 to precision, make precision
    monotone from the right, sum Δrecall × precision where recall changes."""
    mrec = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64), [1.0]])
    mpre = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64), [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


# The devkit's ``for t=0:0.1:1`` (VOCevaldet.m) as MATLAB's colon operator computes it: the first half as
# ``0 + k*0.1``, the second as ``1 - (10-k)*0.1``, so that 0.6 and 0.7 are the doubles nearest 0.6 and 0.7, which
# ``k * 0.1`` (np.linspace, np.arange) overshoots (0.6000000000000001): a recall of exactly 3/5 or 7/10 reaches the
# devkit's threshold and not those (trial 48: 3 of 5 found at precision 1 scored 6/11, the devkit's 7/11).
VOC07_RECALL_THRESHOLDS = tuple(k * 0.1 if k < 5 else 1.0 - (10 - k) * 0.1 for k in range(11))


def ap_11_point(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC 2007 11-point AP: mean over t in {0, 0.1, …, 1} of the best precision at recall ≥ t (0 if none), the
    thresholds as the devkit's MATLAB ``0:0.1:1`` holds them (:data:`VOC07_RECALL_THRESHOLDS`)."""
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    total = 0.0
    for t in VOC07_RECALL_THRESHOLDS:
        sel = precision[recall >= t]
        total += float(sel.max()) if sel.size else 0.0
    return total / 11.0
