"""Box helpers for the data layer (numpy).

Inside the project a box is a ``float32`` row ``(x1, y1, x2, y2)`` in continuous pixel coordinates of the original
image: 0-based, ``x2``/``y2`` exclusive, so ``width = x2 - x1`` (torchvision and COCO convention). Formats change
only at the edges, and only through the functions below (see ``DESIGN.md``, "One box convention"):

===============================  =====================================  ===================================
format                           to xyxy                                from xyxy
===============================  =====================================  ===================================
COCO ``[x, y, w, h]``            ``(x, y, x + w, y + h)``               ``(x1, y1, x2 - x1, y2 - y1)``
VOC XML (1-based, inclusive)     ``(xmin - 1, ymin - 1, xmax, ymax)``   ``(x1 + 1, y1 + 1, x2, y2)``
ILSVRC XML / text (0-based,      ``(xmin, ymin, xmax + 1, ymax + 1)``   ``(x1, y1, x2 - 1, y2 - 1)``
inclusive)
===============================  =====================================  ===================================

Penn-Fudan text annotations are 1-based inclusive like VOC.  Tensor-side helpers (IoU, NMS) come from
``torchvision.ops``; this module stays numpy-only so that ``eval/`` never needs torch.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_boxes",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
    "voc_to_xyxy",
    "xyxy_to_voc",
    "ilsvrc_to_xyxy",
    "xyxy_to_ilsvrc",
    "box_area",
    "box_iou",
]


def as_boxes(boxes) -> np.ndarray:
    """Return ``boxes`` as a ``float32 [N, 4]`` array (an empty input gives shape ``[0, 4]``).

    Raises ``ValueError`` naming the shape when the input is not ``[N, 4]``.
    """
    arr = np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape [N, 4], got {tuple(arr.shape)}")
    return arr


def xywh_to_xyxy(boxes) -> np.ndarray:
    """COCO ``[x, y, w, h]`` → ``(x1, y1, x2, y2)``."""
    b = as_boxes(boxes).copy()
    b[:, 2:] += b[:, :2]
    return b


def xyxy_to_xywh(boxes) -> np.ndarray:
    """``(x1, y1, x2, y2)`` → COCO ``[x, y, w, h]``."""
    b = as_boxes(boxes).copy()
    b[:, 2:] -= b[:, :2]
    return b


def voc_to_xyxy(boxes) -> np.ndarray:
    """VOC / Penn-Fudan ``(xmin, ymin, xmax, ymax)``, 1-based inclusive → continuous xyxy."""
    b = as_boxes(boxes).copy()
    b[:, :2] -= 1.0
    return b


def xyxy_to_voc(boxes) -> np.ndarray:
    """Continuous xyxy → VOC 1-based inclusive ``(xmin, ymin, xmax, ymax)``."""
    b = as_boxes(boxes).copy()
    b[:, :2] += 1.0
    return b


def ilsvrc_to_xyxy(boxes) -> np.ndarray:
    """ILSVRC XML / submission text ``(xmin, ymin, xmax, ymax)``, 0-based inclusive → continuous xyxy."""
    b = as_boxes(boxes).copy()
    b[:, 2:] += 1.0
    return b


def xyxy_to_ilsvrc(boxes) -> np.ndarray:
    """Continuous xyxy → ILSVRC 0-based inclusive ``(xmin, ymin, xmax, ymax)``."""
    b = as_boxes(boxes).copy()
    b[:, 2:] -= 1.0
    return b


def box_area(boxes) -> np.ndarray:
    """Area of each xyxy box, ``float64 [N]`` (negative extents count as 0)."""
    b = as_boxes(boxes).astype(np.float64)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def box_iou(boxes1, boxes2) -> np.ndarray:
    """IoU matrix ``float64 [N, M]`` between two sets of xyxy boxes (0 where the union is empty)."""
    a = as_boxes(boxes1).astype(np.float64)
    b = as_boxes(boxes2).astype(np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])  # N x M x 2
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])  # N x M x 2
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou
