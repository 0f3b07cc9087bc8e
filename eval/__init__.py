"""Evaluation as pure functions: matching, AP, mAP under the ILSVRC devkit, PASCAL VOC and COCO rules.

Imports numpy, pycocotools and the data layer only — never a model.
"""

from .ap import ap_11_point, ap_all_point, precision_recall
from .evaluate import METRICS, evaluate
from .matching import ilsvrc_object_thresholds, match_ilsvrc, match_voc, on_ignored_regions
from .results import ClassResult, EvalResult
from .predictions import (
    AlignedPredictions,
    PredictionError,
    Predictions,
    align_predictions,
    better_elsewhere,
    read_blacklist,
    read_predictions,
)

__all__ = [
    "METRICS", "AlignedPredictions", "ClassResult", "EvalResult", "PredictionError", "Predictions",
    "align_predictions", "ap_11_point", "better_elsewhere", "ap_all_point", "evaluate", "ilsvrc_object_thresholds", "match_ilsvrc",
    "match_voc", "on_ignored_regions", "precision_recall", "read_blacklist", "read_predictions",
]
