"""Building small ground truth and predictions in memory for evaluator tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.data import Dataset, ImageAnnotation
from detector.data.vocab import ilsvrc_categories
from eval import AlignedPredictions


def gt_dataset(images, classes=None, fmt="ilsvrc") -> Dataset:
    """images: list of (boxes xyxy, labels[, difficult])."""
    recs = []
    for i, im in enumerate(images):
        boxes = np.asarray(im[0], dtype=np.float32).reshape(-1, 4)
        labels = np.asarray(im[1], dtype=np.int64)
        diff = np.asarray(im[2] if len(im) > 2 else [False] * len(labels), dtype=bool)
        recs.append(ImageAnnotation(i + 1, f"img{i + 1}.jpg", None, 500, 400, boxes, labels, diff,
                                    np.zeros(len(labels), bool)))
    return Dataset(fmt, Path("."), tuple(classes or ilsvrc_categories()), tuple(recs))


def preds(rows) -> AlignedPredictions:
    """rows: (image index, class index, score, x1, y1, x2, y2)."""
    a = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    return AlignedPredictions(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].copy(),
                              a[:, 3:].astype(np.float32))
