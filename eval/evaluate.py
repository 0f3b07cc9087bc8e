"""Detection metrics over a whole dataset: ILSVRC (devkit rules), PASCAL VOC (all-point and 11-point), COCO.

Shapes: P predictions, I images, C ground-truth classes. Results are frozen dataclasses; printing is the CLI's.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from detector.data import Dataset

from .ap import ap_11_point, ap_all_point, precision_recall
from .matching import DEFAULT_IOU, ilsvrc_object_thresholds, match_ilsvrc, match_voc, on_ignored_regions
from .predictions import AlignedPredictions
from .results import ClassResult, EvalResult

__all__ = ["ClassResult", "EvalResult", "evaluate", "restrict_classes", "bootstrap_interval", "BootstrapSet",
           "mean_map_interval", "resampled_map", "METRICS", "BOOTSTRAP_METRICS"]

BOOTSTRAP_METRICS = ("ilsvrc", "voc", "voc07")  # COCO's numbers are pycocotools': not resampled here

METRICS = ("ilsvrc", "voc", "voc07", "coco")


def _by_image(preds: AlignedPredictions, blacklist: set[tuple[int, int]], gt: Dataset | None = None):
    """The counted predictions (blacklisted (image, class) pairs left out), grouped by image in ground-truth order
    (``gt`` numbered by an ILSVRC evaluation list: in the order of its indices, as ``eval_detection.m`` sorts the
    image ids and concatenates its per-image results by id — the list's line order may differ; trial 48), within an
    image by confidence descending, ties in file order — the order in which the devkit walks them.

    Returns (image_index, labels, scores, boxes) in that order, the [start, end) slice of each image and each one's
    position in ``preds`` (the file's order)."""
    key = preds.image_index
    if gt is not None and gt.id_source == "image_list" and len(preds):
        key = np.asarray([int(im.image_id) for im in gt.images], dtype=np.int64)[preds.image_index]
    order = np.lexsort((np.arange(len(preds)), -preds.scores, key))
    if blacklist:
        keep = np.array([(int(i), int(c)) not in blacklist for i, c in zip(preds.image_index, preds.label)],
                        dtype=bool)
        order = order[keep[order]]
    image_index = preds.image_index[order]
    if len(order):
        starts = np.flatnonzero(np.r_[True, image_index[1:] != image_index[:-1]])
        slices = list(zip(starts.tolist(), [*starts[1:].tolist(), len(order)]))
    else:
        slices = []
    return image_index, preds.label[order], preds.scores[order], preds.boxes[order], slices, order


def _class_results(gt: Dataset, labels, scores, tp, fp, num_pos, ap_fn) -> list[ClassResult]:
    """Rank all counted detections by confidence (descending, stable) and compute AP per class."""
    order = np.argsort(-scores, kind="stable")
    labels, tp, fp = labels[order], tp[order], fp[order]
    out = []
    for c, cat in enumerate(gt.classes):
        sel = labels == c
        n_det = int((tp[sel] | fp[sel]).sum())
        if num_pos[c] == 0 and n_det == 0:
            continue
        if num_pos[c] == 0:
            out.append(ClassResult(cat, None, 0, n_det, np.zeros(0), np.zeros(0)))
            continue
        rec, prec = precision_recall(tp[sel], fp[sel], int(num_pos[c]))
        out.append(ClassResult(cat, ap_fn(rec, prec), int(num_pos[c]), n_det, rec, prec))
    return out


def _summarise(metric, iou, per_class, gt, n_pred, extra=None) -> EvalResult:
    aps = [c.ap for c in per_class if c.ap is not None]
    mean = float(np.mean(aps)) if aps else 0.0
    median = float(np.median(aps)) if aps else 0.0
    return EvalResult(metric, iou, mean, median, tuple(per_class), len(gt.images), n_pred, extra or {})


def _counted_labels(gt: Dataset, blacklist: set[tuple[int, int]]):
    """(image index, int64 labels) of each image's objects to find: neither difficult nor crowd, nor blacklisted."""
    for i, im in enumerate(gt.images):
        counted = im.labels[im.counted].astype(np.int64)
        if blacklist:
            counted = np.array([c for c in counted.tolist() if (i, c) not in blacklist], dtype=np.int64)
        yield i, counted


def _num_positives(gt: Dataset, blacklist: set[tuple[int, int]]) -> np.ndarray:
    """Objects to find per class, ``int64 [C]``."""
    num_pos = np.zeros(len(gt.classes), dtype=np.int64)
    for _, counted in _counted_labels(gt, blacklist):
        np.add.at(num_pos, counted, 1)
    return num_pos


def _positives_per_image(gt: Dataset, blacklist: set[tuple[int, int]]) -> np.ndarray:
    """``int64 [I, C]``: objects to find per image and class."""
    out = np.zeros((len(gt.images), len(gt.classes)), dtype=np.int64)
    for i, counted in _counted_labels(gt, blacklist):
        np.add.at(out[i], counted, 1)
    return out


def evaluate_ilsvrc(gt: Dataset, preds: AlignedPredictions, *, iou_threshold: float = DEFAULT_IOU,
                    blacklist: set[tuple[int, int]] | None = None) -> EvalResult:
    """ILSVRC 2014 devkit ``eval_detection.m``: per-object thresholds ``min(iou_threshold, wh/((w+10)(h+10)))``,
    matching only unmatched objects, blacklist, all-point AP, mean and median over classes with positives.

    Ignored regions (the devkit's ILSVRC data has none; other formats bring them): ``difficult`` objects and crowd
    regions are not positives, and the devkit's matching runs over the other objects; a detection that finds none of
    them but lies on an ignored region of its class (:func:`eval.matching.on_ignored_regions`, each region's own
    per-object threshold) is neither TP nor FP — the rule of PASCAL VOC (difficult) and COCO (crowd), where a
    detection goes to a regular object first and to an ignored one only failing that (``cocoeval.py``)."""
    blacklist = blacklist or set()
    _, labels, scores, tp, fp = _match_ilsvrc(gt, preds, iou_threshold, blacklist)
    per_class = _class_results(gt, labels, scores, tp, fp, _num_positives(gt, blacklist), ap_all_point)
    return _summarise("ilsvrc", iou_threshold, per_class, gt, len(labels))


def _match_ilsvrc(gt: Dataset, preds: AlignedPredictions, iou_threshold: float, blacklist: set):
    """The devkit's matching of :func:`evaluate_ilsvrc`: (image_index, labels, scores, tp, fp) of the counted
    predictions, [P'] each, in :func:`_by_image` order — the devkit's: it ranks each class's detections image by
    image, so equal scores rank in image order."""
    image_index, labels, scores, boxes, slices, _ = _by_image(preds, blacklist, gt)
    tp = np.zeros(len(labels), dtype=bool)
    fp = np.zeros(len(labels), dtype=bool)
    for s, e in slices:
        im = gt.images[int(image_index[s])]
        ignored = ~im.counted
        if not ignored.any():
            tp[s:e] = match_ilsvrc(im.boxes, im.labels, boxes[s:e], labels[s:e], iou_cap=iou_threshold)
            fp[s:e] = ~tp[s:e]
            continue
        found = match_ilsvrc(im.boxes[~ignored], im.labels[~ignored], boxes[s:e], labels[s:e], iou_cap=iou_threshold)
        on_ignored = on_ignored_regions(boxes[s:e], labels[s:e], im.boxes[ignored], im.labels[ignored],
                                        im.iscrowd[ignored], ilsvrc_object_thresholds(im.boxes[ignored], iou_threshold))
        tp[s:e], fp[s:e] = found, ~found & ~on_ignored
    return image_index, labels, scores, tp, fp


def evaluate_voc(gt: Dataset, preds: AlignedPredictions, *, iou_threshold: float = DEFAULT_IOU,
                 use_07_metric: bool = False, blacklist: set[tuple[int, int]] | None = None) -> EvalResult:
    """PASCAL VOC devkit rules (``VOCevaldet.m``): max-IoU object of the class, taken → FP, ``difficult`` objects
    neither positives nor FP; all-point AP (VOC 2010+) or 11-point AP (VOC 2007, ``use_07_metric``).

    Crowd regions (COCO ground truth; VOC has none) are not positives either and take no part in the devkit's
    max-IoU choice; a detection the devkit calls FP is ignored instead when it lies on a crowd region of its class
    (intersection / detection area ≥ ``iou_threshold``, COCO's rule: :func:`eval.matching.on_ignored_regions`)."""
    blacklist = blacklist or set()
    _, labels, scores, tp, fp = _match_voc(gt, preds, iou_threshold, blacklist)
    ap_fn = ap_11_point if use_07_metric else ap_all_point
    per_class = _class_results(gt, labels, scores, tp, fp, _num_positives(gt, blacklist), ap_fn)
    return _summarise("voc07" if use_07_metric else "voc", iou_threshold, per_class, gt, len(labels))


def _match_voc(gt: Dataset, preds: AlignedPredictions, iou_threshold: float, blacklist: set):
    """The VOC devkit's matching of :func:`evaluate_voc`: (image_index, labels, scores, tp, fp), as
    :func:`_match_ilsvrc`, but ordered by confidence with equal scores in the file's order, as ``VOCevaldet.m``
    ranks a class's detections (MATLAB's stable sort of the results file; trial 33: they ranked in image order)."""
    image_index, labels, scores, boxes, slices, position = _by_image(preds, blacklist)
    tp = np.zeros(len(labels), dtype=bool)
    fp = np.zeros(len(labels), dtype=bool)
    for s, e in slices:
        im = gt.images[int(image_index[s])]
        crowd = im.iscrowd
        if not crowd.any():
            tp[s:e], fp[s:e] = match_voc(im.boxes, im.labels, im.difficult, boxes[s:e], labels[s:e],
                                         iou_threshold=iou_threshold)
            continue
        tp[s:e], fp[s:e] = match_voc(im.boxes[~crowd], im.labels[~crowd], im.difficult[~crowd], boxes[s:e],
                                     labels[s:e], iou_threshold=iou_threshold)
        fp[s:e] &= ~on_ignored_regions(boxes[s:e], labels[s:e], im.boxes[crowd], im.labels[crowd], crowd[crowd],
                                       iou_threshold)
    ranked = np.lexsort((position, -scores))  # the ranking's stable sort then keeps this order
    return image_index[ranked], labels[ranked], scores[ranked], tp[ranked], fp[ranked]


def restrict_classes(result: EvalResult, classes: set[int], gt: Dataset) -> EvalResult:
    """``result`` over the ground-truth classes with indices in ``classes`` only (mean and median recomputed)."""
    index = {id(c): k for k, c in enumerate(gt.classes)}
    per_class = [c for c in result.per_class if index.get(id(c.category)) in classes]
    aps = [c.ap for c in per_class if c.ap is not None]
    return dataclasses.replace(result, per_class=tuple(per_class), mAP=float(np.mean(aps)) if aps else 0.0,
                               median_AP=float(np.median(aps)) if aps else 0.0)


def evaluate(gt: Dataset, preds: AlignedPredictions, metric: str = "ilsvrc", *,
             iou_threshold: float = DEFAULT_IOU, blacklist: set[tuple[int, int]] | None = None,
             coco_gt: dict | None = None, only_classes: set[int] | None = None) -> EvalResult:
    """Evaluate ``preds`` against ``gt`` with ``metric`` (one of :data:`METRICS`).

    ``coco_gt``: for ``coco``, the original COCO instances dict ``gt`` was read from, if any (see
    :func:`eval.coco_metric.evaluate_coco`). ``only_classes``: score only these ground-truth class indices (e.g.
    the classes a model knows, ``preds.known_classes``): per-class rows, mean and median over those; for ``coco``
    the 12 standard numbers still cover every class."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    result = _evaluate(gt, preds, metric, iou_threshold=iou_threshold, blacklist=blacklist, coco_gt=coco_gt)
    return result if only_classes is None else restrict_classes(result, only_classes, gt)


def _evaluate(gt, preds, metric, *, iou_threshold, blacklist, coco_gt) -> EvalResult:
    if metric == "ilsvrc":
        return evaluate_ilsvrc(gt, preds, iou_threshold=iou_threshold, blacklist=blacklist)
    if metric in ("voc", "voc07"):
        return evaluate_voc(gt, preds, iou_threshold=iou_threshold, use_07_metric=metric == "voc07",
                            blacklist=blacklist)
    if metric == "coco":
        from .coco_metric import evaluate_coco

        return evaluate_coco(gt, preds, coco_gt)
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")


def bootstrap_interval(gt: Dataset, preds: AlignedPredictions, metric: str = "ilsvrc", *, resamples: int = 1000,
                       level: float = 0.95, seed: int = 0, iou_threshold: float = DEFAULT_IOU,
                       blacklist: set[tuple[int, int]] | None = None, only_classes: set[int] | None = None,
                       baseline: AlignedPredictions | None = None) -> tuple[float, float]:
    """A bootstrap confidence interval of the mAP that :func:`evaluate` gives (same arguments), resampling the
    ground truth's images with replacement (Efron & Tibshirani, 1993; percentile method, ``scipy.stats.bootstrap``):
    an image drawn k times counts its objects and its detections k times; the matching of each detection is the
    full evaluation's (it is decided within its image). Classes without positives in a resample are left out of that
    resample's mean, as :func:`evaluate` leaves them out, and a resample without any positive, which has no mAP (a
    dataset without positives has none: ``mAP -``), is left out of the percentiles (:func:`mean_map_interval`).
    Returns an :class:`Interval` (low, high) at ``level`` (0.95: the 2.5th and 97.5th percentiles of ``resamples`` resampled mAPs;
    ``seed`` fixes them). With ``baseline`` (another system's predictions on the same ground truth): the interval of
    the difference mAP(``preds``) − mAP(``baseline``), both scored on each resample's images — a paired comparison,
    far narrower than two separate intervals, that says whether a gain is more than which images happen to be in the
    set. Raises ValueError for ``coco`` (:data:`BOOTSTRAP_METRICS`) and for fewer than two images."""
    part = BootstrapSet(gt, preds, baseline=baseline, only_classes=only_classes, blacklist=blacklist)
    return mean_map_interval([part], metric, resamples=resamples, level=level, seed=seed,
                             iou_threshold=iou_threshold)


@dataclasses.dataclass(frozen=True)
class BootstrapSet:
    """One dataset of a (possibly pooled) bootstrap: its ground truth, the predictions on it, optionally a
    baseline's predictions on it, and the arguments :func:`evaluate` takes for it."""

    gt: Dataset
    preds: AlignedPredictions
    baseline: AlignedPredictions | None = None
    only_classes: set[int] | None = None
    blacklist: set[tuple[int, int]] | None = None


class Interval(tuple):
    """A bootstrap interval: the tuple ``(low, high)``, and ``resamples``, how many resamples it was taken over —
    fewer than asked for where some held no positive (they have no mAP and are left out: :func:`mean_map_interval`)."""

    resamples: int

    def __new__(cls, low: float, high: float, resamples: int):
        interval = super().__new__(cls, (float(low), float(high)))
        interval.resamples = int(resamples)
        return interval


def mean_map_interval(sets: list[BootstrapSet], metric: str = "ilsvrc", *, resamples: int = 1000,
                      level: float = 0.95, seed: int = 0, iou_threshold: float = DEFAULT_IOU) -> tuple[float, float]:
    """A bootstrap confidence interval of the mean of several datasets' mAPs (each dataset weighs the same, as a
    benchmark of several sets reports its mean), or, where the sets carry a ``baseline``, of the mean difference
    mAP(``preds``) − mAP(``baseline``). Each dataset's images are resampled on their own (a stratified bootstrap:
    ``scipy.stats.bootstrap`` with one sample per dataset, ``paired=False``), so every resample holds as many
    images of each set as the set has; each dataset's resampled mAP is :func:`resampled_map`'s. A dataset whose
    resample holds no positive has no mAP there and is left out of that resample's mean, as the CLI leaves a dataset
    without positives out of the mean of mAPs; a resample in which no dataset has a mAP is left out of the
    percentiles (the interval is conditional on a resample holding a positive: a mAP of nothing is no 0 — a perfect
    detector's interval is (1, 1)). One dataset gives :func:`bootstrap_interval`. With a baseline on some sets only,
    every set must have one. Returns an :class:`Interval` (low, high) at ``level`` (percentile method; ``seed``
    fixes the resamples). Raises ValueError for ``coco``, for no dataset, for datasets all of fewer than two images (one of one image is a
    constant of every resample), for baselines on some sets but not all, and where no resample holds a positive."""
    import warnings

    from scipy.stats import DegenerateDataWarning, bootstrap

    if metric not in BOOTSTRAP_METRICS:
        raise ValueError(f"the bootstrap interval is computed for {', '.join(BOOTSTRAP_METRICS)}, not {metric!r}")
    if not sets:
        raise ValueError("no dataset to resample")
    if all(len(s.gt.images) < 2 for s in sets):
        raise ValueError("a bootstrap interval over images needs a dataset of two images at least")
    paired = [s.baseline is not None for s in sets]
    if any(paired) and not all(paired):
        raise ValueError("a baseline is needed on every dataset or on none")

    def scorer(s: BootstrapSet):
        kw = dict(iou_threshold=iou_threshold, blacklist=s.blacklist, only_classes=s.only_classes)
        ours = resampled_map(s.gt, s.preds, metric, **kw)
        if s.baseline is None:
            return ours
        theirs = resampled_map(s.gt, s.baseline, metric, **kw)
        return lambda sample: ours(sample) - theirs(sample)

    # a dataset of one image is the same in every resample (scipy resamples samples of two or more): a constant
    fixed = [scorer(s)(np.zeros(1, dtype=np.int64)) for s in sets if len(s.gt.images) < 2]
    resampled = [s for s in sets if len(s.gt.images) >= 2]
    scorers = [scorer(s) for s in resampled]

    def statistic(*samples):
        maps = np.array([*(f(sample) for f, sample in zip(scorers, samples)), *fixed])
        maps = maps[~np.isnan(maps)]  # datasets without positives in this resample: no mAP to average
        return float(maps.mean()) if len(maps) else math.nan

    with warnings.catch_warnings():  # scipy warns of the NaN of resamples without positives; left out below
        warnings.simplefilter("ignore", DegenerateDataWarning)
        res = bootstrap(tuple(np.arange(len(s.gt.images)) for s in resampled), statistic, n_resamples=resamples,
                        confidence_level=level, method="percentile", vectorized=False, paired=False,
                        random_state=np.random.default_rng(seed))
    scored = res.bootstrap_distribution[~np.isnan(res.bootstrap_distribution)]
    if not len(scored):
        raise ValueError("no resample holds a positive: there is no mAP to give an interval of")
    if len(scored) == len(res.bootstrap_distribution):
        return Interval(res.confidence_interval.low, res.confidence_interval.high, len(scored))
    low, high = np.quantile(scored, [(1 - level) / 2, (1 + level) / 2])  # the percentile method's, as scipy's
    return Interval(low, high, len(scored))


def resampled_map(gt: Dataset, preds: AlignedPredictions, metric: str = "ilsvrc", *,
                  iou_threshold: float = DEFAULT_IOU, blacklist: set[tuple[int, int]] | None = None,
                  only_classes: set[int] | None = None):
    """The function ``sample -> mAP`` that :func:`bootstrap_interval` resamples: ``sample`` (int [n], indices into
    ``gt.images``, repeats allowed) scored as if those images, each as often as drawn, were the ground truth and its
    detections the predictions — the same mAP :func:`evaluate` gives such a dataset (where scores do not tie across
    images), computed from one matching by weighting each image's objects and detections; NaN where the drawn images
    hold no positive of the classes scored (:func:`evaluate` gives such a dataset no class with an AP, the CLI no
    mAP: ``mAP -``), not 0."""
    blacklist = blacklist or set()
    match = _match_ilsvrc if metric == "ilsvrc" else _match_voc
    image_index, labels, scores, tp, fp = match(gt, preds, iou_threshold, blacklist)
    ap_fn = ap_11_point if metric == "voc07" else ap_all_point
    order = np.argsort(-scores, kind="stable")  # the full evaluation's ranking
    image_index, labels, tp, fp = image_index[order], labels[order], tp[order], fp[order]
    positives = _positives_per_image(gt, blacklist)
    classes = [c for c in range(len(gt.classes)) if only_classes is None or c in only_classes]
    per_class = {c: np.flatnonzero(labels == c) for c in classes}

    def mean_ap(sample: np.ndarray) -> float:
        weight = np.bincount(sample, minlength=len(gt.images)).astype(np.float64)
        num_pos = weight @ positives
        aps = []
        for c in classes:
            if num_pos[c] <= 0:
                continue
            sel = per_class[c]
            w = weight[image_index[sel]]  # a detection counts as often as its image was drawn; precision_recall
            # drops those with weight 0 and those the metric ignores (tp = fp = 0)
            aps.append(ap_fn(*precision_recall(tp[sel] * w, fp[sel] * w, num_pos[c])))
        return float(np.mean(aps)) if aps else math.nan

    return mean_ap
