"""Box helpers for the data layer (numpy).

Inside the project a box is a row ``(x1, y1, x2, y2)`` in continuous pixel coordinates of the original image:
0-based, ``x2``/``y2`` exclusive, so ``width = x2 - x1`` (torchvision and COCO convention). Networks and proposals
work in ``float32``; annotations and predictions read for evaluation stay ``float64`` from the file to the metric, so
that a metric on a file equals the reference tool's on the same file (DESIGN.md). The functions below therefore keep
the dtype they are given: a ``float32`` or ``float64`` array stays so, and anything else (lists of numbers as read
from a file, integer arrays) becomes ``float64``. Formats change only at the edges, and only through these functions
(see ``DESIGN.md``, "One box convention"):

===============================  =====================================  ===================================
format                           to xyxy                                from xyxy
===============================  =====================================  ===================================
COCO ``[x, y, w, h]``            ``(x, y, x + w, y + h)``               ``(x1, y1, x2 - x1, y2 - y1)``
VOC XML (1-based, inclusive)     ``(xmin - 1, ymin - 1, xmax, ymax)``   ``(x1 + 1, y1 + 1, x2, y2)``
ILSVRC XML / text (0-based,      ``(xmin, ymin, xmax + 1, ymax + 1)``   ``(x1, y1, x2 - 1, y2 - 1)``
inclusive)
YOLO ``cx cy w h`` (normalised   ``(W (cx - w/2), H (cy - h/2),``       (not written)
by the image's W x H)            ``W (cx + w/2), H (cy + h/2))``
===============================  =====================================  ===================================

Penn-Fudan text annotations are 1-based inclusive like VOC.  Tensor-side helpers (IoU, NMS) come from
``torchvision.ops``; this module stays numpy-only so that ``eval/`` never needs torch.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "as_boxes",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
    "voc_to_xyxy",
    "xyxy_to_voc",
    "ilsvrc_to_xyxy",
    "xyxy_to_ilsvrc",
    "yolo_to_xyxy",
    "box_area",
    "box_iou",
    "box_ioa",
    "box_in_float_range",
]


def as_boxes(boxes, dtype=None) -> np.ndarray:
    """Return ``boxes`` as a ``[N, 4]`` float array (an empty input gives shape ``[0, 4]``).

    ``dtype``: ``None`` keeps a ``float32`` or ``float64`` array's dtype and makes anything else ``float64`` (never
    narrowing what a file gave); or a dtype to convert to. Raises ``ValueError`` naming the shape when the input is
    not ``[N, 4]``.
    """
    if dtype is None:
        dtype = boxes.dtype if isinstance(boxes, np.ndarray) and boxes.dtype in (np.float32, np.float64) \
            else np.float64
    arr = np.asarray(boxes, dtype=dtype)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=dtype)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape [N, 4], got {tuple(arr.shape)}")
    return arr


def xywh_to_xyxy(boxes) -> np.ndarray:
    """COCO ``[x, y, w, h]`` → ``(x1, y1, x2, y2)``. A sum beyond the dtype's range becomes ``inf`` (no warning:
    readers report the box as not finite)."""
    b = as_boxes(boxes).copy()
    with np.errstate(over="ignore"):
        b[:, 2:] += b[:, :2]
    return b


def xyxy_to_xywh(boxes) -> np.ndarray:
    """``(x1, y1, x2, y2)`` → COCO ``[x, y, w, h]``."""
    b = as_boxes(boxes).copy()
    b[:, 2:] -= b[:, :2]
    return b


def yolo_to_xyxy(boxes, width, height) -> np.ndarray:
    """YOLO ``(cx, cy, w, h)``, each normalised to [0, 1] by the image's ``width`` and ``height`` (pixels; scalars,
    or one per box: ``[N]``) → pixel ``(x1, y1, x2, y2)``, computed as Ultralytics' ``xywhn2xyxy`` computes it
    (``x1 = W * (cx - w / 2)``), so that a box reads as Ultralytics reads it. ``float64`` unless given ``float32``."""
    b = as_boxes(boxes)
    w = np.asarray(width, dtype=b.dtype).reshape(-1)
    h = np.asarray(height, dtype=b.dtype).reshape(-1)
    out = np.empty_like(b)
    with np.errstate(over="ignore", invalid="ignore"):  # inf/nan: readers report the box as not finite
        out[:, 0] = w * (b[:, 0] - b[:, 2] / 2)
        out[:, 1] = h * (b[:, 1] - b[:, 3] / 2)
        out[:, 2] = w * (b[:, 0] + b[:, 2] / 2)
        out[:, 3] = h * (b[:, 1] + b[:, 3] / 2)
    return out


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
    b = as_boxes(boxes, np.float64)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])  # N x M x 2
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])  # N x M x 2
    wh = np.clip(rb - lt, 0, None)
    return wh[..., 0] * wh[..., 1]


def box_iou(boxes1, boxes2) -> np.ndarray:
    """IoU matrix ``float64 [N, M]`` between two sets of xyxy boxes (0 where the union is empty)."""
    a = as_boxes(boxes1, np.float64)
    b = as_boxes(boxes2, np.float64)
    inter = _intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def box_ioa(boxes1, boxes2) -> np.ndarray:
    """Intersection over the area of the first box, ``float64 [N, M]`` (0 where that area is 0): how much of each
    box of ``boxes1`` lies inside each box of ``boxes2``. COCO's overlap of a detection with a crowd region
    (pycocotools ``maskApi.c`` ``bbIou`` with ``iscrowd``: the union is the detection's own area)."""
    a = as_boxes(boxes1, np.float64)
    b = as_boxes(boxes2, np.float64)
    inter = _intersection(a, b)
    area = box_area(a)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(area > 0, inter / area, 0.0)


def box_in_float_range(x: float, y: float, w: float, h: float) -> bool:
    """Whether a box ``[x, y, w, h]`` of finite numbers keeps its corners and its area finite in float64 (``1e308``
    or ``1e300`` wide does not: IoU would be NaN)."""
    return all(math.isfinite(v) for v in (float(x) + float(w), float(y) + float(h), float(w) * float(h)))
