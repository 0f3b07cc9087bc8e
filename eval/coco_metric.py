"""COCO metrics through pycocotools ``COCOeval`` (bbox), its printing silenced.

The numbers reach pycocotools as the files gave them (float64; a COCO results file's own ``[x, y, w, h]``), so that
the metric equals pycocotools run on the same files."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detector.data import Dataset, xyxy_to_xywh
from detector.data.coco import dataset_to_coco

from .results import ClassResult, EvalResult
from .predictions import AlignedPredictions

__all__ = ["evaluate_coco", "complete_coco_gt", "COCO_STAT_NAMES"]

COCO_STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def complete_coco_gt(coco_gt: dict) -> tuple[dict, tuple[str, ...]]:
    """A copy of a COCO instances dict with the annotation fields pycocotools needs but the format's users often
    leave out filled in as :func:`detector.data.readers.read_coco` reads them — ``iscrowd`` 0, ``area`` w·h of the
    ``bbox``, ``id`` the next free number — and a note for each kind filled (pycocotools raises ``KeyError``
    without them). Annotations that are not dicts with a 4-number ``bbox`` are left as they are."""
    data = copy.deepcopy(coco_gt)
    anns = [a for a in data.get("annotations") or [] if isinstance(a, dict)]
    filled = {"iscrowd": 0, "iscrowd_null": 0, "area": 0, "id": 0}
    next_id = max([a["id"] for a in anns if isinstance(a.get("id"), (int, float))] + [0]) + 1
    for a in anns:
        if a.get("iscrowd") is None:  # absent or null (read_coco takes both as 0)
            filled["iscrowd" if "iscrowd" not in a else "iscrowd_null"] += 1
            a["iscrowd"] = 0
        if "area" not in a and isinstance(a.get("bbox"), list) and len(a["bbox"]) == 4:
            a["area"] = float(a["bbox"][2]) * float(a["bbox"][3])
            filled["area"] += 1
        if "id" not in a:
            a["id"] = next_id
            next_id += 1
            filled["id"] += 1
    what = {"iscrowd": "no 'iscrowd' (taken as 0: not a crowd)", "iscrowd_null": "'iscrowd' null (taken as 0: not "
            "a crowd)", "area": "no 'area' (taken as the bbox's w·h)", "id": "no 'id' (numbered after the largest one)"}
    notes = tuple(f"{n} of the {len(anns)} ground-truth annotations {'has' if n == 1 else 'have'} {what[k]}, as "
                  "detect's COCO reader does" for k, n in filled.items() if n)
    # pycocotools records a match as the ground truth's id in an array of zeros (COCOeval.evaluateImg's dtm) and
    # counts a detection as a true positive where that entry is non-zero: a detection matched to annotation id 0
    # is a false positive, its object matched all the same (cocodataset/cocoapi#664). Roboflow and other exporters
    # number annotations from 0. The numbers stay pycocotools' own; the note says why a perfect result scores less.
    zero = [k for k, a in enumerate(anns) if a.get("id") == 0 and not isinstance(a.get("id"), bool)
            and not a.get("iscrowd")]
    if zero:
        notes += (f"ground-truth annotation id 0 (annotations[{zero[0]}]): pycocotools' COCOeval, which --metric "
                  "coco runs, takes a match to id 0 for no match, so a detection that finds that object counts as a "
                  "false positive (cocodataset/cocoapi#664; exporters such as Roboflow number annotations from 0) — "
                  "these numbers are pycocotools' own; number the annotations from 1 to score that object (the "
                  "ilsvrc and voc metrics do not depend on ids)",)
    # an 'area' of 0 beside a box of some area (written so by converters that leave it unset: trial 50) is taken by
    # pycocotools as the object's size: every such object is "small", and APs/APm/APl and ARs/ARm/ARl are of no use
    flat = [k for k, a in enumerate(anns) if isinstance(a.get("area"), (int, float)) and not isinstance(a["area"], bool)
            and a["area"] <= 0 and isinstance(a.get("bbox"), list) and len(a["bbox"]) == 4
            and all(isinstance(v, (int, float)) for v in a["bbox"]) and a["bbox"][2] * a["bbox"][3] > 0]
    if flat:
        notes += (f"{len(flat)} of the {len(anns)} ground-truth annotations (annotations[{flat[0]}] first) "
                  f"{'has' if len(flat) == 1 else 'have'} 'area' 0 but a bbox of some area: pycocotools sizes objects "
                  "by 'area', so they count as small in APs/APm/APl and ARs/ARm/ARl (these numbers are pycocotools' "
                  "own; AP, AP50, AP75 and AR1/AR10/AR100 do not depend on it) — write the mask's or box's area",)
    return data, notes


def evaluate_coco(gt: Dataset, preds: AlignedPredictions, coco_gt: dict | None = None) -> EvalResult:
    """COCO bbox evaluation (10 IoU thresholds, 101 recall points, 100 detections per image, crowd regions).

    ``coco_gt``: the original COCO instances dict where the ground truth came from COCO JSON (its own ids and
    ``area`` values are then used, exactly as pycocotools on that file; fields it lacks are filled in by
    :func:`complete_coco_gt`, with a note in the result); otherwise one is built from ``gt`` with box areas and VOC
    ``difficult`` objects as crowd regions (pycocotools' only kind of ignored region). Prediction boxes go to
    pycocotools as the file gave them (``preds.xywh``) where it had COCO boxes."""
    notes: tuple[str, ...] = ()
    if coco_gt is not None:
        data, notes = complete_coco_gt(coco_gt)
        image_ids = [im.image_id for im in gt.images]
        cat_ids = [c.source_id for c in gt.classes]
    else:  # ids by position, difficult objects as crowd regions, float64 boxes as read
        data = dataset_to_coco(gt, decimals=None, positional_ids=True, difficult_as_crowd=True)
        image_ids = [im["id"] for im in data["images"]]
        cat_ids = [c["id"] for c in data["categories"]]
    data.setdefault("info", {})
    with contextlib.redirect_stdout(io.StringIO()):
        cgt = COCO()
        cgt.dataset = data
        cgt.createIndex()
    xywh = preds.xywh if preds.xywh is not None else xyxy_to_xywh(np.asarray(preds.boxes, np.float64))
    results = [{"image_id": image_ids[int(preds.image_index[p])], "category_id": cat_ids[int(preds.label[p])],
                "bbox": [float(v) for v in xywh[p]], "score": float(preds.scores[p])} for p in range(len(preds))]
    num_gt = np.zeros(len(gt.classes), dtype=np.int64)
    for im in gt.images:
        np.add.at(num_gt, im.labels[~(im.iscrowd | (im.difficult if coco_gt is None else False))], 1)
    num_det = np.bincount(preds.label, minlength=len(gt.classes)) if len(preds) else np.zeros(len(gt.classes), int)

    with contextlib.redirect_stdout(io.StringIO()):
        if results:
            cdt = cgt.loadRes(results)
        else:  # pycocotools' loadRes cannot take an empty list: an empty result set, scored as any other (0
            # where there are objects, -1 for an area range without any, as with one far-off result)
            cdt = COCO()
            cdt.dataset = {"images": list(cgt.dataset["images"]), "categories": list(cgt.dataset["categories"]),
                           "annotations": []}
            cdt.createIndex()
        ev = COCOeval(cgt, cdt, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = np.asarray(ev.stats, dtype=np.float64)
    precision = ev.eval["precision"]  # T x R x K x A x M
    k_of = {cid: k for k, cid in enumerate(ev.params.catIds)}
    class_ap, curves = {}, {}
    for c in range(len(gt.classes)):
        k = k_of.get(cat_ids[c])
        if k is None or num_gt[c] == 0:
            continue
        p = precision[:, :, k, 0, -1]  # all areas, 100 detections
        class_ap[c] = float(p[p > -1].mean()) if (p > -1).any() else 0.0
        p50 = precision[0, :, k, 0, -1]  # the curve at IoU 0.5, for plots
        curves[c] = (np.asarray(ev.params.recThrs)[p50 > -1], p50[p50 > -1])

    per_class = []
    for c, cat in enumerate(gt.classes):
        if num_gt[c] == 0 and num_det[c] == 0:
            continue
        rec, prec = curves.get(c, (np.zeros(0), np.zeros(0)))
        per_class.append(ClassResult(cat, class_ap.get(c) if num_gt[c] > 0 else None, int(num_gt[c]),
                                     int(num_det[c]), rec, prec))
    aps = [r.ap for r in per_class if r.ap is not None]
    extra = {name: float(v) for name, v in zip(COCO_STAT_NAMES, stats)}
    return EvalResult("coco", None, float(stats[0]), float(np.median(aps)) if aps else 0.0, tuple(per_class),
                      len(gt.images), len(preds), extra, notes)
