"""Evaluation results: frozen dataclasses every metric returns (ILSVRC, VOC in :mod:`eval.evaluate`, COCO in
:mod:`eval.coco_metric`); printing and files are the CLI's."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detector.data.vocab import Category

__all__ = ["ClassResult", "EvalResult"]


@dataclass(frozen=True, eq=False)
class ClassResult:
    category: Category
    ap: float | None  # None where the class has no positives (AP undefined; left out of the mean)
    num_gt: int  # positives (after the blacklist; not difficult, not crowd)
    num_det: int  # detections that count (after the blacklist; not ignored on a difficult object or crowd region)
    recall: np.ndarray = field(repr=False)  # float64 [num_det], for PR curves
    precision: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        """``id``: the ILSVRC det_id (None for a class outside the 200); ``category_id``: the ground-truth file's own
        id of the class where it has ids (COCO JSON), else None."""
        return {"id": self.category.det_id, "category_id": self.category.source_id, "wnid": self.category.wnid,
                "name": self.category.name, "AP": self.ap, "num_gt": self.num_gt, "num_det": self.num_det}


@dataclass(frozen=True, eq=False)
class EvalResult:
    metric: str
    iou_threshold: float | None  # None for COCO (10 thresholds)
    mAP: float  # mean AP over classes with positives
    median_AP: float
    per_class: tuple[ClassResult, ...]  # classes with positives or detections, in the ground truth's class order
    num_images: int
    num_predictions: int  # predictions evaluated
    extra: dict = field(default_factory=dict)  # e.g. COCO's 12 numbers
    notes: tuple[str, ...] = ()  # what was assumed on the way (e.g. COCO fields filled in), for the user

    def to_dict(self) -> dict:
        d = {"metric": self.metric, "iou_threshold": self.iou_threshold, "mAP": self.mAP,
             "median_AP": self.median_AP, "num_classes": sum(c.ap is not None for c in self.per_class),
             "num_images": self.num_images, "num_predictions": self.num_predictions}
        d.update(self.extra)
        if self.notes:
            d["notes"] = list(self.notes)
        d["per_class"] = [c.to_dict() for c in self.per_class]
        return d
