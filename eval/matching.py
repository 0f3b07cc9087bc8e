"""Per-image matching of detections to ground truth (pure functions, one image and one class at a time or all
classes at once).

Shapes: G ground-truth objects, D detections of one image, already sorted by confidence (descending, stable).
Boxes are continuous xyxy (the devkit's inclusive ``+1`` folded into ``x2, y2``, so IoU is the devkit's IoU), float64
as read (float32 accepted).

Ignored regions — VOC ``difficult`` objects and COCO crowd regions (``iscrowd: 1``) — are never objects to find, and
a detection that finds no object but lies on an ignored region of its class is neither a true nor a false positive
(:func:`on_ignored_regions`; the metrics in :mod:`eval.evaluate` apply it).
"""

from __future__ import annotations

import numpy as np

from detector.data.boxes import box_ioa, box_iou

__all__ = ["ilsvrc_object_thresholds", "match_ilsvrc", "match_voc", "on_ignored_regions", "PIXEL_TOLERANCE",
           "DEFAULT_IOU"]

DEFAULT_IOU = 0.5  # ILSVRC devkit defaultIOUthr; PASCAL VOC minoverlap
PIXEL_TOLERANCE = 10  # ILSVRC devkit pixelTolerance


def ilsvrc_object_thresholds(gt_boxes: np.ndarray, iou_cap: float = DEFAULT_IOU) -> np.ndarray:
    """Per-object IoU threshold of the ILSVRC devkit: ``min(cap, w*h / ((w + 10) * (h + 10)))``, ``float64 [G]``.

    It only matters for objects under about 25 px on a side."""
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    w = gt[:, 2] - gt[:, 0]
    h = gt[:, 3] - gt[:, 1]
    thr = (w * h) / ((w + PIXEL_TOLERANCE) * (h + PIXEL_TOLERANCE))
    return np.minimum(iou_cap, thr)


def match_ilsvrc(gt_boxes, gt_labels, det_boxes, det_labels, *, iou_cap: float = DEFAULT_IOU) -> np.ndarray:
    """ILSVRC devkit ``eval_detection.m`` matching on one image. Returns ``tp`` as ``bool [D]`` (the rest are FP).

    Detections are taken in the given order (confidence descending). Each looks only at ground truth of its own
    class **not yet matched**, and takes the one with the highest IoU among those with ``IoU >= thr`` (the
    per-object threshold); found → TP and that object is marked, else FP.
    """
    gt_labels = np.asarray(gt_labels)
    det_labels = np.asarray(det_labels)
    n_det = len(det_labels)
    tp = np.zeros(n_det, dtype=bool)
    if n_det == 0 or len(gt_labels) == 0:
        return tp
    iou = box_iou(det_boxes, gt_boxes)  # D x G
    thr = ilsvrc_object_thresholds(gt_boxes, iou_cap)
    # eligible[d, g]: same class, overlapping (the devkit's iw > 0 & ih > 0), and over that object's threshold
    eligible = (det_labels[:, None] == gt_labels[None, :]) & (iou >= thr[None, :]) & (iou > 0)
    if not eligible.any():
        return tp
    cand = np.where(eligible, iou, -np.inf)
    taken = np.zeros(len(gt_labels), dtype=bool)
    for d in np.flatnonzero(eligible.any(axis=1)):
        row = np.where(taken, -np.inf, cand[d])
        g = int(np.argmax(row))  # first of equal maxima, as the devkit's strict ``ov > ovmax``
        if row[g] > -np.inf:
            tp[d] = True
            taken[g] = True
    return tp


def match_voc(gt_boxes, gt_labels, gt_ignore, det_boxes, det_labels, *, iou_threshold: float = DEFAULT_IOU):
    """PASCAL VOC devkit ``VOCevaldet.m`` matching on one image. Returns ``(tp, fp)`` as ``bool [D]``; a detection
    that is neither was matched to a ``difficult`` (ignored) object and does not count.

    Each detection goes to its single max-IoU object of its class, matched or not; if ``IoU >= threshold``: an
    ignored object → neither; an unmatched one → TP (marked); an already matched one → FP. Else FP.
    """
    gt_labels = np.asarray(gt_labels)
    det_labels = np.asarray(det_labels)
    gt_ignore = np.asarray(gt_ignore, dtype=bool)
    n_det = len(det_labels)
    tp = np.zeros(n_det, dtype=bool)
    fp = np.ones(n_det, dtype=bool)
    if n_det == 0 or len(gt_labels) == 0:
        return tp, fp
    same = det_labels[:, None] == gt_labels[None, :]
    iou = np.where(same, box_iou(det_boxes, gt_boxes), -np.inf)  # D x G
    best = np.argmax(iou, axis=1)  # first maximum, as MATLAB's max
    best_iou = iou[np.arange(n_det), best]
    taken = np.zeros(len(gt_labels), dtype=bool)
    for d in np.flatnonzero(best_iou >= iou_threshold):
        g = best[d]
        if gt_ignore[g]:
            fp[d] = False
        elif not taken[g]:
            tp[d], fp[d] = True, False
            taken[g] = True
    return tp, fp


def on_ignored_regions(det_boxes, det_labels, region_boxes, region_labels, region_crowd, thresholds) -> np.ndarray:
    """Which detections lie on an ignored region of their own class, ``bool [D]``.

    ``region_*``: the ignored objects of the image (``[Z, 4]`` xyxy, ``[Z]`` labels, ``[Z]`` crowd flags);
    ``thresholds``: one overlap threshold, or one per region (``[Z]``). A detection lies on

    - a ``difficult`` object (crowd flag False) when their IoU reaches the threshold — the PASCAL VOC devkit
      (``VOCevaldet.m``: a detection assigned to a difficult object is neither TP nor FP);
    - a crowd region (crowd flag True) when the part of the detection inside the region, intersection / detection
      area, reaches the threshold — COCO (``cocoeval.py`` with ``maskApi.c`` ``bbIou``: a crowd region's IoU has the
      detection's own area as union, and any number of detections may be matched to one crowd region and ignored).
    """
    det_labels = np.asarray(det_labels)
    region_labels = np.asarray(region_labels)
    out = np.zeros(len(det_labels), dtype=bool)
    if len(det_labels) == 0 or len(region_labels) == 0:
        return out
    crowd = np.asarray(region_crowd, dtype=bool)
    overlap = np.where(crowd[None, :], box_ioa(det_boxes, region_boxes), box_iou(det_boxes, region_boxes))  # D x Z
    thr = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (len(region_labels),))
    hit = (det_labels[:, None] == region_labels[None, :]) & (overlap >= thr[None, :]) & (overlap > 0)
    return hit.any(axis=1)
