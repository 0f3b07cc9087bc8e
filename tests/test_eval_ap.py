import numpy as np
import pytest

from eval import ap_11_point, ap_all_point, evaluate, ilsvrc_object_thresholds, match_ilsvrc, match_voc, precision_recall

from evalhelpers import gt_dataset, preds


def test_ap_all_point_hand_computed():
    # TP, FP, TP with 2 positives: recall .5 .5 1, precision 1 .5 .667 → 0.5*1 + 0.5*(2/3)
    rec, prec = precision_recall(np.array([1, 0, 1]), np.array([0, 1, 0]), 2)
    np.testing.assert_allclose(rec, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(prec, [1.0, 0.5, 2 / 3])
    assert ap_all_point(rec, prec) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert ap_all_point(np.zeros(0), np.zeros(0)) == 0.0  # no detections


def test_ap_11_point_hand_computed():
    rec, prec = np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])
    # t = 0..0.5 → 1.0 (6 points), t = 0.6..1.0 → 2/3 (5 points)
    assert ap_11_point(rec, prec) == pytest.approx((6 * 1.0 + 5 * 2 / 3) / 11)


def test_ap_11_point_thresholds_are_the_devkits_matlab_colon():
    """VOCevaldet.m's ``for t=0:0.1:1``: MATLAB's colon gives 0.6 and 0.7 as the doubles nearest them (k * 0.1 gives
    0.6000000000000001 and 0.7000000000000001) and 0.3 as 3 * 0.1 (trial 48: 3 of 5 found scored 6/11)."""
    # 5 objects, 3 found at precision 1: recall 3/5 reaches t = 0.6 → 7 of the 11 points
    assert ap_11_point(np.array([0.2, 0.4, 0.6]), np.ones(3)) == pytest.approx(7 / 11)
    # 10 objects, 7 found: recall 7/10 reaches t = 0.7 → 8 points
    assert ap_11_point(np.arange(1, 8) / 10, np.ones(7)) == pytest.approx(8 / 11)
    # 10 objects, 3 found: MATLAB's 0.3 is 3 * 0.1 = 0.30000000000000004, above 3/10 → 3 points (t = 0, .1, .2)
    assert ap_11_point(np.arange(1, 4) / 10, np.ones(3)) == pytest.approx(3 / 11)
    gt = gt_dataset([(np.array([[k * 40, 0, k * 40 + 30, 30] for k in range(5)]), [0] * 5)])
    found = preds([(0, 0, 0.9 - k / 10, k * 40, 0, k * 40 + 30, 30) for k in range(3)])
    assert evaluate(gt, found, "voc07").mAP == pytest.approx(7 / 11)


def test_object_threshold():
    thr = ilsvrc_object_thresholds(np.array([[0, 0, 10, 10], [0, 0, 100, 100], [0, 0, 20, 20]]))
    np.testing.assert_allclose(thr, [100 / 400, 0.5, 400 / 900])
    assert ilsvrc_object_thresholds(np.array([[0, 0, 100, 100]]), 0.7)[0] == pytest.approx(0.7)  # cap
    assert ilsvrc_object_thresholds(np.array([[0, 0, 100, 100]]), 0.9)[0] == pytest.approx(10000 / 12100)


def test_ilsvrc_duplicates_fall_back_or_are_fp():
    gt = np.array([[0, 0, 100, 100], [0, 0, 90, 100]], np.float32)  # two overlapping objects of class 0
    det = np.array([[0, 0, 100, 100], [0, 0, 100, 100], [0, 0, 100, 100]], np.float32)
    tp = match_ilsvrc(gt, [0, 0], det, [0, 0, 0])
    # first takes object 0; the duplicate falls back to the still unmatched object 1 (IoU .9); the third is FP
    assert tp.tolist() == [True, True, False]
    # VOC: the duplicate's best object is taken → FP even though object 1 is free
    tp, fp = match_voc(gt, [0, 0], [False, False], det, [0, 0, 0])
    assert tp.tolist() == [True, False, False] and fp.tolist() == [False, True, True]


def test_ilsvrc_small_object_threshold():
    gt = np.array([[10, 10, 20, 20]], np.float32)  # 10x10: threshold 0.25
    det = np.array([[10, 10, 20, 14]], np.float32)  # IoU 0.4
    assert match_ilsvrc(gt, [0], det, [0]).tolist() == [True]
    assert match_voc(gt, [0], [False], det, [0])[0].tolist() == [False]  # VOC needs 0.5
    ds = gt_dataset([(gt, [0])])
    assert evaluate(ds, preds([(0, 0, 0.9, 10, 10, 20, 14)])).mAP == 1.0
    assert evaluate(ds, preds([(0, 0, 0.9, 10, 10, 20, 14)]), "voc").mAP == 0.0


def test_ilsvrc_class_must_match():
    gt = np.array([[0, 0, 50, 50]], np.float32)
    assert match_ilsvrc(gt, [3], gt, [4]).tolist() == [False]


def test_voc_difficult_neither_positive_nor_fp():
    ds = gt_dataset([([[0, 0, 50, 50], [100, 100, 200, 200]], [0, 0], [False, True])])
    p = preds([(0, 0, 0.9, 100, 100, 200, 200), (0, 0, 0.8, 0, 0, 50, 50)])
    r = evaluate(ds, p, "voc")
    assert r.per_class[0].num_gt == 1 and r.per_class[0].num_det == 1 and r.mAP == 1.0
    # the ilsvrc metric ignores difficult objects too (issue 12, kind 2; the VOC devkit's rule): 1 positive, the
    # detection on the difficult object neither TP nor FP
    r = evaluate(ds, p, "ilsvrc")
    assert r.per_class[0].num_gt == 1 and r.per_class[0].num_det == 1 and r.mAP == 1.0


def test_empty_predictions_and_classes_without_gt():
    ds = gt_dataset([([[0, 0, 50, 50]], [0]), ([[0, 0, 10, 10]], [1])])
    r = evaluate(ds, preds([]))
    assert r.mAP == 0.0 and [c.ap for c in r.per_class] == [0.0, 0.0] and r.num_predictions == 0
    # a detection of class 5, which has no ground truth: listed with AP None, left out of the mean
    r = evaluate(ds, preds([(0, 0, 0.9, 0, 0, 50, 50), (0, 5, 0.8, 0, 0, 50, 50)]))
    by_name = {c.category.name: c for c in r.per_class}
    assert by_name["accordion"].ap == 1.0 and by_name["airplane"].ap == 0.0
    assert by_name["armadillo"].ap is None and by_name["armadillo"].num_det == 1
    assert r.mAP == 0.5 and r.median_AP == 0.5


def test_blacklist():
    ds = gt_dataset([([[0, 0, 50, 50], [60, 60, 90, 90]], [0, 1]), ([[0, 0, 50, 50]], [1])])
    p = preds([(0, 0, 0.9, 0, 0, 50, 50), (0, 1, 0.95, 300, 300, 350, 350), (1, 1, 0.5, 0, 0, 50, 50)])
    r = evaluate(ds, p)
    # class 1: the FP (0.95) ranks above the TP (0.5): recall 0, .5 at precision 0, .5 → AP .25
    assert {c.category.det_id: c.ap for c in r.per_class} == {1: 1.0, 2: 0.25}
    # blacklisting (image 0, class 1) removes its FP detection and its object from the positives
    r = evaluate(ds, p, blacklist={(0, 1)})
    assert {c.category.det_id: (c.ap, c.num_gt, c.num_det) for c in r.per_class} == {1: (1.0, 1, 1), 2: (1.0, 1, 1)}


def test_iou_threshold_option():
    ds = gt_dataset([([[0, 0, 100, 100]], [0])])
    p = preds([(0, 0, 0.9, 0, 0, 100, 60)])  # IoU 0.6
    assert evaluate(ds, p, "voc").mAP == 1.0
    assert evaluate(ds, p, "voc", iou_threshold=0.7).mAP == 0.0
    assert evaluate(ds, p, "ilsvrc", iou_threshold=0.7).mAP == 0.0
    with pytest.raises(ValueError):
        evaluate(ds, p, "voc", iou_threshold=0.0)
