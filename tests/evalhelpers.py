"""Building small ground truth and predictions in memory for evaluator tests."""

from __future__ import annotations

import contextlib
import io
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


def decimal_problem(seed: int, *, crowd: bool = False, n_images: int = 20):
    """COCO ground truth (dict) and results (list) with decimal boxes of the kind pycocotools users have, many
    detections within 2e-9 of IoU 0.5 or 0.75 of their object: there float32 rounding (6e-8 relative, 1.5e-5 px at
    258.15) decides the match, float64 cannot. ``crowd``: some objects are crowd regions."""
    rng = np.random.default_rng(seed)
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 25, "name": "giraffe"}]
    images, anns, results = [], [], []
    for i in range(1, n_images + 1):
        images.append({"id": i, "file_name": f"{i:04d}.jpg", "width": 640, "height": 480})
        for _ in range(int(rng.integers(1, 5))):
            x, y = (float(v) for v in rng.uniform(100, 400, 2))
            w, h = (float(v) for v in rng.uniform(40, 150, 2))
            cat = int(rng.choice([1, 3, 25]))
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": int(crowd and rng.random() < 0.15)})
            for target in (0.5, 0.75):  # a detection inside the object, IoU = its width fraction, just off target
                t = target + float(rng.choice([-2e-9, 2e-9]))
                results.append({"image_id": i, "category_id": cat, "bbox": [x, y, w * t, h],
                                "score": float(rng.random())})
            if rng.random() < 0.5:
                j = rng.normal(0, 3, 4)
                results.append({"image_id": i, "category_id": cat, "score": float(rng.random()),
                                "bbox": [x + j[0], y + j[1], max(w + j[2], 1.0), max(h + j[3], 1.0)]})
        for _ in range(int(rng.integers(0, 3))):
            results.append({"image_id": i, "category_id": int(rng.choice([1, 3, 25])), "score": float(rng.random()),
                            "bbox": [float(v) for v in rng.uniform(10, 200, 4)]})
    return {"images": images, "annotations": anns, "categories": cats}, results


def to_float32(results):
    """The same results with every box coordinate rounded to float32 (what the code did before issue 12)."""
    return [{**r, "bbox": [float(np.float32(v)) for v in r["bbox"]]} for r in results]


def pycocotools_stats(gt_path, results) -> np.ndarray:
    """What a pycocotools user runs: COCO(gt), loadRes(results) — a results file's path or the list itself —,
    COCOeval bbox (its printing silenced); its 12 numbers."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        cgt = COCO(str(gt_path))
        ev = COCOeval(cgt, cgt.loadRes(str(results) if isinstance(results, Path) else results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)
