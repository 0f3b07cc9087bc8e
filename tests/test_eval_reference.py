"""ILSVRC and VOC evaluation against slow, literal re-statements of the devkits' loops on random data."""

import numpy as np
import pytest

from eval import evaluate

from evalhelpers import gt_dataset, preds


def vocap(rec, prec):
    mrec = [0.0, *rec, 1.0]
    mpre = [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])


def inclusive_iou(bb, gt, one=1):
    """The devkits' IoU of 0-based inclusive boxes (``one=1``: widths x2 - x1 + 1); ``one=0`` for continuous boxes
    (DESIGN.md: the +1 folded into x2, y2)."""
    bi = [max(bb[0], gt[0]), max(bb[1], gt[1]), min(bb[2], gt[2]), min(bb[3], gt[3])]
    iw, ih = bi[2] - bi[0] + one, bi[3] - bi[1] + one
    if iw <= 0 or ih <= 0:
        return None
    ua = (bb[2] - bb[0] + one) * (bb[3] - bb[1] + one) + (gt[2] - gt[0] + one) * (gt[3] - gt[1] + one) - iw * ih
    return iw * ih / ua


def devkit_ilsvrc(gt_images, dets, n_classes, blacklist=(), ignored=None, one=1):
    """eval_detection.m, statement by statement; boxes 0-based inclusive (``one=0``: continuous xyxy); dets (img,
    cls, conf, box). ``ignored``: per image, per object, True for a difficult object — issue 12's rule, which the
    devkit's data never needs: not a positive, not matched, and a detection that finds no other object but has
    IoU >= the object's threshold with it is dropped (neither TP nor FP), as VOCevaldet.m does."""
    tp_all, fp_all, conf_all, cls_all = [], [], [], []
    num_pos = [0] * n_classes
    for i, (gboxes, glabels) in enumerate(gt_images):
        ign = ignored[i] if ignored is not None else [False] * len(gboxes)
        for lbl, ig in zip(glabels, ign):
            if (i, lbl) not in blacklist and not ig:
                num_pos[lbl] += 1
        mine = [d for d in dets if d[0] == i and (i, d[1]) not in blacklist]
        mine = sorted(mine, key=lambda d: -d[2])  # stable
        thr = []
        for g in gboxes:
            w, h = g[2] - g[0] + one, g[3] - g[1] + one
            thr.append(min(0.5, w * h / ((w + 10) * (h + 10))))
        detected = [False] * len(gboxes)
        for d in mine:
            ovmax, kmax = -np.inf, -1
            for k, g in enumerate(gboxes):
                if glabels[k] != d[1] or detected[k] or ign[k]:
                    continue
                ov = inclusive_iou(d[3], g, one)
                if ov is not None and ov >= thr[k] and ov > ovmax:
                    ovmax, kmax = ov, k
            if kmax >= 0:
                detected[kmax] = True
            else:
                on_ignored = False
                for k, g in enumerate(gboxes):
                    if ign[k] and glabels[k] == d[1]:
                        ov = inclusive_iou(d[3], g, one)
                        on_ignored = on_ignored or (ov is not None and ov >= thr[k])
                if on_ignored:
                    continue
            tp_all.append(int(kmax >= 0))
            fp_all.append(int(kmax < 0))
            conf_all.append(d[2])
            cls_all.append(d[1])
    order = sorted(range(len(conf_all)), key=lambda j: -conf_all[j])
    aps = {}
    for c in range(n_classes):
        if num_pos[c] == 0:
            continue
        tp = fp = 0
        rec, prec = [], []
        for j in order:
            if cls_all[j] != c:
                continue
            tp += tp_all[j]
            fp += fp_all[j]
            rec.append(tp / num_pos[c])
            prec.append(tp / (tp + fp))
        aps[c] = vocap(rec, prec)
    return aps


def devkit_voc(gt_images, dets, n_classes, one=1):
    """VOCevaldet.m per class: detections of the class sorted by confidence over all images (``one=0``: continuous
    boxes)."""
    aps = {}
    for c in range(n_classes):
        npos = sum(sum(1 for k, l in enumerate(gl) if l == c and not gd[k]) for _, gl, gd in gt_images)
        if npos == 0:
            continue
        cd = sorted([d for d in dets if d[1] == c], key=lambda d: -d[2])
        det_flags = [[False] * len(gb) for gb, _, _ in gt_images]
        tp, fp = [], []
        for d in cd:
            gb, gl, gd = gt_images[d[0]]
            ovmax, jmax = -np.inf, -1
            for k, g in enumerate(gb):
                if gl[k] != c:
                    continue
                ov = inclusive_iou(d[3], g, one)
                ov = -np.inf if ov is None else ov  # VOCevaldet only updates ovmax where iw, ih > 0
                if ov > ovmax:
                    ovmax, jmax = ov, k
            if ovmax >= 0.5:
                if not gd[jmax]:
                    if not det_flags[d[0]][jmax]:
                        tp.append(1), fp.append(0)
                        det_flags[d[0]][jmax] = True
                    else:
                        tp.append(0), fp.append(1)
            else:
                tp.append(0), fp.append(1)
        ctp, cfp = np.cumsum(tp), np.cumsum(fp)
        rec = list(ctp / npos)
        prec = list(ctp / np.maximum(ctp + cfp, 1))
        aps[c] = vocap(rec, prec)
    return aps


def random_problem(rng, n_images=40, n_classes=4, small=False):
    gt_images, dets = [], []
    for i in range(n_images):
        n = int(rng.integers(0, 6))
        size = rng.integers(3, 30 if small else 120, size=(n, 2))
        xy = rng.integers(0, 300, size=(n, 2))
        boxes = [[int(x), int(y), int(x + w - 1), int(y + h - 1)] for (x, y), (w, h) in zip(xy, size)]
        labels = [int(v) for v in rng.integers(0, n_classes, size=n)]
        diff = [bool(v) for v in rng.random(n) < 0.2]
        gt_images.append((boxes, labels, diff))
        for b, lbl in zip(boxes, labels):
            for _ in range(int(rng.integers(0, 3))):  # hits and duplicates, some of the wrong class
                j = rng.integers(-4, 5, size=4)
                nb = [b[0] + j[0], b[1] + j[1], max(b[0] + j[0], b[2] + j[2]), max(b[1] + j[1], b[3] + j[3])]
                c = lbl if rng.random() < 0.8 else int(rng.integers(0, n_classes))
                dets.append((i, c, round(float(rng.random()), 2), [int(v) for v in nb]))  # ties on purpose
        for _ in range(int(rng.integers(0, 3))):
            x, y = rng.integers(0, 300, size=2)
            dets.append((i, int(rng.integers(0, n_classes)), round(float(rng.random()), 2),
                         [int(x), int(y), int(x + rng.integers(5, 60)), int(y + rng.integers(5, 60))]))
    return gt_images, dets


def to_ours(gt_images, dets, difficult=True):
    ds = gt_dataset([([[b[0], b[1], b[2] + 1, b[3] + 1] for b in gb], gl, gd if difficult else [False] * len(gl))
                     for gb, gl, gd in gt_images])
    p = preds([(d[0], d[1], d[2], d[3][0], d[3][1], d[3][2] + 1, d[3][3] + 1) for d in dets])
    return ds, p


@pytest.mark.parametrize("seed", range(6))
def test_ilsvrc_matches_devkit_loop(seed):
    rng = np.random.default_rng(seed)
    gt_images, dets = random_problem(rng, small=seed % 2 == 1)
    blacklist = {(int(rng.integers(0, 40)), int(rng.integers(0, 4))) for _ in range(5)} if seed >= 3 else set()
    ref = devkit_ilsvrc([(gb, gl) for gb, gl, _ in gt_images], dets, 4, blacklist)
    ds, p = to_ours(gt_images, dets, difficult=False)  # the devkit's own data has no difficult objects
    ours = {c.category.det_id - 1: c.ap for c in evaluate(ds, p, "ilsvrc", blacklist=blacklist).per_class
            if c.ap is not None}
    assert ours.keys() == ref.keys()
    for c in ref:
        assert ours[c] == pytest.approx(ref[c], abs=1e-12), c


@pytest.mark.parametrize("seed", range(4))
def test_ilsvrc_ignores_difficult_as_the_reference_loop(seed):
    # issue 12, kind 2: difficult objects are ignored by the ilsvrc metric too (20 % of the objects here)
    rng = np.random.default_rng(200 + seed)
    gt_images, dets = random_problem(rng, small=seed % 2 == 1)
    ignored = [gd for _, _, gd in gt_images]
    assert sum(map(sum, ignored)) > 10
    ref = devkit_ilsvrc([(gb, gl) for gb, gl, _ in gt_images], dets, 4, ignored=ignored)
    assert ref != devkit_ilsvrc([(gb, gl) for gb, gl, _ in gt_images], dets, 4)  # the flags change the answer
    ds, p = to_ours(gt_images, dets)
    ours = {c.category.det_id - 1: c.ap for c in evaluate(ds, p, "ilsvrc").per_class if c.ap is not None}
    assert ours.keys() == ref.keys()
    for c in ref:
        assert ours[c] == pytest.approx(ref[c], abs=1e-12), c


@pytest.mark.parametrize("seed", range(4))
def test_voc_matches_devkit_loop(seed):
    rng = np.random.default_rng(100 + seed)
    gt_images, dets = random_problem(rng)
    ref = devkit_voc(gt_images, dets, 4)
    ds, p = to_ours(gt_images, dets)
    ours = {c.category.det_id - 1: c.ap for c in evaluate(ds, p, "voc").per_class if c.ap is not None}
    assert ours.keys() == ref.keys()
    for c in ref:
        assert ours[c] == pytest.approx(ref[c], abs=1e-12), c


def reference_inputs(gt_dict, results, as_float32=False):
    """The reference loops' inputs from the files' numbers, boxes (x, y, x + w, y + h) in float64 — or rounded to
    float32 first, which is what the code did before issue 12."""
    cast = (lambda v: float(np.float32(v))) if as_float32 else float
    image_of = {im["id"]: i for i, im in enumerate(gt_dict["images"])}
    class_of = {c["id"]: k for k, c in enumerate(gt_dict["categories"])}

    def xyxy(b):
        x, y, w, h = (cast(v) for v in b)
        return [x, y, cast(x + w), cast(y + h)]

    gt_images = [([], [], []) for _ in gt_dict["images"]]
    for a in gt_dict["annotations"]:
        boxes, labels, difficult = gt_images[image_of[a["image_id"]]]
        boxes.append(xyxy(a["bbox"]))
        labels.append(class_of[a["category_id"]])
        difficult.append(False)
    dets = [(image_of[r["image_id"]], class_of[r["category_id"]], r["score"], xyxy(r["bbox"])) for r in results]
    return gt_images, dets


@pytest.mark.parametrize("seed", [0, 1])
def test_decimal_boxes_from_files_equal_the_reference_loops(tmp_path, seed):
    # issue 12, kind 1: the numbers of the files reach the ilsvrc and voc metrics as float64 (COCO JSON ground truth
    # and COCO results, decimal boxes, many detections within 2e-9 of IoU 0.5 where float32 decides otherwise)
    import json

    from detector.data import read_dataset
    from eval import align_predictions, read_predictions

    from evalhelpers import decimal_problem

    gt_dict, results = decimal_problem(seed)
    (tmp_path / "gt.json").write_text(json.dumps(gt_dict))
    (tmp_path / "res.json").write_text(json.dumps(results))
    gt = read_dataset(tmp_path / "gt.json")
    al = align_predictions(read_predictions(tmp_path / "res.json"), gt)
    source_of = [c.source_id for c in gt.classes]
    class_pos = {c["id"]: k for k, c in enumerate(gt_dict["categories"])}
    gt_images, dets = reference_inputs(gt_dict, results)
    gt32, dets32 = reference_inputs(gt_dict, results, as_float32=True)
    for metric, ref, ref32 in (
            ("ilsvrc", devkit_ilsvrc([(b, lb) for b, lb, _ in gt_images], dets, 3, one=0),
             devkit_ilsvrc([(b, lb) for b, lb, _ in gt32], dets32, 3, one=0)),
            ("voc", devkit_voc(gt_images, dets, 3, one=0), devkit_voc(gt32, dets32, 3, one=0))):
        assert max(abs(ref[c] - ref32[c]) for c in ref) > 1e-3  # float32 would show
        ours = {class_pos[source_of[gt.classes.index(c.category)]]: c.ap
                for c in evaluate(gt, al, metric).per_class if c.ap is not None}
        assert ours.keys() == ref.keys()
        for c in ref:
            assert ours[c] == pytest.approx(ref[c], abs=1e-9), (metric, c)
