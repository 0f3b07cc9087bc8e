"""`coco` metric against pycocotools called directly on the same files."""

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detector.data import read_dataset
from eval import align_predictions, evaluate, read_predictions
from eval.coco_metric import COCO_STAT_NAMES


def make_files(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 25, "name": "giraffe"}]
    for i in range(1, 16):
        images.append({"id": i * 10, "file_name": f"{i}.jpg", "width": 640, "height": 480})
        for _ in range(int(rng.integers(1, 6))):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(5, 140, 2)
            cat = int(rng.choice([1, 3, 25]))
            anns.append({"id": len(anns) + 1, "image_id": i * 10, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h * rng.uniform(0.5, 1.0), "iscrowd": int(rng.random() < 0.1)})
            if rng.random() < 0.8:
                j = rng.normal(0, 4, 4)
                results.append({"image_id": i * 10, "category_id": cat, "score": float(rng.random()),
                                "bbox": [x + j[0], y + j[1], max(w + j[2], 1), max(h + j[3], 1)]})
        for _ in range(int(rng.integers(0, 3))):
            results.append({"image_id": i * 10, "category_id": int(rng.choice([1, 3, 25])),
                            "score": float(rng.random()), "bbox": list(rng.uniform(10, 200, 4))})
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    res = tmp_path / "res.json"
    res.write_text(json.dumps(results))
    return gt, res


@pytest.mark.parametrize("seed", [0, 1])
def test_coco_equals_pycocotools(tmp_path, seed):
    gt_path, res_path = make_files(tmp_path, seed)
    with contextlib.redirect_stdout(io.StringIO()):
        cgt = COCO(str(gt_path))
        ev = COCOeval(cgt, cgt.loadRes(str(res_path)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    gt = read_dataset(gt_path)
    r = evaluate(gt, align_predictions(read_predictions(res_path), gt), "coco",
                 coco_gt=json.loads(gt_path.read_text()))
    ours = [r.extra[k] for k in COCO_STAT_NAMES]
    np.testing.assert_allclose(ours, ev.stats, atol=1e-6)
    assert r.mAP == pytest.approx(ev.stats[0], abs=1e-6)
    assert set(r.to_dict()) >= set(COCO_STAT_NAMES)


def test_coco_without_original_json_and_empty(tmp_path):
    gt_path, res_path = make_files(tmp_path)
    gt = read_dataset(gt_path)
    r = evaluate(gt, align_predictions(read_predictions(res_path), gt), "coco")  # built from the dataset
    assert 0.0 < r.mAP <= 1.0
    res_path.write_text("[]")
    r = evaluate(gt, align_predictions(read_predictions(res_path), gt), "coco")
    assert r.mAP == 0.0 and r.extra["AP50"] == 0.0
